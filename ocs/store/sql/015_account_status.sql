-- Blocked accounts (issue 9: Gy answers 4010 DIAMETER_END_USER_SERVICE_DENIED, RFC 4006 §9.1): the status is
-- kept here (the truth, rebuilt into Redis by `ocsd ledger rebuild-redis`) and mirrored in the account's Redis
-- hash (`blocked`), which the charging scripts read. A SIM's own barring stays in subscribers.status.
ALTER TABLE accounts ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked'));
ALTER TABLE accounts ADD COLUMN status_reason text CHECK (length(status_reason) <= 200);
ALTER TABLE accounts ADD COLUMN status_changed_at timestamptz;
