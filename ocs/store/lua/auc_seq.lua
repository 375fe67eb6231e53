-- auc_seq.lua: hand out N consecutive SEQ values of one subscriber's SQN (TS 33.102 Annex C.1.1, C.3.2).
-- KEYS[1] = <p>:{imsi}:auc   hash seq, limit, k, opc, amf, status, kid (k/opc sealed, hex; kid: the id of the
--                            key they were sealed and checked with, hex; see ocs/services/auc.py, ocs/sealing.py)
-- ARGV[1] = N (>= 1), ARGV[2] = floor: after a resynchronisation the SEQ_MS of the USIM (0 otherwise)
-- ARGV[3] = the caller's key id (hex)
-- Returns {first SEQ, k, opc, amf, status}, or
--         {-2}           the subscriber is not cached, or was cached under another key file (then the record
--                        is dropped here): load it from PostgreSQL (auc_load) and call again
--         {-1, seq}      the SEQs reserved in PostgreSQL are used up: reserve more (auc_load) and call again
-- Invariant: every SEQ handed out is <= limit, and limit is never above subscribers.seq_reserved, so SEQs
-- stay unique across restarts, a loss of Redis and a dropped record (the loader restarts above seq_reserved).
local v = redis.call('HMGET', KEYS[1], 'seq', 'limit', 'k', 'opc', 'amf', 'status', 'kid')
if not v[1] then return {-2} end
if v[7] ~= ARGV[3] then
  redis.call('DEL', KEYS[1])
  return {-2}
end
local n, floor = tonumber(ARGV[1]), tonumber(ARGV[2])
local seq, limit = tonumber(v[1]), tonumber(v[2])
if floor > seq then seq = floor end
if seq + n > limit then return {-1, fmt(seq)} end
redis.call('HSET', KEYS[1], 'seq', fmt(seq + n))
return {fmt(seq + 1), v[3], v[4], v[5], v[6]}
