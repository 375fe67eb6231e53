-- reap.lua: release the reservations of one subscriber made before a cut-off (stale sessions).
-- KEYS: 1 <p>:{imsi}:acct  2 <p>:{imsi}:rsv  3 <p>:rsvidx:{slot tag}
-- ARGV: 1 imsi  2 cut-off (ms): reservations with a timestamp before it are released
-- Returns: units released
-- Invariant: like release.lua for each stale reservation (no balance change, no ledger entry); the reaper
--   index then holds the IMSI scored by its oldest remaining reservation, or not at all.
local acct, rkeys, idx = KEYS[1], KEYS[2], KEYS[3]
local imsi, cutoff = ARGV[1], tonumber(ARGV[2])
local all = redis.call('HGETALL', rkeys)
local a, by_id = acct_load(acct)
local touched, released, oldest = {}, 0, nil
for i = 1, #all, 2 do
  local r = rsv_dec(all[i + 1])
  local ts = tonumber(r.ts)
  if ts < cutoff then
    redis.call('HDEL', rkeys, all[i])
    if a then rsv_unhold(a, by_id, r, touched) end
    released = released + r.units
  elseif not oldest or ts < oldest then
    oldest = ts
  end
end
if a and released > 0 then acct_save(acct, a, by_id, touched) end
if oldest then redis.call('ZADD', idx, oldest, imsi) else redis.call('ZREM', idx, imsi) end
return released
