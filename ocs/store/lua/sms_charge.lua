-- sms_charge.lua: charge one SMS at submit (issue 18 point 2): rate limit, sender approval, price by the
-- account's plan and monthly volume, debit with its ledger entry, the message's record, the dispatch counters.
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:{account}:sms (plan, refund policy, rate limit,
--       token bucket tok/tts, monthly part counters n:<YYYYMM>)  4 <p>:{account}:smssnd (sender id -> status)
--       5 <p>:{account}:smsm:<message id> (the message's record)  6 <p>:{account}:smsd:<dispatch> (or KEYS[3])
--       7 <p>:smsrec[:{slot tag}] (stream of record snapshots, written behind into PostgreSQL sms_messages)
-- ARGV[1]: {account, mid, dest, parts, sender ('' = none), dispatch ('' = none), plans {plan: [[from, price]..]},
--           curs {plan: currency}, default_plan, month, ts (ms), rate (messages/s, 0 = no limit), burst, ttl (record, s), detail}
-- Returns: {"duplicate":0|1,"price","balance","entry","parts","plan"}; errors OCS unknown_account, blocked,
--   currency_mismatch, sender_not_approved, unknown_dispatch, no_sms_tariff, rate_limited <wait ms>,
--   insufficient_funds (nothing changed on any of them).
-- Invariants: exactly once per message id (the record); the debit, its ledger entry (kind sms, ref = message
--   id), the monthly counter, the record and the dispatch counters change together; the balance never goes
--   below the held amount. Token bucket (RFC 2697's single-rate idea): `burst` tokens, `rate` per second,
--   one per message, taken only by a message that is charged.
P = cjson.decode(ARGV[1])
local acct, stream, sms, senders, rec, disp, snaps = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local seen = redis.call('HMGET', rec, 'price', 'entry', 'parts', 'plan')
if seen[1] then
  return string.format('{"duplicate":1,"price":%s,"balance":%s,"entry":%s,"parts":%s,"plan":%s}', seen[1],
                       redis.call('HGET', acct, 'bal') or '0', cjson.encode(seen[2]), seen[3], cjson.encode(seen[4]))
end
local a = redis.call('HMGET', acct, 'bal', 'held', 'seq', 'cur', 'blocked')
if not a[1] then return err('unknown_account', P.account) end
if a[5] == '1' then return err('blocked', P.account) end
if P.sender ~= '' and redis.call('HGET', senders, P.sender) ~= 'approved' then
  return err('sender_not_approved', P.sender)
end
if P.dispatch ~= '' and redis.call('EXISTS', disp) == 0 then return err('unknown_dispatch', P.dispatch) end
local s = redis.call('HMGET', sms, 'plan', 'rate', 'burst', 'tok', 'tts', 'n:' .. P.month)
local plan = s[1] or P.default_plan
local tiers = P.plans[plan]
if not tiers then return err('no_sms_tariff', 'plan ' .. plan .. ' has no tariff for ' .. P.dest) end
if a[4] ~= P.curs[plan] then return err('currency_mismatch', 'account in ' .. a[4] .. ', tariff in ' .. P.curs[plan]) end
-- token bucket: refill since tts, at most burst
local rate, burst = tonumber(s[2] or P.rate), tonumber(s[3] or P.burst)
local tok = burst
if rate > 0 then
  if s[4] then tok = math.min(burst, tonumber(s[4]) + math.max(0, P.ts - tonumber(s[5])) * rate / 1000) end
  if tok < 1 then
    return err('rate_limited', fmt(math.ceil((1 - tok) * 1000 / rate)) .. ' ' .. fmt(rate) .. ' messages per second')
  end
end
-- volume tiers: each part priced by the parts sent before it this month (ocs.sms.pricing.price_of)
local count = tonumber(s[6] or '0')
local price = 0
for i = 0, P.parts - 1 do
  local p = tiers[1][2]
  for _, t in ipairs(tiers) do
    if count + i >= t[1] then p = t[2] else break end
  end
  price = price + p
end
local bal, held, seq = tonumber(a[1]), tonumber(a[2]), tonumber(a[3]) + 1
if bal - held < price then
  return err('insufficient_funds', 'available ' .. fmt(bal - held) .. ' needed ' .. fmt(price))
end
bal = bal - price
redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq))
local id = ledger_add(stream, P.account, seq, 'sms', -price, bal, P.mid, fmt(P.ts), P.detail)
redis.call('HINCRBY', sms, 'n:' .. P.month, P.parts)
if rate > 0 then redis.call('HSET', sms, 'tok', tostring(tok - 1), 'tts', fmt(P.ts)) end
redis.call('HSET', rec, 'account', P.account, 'dest', P.dest, 'parts', fmt(P.parts), 'price', fmt(price),
           'sender', P.sender, 'dispatch', P.dispatch, 'plan', plan, 'submit', 'pending', 'delivery', '',
           'charged_at', fmt(P.ts), 'entry', id, 'refunded', '0', 'rev', '1')
redis.call('EXPIRE', rec, P.ttl)
redis.call('XADD', snaps, '*', 'mid', P.mid, unpack(redis.call('HGETALL', rec)))
if P.dispatch ~= '' then
  redis.call('HINCRBY', disp, 'sent', 1)
  redis.call('HINCRBY', disp, 'parts', P.parts)
  redis.call('HINCRBY', disp, 'cost', price)
  redis.call('HINCRBY', disp, 'pending', 1)
end
return string.format('{"duplicate":0,"price":%d,"balance":%d,"entry":%s,"parts":%d,"plan":%s}', price, bal,
                     cjson.encode(id), P.parts, cjson.encode(plan))
