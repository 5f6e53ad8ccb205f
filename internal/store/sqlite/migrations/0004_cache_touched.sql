-- The scopes whose version the transaction in progress bumped, so that the
-- writer learns what its commit changed without being told (the engine
-- empties this table in every write transaction, just before COMMIT: see
-- batch.go). A row exists only inside a transaction that has not ended.
-- (An upsert, not INSERT OR IGNORE: inside a trigger, the conflict policy of
-- the statement that fired it would override OR IGNORE.)
CREATE TABLE cache_touched (
    scope TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TRIGGER cache_touched_insert AFTER INSERT ON cache_versions BEGIN
    INSERT INTO cache_touched (scope) VALUES (NEW.scope) ON CONFLICT (scope) DO NOTHING;
END;

CREATE TRIGGER cache_touched_update AFTER UPDATE ON cache_versions BEGIN
    INSERT INTO cache_touched (scope) VALUES (NEW.scope) ON CONFLICT (scope) DO NOTHING;
END;
