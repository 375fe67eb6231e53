-- reap.lua: release the reservations of one account made before a cut-off (stale sessions).
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:rsvidx[:{slot tag}]
-- ARGV[1]: {account, cutoff (ms): reservations with a timestamp before it are released}
-- Returns: {released} units
-- Invariant: like release.lua for each stale reservation (no balance change, no ledger entry); the reaper
--   index then holds the account scored by its oldest remaining reservation, or not at all.
P = cjson.decode(ARGV[1])
local acct, rkeys, idx = KEYS[1], KEYS[2], KEYS[3]
local account, cutoff = P.account, P.cutoff
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
if oldest then redis.call('ZADD', idx, fmt(oldest), account) else redis.call('ZREM', idx, account) end
return reply({released = released})
