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
