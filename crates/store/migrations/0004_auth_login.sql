-- Login with the authentication certificate: single-use challenges (any server process can check them)
-- and the tenant accounts linked to certificates.
CREATE TABLE auth_challenge (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    challenge TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE account_link (
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    auth_serial TEXT NOT NULL,
    account_id TEXT NOT NULL,
    -- SHA-256 of name, birth date and sex from the signature certificate that proofed the holder, so a
    -- re-issued authentication certificate can be re-linked by the same person's signature.
    identity_hash TEXT,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, auth_serial)
);
CREATE INDEX account_link_account ON account_link (tenant_id, account_id);
