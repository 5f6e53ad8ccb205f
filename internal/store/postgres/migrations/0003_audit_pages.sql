-- audit_account_at placed each account's records on pages of their own, so
-- every image write changed one more page (written to the WAL and fsynced
-- in its commit): about half of the bytes a create or a delete wrote.
-- Listing one account's audit records now reads audit in id order, keeping
-- that account's rows, until the limit is reached.
DROP INDEX audit_account_at;
