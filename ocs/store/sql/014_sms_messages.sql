-- SMS message records in PostgreSQL (issue 18 point 4): the write-behind of the Redis records (which expire
-- after [sms] record_ttl). Every change of a record (charge, submit result, delivery receipt) appends its
-- snapshot, with an increasing `rev`, to the Redis stream `smsrec`; ocs/sms/records.py upserts the newest.
CREATE TABLE sms_messages (
    message_id      text PRIMARY KEY,
    account_id      text NOT NULL,
    destination     text NOT NULL,
    parts           integer NOT NULL,
    price           bigint NOT NULL,
    sender_id       text,
    dispatch_id     text,
    plan            text NOT NULL,
    submit          text NOT NULL,
    submit_status   text,
    delivery        text,
    dlr_status      text,
    refunded        boolean NOT NULL DEFAULT false,
    charged_at      timestamptz NOT NULL,
    submitted_at    timestamptz,
    delivered_at    timestamptz,
    rev             integer NOT NULL
);
CREATE INDEX sms_messages_account ON sms_messages (account_id, charged_at);
CREATE INDEX sms_messages_dispatch ON sms_messages (dispatch_id) WHERE dispatch_id IS NOT NULL;
