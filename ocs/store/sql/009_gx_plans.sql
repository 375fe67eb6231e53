-- Gx plans (issue 10 point 1, TS 29.212): APN-AMBR, the default bearer's QCI/ARP, charging rules (jsonb, the
-- shape of ocs.policy.plans.rule_json) and the throttle bit rates used when the account's data runs out.
CREATE TABLE plans (
    code            text PRIMARY KEY CHECK (code <> ''),
    name            text NOT NULL,
    ambr_ul         bigint NOT NULL CHECK (ambr_ul BETWEEN 1 AND 4294967295),   -- bits/s
    ambr_dl         bigint NOT NULL CHECK (ambr_dl BETWEEN 1 AND 4294967295),
    qci             integer NOT NULL CHECK (qci BETWEEN 1 AND 255),
    arp             integer NOT NULL CHECK (arp BETWEEN 1 AND 15),
    pre_emption_capability    text NOT NULL DEFAULT 'disabled',
    pre_emption_vulnerability text NOT NULL DEFAULT 'enabled',
    rules           jsonb NOT NULL DEFAULT '[]',
    throttle_ul     bigint CHECK (throttle_ul BETWEEN 1 AND 4294967295),
    throttle_dl     bigint CHECK (throttle_dl BETWEEN 1 AND 4294967295),
    -- usage monitoring (TS 29.212 §4.5.17): octets a billing month allows, reported under monitoring_key
    monthly_octets  bigint CHECK (monthly_octets > 0),
    monitoring_key  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((throttle_ul IS NULL) = (throttle_dl IS NULL)),
    CHECK ((monthly_octets IS NULL) = (monitoring_key IS NULL))
);
-- A subscriber's plan; NULL: [gx] default_plan.
ALTER TABLE subscribers ADD COLUMN plan_code text REFERENCES plans (code);
