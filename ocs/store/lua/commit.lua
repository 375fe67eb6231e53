-- commit.lua: charge used units of (session, rating group), release what the reservation held beyond them.
-- KEYS: 1 <p>:{account}:acct  2 <p>:{account}:rsv  3 <p>:ledger[:{slot tag}]  4 <p>:{account}:req:<request id>
-- ARGV[1]: {account, rkey, used (>= 0), dim, n, price, cur, now (s), ts (ms), req (request id), ttl (of the
--           request-id record, s), rg (rating group)}
--   (dim, n, price are used only when no reservation exists; a reservation keeps the tariff it was made with)
-- Returns: {charged, from_bundles, from_balance, unpaid, entry (or ''), duplicate 0|1}
-- Invariants: units are drawn from the reservation's holds (bundles still valid at `now`), then its balance
--   units, then over-use from serving bundles and the balance; money is rounded up to N once over all balance
--   units and taken only down to zero (the rest is `unpaid`, recorded, never a negative balance). A second
--   commit with the same request id returns the first result and charges nothing (the _lib preamble). Every
--   change of `bal` or a bundle allowance appends one ledger entry in this call.
P = cjson.decode(ARGV[1])
local acct, rkeys, stream, reqkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local first = idem(reqkey, acct, 0)
if first then return first end
local a, by_id = acct_load(acct)
if not a then return err('unknown_account', P.account) end
local refused = same_currency(a)
if refused then return refused end
local touched = {}
local r = redis.call('HGET', rkeys, P.rkey)
local charged, from_b, bal_units, unpaid, id = commit_in(a, by_id, touched, r, stream, P.account, P.used, P.dim,
  P.n, P.price, P.now, fmt(P.ts), P.req, fmt(P.rg))
if charged == nil then return err('invalid_amount', from_b) end
if r then redis.call('HDEL', rkeys, P.rkey) end
acct_save(acct, a, by_id, touched)
local out = {charged = charged, from_bundles = from_b, from_balance = bal_units, unpaid = unpaid, entry = id,
             duplicate = 0}
local encoded = reply(out)
idem_record(reqkey, 0, 0, encoded)
return encoded
