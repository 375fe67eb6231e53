-- hs_acct.lua: record one Accounting-Request of a hotspot session (RFC 2866; issue 11 point 4).
-- KEYS: 1 <p>:{account}:hs, 2 <p>:{account}:hss (live sessions), 3 the live-session index (shared, slot key),
--       4 the closed-session stream (shared, slot key; moved into PostgreSQL by housekeeping)
-- ARGV[1]: {account, sid (Acct-Session-Id), status ("start"|"interim"|"stop"), inp, outp (64-bit cumulative
--           octets), time (cumulative Acct-Session-Time), now, client, user, mac, ip, nas_ip, src (the router's
--           source address: where Disconnect/CoA go), cause, stale (seconds without accounting after which
--           the reaper looks at the session; 0: never)}
-- Returns: {t, d (-1 unlimited), exp, exhausted (1 when time or data is used up or validity ended),
--           dt, dd (what this packet deducted)}
-- Invariant: counters are cumulative per session; only the positive delta since the last packet of the session
-- is deducted (a retransmission or a reordered packet deducts nothing), from the allowance every session of the
-- account shares (time summed over devices, data summed). The session entry and the allowance change together.
P = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return reply({t = 0, d = 0, exp = 0, exhausted = 1, dt = 0, dd = 0}) end
-- a session entry: inp|outp|time|started|last|client|user|mac|ip|nas_ip|src joined by \31 (integers by fmt: exact
-- to 2^53, where cjson would round past 14 digits)
local SEP = '\31'
local function sess_dec(v)
  local f = split(v, SEP)
  return {inp = tonumber(f[1]), outp = tonumber(f[2]), time = tonumber(f[3]), started = tonumber(f[4]),
          last = tonumber(f[5]), client = f[6], user = f[7], mac = f[8], ip = f[9], nas_ip = f[10],
          src = f[11] or ''}
end
local function sess_enc(e)
  return table.concat({fmt(e.inp), fmt(e.outp), fmt(e.time), fmt(e.started), fmt(e.last), e.client, e.user, e.mac,
                       e.ip, e.nas_ip, e.src}, SEP)
end
local member = P.account .. '|' .. P.sid
local raw = redis.call('HGET', KEYS[2], P.sid)
local s
if raw then
  s = sess_dec(raw)
else
  s = {inp = 0, outp = 0, time = 0, started = P.now, client = P.client, user = P.user, mac = P.mac, ip = P.ip,
       nas_ip = P.nas_ip, src = P.src}
end
local dt = math.max(0, P.time - s.time)
local dd = math.max(0, P.inp - s.inp) + math.max(0, P.outp - s.outp)
s.time = math.max(s.time, P.time)
s.inp = math.max(s.inp, P.inp)
s.outp = math.max(s.outp, P.outp)
if P.ip ~= '' then s.ip = P.ip end
s.last = P.now
local hs = redis.call('HMGET', KEYS[1], 't', 'd', 'exp')
local t, d, exp = tonumber(hs[1]) - dt, tonumber(hs[2]), tonumber(hs[3])
if t < 0 then t = 0 end
if d >= 0 then d = math.max(0, d - dd) end
redis.call('HSET', KEYS[1], 't', fmt(t), 'd', fmt(d))
if P.status == 'stop' then
  redis.call('HDEL', KEYS[2], P.sid)
  redis.call('ZREM', KEYS[3], member)
  redis.call('XADD', KEYS[4], '*', 'account', P.account, 'sid', P.sid, 'client', s.client, 'user', s.user,
             'mac', s.mac, 'ip', s.ip, 'started', fmt(s.started), 'stopped', fmt(P.now), 'inp', fmt(s.inp),
             'outp', fmt(s.outp), 'time', fmt(s.time), 'cause', P.cause)
else
  redis.call('HSET', KEYS[2], P.sid, sess_enc(s))
  -- the reaper's index: when this session's time runs out if nothing else is reported (now + time left), or
  -- its validity ends, or it goes stale (no accounting for P.stale seconds: the router lost it)
  local deadline = P.now + t
  if exp > 0 and exp < deadline then deadline = exp end
  if P.stale and P.stale > 0 and P.now + P.stale < deadline then deadline = P.now + P.stale end
  redis.call('ZADD', KEYS[3], deadline, member)
end
local exhausted = 0
if t <= 0 or d == 0 or (exp > 0 and P.now >= exp) then exhausted = 1 end
return reply({t = t, d = d, exp = exp, exhausted = exhausted, dt = dt, dd = dd})
