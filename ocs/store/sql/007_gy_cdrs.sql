-- Charging data records of Gy (issue 9 point 6): one per session (cause final, reaped, aborted) and one per
-- event (CCR-E). Written behind from the Redis `cdr` stream(s) by ocs/store/cdrs.py; exactly once: the record
-- id (the Session-Id of a session, the Session-Id of an event) is the key, a second insert does nothing.
CREATE TABLE gy_cdrs (
    record_id   text PRIMARY KEY,
    account_id  text NOT NULL,
    imsi        text NOT NULL DEFAULT '',
    msisdn      text NOT NULL DEFAULT '',
    peer        text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL,
    stopped_at  timestamptz NOT NULL,
    cause       text NOT NULL,
    usage       jsonb NOT NULL,   -- [{rg, used, charged (minor units), from_bundles (units)}]
    written_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gy_cdrs_account ON gy_cdrs (account_id, started_at);
