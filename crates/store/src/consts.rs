//! Settings of the database connections that other code must repeat exactly (the bench
//! opens its own pools on the ledger's database and must behave as the ledger does).

/// Every SQLite connection's settings. WAL lets readers work while a writer holds the lock;
/// the busy timeout makes writers from other processes queue instead of failing at once;
/// foreign keys cascade session deletes to their floating holds.
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 60000; PRAGMA foreign_keys = ON; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

/// The id is written once, here; both constants below spell it.
macro_rules! pg_write_lock_id {
    () => {
        7305917
    };
}

/// The PostgreSQL advisory lock every ledger write transaction takes first, so that writes
/// from all nodes are serialised as SQLite's `BEGIN IMMEDIATE` serialises them.
pub const PG_WRITE_LOCK_ID: i64 = pg_write_lock_id!();

/// The statement that takes [`PG_WRITE_LOCK_ID`] for the rest of the transaction.
pub const PG_WRITE_LOCK: &str = concat!("SELECT pg_advisory_xact_lock(", pg_write_lock_id!(), ")");
