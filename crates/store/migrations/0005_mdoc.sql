-- The sandbox's mdoc PKI (IACA, document signer, reader CA) and the card-substitute records issued
-- to phones; the platform's outstanding mdoc requests.

CREATE TABLE issuer_mdoc_key (
    role TEXT PRIMARY KEY,                       -- 'iaca' | 'document_signer' | 'reader_ca'
    certificate BYTEA NOT NULL,                   -- DER
    private_key BYTEA NOT NULL,                   -- PKCS#8 DER (sandbox keys only)
    created_at BIGINT NOT NULL
);

CREATE TABLE mdoc_record (
    id TEXT PRIMARY KEY,
    card_id TEXT NOT NULL REFERENCES card (id),  -- the phone it was issued to
    person_id TEXT NOT NULL REFERENCES person (id),
    status_index BIGINT NOT NULL UNIQUE,         -- its position in the status list
    issued_at BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    invalidated_at BIGINT                        -- 4 information changed, or the holder died
);
CREATE INDEX mdoc_record_person ON mdoc_record (person_id);

ALTER TABLE issuer_state ADD COLUMN next_status_index BIGINT NOT NULL DEFAULT 0;

CREATE TABLE mdoc_request (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    purpose TEXT NOT NULL,
    nonce TEXT NOT NULL,
    response_uri TEXT NOT NULL,
    client_id TEXT NOT NULL,
    elements TEXT NOT NULL,                      -- JSON [[namespace, element, intent_to_retain]]
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX mdoc_request_tenant ON mdoc_request (tenant_id, created_at);
