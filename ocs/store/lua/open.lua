-- open.lua: open an account (balance 0) in one atomic step, or find it open already.
-- KEYS: 1 <p>:{account}:acct
-- ARGV: 1 currency  2 seq (the last ledger seq PostgreSQL has for this id: numbering continues after it)
-- Returns: {1, currency} when opened now, {0, currency of the existing account} when it was open
-- Invariant: an account hash is never half made (cur, bal, held and seq are written by one HSET).
local acct = KEYS[1]
local cur = redis.call('HGET', acct, 'cur')
if cur and redis.call('HEXISTS', acct, 'bal') == 1 then return {0, cur} end
redis.call('HSET', acct, 'cur', ARGV[1], 'bal', '0', 'held', '0', 'seq', ARGV[2])
return {1, ARGV[1]}
