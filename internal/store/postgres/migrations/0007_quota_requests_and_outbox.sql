-- quota_requests: an account's requests to raise its limit in one location.
-- A request is PENDING until it is APPROVED, DENIED or CANCELLED; an account
-- has at most one PENDING request per location (quota_requests_open).
-- current_max_count is the limit in effect when it was made; granted and
-- expires_at are set by an approval. client_token, when the account gave
-- one, makes the request idempotent; fingerprint holds its parameters.
CREATE TABLE quota_requests (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    location_id       TEXT NOT NULL,
    current_max_count BIGINT NOT NULL,
    desired_max_count BIGINT NOT NULL,
    granted_max_count BIGINT,
    state             TEXT NOT NULL,
    reason            TEXT NOT NULL,
    comment           TEXT NOT NULL,
    client_token      TEXT,
    fingerprint       TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    decided_at        BIGINT,
    decided_by        TEXT NOT NULL,
    expires_at        BIGINT
);
CREATE UNIQUE INDEX quota_requests_open ON quota_requests (account_id, location_id) WHERE state = 'PENDING';
CREATE UNIQUE INDEX quota_requests_client_token ON quota_requests (account_id, client_token);
CREATE INDEX quota_requests_account ON quota_requests (account_id, created_at);
CREATE INDEX quota_requests_created ON quota_requests (created_at);

-- outbox: events waiting to be delivered to the webhook, each written in the
-- transaction of the change it reports and deleted once delivered. seq
-- orders them; id is the event's own id, which deliveries name it by. A
-- deliverer claims due rows (next_attempt_at passed, no live claim) until
-- claimed_until; a failed delivery counts an attempt and sets the next.
CREATE TABLE outbox (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    at              BIGINT NOT NULL,
    data            TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claim           TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
