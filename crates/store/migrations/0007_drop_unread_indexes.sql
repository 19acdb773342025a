-- Indexes nothing reads: verifications are fetched by id (usage has its own table), presentation
-- requests by id. Every recorded check paid for the verification index's B-tree.
DROP INDEX verification_tenant;
DROP INDEX mdoc_request_tenant;
