CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE access_keys (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    secret     TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX access_keys_account ON access_keys(account_id);

CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- '' in account_id or location_id means "any".
CREATE TABLE limits (
    account_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    max_count   INTEGER NOT NULL,
    PRIMARY KEY (account_id, location_id)
);

CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    location_id TEXT NOT NULL,
    disk_gb     INTEGER NOT NULL,
    os_category TEXT NOT NULL,
    os_type     TEXT NOT NULL,
    os_version  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX instances_account ON instances(account_id);

-- A row is an image that exists; deleting removes the row, so the count of
-- rows per (account_id, location_id) is the quota usage and cannot drift.
CREATE TABLE images (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    location_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    size_gb     INTEGER NOT NULL,
    category    TEXT NOT NULL,
    os_type     TEXT NOT NULL,
    version     TEXT NOT NULL,
    unavailable INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    ready_at    INTEGER NOT NULL
);
CREATE INDEX images_account_location ON images(account_id, location_id, created_at);

CREATE TABLE client_tokens (
    account_id  TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    image_id    TEXT NOT NULL,
    image_name  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, token)
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    actor      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_account_at ON audit(account_id, at);
CREATE INDEX audit_at ON audit(at);
