-- Nothing to change on SQLite. On PostgreSQL this step counts floating holds into their
-- pools once per statement instead of once per row (see
-- ../postgres/0006_floating_counts_per_statement.sql); SQLite has row triggers only, and a
-- row's update there is an in-place change of a cached page, not a new row version. The
-- numbering stays the same on both backends.
SELECT 1;
