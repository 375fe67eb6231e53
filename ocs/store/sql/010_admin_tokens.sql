-- Admin API tokens (issue 16 point 3): only the SHA-256 of a token is kept (tokens are 256 random bits, so a
-- plain hash is enough: there is nothing to brute-force). A revoked token keeps its row for the audit trail.
CREATE TABLE admin_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'read', 'payments')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens (name) WHERE revoked_at IS NULL;

-- Live events of the admin API (issue 16 point 5): every ledger row gets a global, increasing event id (the
-- SSE `id`, resumed with Last-Event-ID), and each insert statement notifies the `ocsd_ledger` channel so the
-- event streams wake without polling. Adding the column numbers the rows already there.
ALTER TABLE ledger ADD COLUMN event_id bigserial;
CREATE UNIQUE INDEX ledger_event_id ON ledger (event_id);
CREATE FUNCTION ocsd_ledger_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ocsd_ledger', '');
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_notify AFTER INSERT ON ledger FOR EACH STATEMENT EXECUTE FUNCTION ocsd_ledger_notify();
