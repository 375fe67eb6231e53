-- open.lua: open an account (balance 0) in one atomic step, or find it open already.
-- KEYS: 1 <p>:{account}:acct
-- ARGV[1]: {currency, seq (the last ledger seq PostgreSQL has for this id: numbering continues after it)}
-- Returns: {opened 1|0, currency (of the account, which may differ from the one asked for when it was open)}
-- Invariant: an account hash is never half made (cur, bal, held and seq are written by one HSET).
P = cjson.decode(ARGV[1])
local acct = KEYS[1]
local cur = redis.call('HGET', acct, 'cur')
if cur and redis.call('HEXISTS', acct, 'bal') == 1 then return reply({opened = 0, currency = cur}) end
redis.call('HSET', acct, 'cur', P.currency, 'bal', '0', 'held', '0', 'seq', fmt(P.seq))
return reply({opened = 1, currency = P.currency})
