-- Change versions for the in-memory read cache (cache.go). Every insert,
-- update or delete of a row that a cached answer is built from bumps, in the
-- same transaction, the version of the scope it belongs to. There are two
-- scopes per account so that image writes do not invalidate credentials:
--   'cred:' || account id  accounts, access_keys, tokens (credentials);
--   account id             images, limits (usage); '' for a limit that
--                          applies to every account.
-- Because the bump is a trigger it also happens for writes from other
-- processes and replicas ("imagequota admin", another server on the same
-- database).
CREATE TABLE cache_versions (
    scope   TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

-- One statement-level trigger per table and event (transition tables allow
-- only one event per trigger); TG_ARGV[0] names the account column and
-- TG_ARGV[1] is the scope's prefix ('cred:' or '').
CREATE FUNCTION cache_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO cache_versions (scope, version) SELECT DISTINCT %L || %I, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1', TG_ARGV[1], TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('INSERT INTO cache_versions (scope, version) SELECT DISTINCT %L || %I, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1', TG_ARGV[1], TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cache_versions_accounts_insert AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('id', 'cred:');

CREATE TRIGGER cache_versions_accounts_update AFTER UPDATE ON accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('id', 'cred:');

CREATE TRIGGER cache_versions_accounts_delete AFTER DELETE ON accounts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('id', 'cred:');

CREATE TRIGGER cache_versions_access_keys_insert AFTER INSERT ON access_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_access_keys_update AFTER UPDATE ON access_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_access_keys_delete AFTER DELETE ON access_keys REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_tokens_insert AFTER INSERT ON tokens REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_tokens_update AFTER UPDATE ON tokens REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_tokens_delete AFTER DELETE ON tokens REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', 'cred:');

CREATE TRIGGER cache_versions_limits_insert AFTER INSERT ON limits REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');

CREATE TRIGGER cache_versions_limits_update AFTER UPDATE ON limits REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');

CREATE TRIGGER cache_versions_limits_delete AFTER DELETE ON limits REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');

CREATE TRIGGER cache_versions_images_insert AFTER INSERT ON images REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');

CREATE TRIGGER cache_versions_images_update AFTER UPDATE ON images REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');

CREATE TRIGGER cache_versions_images_delete AFTER DELETE ON images REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump('account_id', '');
