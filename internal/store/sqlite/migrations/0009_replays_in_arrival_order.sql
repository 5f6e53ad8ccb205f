-- request_replays in arrival order: a rowid table the records are appended
-- to, so that the records of one commit fill a page or two together instead
-- of landing each on a page of its own (a B-tree by key, with random
-- digests, scatters them: about a 4 KiB WAL frame per write). The lookup by
-- key is an index in memory, kept by each process from the ids it has not
-- yet read (internal/store/replaylog.go). id is an INTEGER PRIMARY KEY so
-- that VACUUM keeps it and a new record always gets a larger one. The
-- records are carried over; a process of an earlier version still
-- running on the file fails its replay-protected writes (its upsert names a
-- unique key the table no longer has) rather than do one twice.
CREATE TABLE request_replays_arrival (
    id         INTEGER PRIMARY KEY,
    key        BLOB NOT NULL,
    action     TEXT NOT NULL,
    result     TEXT NOT NULL
);
INSERT INTO request_replays_arrival (key, action, result)
    SELECT key, action, result FROM request_replays ORDER BY key;
DROP TABLE request_replays;
ALTER TABLE request_replays_arrival RENAME TO request_replays;
