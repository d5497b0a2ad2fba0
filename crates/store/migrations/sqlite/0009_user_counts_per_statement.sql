-- Nothing to change on SQLite. On PostgreSQL this step counts active users into
-- `area_counters` once per statement instead of once per row (see
-- ../postgres/0009_user_counts_per_statement.sql); SQLite has row triggers only, and a row's
-- update there is an in-place change of a cached page, not a new row version. The numbering
-- stays the same on both backends (0007 and 0008 are taken by other changes of issue 13).
SELECT 1;
