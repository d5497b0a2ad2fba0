-- Nothing to change in the file on SQLite. On PostgreSQL this step makes the database's own
-- refusals say what tripped them, with the numbers (see
-- ../postgres/0010_refusals_name_what_tripped.sql). On SQLite the same messages come from
-- TEMP triggers every connection of the ledger installs (src/sqlite_refusals.sql): a message
-- built from the row needs SQLite 3.47 to parse, and a schema holding one could no longer be
-- read by an older sqlite3 shell. The numbering stays the same on both backends.
SELECT 1;
