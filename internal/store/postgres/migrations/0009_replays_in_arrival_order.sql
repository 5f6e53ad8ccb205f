-- Nothing changes on PostgreSQL: request_replays keeps its primary key on
-- key, through which replicas writing in parallel transactions find each
-- other's records. (SQLite's 0009 keeps its records in arrival order, with
-- the index in memory: its writers are serial on one file.)
SELECT 1;
