-- The OpenID Connect provider: its tenants' clients and its ID-token signing keys.

-- A tenant's client (relying party). client_id is 1-255 of [0-9a-zA-Z], as the Digital Authentication
-- App allows; redirect URIs are matched exactly. A client authenticates at the token endpoint with a key
-- of its JWK Set (private_key_jwt) or with its secret (client_secret_basic), stored as its SHA-256.
CREATE TABLE oidc_client (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,                 -- JSON array
    scopes TEXT NOT NULL,                        -- the scopes it may ask for, space-separated
    auth_method TEXT NOT NULL,                   -- private_key_jwt | client_secret_basic
    jwks TEXT,                                   -- JSON JWK Set, for private_key_jwt
    secret_hash TEXT,                            -- hex SHA-256, for client_secret_basic
    created_at BIGINT NOT NULL
);
CREATE INDEX oidc_client_tenant ON oidc_client (tenant_id, client_id);

-- The provider's ES256 keys. The newest signs; an older one stays published in the JWKS until
-- retires_at, so that tokens it signed still verify.
CREATE TABLE oidc_signing_key (
    kid TEXT PRIMARY KEY,                        -- its RFC 7638 JWK thumbprint
    private_key BYTEA NOT NULL,                  -- PKCS#8, P-256
    created_at BIGINT NOT NULL,
    retires_at BIGINT
);
