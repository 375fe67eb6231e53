-- Money belongs to an account (an opaque id and a currency), not to an IMSI; a SIM points at its account and
-- several SIMs may share one. Existing accounts keep their old key (the IMSI they belonged to) as their id:
-- their Redis keys ({<id>}:acct ...), ledger entry ids (<id>:<seq>) and entries still waiting in the Redis
-- stream stay valid as they are, so the ledger history is kept unchanged. New accounts get generated ids.
ALTER TABLE accounts DROP CONSTRAINT accounts_imsi_fkey;
ALTER TABLE accounts RENAME COLUMN imsi TO account_id;
ALTER TABLE accounts ADD CONSTRAINT accounts_account_id_check
    CHECK (account_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$');

-- A subscriber without an account (possible before: a failed import) keeps NULL and cannot be charged.
ALTER TABLE subscribers ADD COLUMN account_id text REFERENCES accounts (account_id);
UPDATE subscribers s SET account_id = a.account_id FROM accounts a WHERE a.account_id = s.imsi;
CREATE INDEX subscribers_account_id ON subscribers (account_id);

-- The ledger is keyed by account; rows keep their entry ids, amounts and sequence numbers.
ALTER TABLE ledger RENAME COLUMN imsi TO account_id;
ALTER TABLE ledger RENAME CONSTRAINT ledger_imsi_seq_key TO ledger_account_id_seq_key;
