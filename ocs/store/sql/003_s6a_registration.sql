-- S6a registration state of a subscriber (TS 29.272 §5.2.1.1 Update Location, §5.2.1.3 Purge UE, §5.2.1.2
-- Cancel Location): the MME that last sent a ULR for it, when, and whether that MME has purged the UE.
ALTER TABLE subscribers
    ADD COLUMN mme_host        text,
    ADD COLUMN mme_realm       text,
    ADD COLUMN mme_updated_at  timestamptz,
    ADD COLUMN purged          boolean NOT NULL DEFAULT false;
