-- The platform's outstanding presentation requests, kept as the request the wallet saw (what its answer
-- is checked against). Replaces 0005's mdoc_request, which nothing wrote.

DROP TABLE mdoc_request;

CREATE TABLE mdoc_request (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    purpose TEXT NOT NULL,
    claims TEXT NOT NULL,                        -- the authorization request's parameters (JSON)
    origin TEXT,                                 -- the page's origin, for Digital Credentials API requests
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX mdoc_request_tenant ON mdoc_request (tenant_id, created_at);
