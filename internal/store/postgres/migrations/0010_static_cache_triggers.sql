-- The triggers of migration 0002 called one function for every table, which
-- built its statement with format() and ran it with EXECUTE: PostgreSQL
-- parsed and planned it afresh on every insert, update or delete (about 60%
-- of the trigger's cost, which was most of an image insert's or delete's).
-- Each table now has a function of its own with static statements, whose
-- plans PL/pgSQL keeps. What they do is unchanged: in the transaction of the
-- change, bump the version of every scope it touched, in scope order (so
-- that concurrent multi-row changes take the rows of cache_versions in the
-- same order); an update bumps each scope once, whether it held the row
-- before or after.

CREATE FUNCTION cache_versions_bump_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || id, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || id, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSE
        INSERT INTO cache_versions (scope, version)
            SELECT s, 1 FROM (SELECT 'cred:' || id AS s FROM new_rows UNION SELECT 'cred:' || id FROM old_rows) u ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER cache_versions_accounts_insert ON accounts;
CREATE TRIGGER cache_versions_accounts_insert AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_accounts();

DROP TRIGGER cache_versions_accounts_update ON accounts;
CREATE TRIGGER cache_versions_accounts_update AFTER UPDATE ON accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_accounts();

DROP TRIGGER cache_versions_accounts_delete ON accounts;
CREATE TRIGGER cache_versions_accounts_delete AFTER DELETE ON accounts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_accounts();


CREATE FUNCTION cache_versions_bump_access_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || account_id, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || account_id, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSE
        INSERT INTO cache_versions (scope, version)
            SELECT s, 1 FROM (SELECT 'cred:' || account_id AS s FROM new_rows UNION SELECT 'cred:' || account_id FROM old_rows) u ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER cache_versions_access_keys_insert ON access_keys;
CREATE TRIGGER cache_versions_access_keys_insert AFTER INSERT ON access_keys REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_access_keys();

DROP TRIGGER cache_versions_access_keys_update ON access_keys;
CREATE TRIGGER cache_versions_access_keys_update AFTER UPDATE ON access_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_access_keys();

DROP TRIGGER cache_versions_access_keys_delete ON access_keys;
CREATE TRIGGER cache_versions_access_keys_delete AFTER DELETE ON access_keys REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_access_keys();


CREATE FUNCTION cache_versions_bump_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || account_id, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT 'cred:' || account_id, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSE
        INSERT INTO cache_versions (scope, version)
            SELECT s, 1 FROM (SELECT 'cred:' || account_id AS s FROM new_rows UNION SELECT 'cred:' || account_id FROM old_rows) u ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER cache_versions_tokens_insert ON tokens;
CREATE TRIGGER cache_versions_tokens_insert AFTER INSERT ON tokens REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_tokens();

DROP TRIGGER cache_versions_tokens_update ON tokens;
CREATE TRIGGER cache_versions_tokens_update AFTER UPDATE ON tokens REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_tokens();

DROP TRIGGER cache_versions_tokens_delete ON tokens;
CREATE TRIGGER cache_versions_tokens_delete AFTER DELETE ON tokens REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_tokens();


CREATE FUNCTION cache_versions_bump_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT account_id, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT account_id, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSE
        INSERT INTO cache_versions (scope, version)
            SELECT s, 1 FROM (SELECT account_id AS s FROM new_rows UNION SELECT account_id FROM old_rows) u ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER cache_versions_limits_insert ON limits;
CREATE TRIGGER cache_versions_limits_insert AFTER INSERT ON limits REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_limits();

DROP TRIGGER cache_versions_limits_update ON limits;
CREATE TRIGGER cache_versions_limits_update AFTER UPDATE ON limits REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_limits();

DROP TRIGGER cache_versions_limits_delete ON limits;
CREATE TRIGGER cache_versions_limits_delete AFTER DELETE ON limits REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_limits();


CREATE FUNCTION cache_versions_bump_images() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT account_id, 1 FROM new_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO cache_versions (scope, version) SELECT DISTINCT account_id, 1 FROM old_rows ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    ELSE
        INSERT INTO cache_versions (scope, version)
            SELECT s, 1 FROM (SELECT account_id AS s FROM new_rows UNION SELECT account_id FROM old_rows) u ORDER BY 1
            ON CONFLICT (scope) DO UPDATE SET version = cache_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER cache_versions_images_insert ON images;
CREATE TRIGGER cache_versions_images_insert AFTER INSERT ON images REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_images();

DROP TRIGGER cache_versions_images_update ON images;
CREATE TRIGGER cache_versions_images_update AFTER UPDATE ON images REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_images();

DROP TRIGGER cache_versions_images_delete ON images;
CREATE TRIGGER cache_versions_images_delete AFTER DELETE ON images REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_versions_bump_images();


DROP FUNCTION cache_versions_bump();
