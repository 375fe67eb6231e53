-- activate.lua: activate a bundle, paid from the balance (purchase) or free (gift_in: the sender paid).
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:{account}:refs  4 <p>:expidx[:{slot tag}]
-- ARGV[1]: {account, kind (purchase|gift_in), price (>= 0), ref, ts (ms), code, priority, expires_at (s),
--           d, v, s, r (data octets, voice s, sms, roaming data octets), rgs ("20,21": the rating groups the
--           bundle is limited to, '' or absent: any), extra (JSON members ('' or ',"name":...'
--           made by Python))}
-- Returns: {entry, bundle_id, balance, duplicate 0|1}
-- Invariants: the debit and the activation happen in one call, both or neither (price > available ->
--   OCS insufficient_funds, nothing changed). Idempotent by ref (the _lib preamble). The bundle id is the seq
--   of its ledger entry, so a rebuild from the ledger gives it the same id.
P = cjson.decode(ARGV[1])
local acct, stream, refs, expidx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local price = P.price
local first = idem(refs, acct, -price)
if first then return first end
local a = redis.call('HMGET', acct, 'bal', 'held', 'seq')
if not a[1] then return err('unknown_account', P.account) end
local bal, held, seq = tonumber(a[1]), tonumber(a[2]), tonumber(a[3]) + 1
if bal - held < price then
  return err('insufficient_funds', 'available ' .. fmt(bal - held) .. ' needed ' .. fmt(price))
end
bal = bal - price
local b = {code = P.code, prio = P.priority, exp = P.expires_at, d = P.d, v = P.v, s = P.s, r = P.r,
           hd = 0, hv = 0, hs = 0, hr = 0}
redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq), 'B' .. fmt(seq), bundle_enc(b))
local rgs = type(P.rgs) == 'string' and P.rgs or ''
if rgs ~= '' then redis.call('HSET', acct, 'G' .. fmt(seq), rgs) end
local detail = '{"bundle":{"id":' .. fmt(seq) .. ',"code":' .. cjson.encode(b.code) .. ',"priority":' .. fmt(b.prio) ..
               ',"expires_at":' .. fmt(b.exp) .. ',"d":' .. fmt(b.d) .. ',"v":' .. fmt(b.v) .. ',"s":' .. fmt(b.s) ..
               ',"r":' .. fmt(b.r) .. (rgs ~= '' and (',"rgs":"' .. rgs .. '"') or '') .. '}' .. P.extra .. '}'
local id = ledger_add(stream, P.account, seq, P.kind, -price, bal, P.ref, P.ts, detail)
idem_record(refs, seq, -price)
redis.call('ZADD', expidx, 'LT', fmt(b.exp), P.account)
return reply({entry = id, bundle_id = seq, balance = bal, duplicate = 0})
