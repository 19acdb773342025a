-- The issuer's card-data key: it seals the input-assistance and card-face records written into cards.
CREATE TABLE issuer_key (
    name TEXT PRIMARY KEY,
    private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- 住民票コード: the resident code the registry gives every resident (11 digits).
ALTER TABLE person ADD COLUMN resident_code TEXT;
