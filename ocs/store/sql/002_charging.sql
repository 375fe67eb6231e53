-- Charging: accounts, bundle catalog, tariffs and the ledger (the durable record of every balance change).
-- Redis holds the live balances and bundles; the ledger writer (ocs/store/ledger.py) copies each Redis ledger
-- entry here exactly once (entry_id is the key); balances = sum(amount) per IMSI, bundles = replay of entries.
CREATE TABLE accounts (
    imsi            text PRIMARY KEY REFERENCES subscribers (imsi) ON DELETE CASCADE,
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bundle_catalog (
    code                text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_.-]{1,40}$'),
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('data', 'voice', 'sms', 'hybrid')),
    data_octets         bigint NOT NULL DEFAULT 0 CHECK (data_octets >= 0),
    voice_seconds       bigint NOT NULL DEFAULT 0 CHECK (voice_seconds >= 0),
    sms_count           bigint NOT NULL DEFAULT 0 CHECK (sms_count >= 0),
    roaming_data_octets bigint NOT NULL DEFAULT 0 CHECK (roaming_data_octets >= 0),
    validity_days       integer NOT NULL CHECK (validity_days > 0),
    priority            integer NOT NULL DEFAULT 100 CHECK (priority >= 0),  -- lower is drawn first
    price               bigint NOT NULL CHECK (price >= 0),                  -- minor units
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tariffs (
    rating_group    bigint PRIMARY KEY CHECK (rating_group >= 0),   -- RFC 4006 §8.29 Rating-Group
    unit            text NOT NULL CHECK (unit IN ('octets', 'seconds', 'events')),
    unit_size       bigint NOT NULL CHECK (unit_size > 0),          -- usage is rounded up to a multiple of this
    price_home      bigint NOT NULL CHECK (price_home >= 0),        -- minor units per unit_size units
    price_roaming   bigint NOT NULL CHECK (price_roaming >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- No foreign key to subscribers: the ledger is the audit trail and outlives a deleted subscriber.
CREATE TABLE ledger (
    entry_id        text PRIMARY KEY,                 -- '<imsi>:<seq>', made by the Redis script
    imsi            text NOT NULL,
    seq             bigint NOT NULL CHECK (seq > 0),
    kind            text NOT NULL,
    amount          bigint NOT NULL,                  -- money delta, minor units
    balance_after   bigint NOT NULL,
    ref             text NOT NULL DEFAULT '',
    detail          jsonb NOT NULL DEFAULT '{}',      -- bundle activation / usage deltas / expiry, see ledger.py
    created_at      timestamptz NOT NULL,             -- when the script ran
    written_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (imsi, seq)
);
CREATE INDEX ledger_ref ON ledger (ref) WHERE ref <> '';
CREATE INDEX ledger_kind_gift ON ledger (kind, created_at) WHERE kind IN ('gift_out', 'gift_in', 'gift_refund');
