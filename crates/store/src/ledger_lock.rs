//! The lock that keeps a restore away from a SQLite ledger in use: every process that opens
//! the ledger holds `<file>-lock` shared for as long as it has it open (the kernel drops it
//! when the process ends, however it ends); a restore (`backup`) takes it exclusively.

use std::fs::{File, OpenOptions, TryLockError};

use crate::{Result, StoreError};

/// Takes the lock on `<db>-lock`: shared for a process that uses the ledger, exclusive for a
/// restore. Held until the returned file is closed.
pub(crate) fn lock_ledger_file(db: &str, exclusive: bool) -> Result<File> {
    let path = format!("{db}-lock");
    let cannot = |e: std::io::Error| StoreError::Open {
        url: db.to_string(),
        message: format!("cannot lock {path}: {e}"),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(cannot)?;
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) if exclusive => Err(StoreError::Refused(format!(
            "the database {db} is in use (a running server or another seatkeeper command has \
             it open); stop it first"
        ))),
        Err(TryLockError::WouldBlock) => Err(StoreError::Refused(format!(
            "the database {db} is being restored; try again when the restore has finished"
        ))),
        Err(TryLockError::Error(e)) => Err(cannot(e)),
    }
}
