-- _lib.lua: helpers prepended to every script by ocs/store/redis_client.py; not a script by itself.
-- KEYS/ARGV/return: none.
-- Invariant: integers are written with fmt() ("%d"), never tostring() (which switches to exponent notation
-- past 14 digits); every amount stays below 2^53 so Lua doubles hold it exactly (ocs.charging.rating checks).
-- Encodings:
--   account hash  <p>:{imsi}:acct     bal, held, cur, seq, and per bundle B<id> = code|prio|exp|d|v|s|r|hd|hv|hs|hr
--                                     (h* = held by reservations; one hash so one HGETALL reads a subscriber)
--   reservation   <p>:{imsi}:rsv      <session>\31<rg> = units|dim|n|price|ts|money|bal_units|id:amt,id:amt
local function fmt(n) return string.format('%d', n) end

local function err(code, detail) return redis.error_reply('OCS ' .. code .. ' ' .. (detail or '')) end

local function split(s, sep)
  local out, i = {}, 1
  while true do
    local j = string.find(s, sep, i, true)
    if not j then out[#out + 1] = string.sub(s, i); return out end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

local BUNDLE_RE = '^([^|]*)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)$'
local function bundle_dec(id, s)
  local code, prio, exp, d, v, sm, r, hd, hv, hs, hr = string.match(s, BUNDLE_RE)
  return {id = id, n = tonumber(id), code = code, prio = tonumber(prio), exp = tonumber(exp),
          d = tonumber(d), v = tonumber(v), s = tonumber(sm), r = tonumber(r),
          hd = tonumber(hd), hv = tonumber(hv), hs = tonumber(hs), hr = tonumber(hr)}
end

local function bundle_enc(b)
  return string.format('%s|%d|%d|%d|%d|%d|%d|%d|%d|%d|%d', b.code, b.prio, b.exp, b.d, b.v, b.s, b.r,
                       b.hd, b.hv, b.hs, b.hr)
end

-- the account and its bundles (by id), or nil without an account
local function acct_load(acct)
  local all = redis.call('HGETALL', acct)
  if #all == 0 then return nil, nil end
  local a, by_id = {}, {}
  for i = 1, #all, 2 do
    local k = all[i]
    if string.byte(k, 1) == 66 then  -- 'B'
      local id = string.sub(k, 2)
      by_id[id] = bundle_dec(id, all[i + 1])
    else
      a[k] = all[i + 1]
    end
  end
  if not a.bal then return nil, nil end
  a.bal, a.held, a.seq = tonumber(a.bal), tonumber(a.held), tonumber(a.seq)
  return a, by_id
end

-- one HSET of bal, held, seq and the bundles named in `touched`
local function acct_save(acct, a, by_id, touched)
  local args = {'HSET', acct, 'bal', fmt(a.bal), 'held', fmt(a.held), 'seq', fmt(a.seq)}
  for id in pairs(touched) do
    args[#args + 1] = 'B' .. id
    args[#args + 1] = bundle_enc(by_id[id])
  end
  redis.call(unpack(args))
end

-- bundles that may serve `dim` at `now`: not expired, something not yet held; lower priority number first,
-- then earliest expiry, then the older bundle (lower id)
local function serving(by_id, dim, now)
  local list = {}
  if dim == '' then return list end
  local hdim = 'h' .. dim
  for _, b in pairs(by_id) do
    if b.exp > now and b[dim] - b[hdim] > 0 then list[#list + 1] = b end
  end
  table.sort(list, function(a, c)
    if a.prio ~= c.prio then return a.prio < c.prio end
    if a.exp ~= c.exp then return a.exp < c.exp end
    return a.n < c.n
  end)
  return list
end

local RSV_RE = '^(%d+)|(%a?)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(.*)$'
local function rsv_dec(s)
  local units, dim, n, price, ts, money, bal_units, holds = string.match(s, RSV_RE)
  local r = {units = tonumber(units), dim = dim, n = tonumber(n), price = tonumber(price), ts = ts,
             money = tonumber(money), bal_units = tonumber(bal_units), holds = {}}
  for id, amt in string.gmatch(holds, '(%d+):(%d+)') do r.holds[#r.holds + 1] = {id, tonumber(amt)} end
  return r
end

local function rsv_enc(units, dim, n, price, ts, money, bal_units, holds)
  local hs = {}
  for i, h in ipairs(holds) do hs[i] = string.format('%s:%d', h[1], h[2]) end
  return string.format('%d|%s|%d|%d|%s|%d|%d|%s', units, dim, n, price, ts, money, bal_units, table.concat(hs, ','))
end

-- floor(a / b) for non-negative integers held in doubles, corrected for rounding of the division
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

local function blocks(units, n) return idiv(units + n - 1, n) end

-- append a ledger entry to the slot's stream; the entry id is <imsi>:<seq>, seq the account's counter
local function ledger_add(stream, imsi, seq, kind, amount, bal, ref, ts, detail)
  local id = imsi .. ':' .. fmt(seq)
  redis.call('XADD', stream, '*', 'id', id, 'kind', kind, 'amount', fmt(amount), 'balance', fmt(bal), 'ref', ref,
             'ts', ts, 'detail', detail)
  return id
end

-- give back what reservation `r` holds (in memory; acct_save writes it)
local function rsv_unhold(a, by_id, r, touched)
  a.held = a.held - r.money
  for _, h in ipairs(r.holds) do
    local b = by_id[h[1]]
    if b then b['h' .. r.dim] = b['h' .. r.dim] - h[2]; touched[h[1]] = true end
  end
end

