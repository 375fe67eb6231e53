-- reserve.lua: hold units for (session, rating group): from bundles in order, then money from the balance.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:rsvidx[:{slot tag}] (same slot as the account)
-- ARGV[1]: {account, rkey (session \31 rating group), units (wanted, > 0), dim (d|v|s|r, '' = no bundle),
--           n (unit size), price (per n), cur (the tariff's currency), now (s), ts (ms)}
-- Returns: {granted, from_bundles, from_balance, money_held}; error OCS insufficient_funds when nothing can be
--          granted, OCS unknown_account without an account, OCS currency_mismatch for a tariff in another
--          currency than the account's (nothing changed on error).
-- Invariant: a reservation only holds (bundle h* fields, account `held`); it never changes a balance, so it
--   writes no ledger entry. held <= bal and h<dim> <= <dim> for every bundle. A previous reservation of the
--   same rkey is released first (a retried reserve replaces, never doubles, the hold). The reaper index
--   keeps the account with a score at or before its oldest reservation.
P = cjson.decode(ARGV[1])
local acct, rkeys, idx = KEYS[1], KEYS[2], KEYS[3]
local a, by_id = acct_load(acct)
if not a then return err('unknown_account', P.account) end
local refused = same_currency(a)
if refused then return refused end
local touched = {}
local old = redis.call('HGET', rkeys, P.rkey)
local granted, from_b, bal_units, money, enc = reserve_in(a, by_id, touched, old, P.units, P.dim, P.n, P.price,
  P.now, fmt(P.ts))
if granted == 0 then return err('insufficient_funds', 'nothing to grant') end
acct_save(acct, a, by_id, touched)
redis.call('HSET', rkeys, P.rkey, enc)
if not old then redis.call('ZADD', idx, 'NX', fmt(P.ts), P.account) end
return string.format('{"granted":%d,"from_bundles":%d,"from_balance":%d,"money_held":%d}', granted, from_b,
                     bal_units, money)
