-- A tenant the operator disabled (a contract ended or suspended): its keys stop working while it is
-- disabled, and its records are kept. NULL while the tenant is active.
ALTER TABLE tenant ADD COLUMN disabled_at BIGINT;
