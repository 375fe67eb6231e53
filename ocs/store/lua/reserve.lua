-- reserve.lua: hold units for (session, rating group): from bundles in order, then money from the balance.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:rsvidx[:{slot tag}] (same slot as the account)
-- ARGV: 1 account  2 rkey (session \31 rating group)  3 units wanted (> 0)  4 dim (d|v|s|r, '' = no bundle)
--       5 unit size N  6 price per N  7 now (s)  8 now (ms)
-- Returns: {granted, from_bundles, from_balance_units, money_held}; error OCS insufficient_funds when nothing
--          can be granted, OCS unknown_subscriber without an account (nothing changed on error).
-- Invariant: a reservation only holds (bundle h* fields, account `held`); it never changes a balance, so it
--   writes no ledger entry. held <= bal and h<dim> <= <dim> for every bundle. A previous reservation of the
--   same rkey is released first (a retried reserve replaces, never doubles, the hold). The reaper index
--   keeps the account with a score at or before its oldest reservation.
local acct, rkeys, idx = KEYS[1], KEYS[2], KEYS[3]
local account, rkey = ARGV[1], ARGV[2]
local a, by_id = acct_load(acct)
if not a then return err('unknown_subscriber', account) end
local touched = {}
local old = redis.call('HGET', rkeys, rkey)
local granted, from_b, bal_units, money, enc = reserve_in(a, by_id, touched, old, tonumber(ARGV[3]), ARGV[4],
  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
if granted == 0 then return err('insufficient_funds', 'nothing to grant') end
acct_save(acct, a, by_id, touched)
redis.call('HSET', rkeys, rkey, enc)
if not old then redis.call('ZADD', idx, 'NX', ARGV[8], account) end
return {granted, from_b, bal_units, money}
