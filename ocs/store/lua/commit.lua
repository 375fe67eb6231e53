-- commit.lua: charge used units of (session, rating group), release what the reservation held beyond them.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:ledger[:{slot tag}]  4 <p>:{account}:req:<request id>
-- ARGV: 1 account  2 rkey  3 used units (>= 0)  4 dim  5 N  6 price  7 now (s)  8 now (ms)  9 request id
--       10 ttl of the request-id record (s)  11 rating group
--   (4-6 are used only when no reservation exists; a reservation keeps the tariff it was made with)
-- Returns: {charged, from_bundles, from_balance_units, unpaid, entry id or '', duplicate 0|1}
-- Invariants: units are drawn from the reservation's holds (bundles still valid at `now`), then its balance
--   units, then over-use from serving bundles and the balance; money is rounded up to N once over all balance
--   units and taken only down to zero (the rest is `unpaid`, recorded, never a negative balance). A second
--   commit with the same request id returns the first result and charges nothing. Every change of `bal` or a
--   bundle allowance appends one ledger entry in this call.
local acct, rkeys, stream, reqkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local account = ARGV[1]
local done = redis.call('GET', reqkey)
if done then
  local f = split(done, '|')
  return {tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), f[5], 1}
end
local a, by_id = acct_load(acct)
if not a then return err('unknown_subscriber', account) end
local touched = {}
local r = redis.call('HGET', rkeys, ARGV[2])
local charged, from_b, bal_units, unpaid, id = commit_in(a, by_id, touched, r, stream, account, tonumber(ARGV[3]),
  ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[11])
if r then redis.call('HDEL', rkeys, ARGV[2]) end
acct_save(acct, a, by_id, touched)
redis.call('SET', reqkey, fmt(charged) .. '|' .. fmt(from_b) .. '|' .. fmt(bal_units) .. '|' .. fmt(unpaid) .. '|' .. id,
           'EX', ARGV[10])
return {charged, from_b, bal_units, unpaid, id, 0}
