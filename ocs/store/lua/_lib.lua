-- _lib.lua: helpers prepended to every script by ocs/store/redis_client.py; not a script by itself.
-- KEYS/ARGV/return: none (each script names its own; ARGV[1] is always a cjson object, decoded here as P).
-- Invariant: integers are written with fmt() ("%d"), never tostring() (which switches to exponent notation
-- past 14 digits); every amount stays below 2^53 so Lua doubles hold it exactly (ocs.charging.rating checks).
-- Encodings:
--   account hash  <p>:{account}:acct     bal, held, cur, seq, and per bundle B<id> = code|prio|exp|d|v|s|r|hd|hv|hs|hr
--                                     (h* = held by reservations; one hash so one HGETALL reads a subscriber)
--                                     and G<id> = "20,21" for a bundle limited to those rating groups (issue 9)
--   reservation   <p>:{account}:rsv      <session>\31<rg> = units|dim|n|price|ts|money|bal_units|id:amt,id:amt
local function fmt(n) return string.format('%d', n) end

local function err(code, detail) return redis.error_reply('OCS ' .. code .. ' ' .. (detail or '')) end

local MAX = 9007199254740991  -- 2^53 - 1: the largest integer a Lua number (a double) holds exactly

-- Every charging script takes its parameters as ONE cjson object in ARGV[1], `P = cjson.decode(ARGV[1])` first
-- (decoding is exact up to 2^53), and returns ONE JSON object made by reply(): cjson.encode writes numbers with
-- 14 significant digits (9007199254740991 -> 9.007199254741e+15), so integers go through fmt(), strings cjson.
local P = {}

local USAGE_REPLY = '{"charged":%d,"from_bundles":%d,"from_balance":%d,"unpaid":%d,"entry":%s,"duplicate":%d,' ..
                    '"granted":%d,"granted_from_bundles":%d,"granted_from_balance":%d,"money_held":%d}'

local function reply(t)
  if t.charged then  -- the reply of commit and update (hot path: one format, fields in a fixed order)
    return string.format(USAGE_REPLY, t.charged, t.from_bundles, t.from_balance, t.unpaid, cjson.encode(t.entry),
                         t.duplicate, t.granted or 0, t.granted_from_bundles or 0, t.granted_from_balance or 0,
                         t.money_held or 0)
  end
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = '"' .. k .. '":' .. (type(v) == 'number' and fmt(v) or cjson.encode(v))
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

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
  local a, by_id, limits = {}, {}, nil
  for i = 1, #all, 2 do
    local k = all[i]
    local c = string.byte(k, 1)
    if c == 66 then  -- 'B'
      local id = string.sub(k, 2)
      by_id[id] = bundle_dec(id, all[i + 1])
    elseif c == 71 then  -- 'G': the rating groups a bundle is limited to
      limits = limits or {}
      limits[string.sub(k, 2)] = all[i + 1]
    else
      a[k] = all[i + 1]
    end
  end
  if not a.bal then return nil, nil end
  for id, list in pairs(limits or {}) do
    local b = by_id[id]
    if b then
      b.rgs = {}
      for rg in string.gmatch(list, '%d+') do b.rgs[rg] = true end
    end
  end
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

