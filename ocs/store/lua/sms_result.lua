-- sms_result.lua: what became of a charged SMS (issue 18 point 3), from Jasmin's submit_sm_resp and DLRs.
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:{account}:smsm:<message id>
--       4 <p>:{account}:sms (the account's refund policy)  5 <p>:smsrec[:{slot tag}] (record snapshots)
--       The record names its dispatch; its counters are <p>:{account}:smsd:<dispatch> = P.dprefix .. dispatch,
--       a key of the same slot (hash tag {account}), so the script stays on one slot as a cluster needs.
-- ARGV[1]: {account, mid, dprefix, kind "submit"|"dlr", status (ESME_* or the receipt's stat), state (dlr: delivered,
--           expired, failed, rejected, pending), refundable (dlr: 1 for UNDELIV/REJECTD), ts (ms), smpp}
-- Returns: {"found":0|1,"changed":0|1,"refunded" (minor units, 0 = none),"submit","delivery","balance"}
-- Invariants: exactly once per message id and outcome: a submit result is applied once (the record leaves
--   "pending"); the refund (ledger kind sms_refund, ref <message id>:refund, + the price) happens at most once
--   whatever the path (a failed submit, or a failed delivery under the refund policy); a final delivery state
--   is never replaced by "pending"; the dispatch counters move only on a change.
P = cjson.decode(ARGV[1])
local acct, stream, rec, sms, snaps = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local r = redis.call('HMGET', rec, 'price', 'submit', 'delivery', 'refunded', 'dispatch', 'account')
if not r[1] then return '{"found":0,"changed":0,"refunded":0,"submit":"","delivery":"","balance":0}' end
local price, submit, delivery, refunded, dispatch = tonumber(r[1]), r[2], r[3], r[4], r[5]
local disp = P.dprefix .. dispatch
local changed, refund = 0, 0
local function count(field, n) if dispatch ~= '' then redis.call('HINCRBY', disp, field, n) end end
local function final(state) return state == 'delivered' or state == 'expired' or state == 'failed' or state == 'rejected' end
local function do_refund(reason)
  if refunded == '1' or price == 0 then return end
  local a = redis.call('HMGET', acct, 'bal', 'seq')
  if not a[1] then return end
  local bal, seq = tonumber(a[1]) + price, tonumber(a[2]) + 1
  redis.call('HSET', acct, 'bal', fmt(bal), 'seq', fmt(seq))
  ledger_add(stream, P.account, seq, 'sms_refund', price, bal, P.mid .. ':refund', fmt(P.ts),
             '{"reason":' .. cjson.encode(reason) .. '}')
  redis.call('HSET', rec, 'refunded', '1', 'refunded_at', fmt(P.ts))
  refunded, refund = '1', price
  count('cost', -price)
end
if P.kind == 'submit' then
  if submit == 'pending' then
    changed = 1
    if P.status == 'ESME_ROK' then
      submit = 'accepted'
      if P.smpp ~= '' then redis.call('HSET', rec, 'smpp_msgid', P.smpp) end
    else
      submit = 'failed'
      if not final(delivery) then count('pending', -1); count('failed', 1) end
      do_refund(P.status)
    end
    redis.call('HSET', rec, 'submit', submit, 'submit_status', P.status, 'submitted_at', fmt(P.ts))
  end
else
  local new = P.state
  if new ~= delivery and not final(delivery) and not (new == 'pending' and delivery ~= '') then
    changed = 1
    if final(new) and submit ~= 'failed' then
      count('pending', -1)
      if new == 'delivered' then count('delivered', 1) else count('failed', 1) end
    end
    delivery = new
    redis.call('HSET', rec, 'delivery', new, 'dlr_status', P.status, 'delivered_at', fmt(P.ts))
  end
  if changed == 1 and P.refundable == 1 and redis.call('HGET', sms, 'refund') == '1' then do_refund(P.status) end
end
if changed == 1 then
  redis.call('HINCRBY', rec, 'rev', 1)
  redis.call('XADD', snaps, '*', 'mid', P.mid, unpack(redis.call('HGETALL', rec)))
end
local bal = redis.call('HGET', acct, 'bal') or '0'
return string.format('{"found":1,"changed":%d,"refunded":%d,"submit":%s,"delivery":%s,"balance":%s}', changed,
                     refund, cjson.encode(submit), cjson.encode(delivery), bal)
