-- gy_close.lua: close one Gy session without a CCR-T (the reaper: silent past its deadline; an operator's
-- abort): give back every reservation it holds, drop its state, and record its CDR. Charges nothing.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:{account}:gys  4 <p>:gysidx[:{slot tag}]
--       5 <p>:cdr[:{slot tag}]
-- ARGV[1]: {account, session, cause ("reaped", "aborted", "unknown-to-client"), ts (ms), before (ms, 0: always; else only when the
--           session's deadline is still before it, so a session a CCR refreshed meanwhile is left alone)}
-- Returns: {"closed":0|1,"released":units}
-- Invariant: like release.lua for each reservation of the session (no balance change, no ledger entry).
P = cjson.decode(ARGV[1])
local acct, rkeys, sessions, sidx, cdrs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member = P.account .. '\31' .. P.session
if P.before > 0 then
  local score = redis.call('ZSCORE', sidx, member)
  if score and tonumber(score) >= P.before then return '{"closed":0,"released":0}' end
end
redis.call('ZREM', sidx, member)
local s = redis.call('HGET', sessions, P.session)
if not s then return '{"closed":0,"released":0}' end
local f = split(s, '|')
local a, by_id = acct_load(acct)
local touched, released, rgs = {}, 0, {}
for rg, u, c, b in string.gmatch(f[5] or '', '(%d+):(%d+):(%d+):(%d+)') do
  local rkey = P.session .. '\31' .. rg
  local r = redis.call('HGET', rkeys, rkey)
  if r then
    local d = rsv_dec(r)
    if a then rsv_unhold(a, by_id, d, touched) end
    released = released + d.units
    redis.call('HDEL', rkeys, rkey)
  end
  rgs[#rgs + 1] = '{"rg":' .. rg .. ',"used":' .. u .. ',"charged":' .. c .. ',"from_bundles":' .. b .. '}'
end
if a then acct_save(acct, a, by_id, touched) end
redis.call('HDEL', sessions, P.session)
-- a session the client was asked to end (ASA 2001, gy_mark.lua) and that sent no CCR-T: closed as aborted
local cause = (P.cause == 'reaped' and f[10] == '1') and 'aborted' or P.cause
redis.call('XADD', cdrs, '*', 'session', P.session, 'account', P.account, 'imsi', f[6] or '', 'msisdn', f[7] or '',
           'peer', f[1], 'start', f[4], 'stop', fmt(P.ts), 'cause', cause, 'usage', '[' .. table.concat(rgs, ',') .. ']')
return '{"closed":1,"released":' .. fmt(released) .. '}'
