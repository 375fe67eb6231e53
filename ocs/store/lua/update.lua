-- update.lua: one Gy CCR-U for one rating group in one call: commit the used units of the reservation, then
-- reserve the next units for the same (session, rating group) (RFC 4006 §5.1.2: a CCR-U reports usage and
-- asks for more).
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:ledger[:{slot tag}]  4 <p>:{account}:req:<request id>
--       5 <p>:rsvidx[:{slot tag}]
-- ARGV: 1 account  2 rkey  3 used units (>= 0)  4 units wanted (> 0)  5 dim  6 N  7 price  8 now (s)  9 now (ms)
--       10 request id  11 ttl of the request-id record (s)  12 rating group
--   (5-7 price the commit only when no reservation exists, and always the new reservation)
-- Returns: {charged, from_bundles, from_balance_units, unpaid, entry id or '', duplicate 0|1,
--           granted, granted_from_bundles, granted_from_balance_units, money_held}; granted 0 means nothing
--           more could be reserved (the usage is charged all the same).
-- Invariants: those of commit.lua and reserve.lua, in one atomic step: the account is read and written once.
--   A retransmission (same request id) returns the first result and changes nothing; the reservation the
--   first call made is still the one in place.
local acct, rkeys, stream, reqkey, idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local account, rkey = ARGV[1], ARGV[2]
local done = redis.call('GET', reqkey)
if done then
  local f = split(done, '|')
  return {tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), f[5], 1,
          tonumber(f[6] or 0), tonumber(f[7] or 0), tonumber(f[8] or 0), tonumber(f[9] or 0)}
end
local a, by_id = acct_load(acct)
if not a then return err('unknown_subscriber', account) end
local dim, n, price, now, ts = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local touched = {}
local r = redis.call('HGET', rkeys, rkey)
local charged, from_b, bal_units, unpaid, id = commit_in(a, by_id, touched, r, stream, account, tonumber(ARGV[3]), dim,
  n, price, now, ts, ARGV[10], ARGV[12])
-- the commit gave back everything r held, so the new reservation starts from nothing
local granted, g_b, g_units, money, enc = reserve_in(a, by_id, touched, false, tonumber(ARGV[4]), dim, n, price,
  now, ts)
acct_save(acct, a, by_id, touched)
if granted > 0 then
  redis.call('HSET', rkeys, rkey, enc)  -- replaces r
  if not r then redis.call('ZADD', idx, 'NX', ts, account) end
elseif r then
  redis.call('HDEL', rkeys, rkey)
end
redis.call('SET', reqkey, table.concat({fmt(charged), fmt(from_b), fmt(bal_units), fmt(unpaid), id, fmt(granted),
                                        fmt(g_b), fmt(g_units), fmt(money)}, '|'), 'EX', ARGV[11])
return {charged, from_b, bal_units, unpaid, id, 0, granted, g_b, g_units, money}
