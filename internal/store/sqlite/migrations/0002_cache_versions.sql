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
    version INTEGER NOT NULL
);

CREATE TRIGGER cache_versions_accounts_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_accounts_update AFTER UPDATE ON accounts BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_accounts_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_access_keys_insert AFTER INSERT ON access_keys BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_access_keys_update AFTER UPDATE ON access_keys BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_access_keys_delete AFTER DELETE ON access_keys BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_tokens_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_tokens_update AFTER UPDATE ON tokens BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_tokens_delete AFTER DELETE ON tokens BEGIN
    INSERT INTO cache_versions (scope, version) VALUES ('cred:' || OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_limits_insert AFTER INSERT ON limits BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_limits_update AFTER UPDATE ON limits BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
    INSERT INTO cache_versions (scope, version) VALUES (NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_limits_delete AFTER DELETE ON limits BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_images_insert AFTER INSERT ON images BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_images_update AFTER UPDATE ON images BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
    INSERT INTO cache_versions (scope, version) VALUES (NEW.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER cache_versions_images_delete AFTER DELETE ON images BEGIN
    INSERT INTO cache_versions (scope, version) VALUES (OLD.account_id, 1)
        ON CONFLICT (scope) DO UPDATE SET version = version + 1;
END;
