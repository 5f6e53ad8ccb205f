-- An override may end: expires_at is the instant (microseconds since the
-- epoch) it stops applying, NULL for never. Every read resolves limits as
-- of now, so an expired row is ignored on every replica at once; a sweep
-- removes it later and records OverrideExpired in the audit trail. reason
-- says why it was set.
ALTER TABLE limits ADD COLUMN expires_at BIGINT;
ALTER TABLE limits ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX limits_expires ON limits(expires_at) WHERE expires_at IS NOT NULL;

-- Operators run the service through the operator API (POST
-- /api/v2/operator) with the power of their role: admin or readonly.
CREATE TABLE operators (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- Operator access keys: their passwords sealed with the master key like
-- those of access_keys. Their ids begin with OPK, a tenant's with AK.
CREATE TABLE operator_keys (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    secret      TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX operator_keys_operator ON operator_keys(operator_id);
