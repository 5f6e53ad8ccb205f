-- request_replays: the answer to each write request, by a digest of its
-- signature (or of its bearer token, timestamp and body), kept until the
-- signature can no longer be presented. A request seen again gets the first
-- answer instead of doing the work twice; under another action, it is
-- refused. Written in the same transaction as the change it answers.
-- The key is the request's expiry (8 bytes, big-endian Unix seconds) and
-- then 8 bytes of its digest (among the requests of one second, a collision
-- is out of reach): records are added near one end of the index and pruned
-- from the other, and the expiry needs no column (or index) of its own. Rows
-- are kept small: every write adds one.
CREATE TABLE request_replays (
    key        BLOB PRIMARY KEY,
    action     TEXT NOT NULL,
    result     TEXT NOT NULL
) WITHOUT ROWID;

-- settings: facts about the store itself, such as the fingerprint of the
-- master key that seals its access key passwords.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
