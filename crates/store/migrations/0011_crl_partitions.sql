-- The CRL distribution point each certificate names (the DER of its directory name): the signature CA
-- publishes one CRL per point, as J-LIS partitions its CRL by municipality. Certificates issued before
-- this column name their CA and are given its name at the next publication.
ALTER TABLE certificate ADD COLUMN crl_point BYTEA;
CREATE INDEX certificate_crl_point ON certificate (ca_role, crl_point, revoked_at);