-- bundles that may serve `dim` at `now` for rating group `rg` (a string, or nil: then no bundle limited to
-- rating groups serves): not expired, something not yet held; lower priority number first, then earliest
-- expiry, then the older bundle (lower id)
local function serving(by_id, dim, now, rg)
  local list = {}
  if dim == '' then return list end
  local hdim = 'h' .. dim
  for _, b in pairs(by_id) do
    if b.exp > now and b[dim] - b[hdim] > 0 and (not b.rgs or (rg and b.rgs[rg])) then list[#list + 1] = b end
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

-- append a ledger entry to the slot's stream; the entry id is <account>:<seq>, seq the account's counter
local function ledger_add(stream, account, seq, kind, amount, bal, ref, ts, detail)
  local id = account .. ':' .. fmt(seq)
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


-- Hold up to `want` units for one reservation (in memory on a, by_id; the caller saves and stores the
-- returned encoding). `old` is the encoded reservation the same rkey already has (or false): it is given back
-- first, so a retried reserve replaces, never doubles, the hold.
-- Returns granted, from_bundles, bal_units, money, encoded reservation (nil when granted is 0).
local function reserve_in(a, by_id, touched, old, want, dim, n, price, now, ts, rg)
  if old then rsv_unhold(a, by_id, rsv_dec(old), touched) end
  local left, holds, from_b = want, {}, 0
  for _, b in ipairs(serving(by_id, dim, now, rg)) do
    if left == 0 then break end
    local take = math.min(left, b[dim] - b['h' .. dim])
    b['h' .. dim] = b['h' .. dim] + take
    touched[b.id] = true
    holds[#holds + 1] = {b.id, take}
    left = left - take
    from_b = from_b + take
  end
  local bal_units, money = 0, 0
  if left > 0 then
    if price == 0 then
      bal_units = left
    else
      local avail = a.bal - a.held
      if avail > 0 then bal_units = math.min(left, idiv(avail, price) * n) end
      money = blocks(bal_units, n) * price
    end
  end
  local granted = from_b + bal_units
  if granted == 0 then return 0, 0, 0, 0, nil end
  a.held = a.held + money
  return granted, from_b, bal_units, money, rsv_enc(granted, dim, n, price, ts, money, bal_units, holds)
end

-- Charge `used` units against reservation `r` (its encoding, or false when there is none) in memory on a, by_id
-- (the caller saves, and removes or replaces the reservation); units beyond it are drawn from serving bundles,
-- then priced on the balance, which is taken only down to zero (the rest is `unpaid`). Appends the ledger
-- entry when anything changed. Returns charged, from_bundles, bal_units, unpaid, entry id ('' when nothing
-- changed), or nil and a message when the price of the units exceeds 2^53 - 1 (nothing written then).
local function commit_in(a, by_id, touched, r, stream, account, used, dim, n, price, now, ts, ref, rg)
  local deltas, order = {}, {}
  local left, from_b, bal_units = used, 0, 0
  local function draw(b, d, take)
    b[d] = b[d] - take
    touched[b.id] = true
    if not deltas[b.id] then deltas[b.id] = 0; order[#order + 1] = b.id end
    deltas[b.id] = deltas[b.id] - take
    from_b = from_b + take
    left = left - take
  end
  if r then
    r = rsv_dec(r)
    dim, n, price = r.dim, r.n, r.price
    rsv_unhold(a, by_id, r, touched)
    for _, h in ipairs(r.holds) do
      local b = by_id[h[1]]
      if b and b.exp > now and left > 0 then draw(b, dim, math.min(left, h[2])) end
    end
    local t = math.min(left, r.bal_units)
    bal_units, left = t, left - t
  end
  if left > 0 then
    for _, b in ipairs(serving(by_id, dim, now, rg)) do
      if left == 0 then break end
      draw(b, dim, math.min(left, b[dim] - b['h' .. dim]))
    end
  end
  bal_units = bal_units + left
  local cost = blocks(bal_units, n) * price
  if cost > MAX then return nil, fmt(bal_units) .. ' units x price ' .. fmt(price) .. ' exceeds ' .. fmt(MAX) end
  local avail = a.bal - a.held
  if avail < 0 then avail = 0 end
  local charged = math.min(cost, avail)
  local unpaid = cost - charged
  a.bal = a.bal - charged
  local id = ''
  if charged > 0 or unpaid > 0 or #order > 0 then
    a.seq = a.seq + 1
    local parts = {}
    for i, bid in ipairs(order) do parts[i] = '[' .. bid .. ',"' .. dim .. '",' .. fmt(deltas[bid]) .. ']' end
    local detail = '{"rg":' .. rg .. ',"units":' .. fmt(used) .. ',"balance_units":' .. fmt(bal_units) ..
                   ',"unpaid":' .. fmt(unpaid) .. ',"bundles":[' .. table.concat(parts, ',') .. ']}'
    id = ledger_add(stream, account, a.seq, 'usage', -charged, a.bal, ref, ts, detail)
  end
  return charged, from_b, bal_units, unpaid, id
end


-- The idempotency preamble of every script that changes money, run before anything else: a call repeated with
-- the same caller reference (P.ref, kept in the account's `refs` hash `key` as seq|kind|amount) or the same
-- request id (P.req, a string `key` holding the first reply for P.ttl seconds) returns the first call's reply
-- marked duplicate and changes nothing; a reference reused for another kind or amount is refused.
-- Returns nil for a new call, else the reply (a table) to return.
local function idem_first(key, acct, amount)
  if P.req then
    local done = redis.call('GET', key)
    if not done then return nil end
    local r
    if string.byte(done, 1) == 123 then  -- '{'
      r = cjson.decode(done)
    else  -- the previous version's record: charged|from_b|bal_units|unpaid|entry[|granted|g_b|g_units|money]
      local f = split(done, '|')
      r = {charged = tonumber(f[1]), from_bundles = tonumber(f[2]), from_balance = tonumber(f[3]),
           unpaid = tonumber(f[4]), entry = f[5], granted = tonumber(f[6] or 0),
           granted_from_bundles = tonumber(f[7] or 0), granted_from_balance = tonumber(f[8] or 0),
           money_held = tonumber(f[9] or 0)}
    end
    r.duplicate = 1
    return r
  end
  local seen = redis.call('HGET', key, P.ref)
  if not seen then return nil end
  local f = split(seen, '|')
  if f[2] ~= P.kind or tonumber(f[3]) ~= amount then return {error = 'duplicate_reference'} end
  return {entry = P.account .. ':' .. f[1], bundle_id = tonumber(f[1]),
          balance = tonumber(redis.call('HGET', acct, 'bal') or '0'), duplicate = 1}
end

-- Record what idem_first will find next time: the ref (seq|kind|amount) or the whole reply (encoded) of a
-- request id.
local function idem_record(key, seq, amount, encoded)
  if P.req then
    redis.call('SET', key, encoded, 'EX', P.ttl)
  else
    redis.call('HSET', key, P.ref, fmt(seq) .. '|' .. P.kind .. '|' .. fmt(amount))
  end
end

-- The preamble as scripts use it: `local first = idem(key, acct, amount); if first then return first end`
local function idem(key, acct, amount)
  local r = idem_first(key, acct, amount)
  if r == nil then return nil end
  if r.error then return err(r.error, P.ref) end
  return reply(r)
end

-- usage is priced in the tariff's currency: refused on an account in another one
local function same_currency(a)
  if type(P.cur) == 'string' and a.cur ~= P.cur then
    return err('currency_mismatch', 'account in ' .. a.cur .. ', tariff in ' .. P.cur)
  end
  return nil
end
