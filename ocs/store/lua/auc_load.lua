-- auc_load.lua: cache one subscriber's AuC record, or raise its SEQ limit after a reservation in PostgreSQL.
-- KEYS[1] = <p>:{imsi}:auc
-- ARGV = base, limit, k, opc, amf, status, kid: base = seq_reserved before this reservation (no SEQ above it
--        was ever handed out), limit = seq_reserved after it, kid = id of the key k and opc open with (hex).
-- A cached record keeps its seq (other callers may have handed out SEQs since) and takes the higher limit.
-- Returns the limit now in force.
local cur = redis.call('HGET', KEYS[1], 'limit')
local limit = tonumber(ARGV[2])
if cur then
  if tonumber(cur) > limit then limit = tonumber(cur) end
  redis.call('HSET', KEYS[1], 'limit', fmt(limit), 'k', ARGV[3], 'opc', ARGV[4], 'amf', ARGV[5], 'status', ARGV[6],
             'kid', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'limit', fmt(limit), 'k', ARGV[3], 'opc', ARGV[4], 'amf', ARGV[5],
             'status', ARGV[6], 'kid', ARGV[7])
end
return fmt(limit)
