-- update.lua: one Gy CCR-U for one rating group in one call: commit the used units of the reservation, then
-- reserve the next units for the same (session, rating group) (RFC 4006 §5.1.2: a CCR-U reports usage and
-- asks for more).
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:ledger[:{slot tag}]  4 <p>:{account}:req:<request id>
--       5 <p>:rsvidx[:{slot tag}]
-- ARGV[1]: {account, rkey, used (>= 0), wanted (> 0), dim, n, price, cur, now (s), ts (ms), req, ttl, rg}
--   (dim, n, price price the commit only when no reservation exists, and always the new reservation)
-- Returns: {charged, from_bundles, from_balance, unpaid, entry (or ''), duplicate 0|1, granted,
--           granted_from_bundles, granted_from_balance, money_held}; granted 0 means nothing more could be
--           reserved (the usage is charged all the same).
-- Invariants: those of commit.lua and reserve.lua, in one atomic step: the account is read and written once.
--   A retransmission (same request id) returns the first result and changes nothing; the reservation the
--   first call made is still the one in place.
P = cjson.decode(ARGV[1])
local acct, rkeys, stream, reqkey, idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local first = idem(reqkey, acct, 0)
if first then return first end
local a, by_id = acct_load(acct)
if not a then return err('unknown_account', P.account) end
local refused = same_currency(a)
if refused then return refused end
local ts = fmt(P.ts)
local touched = {}
local r = redis.call('HGET', rkeys, P.rkey)
local charged, from_b, bal_units, unpaid, id = commit_in(a, by_id, touched, r, stream, P.account, P.used, P.dim,
  P.n, P.price, P.now, ts, P.req, fmt(P.rg))
if charged == nil then return err('invalid_amount', from_b) end
-- the commit gave back everything r held, so the new reservation starts from nothing
local granted, g_b, g_units, money, enc = reserve_in(a, by_id, touched, false, P.wanted, P.dim, P.n, P.price,
  P.now, ts, fmt(P.rg))
acct_save(acct, a, by_id, touched)
if granted > 0 then
  redis.call('HSET', rkeys, P.rkey, enc)  -- replaces r
  if not r then redis.call('ZADD', idx, 'NX', ts, P.account) end
elseif r then
  redis.call('HDEL', rkeys, P.rkey)
end
local out = {charged = charged, from_bundles = from_b, from_balance = bal_units, unpaid = unpaid, entry = id,
             duplicate = 0, granted = granted, granted_from_bundles = g_b, granted_from_balance = g_units,
             money_held = money}
local encoded = reply(out)
idem_record(reqkey, 0, 0, encoded)
return encoded
