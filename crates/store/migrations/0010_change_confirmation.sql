-- Change confirmation (変更確認, seed 001 §3-2-2): the CRL generations the platform holds, the customers
-- its tenants watch, and the change events and webhook deliveries that tell a tenant a watched
-- certificate was revoked.

-- Per CA (the SHA-256 of its name's DER, hex): the generation in force. Switching a generation in updates
-- this row, and so does registering a customer: on PostgreSQL the row lock orders the two, so that a
-- registration either sees the new generation or is seen by its change detection.
CREATE TABLE crl_issuer (
    issuer TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    current_generation BIGINT,
    updated_at BIGINT NOT NULL
);

-- The CRLs of one CA that one ingestion verified, switched in as a whole.
-- state: building | current | superseded | failed.
CREATE TABLE crl_generation (
    id BIGINT PRIMARY KEY,
    issuer TEXT NOT NULL REFERENCES crl_issuer (issuer),
    state TEXT NOT NULL,
    -- The highest cRLNumber of its CRLs (hex); the oldest thisUpdate; the earliest nextUpdate.
    crl_number TEXT,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    new_entries BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX crl_generation_issuer ON crl_generation (issuer, id);

-- Each CRL of a generation: its issuingDistributionPoint name ('' for a CRL of the whole CA).
CREATE TABLE crl_partition (
    generation_id BIGINT NOT NULL REFERENCES crl_generation (id),
    scope TEXT NOT NULL,
    crl_number TEXT,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (generation_id, scope)
);

-- Every serial a generation listed, under the generation that first listed it; seen only once that
-- generation is in force. A revocation, once published, stays: JPKI lifts none, and an entry leaves
-- J-LIS's list only when its certificate has expired.
CREATE TABLE crl_entry (
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    generation_id BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    -- RFC 5280 §5.3.1 reason code; NULL when the entry has none (unspecified).
    reason INTEGER,
    PRIMARY KEY (issuer, serial)
);
CREATE INDEX crl_entry_generation ON crl_entry (generation_id);

-- The certificate a verification checked (DER, base64) and its issuer's name hash, kept for a valid one
-- so that a tenant can register the signer as a customer.
ALTER TABLE verification ADD COLUMN certificate TEXT;
ALTER TABLE verification ADD COLUMN certificate_issuer TEXT;

-- A tenant's default revocation policy: method (ocsp | crl) and the oldest answer accepted, in seconds;
-- NULL for the platform's default (fresh OCSP).
ALTER TABLE tenant ADD COLUMN revocation_method TEXT;
ALTER TABLE tenant ADD COLUMN revocation_max_age BIGINT;

-- A customer a tenant watches, under the tenant's own reference.
CREATE TABLE customer (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    reference TEXT NOT NULL,
    verification_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, reference)
);
CREATE INDEX customer_tenant ON customer (tenant_id, id);

CREATE TABLE customer_certificate (
    customer_id TEXT NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    kind TEXT NOT NULL,
    certificate TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, issuer, serial)
);
CREATE INDEX customer_certificate_serial ON customer_certificate (issuer, serial);

-- One row: the last change event's number. Adding events locks it, so numbers are given in commit
-- order and a reader's cursor never passes an event that commits later.
CREATE TABLE change_feed_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO change_feed_head (id, seq) VALUES (1, 0);

-- A watched certificate found revoked, once per customer and certificate.
CREATE TABLE change_event (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    certificate_kind TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    reason INTEGER,
    revoked_at BIGINT NOT NULL,
    generation_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (customer_id, issuer, serial)
);
CREATE INDEX change_event_tenant ON change_event (tenant_id, seq);

-- A tenant's webhook endpoint. The secret is the HMAC-SHA256 key that signs each delivery: the platform
-- must hold it to sign, so it is stored as given to the tenant (shown once).
CREATE TABLE webhook (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_tenant ON webhook (tenant_id);

-- One event to one endpoint. state: pending | delivered | failed (retries given up). A process claims a
-- due delivery by moving lease_until forward in a conditional update, so only one process posts it at a time.
CREATE TABLE webhook_delivery (
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_delivery_due ON webhook_delivery (state, next_attempt_at);

-- Every attempt, for the tenant's delivery log.
CREATE TABLE webhook_attempt (
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (event_id, webhook_id, attempt)
);

-- A job that one process at a time runs (the CRL ingestion): held until `until`, renewed while it runs.
CREATE TABLE job_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);
