-- money.lua: credit or debit the monetary balance (top-up, adjust, refund, gift_out, gift_refund).
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:{account}:refs  4 <p>:{account}:gifts
-- ARGV[1]: {account, kind, amount (signed, != 0), ref (caller reference, required), ts (ms),
--           detail (JSON object text, made by Python), gift (gift id, '' = none), gift_record ('' = delete it)}
-- Returns: {entry, balance, duplicate 0|1}
-- Invariants: idempotent by ref per account (the _lib preamble): a ref seen before with the same kind and
--   amount returns the first entry and changes nothing; with another kind or amount -> OCS duplicate_reference.
--   A debit never takes the available balance (bal - held) below zero (-> OCS insufficient_funds), a credit
--   never takes the balance past 2^53 - 1 (-> OCS invalid_amount); nothing changed on a refusal.
--   The balance change, its ledger entry, the ref record and the pending-gift record happen together.
P = cjson.decode(ARGV[1])
local acct, stream, refs, gifts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local amount = P.amount
local first = idem(refs, acct, amount)
if first then return first end
local a = redis.call('HMGET', acct, 'bal', 'held', 'seq')
if not a[1] then return err('unknown_account', P.account) end
local bal, held, seq = tonumber(a[1]), tonumber(a[2]), tonumber(a[3]) + 1
if amount < 0 and bal - held < -amount then
  return err('insufficient_funds', 'available ' .. fmt(bal - held) .. ' needed ' .. fmt(-amount))
end
if bal + amount > MAX then return err('invalid_amount', 'balance ' .. fmt(bal) .. ' + ' .. fmt(amount) .. ' exceeds ' .. fmt(MAX)) end
bal = bal + amount
redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq))
local id = ledger_add(stream, P.account, seq, P.kind, amount, bal, P.ref, P.ts, P.detail)
idem_record(refs, seq, amount)
if P.gift ~= '' then
  if P.gift_record ~= '' then redis.call('HSET', gifts, P.gift, P.gift_record) else redis.call('HDEL', gifts, P.gift) end
end
return reply({entry = id, balance = bal, duplicate = 0})
