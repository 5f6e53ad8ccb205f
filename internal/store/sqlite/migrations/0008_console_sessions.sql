-- console_sessions: the operator console's sign-ins. token_hash is the
-- SHA-256 (hex) of the session token the browser holds in its cookie; the
-- token itself is never stored. A session is good until expires_at
-- (microseconds since the epoch) while its key and its operator stay
-- enabled; signing out deletes its row, on every replica at once.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    key_id      TEXT NOT NULL REFERENCES operator_keys(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
