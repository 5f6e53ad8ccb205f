-- SQLite records, in table cache_touched, the scopes each write transaction
-- changed, so that its single writer can keep its read cache across its own
-- commits. PostgreSQL observes the versions of cache_versions on every read
-- (several replicas write), so it records nothing; this migration keeps the
-- engines' schema versions in step.
SELECT 1;
