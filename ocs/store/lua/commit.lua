-- commit.lua: charge used units of (session, rating group), release what the reservation held beyond them.
-- KEYS: 1 <p>:{imsi}:acct  2 <p>:{imsi}:rsv  3 <p>:ledger:{slot tag}  4 <p>:{imsi}:req:<request id>
-- ARGV: 1 imsi  2 rkey  3 used units (>= 0)  4 dim  5 N  6 price  7 now (s)  8 now (ms)  9 request id
--       10 ttl of the request-id record (s)  11 rating group
--   (4-6 are used only when no reservation exists; a reservation keeps the tariff it was made with)
-- Returns: {charged, from_bundles, from_balance_units, unpaid, entry id or '', duplicate 0|1}
-- Invariants: units are drawn from the reservation's holds (bundles still valid at `now`), then its balance
--   units, then over-use from serving bundles and the balance; money is rounded up to N once over all balance
--   units and taken only down to zero (the rest is `unpaid`, recorded, never a negative balance). A second
--   commit with the same request id returns the first result and charges nothing. Every change of `bal` or a
--   bundle allowance appends one ledger entry in this call.
local acct, rkeys, stream, reqkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local imsi, rkey, used = ARGV[1], ARGV[2], tonumber(ARGV[3])
local dim, n, price, now, ts = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local done = redis.call('GET', reqkey)
if done then
  local f = split(done, '|')
  return {tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), f[5], 1}
end
local a, by_id = acct_load(acct)
if not a then return err('unknown_subscriber', imsi) end
local touched, deltas, order = {}, {}, {}
local left, from_b, bal_units = used, 0, 0
local function draw(b, d, take)
  b[d] = b[d] - take
  touched[b.id] = true
  if not deltas[b.id] then deltas[b.id] = 0; order[#order + 1] = b.id end
  deltas[b.id] = deltas[b.id] - take
  from_b = from_b + take
  left = left - take
end
local r = redis.call('HGET', rkeys, rkey)
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
  redis.call('HDEL', rkeys, rkey)
end
if left > 0 then
  for _, b in ipairs(serving(by_id, dim, now)) do
    if left == 0 then break end
    draw(b, dim, math.min(left, b[dim] - b['h' .. dim]))
  end
end
bal_units = bal_units + left
local cost = blocks(bal_units, n) * price
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
  local detail = '{"rg":' .. ARGV[11] .. ',"units":' .. fmt(used) .. ',"balance_units":' .. fmt(bal_units) ..
                 ',"unpaid":' .. fmt(unpaid) .. ',"bundles":[' .. table.concat(parts, ',') .. ']}'
  id = ledger_add(stream, imsi, a.seq, 'usage', -charged, a.bal, ARGV[9], ts, detail)
end
acct_save(acct, a, by_id, touched)
redis.call('SET', reqkey, fmt(charged) .. '|' .. fmt(from_b) .. '|' .. fmt(bal_units) .. '|' .. fmt(unpaid) .. '|' .. id,
           'EX', ARGV[10])
return {charged, from_b, bal_units, unpaid, id, 0}
