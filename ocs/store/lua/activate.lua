-- activate.lua: activate a bundle, paid from the balance (purchase) or free (gift_in: the sender paid).
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger:{slot tag}  3 <p>:{account}:refs  4 <p>:expidx:{slot tag}
-- ARGV: 1 account  2 kind (purchase|gift_in)  3 price (>= 0)  4 ref  5 now (ms)  6 code  7 priority
--       8 expires at (s)  9 data octets  10 voice s  11 sms  12 roaming data octets  13 extra JSON members ('' or
--       ',"name":...' made by Python)
-- Returns: {entry id, bundle id, balance after, duplicate 0|1}
-- Invariants: the debit and the activation happen in one call, both or neither (price > available ->
--   OCS insufficient_funds, nothing changed). Idempotent by ref like money.lua. The bundle id is the seq of
--   its ledger entry, so a rebuild from the ledger gives it the same id.
local acct, stream, refs, expidx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local account, kind, price, ref, ts = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local seen = redis.call('HGET', refs, ref)
if seen then
  local f = split(seen, '|')
  if f[2] ~= kind or tonumber(f[3]) ~= -price then return err('duplicate_reference', ref) end
  return {account .. ':' .. f[1], tonumber(f[1]), tonumber(redis.call('HGET', acct, 'bal') or '0'), 1}
end
local a = redis.call('HMGET', acct, 'bal', 'held', 'seq')
if not a[1] then return err('unknown_subscriber', account) end
local bal, held, seq = tonumber(a[1]), tonumber(a[2]), tonumber(a[3]) + 1
if bal - held < price then
  return err('insufficient_funds', 'available ' .. fmt(bal - held) .. ' needed ' .. fmt(price))
end
bal = bal - price
local b = {code = ARGV[6], prio = tonumber(ARGV[7]), exp = tonumber(ARGV[8]), d = tonumber(ARGV[9]),
           v = tonumber(ARGV[10]), s = tonumber(ARGV[11]), r = tonumber(ARGV[12]), hd = 0, hv = 0, hs = 0, hr = 0}
redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq), 'B' .. fmt(seq), bundle_enc(b))
local detail = '{"bundle":{"id":' .. fmt(seq) .. ',"code":"' .. b.code .. '","priority":' .. fmt(b.prio) ..
               ',"expires_at":' .. fmt(b.exp) .. ',"d":' .. fmt(b.d) .. ',"v":' .. fmt(b.v) .. ',"s":' .. fmt(b.s) ..
               ',"r":' .. fmt(b.r) .. '}' .. ARGV[13] .. '}'
local id = ledger_add(stream, account, seq, kind, -price, bal, ref, ts, detail)
redis.call('HSET', refs, ref, fmt(seq) .. '|' .. kind .. '|' .. fmt(-price))
redis.call('ZADD', expidx, 'LT', ARGV[8], account)
return {id, seq, bal, 0}
