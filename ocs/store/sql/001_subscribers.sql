-- Subscribers: identity, keys (encrypted at rest, AES-GCM), authentication state, subscription profile.
-- TS 23.003 §2.2: the IMSI is at most 15 digits; ocsd requires the full 15 (MCC 3 + MNC 2/3 + MSIN).
CREATE TABLE subscribers (
    imsi            text PRIMARY KEY CHECK (imsi ~ '^[0-9]{15}$'),
    msisdn          text NOT NULL UNIQUE CHECK (msisdn ~ '^[0-9]{5,15}$'),
    k_enc           bytea NOT NULL,            -- nonce || ciphertext || tag of K (16 octets)
    opc_enc         bytea NOT NULL,            -- nonce || ciphertext || tag of OPc (16 octets)
    amf             bytea NOT NULL DEFAULT '\x8000'::bytea CHECK (octet_length(amf) = 2),
    -- TS 33.102 Annex C: SEQ values up to seq_reserved may be handed out by Redis; every SEQ ever issued is
    -- at most seq_reserved, so after a loss of Redis the AuC continues above it and never reuses an SQN.
    seq_reserved    bigint NOT NULL DEFAULT 0 CHECK (seq_reserved >= 0 AND seq_reserved < 281474976710656),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'barred')),
    apns            text[] NOT NULL DEFAULT ARRAY['internet'],
    ambr_ul         bigint NOT NULL DEFAULT 100000000,   -- bits/s (TS 29.272 §7.3.41 AMBR)
    ambr_dl         bigint NOT NULL DEFAULT 100000000,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
