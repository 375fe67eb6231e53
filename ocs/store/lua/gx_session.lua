-- gx_session.lua: one Gx (PCEF) session, TS 29.212 §4.5.1: opened by CCR-I, touched by CCR-U, ended by CCR-T.
-- KEYS: 1 <p>:gxs:{<session id>}  (hash: peer, realm, imsi, apn, ip, plan, throttled, type, n, closed)
-- ARGV[1]: {op ("open", "update", "close"), n (CC-Request-Number), ttl (s: a live session's lifetime, renewed
--           by each CCR), done_ttl (s: an ended session kept to answer a retransmitted CCR-T), fields (open)}
-- Returns: the session's fields as a JSON object of strings, plus "dup" = "1" for a retransmission (the same
--          CC-Request-Number as the last request: the answer is rebuilt from the stored values, RFC 4006 §5.1).
-- Errors: "OCS unknown_session" (RFC 6733 §7.1.5 5002) for an update/close of no live session.
P = cjson.decode(ARGV[1])
local key = KEYS[1]

local function fields(dup)
  local flat = redis.call('HGETALL', key)
  local out = {dup = dup}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return cjson.encode(out)
end

local n = redis.call('HGET', key, 'n')
local closed = redis.call('HGET', key, 'closed') == '1'
if P.op == 'open' then
  if n and not closed and tonumber(n) == P.n and redis.call('HGET', key, 'type') == '1' then
    return fields('1')
  end
  redis.call('DEL', key)
  local args = {}
  for k, v in pairs(P.fields) do args[#args + 1] = k; args[#args + 1] = v end
  redis.call('HSET', key, 'n', fmt(P.n), 'type', '1', 'closed', '0', unpack(args))
  redis.call('EXPIRE', key, P.ttl)
  return fields('0')
end
if not n then return err('unknown_session') end
if P.op == 'close' then
  if closed then
    if tonumber(n) == P.n then return fields('1') end
    return err('unknown_session')
  end
  redis.call('HSET', key, 'n', fmt(P.n), 'type', '3', 'closed', '1')
  redis.call('EXPIRE', key, P.done_ttl)
  return fields('0')
end
if closed then return err('unknown_session') end
local dup = tonumber(n) == P.n and '1' or '0'
redis.call('HSET', key, 'n', fmt(P.n), 'type', '2')
redis.call('EXPIRE', key, P.ttl)
return fields(dup)
