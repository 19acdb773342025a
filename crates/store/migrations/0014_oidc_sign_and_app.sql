-- Sign transactions (the Digital Authentication App's signing flow), the client-credentials tokens
-- that create them, and the companion app's answer to an authorization.

-- An authorization names the sign transaction it asks the user to sign, and holds the SHA-256 of the
-- key the authorization page's QR code gives the companion app. `status` gains: consented (the app
-- approved; the page turns it into a code) and refused (the app declined or its login failed; the page
-- sends the RP access_denied with `refusal`).
ALTER TABLE oidc_authorization ADD COLUMN sign_transaction_id TEXT;
ALTER TABLE oidc_authorization ADD COLUMN app_key_hash TEXT;
ALTER TABLE oidc_authorization ADD COLUMN refusal TEXT;

-- What an RP asked to have signed, and the signature once the user gave it. `to_sign` is the DER
-- DigestInfo the signature key signs (PKCS#1 v1.5); `result` the JSON the RP fetches: signature,
-- certificate, the platform's verification and a CMS SignedData. Kept until it expires.
CREATE TABLE oidc_sign_transaction (
    id TEXT PRIMARY KEY,                         -- a UUID, as the Digital Authentication App's
    client_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    purpose TEXT NOT NULL,                       -- shown to the user
    to_sign BYTEA NOT NULL,
    authorization_id TEXT UNIQUE,                -- the authorization it was sent to, once
    result TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_sign_transaction_expiry ON oidc_sign_transaction (expires_at);

-- Client-credentials access tokens (RFC 6749 §4.4): random, stored as their SHA-256.
CREATE TABLE oidc_client_token (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_client_token_expiry ON oidc_client_token (expires_at);
