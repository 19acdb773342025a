-- Sandbox issuer: CAs, resident registry, cards, certificates, life events, consents, provisions.
-- One schema for SQLite and PostgreSQL: portable types only (SQLite stores BYTEA columns as blobs).

CREATE TABLE issuer_ca (
    role TEXT PRIMARY KEY,                       -- 'signature' | 'authentication'
    certificate BYTEA NOT NULL,                   -- DER, self-signed
    private_key BYTEA NOT NULL,                   -- PKCS#8 DER (sandbox keys only)
    responder_certificate BYTEA NOT NULL,         -- delegated OCSP responder, DER
    responder_private_key BYTEA NOT NULL,
    next_crl_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE issuer_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    status_epoch BIGINT NOT NULL                 -- bumped by every status change; OCSP caches watch it
);
INSERT INTO issuer_state (id, status_epoch) VALUES (1, 0);

CREATE TABLE person (
    id TEXT PRIMARY KEY,
    my_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_alt TEXT NOT NULL,
    address TEXT NOT NULL,
    address_alt TEXT NOT NULL,
    birth_date TEXT NOT NULL,                    -- YYYY-MM-DD
    sex INTEGER NOT NULL,                        -- ISO/IEC 5218
    deceased_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE card (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES person (id),
    device TEXT NOT NULL,                        -- 'card' | 'smartphone'
    status TEXT NOT NULL,                        -- 'active' | 'lost' | 'found' | 'retired'
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX card_person ON card (person_id, status);

CREATE TABLE certificate (
    serial TEXT PRIMARY KEY,                     -- lower-case hex
    ca_role TEXT NOT NULL REFERENCES issuer_ca (role),
    person_id TEXT NOT NULL REFERENCES person (id),
    card_id TEXT NOT NULL REFERENCES card (id),
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    der BYTEA NOT NULL,
    revoked_at BIGINT,
    revocation_reason INTEGER,                   -- RFC 5280 CRLReason
    invalidity_date BIGINT,
    replaced_by TEXT
);
CREATE INDEX certificate_revoked ON certificate (ca_role, revoked_at);
CREATE INDEX certificate_person ON certificate (person_id, ca_role);

CREATE TABLE life_event (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES person (id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,                        -- JSON
    occurred_at BIGINT NOT NULL
);
CREATE INDEX life_event_person ON life_event (person_id, occurred_at);

CREATE TABLE operator (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    api_key_hash TEXT NOT NULL UNIQUE,           -- SHA-256 of the key; the key itself is shown once
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE consent (
    person_id TEXT NOT NULL REFERENCES person (id),
    operator_id TEXT NOT NULL REFERENCES operator (id),
    granted_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    PRIMARY KEY (person_id, operator_id)
);

-- Metered provisions of revocation information, counted per operator ('' = anonymous), billing month
-- (YYYY-MM, JST), method ('ocsp' | 'crl' | 'latest_4_info') and certificate kind, with the fees due.
CREATE TABLE provision_count (
    operator_id TEXT NOT NULL,
    month TEXT NOT NULL,
    method TEXT NOT NULL,
    cert_kind TEXT NOT NULL,
    count BIGINT NOT NULL,
    fee_yen BIGINT NOT NULL,
    PRIMARY KEY (operator_id, month, method, cert_kind)
);
