-- The customer across time (one user across re-issued certificates, and the latest 4 information with
-- consent).

-- The tenant's account of the customer, whose logins (account_link) are the customer's: a user holds
-- both of a person's certificates.
ALTER TABLE customer ADD COLUMN account_id TEXT;
CREATE UNIQUE INDEX customer_account ON customer (tenant_id, account_id);

-- A certificate known to be the customer's before the platform has seen it: the successor that the
-- latest-4-info provision or the issuer's link information named. The customer's first verification
-- with it moves it into customer_certificate.
CREATE TABLE customer_link (
    customer_id TEXT NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    serial TEXT NOT NULL,
    kind TEXT NOT NULL,                          -- signature | authentication
    source TEXT NOT NULL,                        -- latest_4_info | certificate_link
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, serial)
);
CREATE INDEX customer_link_serial ON customer_link (serial);

-- The customer's consent to the latest-4-info provision (forwarded to the issuer): the text consented
-- to, how (the customer's signature over it: the CMS, base64, and its certificate's serial), when, and
-- its withdrawal.
CREATE TABLE customer_consent (
    customer_id TEXT PRIMARY KEY REFERENCES customer (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    signature TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    withdrawn_at BIGINT
);

-- How long the tenant's verification results are kept (days), enforced by the housekeeping sweep;
-- NULL: until the tenant deletes them (or the customer).
ALTER TABLE tenant ADD COLUMN verification_retention_days BIGINT;
