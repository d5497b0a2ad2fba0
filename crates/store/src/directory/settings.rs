//! The directory settings kept in the ledger (migration 0012) and the sync lease that lets one
//! node at a time run a sync. The settings are opaque JSON here: the server checks them
//! against `seatkeeper_directory::Config` before saving; the store only keeps them, with the
//! password in a column of its own that no view returns.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::db::{Audit, audit, dt, get_opt_i64, get_opt_str, get_str, ts};
use crate::process::owner_gone;
use crate::{Actor, Ledger, Result};

/// The settings as saved (the password is only ever handed to the sync engine).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredDirectorySettings {
    /// The `[directory]` section as JSON, without the password.
    pub config: serde_json::Value,
    pub bind_password: Option<String>,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

// The password never reaches a log line through `{:?}`.
impl std::fmt::Debug for StoredDirectorySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredDirectorySettings")
            .field("config", &self.config)
            .field(
                "bind_password",
                &self.bind_password.as_ref().map(|_| "<redacted>"),
            )
            .field("updated_at", &self.updated_at)
            .field("updated_by", &self.updated_by)
            .finish()
    }
}

/// What a save does to the stored password (write-only: it is never read back out).
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordChange {
    Keep,
    Set(String),
    Clear,
}

/// Who holds the sync lease and how the last sync ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectorySyncState {
    /// The node running a sync now (none when no lease is held).
    pub running_on: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_finished_at: Option<OffsetDateTime>,
    /// `changed`, `no_change` or `failed`.
    pub last_outcome: Option<String>,
}

/// How a sync ended, for [`Ledger::release_directory_lease`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncEnd {
    Changed,
    NoChange,
    Failed,
}

impl SyncEnd {
    fn as_str(self) -> &'static str {
        match self {
            SyncEnd::Changed => "changed",
            SyncEnd::NoChange => "no_change",
            SyncEnd::Failed => "failed",
        }
    }
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    Acquired,
    /// Another node holds it until `until`.
    Held {
        by: String,
        until: OffsetDateTime,
    },
}

impl Ledger {
    /// The saved directory settings, if an administrator saved any.
    pub async fn directory_settings(&self) -> Result<Option<StoredDirectorySettings>> {
        let mut tx = self.begin_read().await?;
        let row = sqlx::query(
            "SELECT config, bind_password, updated_at, updated_by FROM directory_settings \
             WHERE id = 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredDirectorySettings {
            config: serde_json::from_str(&get_str(&r, "config")?)
                .unwrap_or(serde_json::Value::Null),
            bind_password: get_opt_str(&r, "bind_password")?,
            updated_at: dt(crate::db::get_i64(&r, "updated_at")?)?,
            updated_by: get_str(&r, "updated_by")?,
        }))
    }

    /// Saves the settings (already checked by the caller) and one audit record that says
    /// whether the password changed but never carries it.
    pub async fn save_directory_settings(
        &self,
        actor: &Actor,
        config: &serde_json::Value,
        password: PasswordChange,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let old: Option<Option<String>> =
            sqlx::query("SELECT bind_password FROM directory_settings WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| get_opt_str(&r, "bind_password"))
                .transpose()?;
        let (stored, said) = match password {
            PasswordChange::Keep => (old.flatten(), "kept"),
            PasswordChange::Set(p) => (Some(p), "set"),
            PasswordChange::Clear => (None, "cleared"),
        };
        sqlx::query(
            "INSERT INTO directory_settings (id, config, bind_password, updated_at, updated_by) \
             VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, \
             bind_password = excluded.bind_password, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(config.to_string())
        .bind(stored)
        .bind(ts(now))
        .bind(actor.name.clone())
        .execute(&mut *tx)
        .await?;
        let mut details = config.clone();
        if let Some(map) = details.as_object_mut() {
            map.remove("bind_password");
            map.insert("bind_password".to_string(), serde_json::json!(said));
        }
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("directory.settings", "directory", details)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the sync lease for `holder` until now + `ttl`, when no other node holds an
    /// unexpired one (the holder may renew its own). Runs left `running` by a node that lost
    /// its lease (killed midway) are then marked `interrupted`: no sync can still be writing
    /// them.
    pub async fn acquire_directory_lease(&self, holder: &str, ttl: Duration) -> Result<Lease> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE directory_sync_state SET holder = $1, lease_until = $2 \
             WHERE id = 1 AND (holder IS NULL OR holder = $1 OR lease_until <= $3)",
        )
        .bind(holder.to_string())
        .bind(ts(now + ttl))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 0 {
            let r =
                sqlx::query("SELECT holder, lease_until FROM directory_sync_state WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
            let by = get_opt_str(&r, "holder")?.unwrap_or_default();
            // A holder killed on this host (kill -9, a crash) is taken over at once: the
            // command line run again after a crash must not wait for the lease to run out.
            let took_over = owner_gone(&by)
                && sqlx::query(
                    "UPDATE directory_sync_state SET holder = $1, lease_until = $2 \
                     WHERE id = 1 AND holder = $3",
                )
                .bind(holder.to_string())
                .bind(ts(now + ttl))
                .bind(by.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if !took_over {
                tx.commit().await?;
                return Ok(Lease::Held {
                    by,
                    until: dt(crate::db::get_i64(&r, "lease_until")?)?,
                });
            }
        }
        tx.commit().await?;
        Ok(Lease::Acquired)
    }

    /// Gives the lease back (only `holder`'s) and records how the sync ended; `None`: it
    /// did not run (a scheduled sync that was not due).
    pub async fn release_directory_lease(&self, holder: &str, end: Option<SyncEnd>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = match end {
            Some(end) => sqlx::query(
                "UPDATE directory_sync_state SET holder = NULL, lease_until = 0, \
                 last_finished_at = $1, last_outcome = $2 WHERE id = 1 AND holder = $3",
            )
            .bind(ts(self.now()))
            .bind(end.as_str().to_string()),
            None => sqlx::query(
                "UPDATE directory_sync_state SET holder = NULL, lease_until = 0 \
                 WHERE id = 1 AND holder = $1",
            ),
        };
        q.bind(holder.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who runs a sync now, and how the last one ended.
    pub async fn directory_sync_state(&self) -> Result<DirectorySyncState> {
        let now = ts(self.now());
        let mut tx = self.begin_read().await?;
        let r = sqlx::query(
            "SELECT holder, lease_until, last_finished_at, last_outcome \
             FROM directory_sync_state WHERE id = 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let live = crate::db::get_i64(&r, "lease_until")? > now;
        Ok(DirectorySyncState {
            running_on: get_opt_str(&r, "holder")?.filter(|_| live),
            last_finished_at: get_opt_i64(&r, "last_finished_at")?.map(dt).transpose()?,
            last_outcome: get_opt_str(&r, "last_outcome")?,
        })
    }
}
