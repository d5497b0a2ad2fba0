//! SQLite backups and restores (issue 13 item 8), and the lock that keeps a restore away from
//! a ledger in use.
//!
//! A copy of the `.db` file is not a backup: committed data may still be in its `-wal` file,
//! and a file copied over a database in use corrupts it. A backup is written by SQLite itself
//! (`VACUUM INTO`: one read transaction, so writers go on meanwhile) and checked before it is
//! kept. Every process that opens a SQLite ledger holds a shared lock on `<file>-lock` for as
//! long as it has it open (the kernel drops it when the process ends, however it ends); a
//! restore takes it exclusively, so it is refused while a server or a command uses the file.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::json;

use crate::db::{Audit, audit, database_url, get_str, sqlite_path};
use crate::ledger_lock::lock_ledger_file;
use crate::{Actor, Backend, EndedSessions, Ledger, Result, StoreError};

/// The SQLite file `spec` names, or `None` for PostgreSQL (backed up with its own tools).
pub fn sqlite_file(spec: &str) -> Option<&str> {
    match database_url(spec).0 {
        Backend::Sqlite => Some(sqlite_path(spec)),
        Backend::Postgres => None,
    }
}

/// What `backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub file: String,
    pub bytes: u64,
    pub integrity: &'static str,
}

/// What `restore` did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub database: String,
    pub from: String,
    /// The sessions the backup held: they belong to the backup's time and are ended so that
    /// they hold no seats.
    pub sessions_ended: u64,
    pub released: Vec<crate::HeldSeat>,
}

/// Writes a consistent copy of the SQLite ledger `db` to the new file `dest`, safely while
/// servers use it, and checks it. An existing `dest` is never overwritten.
pub fn backup(db: &str, dest: &Path) -> Result<BackupReport> {
    let shown = dest.display().to_string();
    if dest.exists() {
        return Err(StoreError::Refused(format!(
            "{shown} exists: a backup never overwrites a file; remove it or choose another name"
        )));
    }
    let _in_use = lock_ledger_file(db, false)?;
    // Open only what exists: a backup of a mistyped name must not create an empty ledger.
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Refused(format!("cannot open the database {db}: {e}")))?;
    source.busy_timeout(std::time::Duration::from_secs(60))?;
    // Written beside the target and renamed when checked: `dest` is whole or absent.
    let partial = format!("{shown}.partial");
    remove_if_present(Path::new(&partial))?;
    source.execute("VACUUM INTO ?1", [&partial])?;
    drop(source);
    if let Err(e) = check(Path::new(&partial), &shown) {
        remove_if_present(Path::new(&partial))?;
        return Err(e);
    }
    std::fs::rename(&partial, dest).map_err(|e| io(&shown, e))?;
    let bytes = std::fs::metadata(dest).map_err(|e| io(&shown, e))?.len();
    Ok(BackupReport {
        file: shown,
        bytes,
        integrity: "ok",
    })
}

/// Replaces the SQLite ledger `db` with the backup `from`: refused while any process has the
/// ledger open and when the backup is not a sound Seatkeeper ledger. The sessions the backup
/// holds are ended (their clients are long gone) and the restore is audited.
pub async fn restore(db: &str, from: &Path, actor: &Actor) -> Result<RestoreReport> {
    let source = from.display().to_string();
    // Held until the restored file is in place: no server starts on a half-restored ledger.
    let _exclusive = lock_ledger_file(db, true)?;
    if !from.is_file() {
        return Err(StoreError::Refused(format!("no backup file at {source}")));
    }
    let from_wal = format!("{source}-wal");
    if std::fs::metadata(&from_wal).is_ok_and(|m| m.len() > 0) {
        return Err(StoreError::Refused(format!(
            "{source} has a non-empty {from_wal} beside it: it is a copy of a database in use, \
             not a backup (write one with `seatkeeper backup`)"
        )));
    }
    // Prepared beside the ledger (same file system, so the final rename is atomic); the
    // backup file itself is only read.
    let staged = format!("{db}.restoring");
    for f in sidecars(&staged) {
        remove_if_present(Path::new(&f))?;
    }
    std::fs::copy(from, &staged).map_err(|e| io(&source, e))?;
    let prepared = async {
        check(Path::new(&staged), &source)?;
        // Opening migrates a backup of an older version, as a start would.
        let ledger = Ledger::open(&staged).await?;
        let ended = ledger.end_restored_sessions(actor, &source).await;
        ledger.close().await;
        ended
    }
    .await;
    let ended = match prepared {
        Ok(ended) => ended,
        Err(e) => {
            for f in sidecars(&staged) {
                remove_if_present(Path::new(&f))?;
            }
            return Err(e);
        }
    };
    // The old ledger's write-ahead log and index would be read as the new file's: they go
    // first. (Closing the staged ledger checkpointed it, so it is whole in its file.)
    for f in [format!("{db}-wal"), format!("{db}-shm")] {
        remove_if_present(Path::new(&f))?;
    }
    if std::fs::metadata(format!("{staged}-wal")).is_ok_and(|m| m.len() > 0) {
        return Err(StoreError::Corrupt(format!(
            "{staged} was not fully checkpointed; {db} is unchanged"
        )));
    }
    std::fs::rename(&staged, db).map_err(|e| io(db, e))?;
    for f in sidecars(&staged).into_iter().skip(1) {
        remove_if_present(Path::new(&f))?;
    }
    Ok(RestoreReport {
        database: db.to_string(),
        from: source,
        sessions_ended: ended.ended,
        released: ended.released,
    })
}

impl Ledger {
    /// Ends every session of a restored ledger and records the restore, in one transaction.
    async fn end_restored_sessions(&self, actor: &Actor, source: &str) -> Result<EndedSessions> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let ids = sqlx::query("SELECT id FROM sessions")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get_str(r, "id"))
            .collect::<Result<Vec<_>>>()?;
        let (_, ended) =
            crate::logouts::end_sessions(&mut tx, now, actor, &ids, "restored from a backup")
                .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "ledger.restore",
                source,
                json!({"sessions_ended": ended.ended, "seats_released": ended.released.len()}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}

/// A backup is kept or restored only if SQLite finds it sound and it is a Seatkeeper ledger.
fn check(file: &Path, shown: &str) -> Result<()> {
    let refuse = |why: String| StoreError::Refused(format!("{shown} is not a sound backup: {why}"));
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| refuse(e.to_string()))?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(|e| refuse(e.to_string()))?;
    if problems != ["ok"] {
        return Err(refuse(format!(
            "integrity check: {}",
            problems.into_iter().take(5).collect::<Vec<_>>().join("; ")
        )));
    }
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'instance_id'",
        [],
        |r| r.get::<_, String>(0),
    )
    .map_err(|e| refuse(format!("not a Seatkeeper ledger ({e})")))?;
    Ok(())
}

/// A database file and the files SQLite and Seatkeeper keep beside it.
fn sidecars(db: &str) -> [String; 4] {
    [
        db.to_string(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        format!("{db}-lock"),
    ]
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io(&path.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

fn io(path: &str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_string(),
        source,
    }
}
