-- acct_flags.lua: set or clear the refusal flags of an account that the Gy scripts read (gy_ccr.lua,
-- gy_event.lua): `blocked` (the operator blocked the account) and `barred:<imsi>` / `barred:<msisdn>` (a SIM of
-- the account is barred, `subscriber set --status barred`). Both are answered 4010 (RFC 4006 §9.1).
-- KEYS: 1 <p>:{account}:acct
-- ARGV[1]: {set: [field, ...], clear: [field, ...]}
-- Returns: {"ok":1}; error OCS unknown_account when the account is not in Redis (nothing changed).
-- Invariant: no balance, bundle or ledger change; only the named flag fields.
P = cjson.decode(ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'bal') == 0 then return err('unknown_account', '') end
for _, f in ipairs(P.set) do redis.call('HSET', KEYS[1], f, '1') end
for _, f in ipairs(P.clear) do redis.call('HDEL', KEYS[1], f) end
return '{"ok":1}'
