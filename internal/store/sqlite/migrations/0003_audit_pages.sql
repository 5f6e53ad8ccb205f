-- audit_account_at placed each account's records on pages of their own, so
-- every image write changed one more page (written to the WAL and fsynced
-- in its commit): about half of the bytes a create or a delete wrote.
-- Listing one account's audit records now reads audit in id order, keeping
-- that account's rows, until the limit is reached.
DROP INDEX audit_account_at;

-- audit without AUTOINCREMENT: that kept the largest id ever used in
-- sqlite_sequence, one more page changed by every commit that writes an
-- audit record. Records are never deleted, so ids still only grow.
CREATE TABLE audit_rebuilt (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    actor      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    before     TEXT,
    after      TEXT
);
INSERT INTO audit_rebuilt (id, at, account_id, actor, request_id, action, target, before, after)
    SELECT id, at, account_id, actor, request_id, action, target, before, after FROM audit;
DROP TABLE audit;
ALTER TABLE audit_rebuilt RENAME TO audit;
CREATE INDEX audit_at ON audit(at);
