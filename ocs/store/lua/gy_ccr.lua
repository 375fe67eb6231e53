-- gy_ccr.lua: one Gy CCR-I/U/T (RFC 4006 §5.1; TS 32.299 §6.3) with ALL its Multiple-Services-Credit-Control in
-- one atomic call: for each rating group commit the used units against its reservation, then reserve the next
-- grant (bundles first, then money at the tariff); CCR-T also releases every other reservation of the session.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:ledger[:{slot tag}]  4 <p>:{account}:req:gy:<sid>:<n>
--       5 <p>:rsvidx[:{slot tag}]  6 <p>:{account}:gys (hash session id -> session state)
--       7 <p>:gysidx[:{slot tag}] (zset account\31session scored by the deadline (ms) the reaper closes it at)
--       8 <p>:cdr[:{slot tag}] (stream of closed sessions' records, written into PostgreSQL by the CDR writer)
--       9 (only on one Redis, not a cluster) <p>:gysid:{<session>}: the session's account, kept `lifetime` s
-- ARGV[1]: {account, session, type (1 INITIAL, 2 UPDATE, 3 TERMINATION), n (CC-Request-Number), peer, realm,
--           imsi, msisdn (the Subscription-Ids of the CCR-I, '' when absent),
--           lifetime (s, of key 9), now (s), ts (ms), deadline (ms: silent past it, the reaper closes the session), ttl (s, of the answer kept for retransmissions), items: [{rg, used, wanted (0 = no
--           grant asked), dim, n, price, cur, release (1: Reporting-Reason FINAL, give the rest back)}]}
-- Returns: {"duplicate":0|1,"denied":0|1,"items":[{"rg","charged","unpaid","from_bundles","from_balance","granted",
--           "granted_from_bundles","money_held"}],"start":ms} ; errors (nothing changed):
--           OCS unknown_account, OCS unknown_session (CCR-U/T without CCR-I), OCS blocked (a CCR-I of a blocked
--           account or barred SIM), OCS currency_mismatch, OCS invalid_amount.
--   Blocked account or barred SIM (RFC 4006 §9.1 4010 DIAMETER_END_USER_SERVICE_DENIED: "if the CCR contained
--   used-service-units they are deducted, if possible") on a CCR-U: the used units are committed (consumed under an
--   earlier grant), nothing is granted, every reservation of the
--   session is given back, the session is marked final (so unblocking re-authorizes it by RAR) and "denied" is 1;
--   a CCR-T is served as always (the session ends, its usage is charged).
-- Invariants: those of commit.lua and reserve.lua for every item, all in one step (the account is read and
--   written once, so concurrent sessions of one account never together hold or spend more than it has). A
--   retransmission (same session and CC-Request-Number, key 4) returns the first reply and changes nothing.
--   The session state (owning peer, last request number, rating groups, usage so far) lives in key 6.
P = cjson.decode(ARGV[1])

-- one charging data record of a closed session (TS 32.299 §6.3: the OCS's record of the session): written
-- behind into PostgreSQL, exactly once by session id
local function cdr_add(cdrs, session, account, imsi, msisdn, peer, start, stop, cause, order, usage)
  local rgs = {}
  for i, rg in ipairs(order) do
    local u = usage[rg]
    rgs[i] = string.format('{"rg":%s,"used":%d,"charged":%d,"from_bundles":%d}', rg, u[1], u[2], u[3])
  end
  redis.call('XADD', cdrs, '*', 'session', session, 'account', account, 'imsi', imsi, 'msisdn', msisdn, 'peer', peer,
             'start', fmt(start), 'stop', fmt(stop), 'cause', cause, 'usage', '[' .. table.concat(rgs, ',') .. ']')
end

local acct, rkeys, stream, reqkey, idx, sessions, sidx, cdrs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6],
  KEYS[7], KEYS[8]
local done = redis.call('GET', reqkey)
if done then return '{"duplicate":1,' .. done end
local a, by_id = acct_load(acct)
if not a then return err('unknown_account', P.account) end
for _, it in ipairs(P.items) do
  if it.cur ~= a.cur then return err('currency_mismatch', 'account in ' .. a.cur .. ', tariff in ' .. it.cur) end
end
-- session state: peer|realm|last n|start ms|rating groups "rg:used:charged:from_b,..."|imsi|msisdn|final|last
-- RAR|terminating (final 1: the last CCR got a final grant, a 4012 or a 4010, so a top-up or an unblock
-- re-authorizes the session with a RAR; last RAR "result;at ms;peer" and terminating (1 after an ASA 2001) are
-- written by gy_mark.lua and kept here)
local s = redis.call('HGET', sessions, P.session)
local usage, order, start, imsi, msisdn, rar, terminating = {}, {}, P.ts, P.imsi, P.msisdn, '', ''
if s then
  local f = split(s, '|')
  start, imsi, msisdn, rar, terminating = tonumber(f[4]), f[6] or '', f[7] or '', f[9] or '', f[10] or ''
  for rg, u, c, b in string.gmatch(f[5] or '', '(%d+):(%d+):(%d+):(%d+)') do
    usage[rg] = {tonumber(u), tonumber(c), tonumber(b)}
    order[#order + 1] = rg
  end
elseif P.type ~= 1 then
  return err('unknown_session', P.session)
end
-- the operator's refusal: a blocked account, or the barred SIM of the request (CCR-I) or of the session; a CCR-T
-- is never refused (the session ends and what it used is charged)
local denied = P.type ~= 3 and (a.blocked == '1' or (imsi ~= '' and a['barred:' .. imsi] ~= nil) or
  (msisdn ~= '' and a['barred:' .. msisdn] ~= nil))
if denied and P.type == 1 then return err('blocked', P.account) end  -- nothing changed
local ts = fmt(P.ts)
local touched, out, fresh, final = {}, {}, false, 0
for i, it in ipairs(P.items) do
  local rg = fmt(it.rg)
  local rkey = P.session .. '\31' .. rg
  local r = redis.call('HGET', rkeys, rkey)
  local charged, from_b, bal_units, unpaid, id = 0, 0, 0, 0, ''
  if r or it.used > 0 then
    charged, from_b, bal_units, unpaid, id = commit_in(a, by_id, touched, r, stream, P.account, it.used, it.dim,
      it.n, it.price, P.now, ts, P.session .. ':' .. fmt(P.n), rg)
    if charged == nil then return err('invalid_amount', from_b) end
  end
  local granted, g_b, g_units, money, enc = 0, 0, 0, 0, nil
  if it.wanted > 0 and P.type ~= 3 and it.release ~= 1 and not denied then
    granted, g_b, g_units, money, enc = reserve_in(a, by_id, touched, false, it.wanted, it.dim, it.n, it.price,
      P.now, ts, rg)
  end
  if (it.wanted > 0 and granted < it.wanted) or denied then final = 1 end  -- a last grant, or none (4012, 4010)
  if enc then
    redis.call('HSET', rkeys, rkey, enc)
    fresh = true
  elseif r then
    redis.call('HDEL', rkeys, rkey)
  end
  if not usage[rg] then usage[rg] = {0, 0, 0}; order[#order + 1] = rg end
  local u = usage[rg]
  u[1], u[2], u[3] = u[1] + it.used, u[2] + charged, u[3] + from_b
  out[i] = string.format('{"rg":%s,"charged":%d,"unpaid":%d,"from_bundles":%d,"from_balance":%d,"granted":%d,' ..
                         '"granted_from_bundles":%d,"money_held":%d}', rg, charged, unpaid, from_b, bal_units,
                         granted, g_b, money)
end
if P.type == 3 or denied then  -- RFC 4006 §5.1.2: the final report ends the session; what is held goes back
  for _, rg in ipairs(order) do
    local rkey = P.session .. '\31' .. rg
    local r = redis.call('HGET', rkeys, rkey)
    if r then
      rsv_unhold(a, by_id, rsv_dec(r), touched)
      redis.call('HDEL', rkeys, rkey)
    end
  end
end
if P.type == 3 then
  redis.call('HDEL', sessions, P.session)
  redis.call('ZREM', sidx, P.account .. '\31' .. P.session)
  cdr_add(cdrs, P.session, P.account, imsi, msisdn, P.peer, start, P.ts, 'final', order, usage)
else
  local parts = {}
  for i, rg in ipairs(order) do
    local u = usage[rg]
    parts[i] = rg .. ':' .. fmt(u[1]) .. ':' .. fmt(u[2]) .. ':' .. fmt(u[3])
  end
  redis.call('HSET', sessions, P.session, P.peer .. '|' .. P.realm .. '|' .. fmt(P.n) .. '|' .. fmt(start) .. '|' ..
             table.concat(parts, ',') .. '|' .. imsi .. '|' .. msisdn .. '|' .. fmt(final) .. '|' .. rar .. '|' ..
             terminating)
  -- a terminating session (ASA 2001) keeps the short deadline gy_mark.lua gave it
  if terminating ~= '1' then redis.call('ZADD', sidx, fmt(P.deadline), P.account .. '\31' .. P.session) end
end
acct_save(acct, a, by_id, touched)
if fresh then redis.call('ZADD', idx, 'NX', ts, P.account) end
local body = '"denied":' .. (denied and '1' or '0') .. ',"items":[' .. table.concat(out, ',') .. '],"start":' ..
             fmt(start) .. '}'
redis.call('SET', reqkey, body, 'EX', P.ttl)
if KEYS[9] then
  if P.type == 3 then redis.call('DEL', KEYS[9]) else redis.call('SET', KEYS[9], P.account, 'EX', P.lifetime) end
end
return '{"duplicate":0,' .. body
