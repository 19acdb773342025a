-- The platform operator's tenants (businesses that verify through it), their API keys (SHA-256 of the
-- random key; the key itself is shown once), verifications, the hash-chained audit log and metering.
CREATE TABLE tenant (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- Authorized to receive My Number under the number law (番号法).
    number_law_authorized INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tenant_key (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE verification (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    kind TEXT NOT NULL,
    valid INTEGER NOT NULL,
    failure_code TEXT,
    certificate_serial TEXT,
    certificate_kind TEXT,
    revocation_method TEXT,
    created_at BIGINT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX verification_tenant ON verification (tenant_id, created_at);

-- One row: the last entry of the audit chain. Appending locks it, so entries are numbered without gaps
-- by every server process.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    tenant_id TEXT,
    action TEXT NOT NULL,
    purpose TEXT,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE tenant_usage (
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    month TEXT NOT NULL,
    cert_kind TEXT NOT NULL,
    method TEXT NOT NULL,
    count BIGINT NOT NULL,
    fee_yen BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, month, cert_kind, method)
);
