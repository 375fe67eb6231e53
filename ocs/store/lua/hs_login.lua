-- hs_login.lua: may this hotspot account log in now, and with what left (issue 11 points 2, 3).
-- KEYS: 1 <p>:{account}:hs (the allowance hash), 2 <p>:{account}:hss (its live sessions: id -> JSON),
--       3 <p>:{account}:acct (the account: `blocked` = "1" after `ocsd account block`, acct_flags.lua)
-- ARGV[1]: {now (unix s), mac (Calling-Station-Id, may be ""), commit (0: check only; 1: check and start the
--           validity / bind the MAC where due)}
-- Returns: {status ("ok" | "unknown" | "blocked" | "expired" | "used-up" | "other-device" | "too-many"), pw, t (seconds
--           left), d (octets left, -1 unlimited), rate, exp (validity end, 0: not started), needs (1 when a
--           commit would change something)}
-- Invariant: a check-only call changes nothing; a committed call starts the validity at most once and binds
-- the MAC at most once (the first device to log in).
P = cjson.decode(ARGV[1])
local hs = redis.call('HMGET', KEYS[1], 'pw', 't', 'd', 'rate', 'exp', 'vh', 'dev', 'bind', 'mac')
if not hs[1] then return reply({status = 'unknown', pw = '', t = 0, d = 0, rate = '', exp = 0, needs = 0}) end
local pw, t, d, rate, exp = hs[1], tonumber(hs[2]), tonumber(hs[3]), hs[4], tonumber(hs[5])
local vh, dev, bind, mac = tonumber(hs[6]), tonumber(hs[7]), hs[8] == '1', hs[9] or ''
local function out(status, needs)
  return reply({status = status, pw = pw, t = t, d = d, rate = rate, exp = exp, needs = needs})
end
if KEYS[3] and redis.call('HGET', KEYS[3], 'blocked') == '1' then return out('blocked', 0) end
if exp > 0 and P.now >= exp then return out('expired', 0) end
if t <= 0 or d == 0 then return out('used-up', 0) end
if bind and mac ~= '' and P.mac ~= mac then return out('other-device', 0) end
-- devices online: sessions of other devices (a device logging in again does not count twice)
local online = 0
local sessions = redis.call('HVALS', KEYS[2])
for i = 1, #sessions do
  local smac = split(sessions[i], '\31')[8]  -- the session's Calling-Station-Id (see hs_acct.lua)
  if smac == '' or smac ~= P.mac then online = online + 1 end
end
if online >= dev then return out('too-many', 0) end
local needs = 0
if exp == 0 or (bind and mac == '' and P.mac ~= '') then needs = 1 end
if needs == 1 and P.commit == 1 then
  if exp == 0 then
    exp = P.now + vh * 3600
    redis.call('HSET', KEYS[1], 'exp', fmt(exp), 'first', fmt(P.now))
  end
  if bind and mac == '' and P.mac ~= '' then redis.call('HSET', KEYS[1], 'mac', P.mac) end
  needs = 0
end
return out('ok', needs)
