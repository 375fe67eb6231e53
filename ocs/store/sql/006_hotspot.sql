-- Hotspot (RADIUS, issue 11): packages, vouchers (each owns an account), session records written behind,
-- and the outcome of every Disconnect/CoA sent.
CREATE TABLE hotspot_packages (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    name text NOT NULL,
    time_seconds bigint NOT NULL CHECK (time_seconds > 0),
    data_octets bigint CHECK (data_octets IS NULL OR data_octets > 0),  -- NULL: unlimited
    rate_limit text NOT NULL,
    validity_hours integer NOT NULL CHECK (validity_hours > 0),
    devices integer NOT NULL DEFAULT 1 CHECK (devices > 0),
    price bigint NOT NULL CHECK (price >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hotspot_vouchers (
    code text PRIMARY KEY,
    account_id text NOT NULL UNIQUE REFERENCES accounts (account_id),
    package_code text NOT NULL REFERENCES hotspot_packages (code),
    bind_mac boolean NOT NULL DEFAULT false,
    batch text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hotspot_sessions (
    account_id text NOT NULL,
    acct_session_id text NOT NULL,
    client text NOT NULL,
    user_name text NOT NULL,
    calling_station_id text NOT NULL DEFAULT '',
    framed_ip text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    stopped_at timestamptz NOT NULL,
    input_octets bigint NOT NULL,
    output_octets bigint NOT NULL,
    session_time bigint NOT NULL,
    terminate_cause text NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, acct_session_id, started_at)
);

CREATE TABLE hotspot_dynauth (
    id bigserial PRIMARY KEY,
    account_id text NOT NULL,
    acct_session_id text NOT NULL,
    client text NOT NULL,
    kind text NOT NULL,      -- disconnect | coa
    outcome text NOT NULL,   -- ack | nak | timeout
    sends integer NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
