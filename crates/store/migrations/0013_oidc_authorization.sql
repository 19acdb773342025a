-- The OpenID Connect provider's authorizations: one row from the RP's authorization request to the end
-- of the tokens issued from it, and the tokens themselves.

-- An authorization request (RFC 6749 §4.1.1, with PKCE, RFC 7636) and what became of it. `status`:
-- pending (the user has not answered), denied, approved (a code is out), redeemed (tokens are out).
-- The subject and the claims the user approved are kept only until the authorization expires: the
-- request's lifetime while pending, the refresh token's once redeemed; housekeeping removes it then.
CREATE TABLE oidc_authorization (
    id TEXT PRIMARY KEY,                         -- the transaction id the page and the app name
    client_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_challenge TEXT NOT NULL,                -- S256
    acr_values TEXT,
    browser_hash TEXT NOT NULL,                  -- hex SHA-256 of the browser's cookie secret
    status TEXT NOT NULL,
    subject TEXT,
    claims TEXT,                                 -- JSON: the approved claims
    acr TEXT,
    amr TEXT,                                    -- JSON array
    auth_time BIGINT,
    code_hash TEXT UNIQUE,                       -- hex SHA-256 of the authorization code
    code_expires_at BIGINT,
    revoked_at BIGINT,                           -- a replayed code or refresh token revokes all its tokens
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_authorization_expiry ON oidc_authorization (expires_at);
CREATE INDEX oidc_authorization_client ON oidc_authorization (client_id, subject);

-- Access and refresh tokens: random, stored as their SHA-256. A refresh token is used once; the one it
-- was exchanged for replaces it (rotation), and a second use revokes the authorization.
CREATE TABLE oidc_token (
    token_hash TEXT PRIMARY KEY,
    authorization_id TEXT NOT NULL REFERENCES oidc_authorization (id),
    kind TEXT NOT NULL,                          -- access | refresh
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_token_authorization ON oidc_token (authorization_id);

-- The `jti` of each client assertion (private_key_jwt) until it expires: a second use is refused.
CREATE TABLE oidc_client_assertion (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_client_assertion_expiry ON oidc_client_assertion (expires_at);
