//! SQLite only: the integration API's repeated logins and logouts written by one connection
//! on a thread of its own (issue 3's throughput).
//!
//! Through `sqlx` every statement crosses from the async runtime to a worker thread and
//! back, and each pooled connection finds its page cache stale after another one wrote. A
//! batch of logouts and logins that the login cache can settle (`login_cache`) is instead
//! handed over once, as a whole, to this thread, which runs it as one transaction
//! with cached prepared statements on a connection whose cache stays warm, and answers when
//! it has committed. Everything else — the full login path, administrators, the reaper —
//! still goes through the `sqlx` pool; SQLite's write lock orders the two.

use std::sync::mpsc;

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params_from_iter};

use crate::session_rows::{
    HoldRow, SessionRow, hold_insert, nothing_releasing, session_insert, sqlite_value,
};
use crate::{Result, StoreError};

/// Works on the thread's connection: `None` once the writer is closed.
type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The writing thread; it ends when the last `Ledger` clone holding this is dropped.
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriter")
    }
}

impl SqliteWriter {
    /// Opens a connection on the (migrated) database file at `path` with the pool's settings
    /// and starts its thread.
    pub(crate) fn open(path: &str) -> Result<SqliteWriter> {
        let conn = connect(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let file = path.to_string();
        std::thread::Builder::new()
            .name("sk-sqlite-writer".into())
            .spawn(move || {
                let mut conn = Some(conn);
                while let Ok(job) = rx.recv() {
                    if let Some(fresh) = conn.as_ref().and_then(|c| outside_transaction(c, &file)) {
                        conn = Some(fresh);
                    }
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Open {
                url: path.to_string(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(SqliteWriter { jobs: tx })
    }

    /// Runs `work` on the writer's connection and waits for its result.
    pub(crate) async fn call<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn: &mut Option<Connection>| {
                let _ = reply.send(conn.as_mut().map_or_else(|| Err(gone()), work));
            }))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Closes the writer's connection and waits until it is closed (a clean stop
    /// checkpoints the log after this; an open connection would keep it). Later calls fail.
    pub(crate) async fn close(&self) {
        let (reply, done) = tokio::sync::oneshot::channel();
        let sent = self
            .jobs
            .send(Box::new(move |conn: &mut Option<Connection>| {
                drop(conn.take());
                let _ = reply.send(());
            }));
        if sent.is_ok() {
            let _ = done.await;
        }
    }
}

/// Opens a connection on the (migrated) database file at `path` with the pool's settings.
fn connect(path: &str) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| StoreError::Open {
        url: path.to_string(),
        message: e.to_string(),
    })?;
    // As the pool's connections: queue behind other writers instead of failing, cascade
    // session deletes to their floating holds.
    conn.execute_batch(crate::consts::SQLITE_PRAGMAS)?;
    Ok(conn)
}

/// Every job starts outside a transaction. A job whose COMMIT failed (disk full, I/O error)
/// and whose ROLLBACK on drop failed too would leave one open, and every later turn would
/// fail at BEGIN: it is rolled back here, or, if that fails, the connection is replaced
/// (closing it ends the transaction). `None`: keep the connection.
fn outside_transaction(conn: &Connection, path: &str) -> Option<Connection> {
    if conn.is_autocommit() {
        return None;
    }
    match conn.execute_batch("ROLLBACK") {
        Ok(()) if conn.is_autocommit() => None,
        outcome => {
            tracing::warn!(
                ?outcome,
                "SQLite writer left in a transaction; reconnecting"
            );
            match connect(path) {
                Ok(fresh) => Some(fresh),
                Err(e) => {
                    // The job then fails at BEGIN and the next one tries again.
                    tracing::warn!(error = %e, "SQLite writer cannot reconnect");
                    None
                }
            }
        }
    }
}

fn gone() -> StoreError {
    StoreError::Corrupt("the SQLite writer thread has stopped".into())
}

/// Logouts and remembered logins (`login_cache`) to write, valid only at `generation`.
#[derive(Debug, Clone)]
pub(crate) struct RememberedBatch {
    pub now: time::OffsetDateTime,
    pub generation: i64,
    /// Sessions to end if their user has nothing releasing.
    pub logouts: Vec<String>,
    /// Logins on the user's own seat.
    pub own: Vec<SessionRow>,
    /// Logins that take a floating seat.
    pub floating: Vec<(SessionRow, HoldRow)>,
}

#[derive(Debug)]
pub(crate) enum RememberedOutcome {
    /// The generation moved: nothing was written.
    Moved,
    /// Written: the logouts that ended, and whether the floating logins were (a full pool
    /// refuses them all, and they are then decided in full).
    Written { gone: Vec<String>, floating: bool },
}

const GENERATION: &str = "SELECT value FROM meta WHERE key = 'generation'";
const LOGOUT: &str = concat!(
    "DELETE FROM sessions WHERE id = $1 AND ",
    nothing_releasing!()
);
const SESSION: &str = concat!(session_insert!(), " VALUES ($1, $2, $3, $4, $5)");
const HOLD: &str = concat!(hold_insert!(), " VALUES ($1, $2, $3, $4, $5, $6)");

/// Writes `batch` in one transaction under SQLite's write lock, logouts first (so their seats
/// are free for the logins). The floating holds go in a savepoint: their trigger counts them
/// into the pools, whose `CHECK` refuses the lot when one is full, and the rest of the batch
/// still commits.
pub(crate) fn write_remembered(
    conn: &mut Connection,
    batch: &RememberedBatch,
) -> Result<RememberedOutcome> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let generation: String = tx.prepare_cached(GENERATION)?.query_row([], |r| r.get(0))?;
    if generation.parse::<i64>().ok() != Some(batch.generation) {
        return Ok(RememberedOutcome::Moved);
    }
    let mut gone = Vec::new();
    {
        let mut end = tx.prepare_cached(LOGOUT)?;
        for id in &batch.logouts {
            if end.execute([id])? == 1 {
                gone.push(id.clone());
            }
        }
        let mut insert = tx.prepare_cached(SESSION)?;
        for s in &batch.own {
            insert.execute(params_from_iter(s.values().map(sqlite_value)))?;
        }
    }
    let floating = if batch.floating.is_empty() {
        false
    } else {
        let sp = tx.savepoint()?;
        match insert_floating(&sp, &batch.floating) {
            Ok(()) => {
                sp.commit()?;
                true
            }
            Err(rusqlite::Error::SqliteFailure(e, msg))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                tracing::debug!(
                    ?msg,
                    "floating logins from memory refused; deciding in full"
                );
                // Dropping the savepoint rolls the holds and their sessions back.
                drop(sp);
                false
            }
            Err(e) => return Err(e.into()),
        }
    };
    // Logouts and floating holds move seat levels: settled as every watched commit does.
    crate::outbox::settle_sync(&tx, batch.now)?;
    tx.commit()?;
    Ok(RememberedOutcome::Written { gone, floating })
}

fn insert_floating(conn: &Connection, rows: &[(SessionRow, HoldRow)]) -> rusqlite::Result<()> {
    let mut session = conn.prepare_cached(SESSION)?;
    let mut hold = conn.prepare_cached(HOLD)?;
    for (s, h) in rows {
        session.execute(params_from_iter(s.values().map(sqlite_value)))?;
        hold.execute(params_from_iter(h.values().map(sqlite_value)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 5 of issue 13: a job that leaves the writer's connection inside a transaction (as
    /// a COMMIT and a ROLLBACK that both failed would) does not break the jobs after it.
    #[tokio::test]
    async fn x13_5_a_job_left_in_a_transaction_does_not_break_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = SqliteWriter::open(path.to_str().unwrap()).unwrap();
        writer
            .call(|c| Ok(c.execute_batch("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE;")?))
            .await
            .unwrap();
        let n = writer
            .call(|c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                tx.commit()?;
                Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
