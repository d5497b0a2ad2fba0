//! The ways into the ledger, and what each brings with it.
//!
//! Every transaction that writes is opened here, and opening one brings capacity up to date
//! at "now" — packages that expired or started, area limits that changed, the seats that
//! this suspends or restores — before the operation reads anything. A new write path gets
//! this by opening its transaction with [`Ledger::begin_write`]; it cannot forget it, and no
//! operation decides on seats that have expired. When nothing is due this costs one small
//! read (`capacity_valid_until` in `meta`).
//!
//! Reads that show capacity open with [`Ledger::begin_read`], which does the same when
//! something is due (in a short write transaction of its own) and otherwise costs the same
//! one read.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Row as _};
use time::OffsetDateTime;

use crate::db::{Backend, Tx, bump_generation, parse, ts};
use crate::reconcile::{VALID_UNTIL, reconcile};
use crate::{Ledger, Result, SeatChanges};

impl Ledger {
    /// Starts a transaction that writes: the write lock (see [`Ledger::write_lock`]),
    /// capacity brought to "now", and a new generation, so that no server answers a login
    /// from memory read before this change (see `login_cache`).
    ///
    /// "Now" is read once the lock is held. An operation that read its own `now` before
    /// calling this (as most do, for their audit records) therefore never decides on
    /// capacity older than its own instant.
    pub(crate) async fn begin_write(&self) -> Result<Tx> {
        let mut tx = self.write_lock(None).await?;
        bump_generation(&mut tx).await?;
        reconcile(&mut tx, self.now(), false).await?;
        Ok(tx)
    }

    /// [`Ledger::begin_write`] that re-evaluates capacity whether due or not, and says what
    /// that suspended or restored (`refresh`).
    pub(crate) async fn begin_write_forced(&self) -> Result<(Tx, SeatChanges)> {
        let mut tx = self.write_lock(None).await?;
        bump_generation(&mut tx).await?;
        let changes = reconcile(&mut tx, self.now(), true).await?;
        Ok((tx, changes))
    }

    /// The write lock and capacity at "now", without a new generation: for the session
    /// paths (logins, logouts, the reaper, usage samples), which change nothing a
    /// remembered login answer depends on — unless they end up changing seats, which goes
    /// through `reconcile`, which bumps.
    pub(crate) async fn begin_locked(&self) -> Result<Tx> {
        let mut tx = self.write_lock(None).await?;
        reconcile(&mut tx, self.now(), false).await?;
        Ok(tx)
    }

    /// [`Ledger::begin_write`] on a connection the caller holds (one with a TEMP staging
    /// table, which only that connection sees).
    pub(crate) async fn begin_write_on(&self, conn: PoolConnection<Any>) -> Result<Tx> {
        let mut tx = self.write_lock(Some(conn)).await?;
        bump_generation(&mut tx).await?;
        reconcile(&mut tx, self.now(), false).await?;
        Ok(tx)
    }

    /// A transaction that writes only rows of its own (sign-in failures, audit records of a
    /// refused sign-in): without the ledger's write lock, so that a burst of wrong passwords
    /// never queues the integration logins behind it. SQLite still takes its write lock at
    /// BEGIN (one writer at a time); PostgreSQL orders it by row locks. It reads and writes
    /// nothing that depends on capacity, so it does not bring capacity up to date.
    pub(crate) async fn begin_rows(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => Ok(Tx::unwatched(
                self.pool.begin_with("BEGIN IMMEDIATE").await?,
            )),
            Backend::Postgres => Ok(Tx::unwatched(self.pool.begin().await?)),
        }
    }

    /// A transaction that only reads, seeing capacity as it is at "now": when time has
    /// changed it since it was last brought up to date, a short write transaction does that
    /// first. The check is the read transaction's own first statement, so what it reads
    /// next is no older than the check (SQLite reads one snapshot from there on;
    /// PostgreSQL's statements see what was committed, by writers that brought capacity up
    /// to date themselves).
    pub(crate) async fn begin_read(&self) -> Result<Tx> {
        // More than one round only when an expiry passes between two of them.
        for _ in 0..3 {
            let mut tx = Tx::unwatched(self.pool.begin().await?);
            if !due(&mut tx, self.now()).await? {
                return Ok(tx);
            }
            tx.rollback().await?;
            self.begin_write().await?.commit().await?;
        }
        Ok(Tx::unwatched(self.pool.begin().await?))
    }
}

/// Whether time has changed capacity since it was last brought up to date.
async fn due(conn: &mut sqlx::AnyConnection, now: OffsetDateTime) -> Result<bool> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(VALID_UNTIL.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let value = row.map(|r| r.try_get::<String, _>("value")).transpose()?;
    Ok(match value.as_deref() {
        Some("never") => false,
        Some(t) => parse::<i64>(t)? <= ts(now),
        None => true,
    })
}
