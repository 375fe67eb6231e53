-- gy_mark.lua: record what a server-initiated request (RFC 4006 §5.5) got on a live Gy session: the RAA of a
-- RAR (Result-Code, time, peer), or an ASA 2001 (RFC 6733 §8.5: the client ends the session with its CCR-T; until
-- then the session is `terminating` and the reaper closes it past `deadline`).
-- KEYS: 1 <p>:{account}:gys  2 <p>:gysidx[:{slot tag}]
-- ARGV[1]: {account, session, rar ("result;at ms;peer", or "" to leave it), deadline (ms, 0: not terminating)}
-- Returns: {"found":0|1}
-- Invariant: only the session's state string (fields 9 last RAR, 10 terminating) and its reaper deadline change;
--   no money moves.
P = cjson.decode(ARGV[1])
local s = redis.call('HGET', KEYS[1], P.session)
if not s then return '{"found":0}' end
local f = split(s, '|')
for i = #f + 1, 10 do f[i] = '' end
if P.rar ~= '' then f[9] = P.rar end
if P.deadline > 0 then
  f[10] = '1'
  redis.call('ZADD', KEYS[2], fmt(P.deadline), P.account .. '\31' .. P.session)
end
redis.call('HSET', KEYS[1], P.session, table.concat(f, '|', 1, 10))
return '{"found":1}'
