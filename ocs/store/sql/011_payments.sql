-- Mobile money and signed webhooks (issue 17): one row per payment, from the STK push we sent (pending) or the
-- provider's own notice (C2B confirmation, a signed webhook) to the money applied. Exactly once: a CheckoutRequestID
-- and a provider receipt (MpesaReceiptNumber = C2B TransID, or a webhook provider's transaction id) appear at most
-- once; the money moves through ChargingService with `ref` as its idempotency reference.
CREATE TABLE payments (
    id text PRIMARY KEY,                      -- random and unguessable (the portal's status URL uses it)
    provider text NOT NULL,                   -- mpesa-stk | mpesa-c2b | <webhook provider name>
    network text NOT NULL,                    -- the receipts' namespace: "mpesa" for STK and C2B alike
    ref text NOT NULL UNIQUE,                 -- the charging reference (idempotency of the money)
    checkout_request_id text UNIQUE,          -- Daraja STK push
    merchant_request_id text,
    receipt text,                             -- MpesaReceiptNumber / TransID / provider transaction id
    amount bigint NOT NULL CHECK (amount > 0),  -- minor units
    currency text NOT NULL,
    phone text NOT NULL DEFAULT '',
    purpose text NOT NULL CHECK (purpose IN ('topup', 'bundle', 'hotspot')),
    item text NOT NULL DEFAULT '',            -- the bundle or hotspot package code
    account_id text,                          -- whose money (a voucher's account once created, for hotspot)
    mac text NOT NULL DEFAULT '',             -- the device a hotspot package is bound to
    status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'applied', 'failed', 'mismatch')),
    result_code text NOT NULL DEFAULT '',
    result_desc text NOT NULL DEFAULT '',
    voucher text,
    attempts integer NOT NULL DEFAULT 0,      -- apply attempts (reconcile retries confirmed payments)
    last_error text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    UNIQUE (network, receipt)
);
CREATE INDEX payments_status ON payments (status, created_at);
CREATE INDEX payments_created ON payments (created_at DESC);

-- Every change of a payment's state is announced on channel ocsd_payment (payload: the payment id), so the
-- portal's live status follows a payment whichever ocsd process applied it.
CREATE FUNCTION payments_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ocsd_payment', NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER payments_notify AFTER INSERT OR UPDATE OF status, voucher ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_notify();
