-- release.lua: give back everything a reservation of (session, rating group) holds; charges nothing.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv
-- ARGV[1]: {account, rkey}
-- Returns: {released} units (0 when there was no such reservation)
-- Invariant: balances and allowances are unchanged (no ledger entry); account `held` and bundle h* drop by
--   exactly what the reservation recorded, and the reservation is removed. (The reaper index entry stays
--   until the reaper looks at the account again.)
P = cjson.decode(ARGV[1])
local acct, rkeys = KEYS[1], KEYS[2]
local s = redis.call('HGET', rkeys, P.rkey)
if not s then return reply({released = 0}) end
local r = rsv_dec(s)
redis.call('HDEL', rkeys, P.rkey)
local a, by_id = acct_load(acct)
if a then
  local touched = {}
  rsv_unhold(a, by_id, r, touched)
  acct_save(acct, a, by_id, touched)
end
return reply({released = r.units})
