-- SMS billing with Jasmin (issue 18). Prices by plan and destination with volume tiers; the accounts' SMS plan
-- and refund policy; sender ids awaiting approval; dispatches (campaigns). Redis holds the live copies the
-- charge script reads (ocs/store/lua/sms_charge.lua); these tables are the record they are loaded from.
CREATE TABLE sms_tariffs (
    plan        text NOT NULL,
    match_kind  text NOT NULL CHECK (match_kind IN ('prefix', 'mccmnc')),
    match       text NOT NULL CHECK (match ~ '^[0-9]{1,15}$'),
    from_count  bigint NOT NULL DEFAULT 0 CHECK (from_count >= 0),
    price       bigint NOT NULL CHECK (price >= 0),
    currency    text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan, match_kind, match, from_count)
);

CREATE TABLE sms_accounts (
    account_id          text PRIMARY KEY REFERENCES accounts (account_id),
    plan                text NOT NULL,
    refund_on_failure   boolean NOT NULL DEFAULT false,
    rate_limit          integer CHECK (rate_limit >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sms_senders (
    account_id  text NOT NULL REFERENCES accounts (account_id),
    sender_id   text NOT NULL CHECK (length(sender_id) BETWEEN 1 AND 15),
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    PRIMARY KEY (account_id, sender_id)
);

CREATE TABLE sms_dispatches (
    dispatch_id text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts (account_id),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_dispatches_account ON sms_dispatches (account_id, created_at);
