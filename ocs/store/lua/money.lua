-- money.lua: credit or debit the monetary balance (top-up, adjust, refund, gift_out, gift_refund).
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger:{slot tag}  3 <p>:{account}:refs  4 <p>:{account}:gifts
-- ARGV: 1 account  2 kind  3 amount (signed, != 0)  4 ref (caller reference, required)  5 now (ms)
--       6 detail (JSON object, made by Python)  7 gift id ('' = none)  8 pending gift record ('' = delete it)
-- Returns: {entry id, balance after, duplicate 0|1}
-- Invariants: idempotent by ref per subscriber: a ref seen before with the same kind and amount returns the
--   first entry and changes nothing; with another kind or amount -> OCS duplicate_reference. A debit never
--   takes the available balance (bal - held) below zero (-> OCS insufficient_funds, nothing changed).
--   The balance change, its ledger entry, the ref record and the pending-gift record happen together.
local acct, stream, refs, gifts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local account, kind, amount, ref, ts = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local seen = redis.call('HGET', refs, ref)
if seen then
  local f = split(seen, '|')
  if f[2] ~= kind or tonumber(f[3]) ~= amount then return err('duplicate_reference', ref) end
  return {account .. ':' .. f[1], tonumber(redis.call('HGET', acct, 'bal') or '0'), 1}
end
local a = redis.call('HMGET', acct, 'bal', 'held', 'seq')
if not a[1] then return err('unknown_subscriber', account) end
local bal, held, seq = tonumber(a[1]), tonumber(a[2]), tonumber(a[3]) + 1
if amount < 0 and bal - held < -amount then
  return err('insufficient_funds', 'available ' .. fmt(bal - held) .. ' needed ' .. fmt(-amount))
end
bal = bal + amount
redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq))
local id = ledger_add(stream, account, seq, kind, amount, bal, ref, ts, ARGV[6])
redis.call('HSET', refs, ref, fmt(seq) .. '|' .. kind .. '|' .. fmt(amount))
if ARGV[7] ~= '' then
  if ARGV[8] ~= '' then redis.call('HSET', gifts, ARGV[7], ARGV[8]) else redis.call('HDEL', gifts, ARGV[7]) end
end
return {id, bal, 0}
