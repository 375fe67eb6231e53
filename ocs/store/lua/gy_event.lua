-- gy_event.lua: one Gy CCR-E (RFC 4006 §5.2 one-time event, §6.22 Requested-Action) for one rating group:
-- DIRECT_DEBITING (0) charges the units now (bundles first, then money; refused, nothing taken, when the account
-- cannot pay them all), REFUND_ACCOUNT (1) credits their price back, CHECK_BALANCE (2) tells whether the
-- account could pay them (changes nothing).
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:{account}:req:gy:<sid>:<n>  4 <p>:{account}:refs
--       5 <p>:cdr[:{slot tag}]
-- ARGV[1]: {account, session, n, action, rg, units (> 0), dim, size (unit size), price, cur, now (s), ts (ms),
--           ttl, peer, imsi, msisdn}
-- Returns: {"duplicate":0|1,"ok":1|0 (0: not enough credit),"charged","from_bundles","refunded","balance"};
--   errors: OCS unknown_account, OCS blocked, OCS currency_mismatch.
-- Invariants: a retransmission (same session and number) returns the first reply; a refund is idempotent by its
--   Session-Id (the refs hash, for good); every change of money appends its ledger entry and one CDR.
P = cjson.decode(ARGV[1])
local acct, stream, reqkey, refs, cdrs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local done = redis.call('GET', reqkey)
if done then return '{"duplicate":1,' .. done end
local a, by_id = acct_load(acct)
if not a then return err('unknown_account', P.account) end
-- RFC 4006 §9.1 4010: a blocked account, or a barred SIM (acct_flags.lua); acct_load keeps these fields
if a.blocked == '1' or (P.imsi ~= '' and a['barred:' .. P.imsi] ~= nil) or
   (P.msisdn ~= '' and a['barred:' .. P.msisdn] ~= nil) then
  return err('blocked', P.account)
end
if P.cur ~= a.cur then return err('currency_mismatch', 'account in ' .. a.cur .. ', tariff in ' .. P.cur) end
local ts, rg = fmt(P.ts), fmt(P.rg)
local ok, charged, from_b, refunded = 1, 0, 0, 0
local function record(cause, used, money, units_b)
  redis.call('XADD', cdrs, '*', 'session', P.session, 'account', P.account, 'imsi', P.imsi, 'msisdn', P.msisdn,
             'peer', P.peer, 'start', ts, 'stop', ts, 'cause', cause,
             'usage', string.format('[{"rg":%s,"used":%d,"charged":%d,"from_bundles":%d}]', rg, used, money, units_b))
end
if P.action == 1 then
  local ref = 'gy-refund:' .. P.session
  local seen = redis.call('HGET', refs, ref)
  if seen then
    refunded = tonumber(split(seen, '|')[3])
  else
    refunded = blocks(P.units, P.size) * P.price
    if a.bal + refunded > MAX then return err('invalid_amount', 'balance would exceed ' .. fmt(MAX)) end
    a.bal, a.seq = a.bal + refunded, a.seq + 1
    ledger_add(stream, P.account, a.seq, 'refund', refunded, a.bal, P.session, ts,
               '{"rg":' .. rg .. ',"units":' .. fmt(P.units) .. '}')
    redis.call('HSET', refs, ref, fmt(a.seq) .. '|refund|' .. fmt(refunded))
    acct_save(acct, a, by_id, {})
    record('refund', 0, -refunded, 0)
  end
else
  local touched = {}
  local granted, _, _, _, enc = reserve_in(a, by_id, touched, false, P.units, P.dim, P.size, P.price, P.now, ts,
    rg)
  if granted < P.units then
    ok = 0  -- held in memory only: nothing is saved
  elseif P.action == 0 then
    local c, b, _, _, _ = commit_in(a, by_id, touched, enc, stream, P.account, P.units, P.dim, P.size, P.price, P.now,
                                    ts, P.session, rg)
    charged, from_b = c, b
    acct_save(acct, a, by_id, touched)
    record('event', P.units, charged, from_b)
  end
  -- CHECK_BALANCE: the reservation above was made in memory only and is dropped
end
local body = string.format('"ok":%d,"charged":%d,"from_bundles":%d,"refunded":%d,"balance":%d}', ok, charged, from_b,
                           refunded, a.bal)
redis.call('SET', reqkey, body, 'EX', P.ttl)
return '{"duplicate":0,' .. body
