-- Qualification confirmation (資格確認, seed 004): what a tenant records that a customer holds (an
-- account, a membership, an employee ID, a health insurance card), checked later by a fresh
-- verification of the customer's certificate. Deleted with the customer.
CREATE TABLE qualification (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenant (id),
    customer_id TEXT NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                          -- the tenant's own type name, e.g. employee
    identifier TEXT NOT NULL,                    -- the tenant's number for it
    valid_from BIGINT NOT NULL,
    valid_until BIGINT,                          -- open-ended when NULL
    attributes TEXT NOT NULL,                    -- JSON object
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, kind, identifier)
);
CREATE INDEX qualification_customer ON qualification (customer_id, kind);
