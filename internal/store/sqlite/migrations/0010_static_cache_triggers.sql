-- PostgreSQL's cache_versions triggers get functions with static statements
-- (its migration 0010); SQLite's triggers (0002) are static already. This
-- keeps the engines' schema versions in step.
SELECT 1;
