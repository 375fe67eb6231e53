-- Notifications sent (issue 17 point 5): one row per (kind, key) so an expiry notice or a payment notice goes
-- out once even when several ocsd processes run the job.
CREATE TABLE notifications_sent (
    kind text NOT NULL,        -- payment.applied | package.expiring | bundle.expiring
    key text NOT NULL,         -- the payment id, or account:bundle-or-voucher:expiry
    account_id text NOT NULL DEFAULT '',
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
