-- expire.lua: remove the bundles of an account whose expiry is at or before `now`; what they had left is
--   forfeited.
-- KEYS: 1 <p>:{account}:acct  2 <p>:ledger[:{slot tag}]  3 <p>:expidx[:{slot tag}]
-- ARGV[1]: {account, now (s), ts (ms)}
-- Returns: {removed} bundles
-- Invariants: one ledger entry (kind expire, amount 0) lists every removed bundle with its remaining
--   allowances, so replaying the ledger removes them too. The expiry index keeps the earliest expiry left.
--   Reservations that held a removed bundle draw nothing from it when committed.
P = cjson.decode(ARGV[1])
local acct, stream, expidx = KEYS[1], KEYS[2], KEYS[3]
local account, now = P.account, P.now
local a, by_id = acct_load(acct)
if not a then redis.call('ZREM', expidx, account); return reply({removed = 0}) end
local gone, next_exp = {}, nil
for _, b in pairs(by_id) do
  if b.exp <= now then
    gone[#gone + 1] = b
  elseif not next_exp or b.exp < next_exp then
    next_exp = b.exp
  end
end
if next_exp then redis.call('ZADD', expidx, fmt(next_exp), account) else redis.call('ZREM', expidx, account) end
if #gone == 0 then return reply({removed = 0}) end
table.sort(gone, function(x, y) return x.n < y.n end)
local parts = {}
for i, b in ipairs(gone) do
  redis.call('HDEL', acct, 'B' .. b.id, 'G' .. b.id)
  parts[i] = '{"id":' .. b.id .. ',"code":' .. cjson.encode(b.code) .. ',"d":' .. fmt(b.d) .. ',"v":' .. fmt(b.v) ..
             ',"s":' .. fmt(b.s) .. ',"r":' .. fmt(b.r) .. '}'
end
local seq = redis.call('HINCRBY', acct, 'seq', 1)
ledger_add(stream, account, seq, 'expire', 0, a.bal, '', fmt(P.ts), '{"expired":[' .. table.concat(parts, ',') .. ']}')
return reply({removed = #gone})
