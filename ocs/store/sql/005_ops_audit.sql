-- Operator changes that are not money (money is in `ledger`): who changed what, when (issue 13 point 4:
-- `subscriber set`, `subscriber import --on-conflict update`, `bundle update|retire`, `tariff delete`).
-- Key material is never written here: a changed K or OPc is recorded as changed, without its value.
CREATE TABLE audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,                -- the operating-system user who ran the command
    action      text NOT NULL,                -- e.g. subscriber.set, bundle.retire, tariff.delete
    target      text NOT NULL,                -- the IMSI, bundle code or rating group
    detail      jsonb NOT NULL DEFAULT '{}'   -- {"field": {"from": old, "to": new}, ...}
);
CREATE INDEX audit_target ON audit (target, at);

-- A retired bundle stays in the catalog (active bundles and the ledger name it) but is no longer sold.
ALTER TABLE bundle_catalog ADD COLUMN retired_at timestamptz;
