-- Live events that are not ledger rows (issue 16 point 5): session started/ended, bundle used up, payment
-- confirmed. They share the ledger's event id sequence, so the SSE stream (ocs/admin/events.py) reads one
-- global order from both tables and Last-Event-ID resumes across them. Each row is made in the transaction of
-- the change it reports (a trigger, or the caller's own transaction for ocsd_emit_event): an event exists only
-- for a change that happened. Nothing here runs on the request path: the ledger, the CDRs and the hotspot
-- session records reach PostgreSQL written behind.
CREATE TABLE admin_events (
    event_id    bigint PRIMARY KEY DEFAULT nextval('ledger_event_id_seq'),
    type        text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    account_id  text,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),   -- when it happened
    written_at  timestamptz NOT NULL DEFAULT now()    -- when it was recorded (the stream's hole wait uses it)
);
CREATE TRIGGER admin_events_notify AFTER INSERT ON admin_events FOR EACH STATEMENT
    EXECUTE FUNCTION ocsd_ledger_notify();

-- The documented way for other modules (payments) to emit an event, inside their own transaction:
--   SELECT ocsd_emit_event('payment.confirmed', 'acc-1', '{"amount": 1500, "currency": "KES", ...}');
CREATE FUNCTION ocsd_emit_event(kind text, account text, body jsonb, happened timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO admin_events (type, account_id, data, created_at) VALUES (kind, account, body, happened)
    RETURNING event_id
$$;

-- session.started / session.ended from the session records (Gy CDRs, TS 32.299 §6.3; hotspot accounting
-- records, RFC 2866): one pair per record actually inserted (the writers insert ON CONFLICT DO NOTHING, and an
-- AFTER ROW trigger fires only for rows inserted, so a record written twice gives its events once).
CREATE FUNCTION ocsd_gy_cdr_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO admin_events (type, account_id, data, created_at) VALUES
        ('session.started', NEW.account_id, jsonb_build_object('app', 'gy', 'session', NEW.record_id,
            'imsi', NEW.imsi, 'msisdn', NEW.msisdn, 'peer', NEW.peer), NEW.started_at),
        ('session.ended', NEW.account_id, jsonb_build_object('app', 'gy', 'session', NEW.record_id,
            'imsi', NEW.imsi, 'msisdn', NEW.msisdn, 'peer', NEW.peer, 'started_at', NEW.started_at,
            'cause', NEW.cause, 'usage', NEW.usage), NEW.stopped_at);
    RETURN NULL;
END $$;
CREATE TRIGGER gy_cdrs_events AFTER INSERT ON gy_cdrs FOR EACH ROW EXECUTE FUNCTION ocsd_gy_cdr_events();

CREATE FUNCTION ocsd_hotspot_session_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO admin_events (type, account_id, data, created_at) VALUES
        ('session.started', NEW.account_id, jsonb_build_object('app', 'radius', 'session', NEW.acct_session_id,
            'user', NEW.user_name, 'client', NEW.client, 'calling_station_id', NEW.calling_station_id),
            NEW.started_at),
        ('session.ended', NEW.account_id, jsonb_build_object('app', 'radius', 'session', NEW.acct_session_id,
            'user', NEW.user_name, 'client', NEW.client, 'started_at', NEW.started_at,
            'input_octets', NEW.input_octets, 'output_octets', NEW.output_octets,
            'session_time', NEW.session_time, 'cause', NEW.terminate_cause), NEW.stopped_at);
    RETURN NULL;
END $$;
CREATE TRIGGER hotspot_sessions_events AFTER INSERT ON hotspot_sessions FOR EACH ROW
    EXECUTE FUNCTION ocsd_hotspot_session_events();

-- bundle.used_up: what is left of each active bundle, kept from the ledger rows as they land (activation
-- detail {"bundle": {id, code, d, v, s, r}}, usage detail {"bundles": [[id, dim, delta], ...]}, expiry detail
-- {"expired": [{id}, ...]}; the shapes of activate.lua, _lib.lua and expire.lua). A bundle is used up when
-- every allowance it had is 0; its row then goes. Bundles bought before this migration are not followed.
CREATE TABLE bundle_left (
    account_id  text NOT NULL,
    bundle_id   bigint NOT NULL,
    code        text NOT NULL,
    d           bigint NOT NULL,
    v           bigint NOT NULL,
    s           bigint NOT NULL,
    r           bigint NOT NULL,
    PRIMARY KEY (account_id, bundle_id)
);

CREATE FUNCTION ocsd_bundle_left() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b jsonb := NEW.detail -> 'bundle';
    item jsonb;
    left_row bundle_left;
BEGIN
    IF jsonb_typeof(b) = 'object' AND b ? 'id' THEN
        INSERT INTO bundle_left VALUES (NEW.account_id, (b ->> 'id')::bigint, coalesce(b ->> 'code', ''),
            coalesce((b ->> 'd')::bigint, 0), coalesce((b ->> 'v')::bigint, 0), coalesce((b ->> 's')::bigint, 0),
            coalesce((b ->> 'r')::bigint, 0)) ON CONFLICT DO NOTHING;
    END IF;
    IF NEW.kind = 'usage' AND jsonb_typeof(NEW.detail -> 'bundles') = 'array' THEN
        FOR item IN SELECT * FROM jsonb_array_elements(NEW.detail -> 'bundles') LOOP
            UPDATE bundle_left SET
                d = d + CASE WHEN item ->> 1 = 'd' THEN (item ->> 2)::bigint ELSE 0 END,
                v = v + CASE WHEN item ->> 1 = 'v' THEN (item ->> 2)::bigint ELSE 0 END,
                s = s + CASE WHEN item ->> 1 = 's' THEN (item ->> 2)::bigint ELSE 0 END,
                r = r + CASE WHEN item ->> 1 = 'r' THEN (item ->> 2)::bigint ELSE 0 END
            WHERE account_id = NEW.account_id AND bundle_id = (item ->> 0)::bigint
            RETURNING * INTO left_row;
            IF FOUND AND left_row.d <= 0 AND left_row.v <= 0 AND left_row.s <= 0 AND left_row.r <= 0 THEN
                INSERT INTO admin_events (type, account_id, data, created_at) VALUES ('bundle.used_up',
                    NEW.account_id, jsonb_build_object('bundle_id', left_row.bundle_id, 'bundle', left_row.code,
                    'entry_id', NEW.entry_id), NEW.created_at);
                DELETE FROM bundle_left WHERE account_id = NEW.account_id AND bundle_id = left_row.bundle_id;
            END IF;
        END LOOP;
    END IF;
    IF NEW.kind = 'expire' AND jsonb_typeof(NEW.detail -> 'expired') = 'array' THEN
        DELETE FROM bundle_left WHERE account_id = NEW.account_id AND bundle_id IN
            (SELECT (e ->> 'id')::bigint FROM jsonb_array_elements(NEW.detail -> 'expired') AS e);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_bundle_left AFTER INSERT ON ledger FOR EACH ROW
    WHEN (NEW.detail ? 'bundle' OR NEW.kind = 'expire' OR (NEW.kind = 'usage' AND NEW.detail -> 'bundles' <> '[]'))
    EXECUTE FUNCTION ocsd_bundle_left();  -- usage paid from the balance alone (no bundle drawn) does not fire it

-- The paged, time-filtered reads of GET /api/v1/ledger and /api/v1/cdrs.
CREATE INDEX ledger_account_event ON ledger (account_id, event_id);
CREATE INDEX ledger_created ON ledger (created_at);
CREATE INDEX hotspot_sessions_started ON hotspot_sessions (started_at);
CREATE INDEX gy_cdrs_started ON gy_cdrs (started_at);
