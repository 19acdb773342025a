-- The housekeeping sweep removes login challenges and presentation requests some time after they
-- expired; these indexes let it find them without reading the whole table.
CREATE INDEX auth_challenge_expiry ON auth_challenge (expires_at);
CREATE INDEX mdoc_request_expiry ON mdoc_request (expires_at);
