//! Directory sync, the store's part (I1, U2, D5): `directory_state` loads what the planner
//! (`seatkeeper_core::directory::plan`) compares a snapshot with, and `apply_directory_plan`
//! writes a plan. The planner decides; this module only writes, in short chunks of users
//! with set-based statements so that logins go on during a large sync. A command module: it
//! imports `users` (the block path), `folders`, `distribution` and `settings`, none of which
//! imports it.

use std::collections::{BTreeSet, HashMap};

use seatkeeper_core::directory::{LedgerRole, LedgerState, LedgerUser, RoleKind, Source};
use seatkeeper_core::distribution::ROOT_ROLE;
use seatkeeper_core::{Area, FolderId, UserState};
use serde::Serialize;

use crate::db::{
    Audit, Tx, audit, dt, fetch_in, get_i64, get_opt_i64, get_opt_str, get_str, parse, ts,
};
use crate::folders::FolderTree;
use crate::messages::post_message;
use crate::process::owner_gone;
use crate::room::rooms;
use crate::sql_value::Val;
use crate::{Actor, Ledger, Result};

mod apply;
mod settings;

pub use settings::{DirectorySyncState, Lease, PasswordChange, StoredDirectorySettings, SyncEnd};

/// Users per write transaction: short enough that a login waiting for the write lock is
/// not held up noticeably (as redistribution runs chunk).
pub const DIRECTORY_CHUNK_USERS: usize = 1_000;

/// Users per query when loading the ledger's state for the planner.
const STATE_BATCH: i64 = 10_000;

/// What one sync wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectorySyncCounts {
    pub created: u64,
    /// Of `created`: created blocked (`license_limit` or `directory_disabled`).
    pub created_blocked: u64,
    pub updated: u64,
    pub blocked: u64,
    pub deleted: u64,
    pub activated: u64,
    /// Planned activations the area had no room for at the time of writing: they stay
    /// blocked (`license_limit`) until room frees (any event that frees it, or a later sync).
    pub not_activated: u64,
    pub roles_created: u64,
    pub roles_reparented: u64,
    pub members_added: u64,
    pub members_removed: u64,
    pub skipped: u64,
    /// Users the follow-up redistribution (D5) visited.
    pub redistributed: u64,
    pub granted: u64,
    pub recalled: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectorySyncReport {
    /// The `directory_runs` row; none when the plan was empty (nothing written).
    pub run_id: Option<i64>,
    pub counts: DirectorySyncCounts,
}

/// A run of the history (`directory_runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryRunView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<time::OffsetDateTime>,
    pub status: String,
    pub preview: bool,
    pub counts: serde_json::Value,
    pub error: Option<String>,
}

/// "" for the root, as the planner writes folders.
fn folder_path(tree: &FolderTree, id: FolderId) -> String {
    let p = tree.path(id);
    if p == "/" { String::new() } else { p }
}

fn key(login: &str) -> String {
    login.to_ascii_lowercase()
}

/// Directory users by lower-cased login → (id, area, state, block reason). Users from other
/// sources are left out, so that nothing below can write to them whatever a plan says.
async fn directory_users(
    tx: &mut Tx,
    logins: &[String],
) -> Result<HashMap<String, (i64, Area, UserState, Option<String>)>> {
    let vals: Vec<Val> = logins.iter().map(|l| Val::Text(key(l))).collect();
    let rows = fetch_in(
        tx,
        "SELECT id, login, area, state, block_reason FROM users \
         WHERE source = 'directory' AND builtin = 0 AND lower(login) IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                key(&get_str(r, "login")?),
                (
                    get_i64(r, "id")?,
                    parse(&get_str(r, "area")?)?,
                    parse(&get_str(r, "state")?)?,
                    get_opt_str(r, "block_reason")?,
                ),
            ))
        })
        .collect()
}

/// A run older than this is taken for dead even when its owner ran on another host (whose
/// processes this one cannot see): no sync takes a day.
const RUN_GIVEN_UP_SECS: i64 = 24 * 3600;

/// Closes as `interrupted` the runs still `running` whose process is gone (killed, crashed,
/// the machine restarted) — on this host, or a day old on another — so the history never
/// shows a dead run as going on. Another live process's run is left alone, unless `all`:
/// the caller holds the sync lease, so no other sync can be writing. How many.
pub(super) async fn close_interrupted(
    tx: &mut Tx,
    now: time::OffsetDateTime,
    all: bool,
) -> Result<u64> {
    let rows =
        sqlx::query("SELECT id, started_at, owner FROM directory_runs WHERE status = 'running'")
            .fetch_all(&mut **tx)
            .await?;
    let mut dead = Vec::new();
    for r in &rows {
        let gone = match get_opt_str(r, "owner")? {
            Some(owner) => owner_gone(&owner),
            // Recorded before runs had owners.
            None => true,
        };
        if all || gone || get_i64(r, "started_at")? + RUN_GIVEN_UP_SECS < ts(now) {
            dead.push(Val::Int(get_i64(r, "id")?));
        }
    }
    if dead.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE directory_runs SET status = 'interrupted', finished_at = {}, \
         error = 'the process running it stopped before it finished (killed or crashed); \
         the next sync completes its work' WHERE id IN ({{ids}})",
        ts(now)
    );
    crate::db::execute_in(tx, &sql, &dead).await
}

impl Ledger {
    /// Closes the runs a stopped process left `running` (see [`close_interrupted`]); the
    /// sync engine calls it before each sync, holding the sync lease (`holding_lease`: every
    /// run still `running` is then dead, wherever it ran), so that even a sync with nothing
    /// left to do (the killed run had written everything) closes them. Writes only when
    /// there is one.
    pub async fn close_interrupted_directory_runs(&self, holding_lease: bool) -> Result<u64> {
        let mut tx = self.begin_read().await?;
        let running = sqlx::query("SELECT id FROM directory_runs WHERE status = 'running' LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        tx.commit().await?;
        if !running {
            return Ok(0);
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let n = close_interrupted(&mut tx, now, holding_lease).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// What the sync planner compares a snapshot with: every user, every role with its
    /// direct members, the room per area. Two set queries per 10,000 users, in one read.
    pub async fn directory_state(&self) -> Result<LedgerState> {
        let mut tx = self.begin_read().await?;
        let tree = FolderTree::load(&mut tx).await?;
        // Users in batches by id, each with its memberships (as id pairs): 100,000 users
        // never sit in memory as database rows all at once, and no join reads 200,000
        // logins as strings.
        let role_rows =
            sqlx::query("SELECT id, name, kind, parent_id, directory_dn FROM roles ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        let names: HashMap<i64, String> = role_rows
            .iter()
            .map(|r| Ok((get_i64(r, "id")?, get_str(r, "name")?)))
            .collect::<Result<_>>()?;
        let mut users: Vec<LedgerUser> = Vec::new();
        let mut members: HashMap<i64, BTreeSet<String>> = HashMap::new();
        // Few folders, many users: each path is built once.
        let mut paths: HashMap<i64, String> = HashMap::new();
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(
                "SELECT id, login, name, email, area, folder_id, state, block_reason, source, \
                 directory_dn, created_at FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(STATE_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                break;
            };
            let (first, last) = (get_i64(first, "id")?, get_i64(last, "id")?);
            let mut login_of: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
            for r in &rows {
                let dn = get_opt_str(r, "directory_dn")?;
                let folder = get_i64(r, "folder_id")?;
                login_of.insert(get_i64(r, "id")?, users.len());
                users.push(LedgerUser {
                    login: get_str(r, "login")?,
                    name: get_str(r, "name")?,
                    email: get_str(r, "email")?,
                    area: parse(&get_str(r, "area")?)?,
                    folder: paths
                        .entry(folder)
                        .or_insert_with(|| folder_path(&tree, FolderId(folder)))
                        .clone(),
                    state: parse(&get_str(r, "state")?)?,
                    block_reason: get_opt_str(r, "block_reason")?,
                    source: match (get_str(r, "source")?.as_str(), dn) {
                        ("directory", Some(dn)) => Source::Directory { dn },
                        _ => Source::Other,
                    },
                    created_at: dt(get_i64(r, "created_at")?)?,
                });
            }
            drop(rows);
            for r in sqlx::query(
                "SELECT role_id, user_id FROM role_members WHERE user_id >= $1 AND user_id <= $2",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut *tx)
            .await?
            {
                let user = login_of.get(&get_i64(&r, "user_id")?);
                if let Some(u) = user.and_then(|i| users.get(*i)) {
                    members
                        .entry(get_i64(&r, "role_id")?)
                        .or_default()
                        .insert(u.login.clone());
                }
            }
            after = last;
        }
        let mut roles = Vec::with_capacity(role_rows.len());
        for r in &role_rows {
            let id = get_i64(r, "id")?;
            let kind = match get_str(r, "kind")?.as_str() {
                "functional" => RoleKind::Functional,
                _ => RoleKind::Organizational,
            };
            // The planner compares parents by name; organizational roles hang under "All
            // employees" even where the column says top level (the contract in
            // docs/notes-syncplan.md).
            let parent = match get_opt_i64(r, "parent_id")? {
                Some(p) => names.get(&p).cloned(),
                None if kind == RoleKind::Organizational && id != ROOT_ROLE => {
                    names.get(&ROOT_ROLE).cloned()
                }
                None => None,
            };
            roles.push(LedgerRole {
                name: get_str(r, "name")?,
                parent,
                kind,
                source_dn: get_opt_str(r, "directory_dn")?,
                members: members.remove(&id).unwrap_or_default(),
            });
        }
        let room = rooms(&mut tx).await?;
        tx.commit().await?;
        Ok(LedgerState { users, roles, room })
    }

    /// The history of directory runs, newest first.
    pub async fn directory_runs(&self, limit: i64) -> Result<Vec<DirectoryRunView>> {
        let mut tx = self.begin_read().await?;
        let rows = sqlx::query(
            "SELECT id, started_at, finished_at, status, preview, counts, error \
             FROM directory_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(DirectoryRunView {
                    id: get_i64(r, "id")?,
                    started_at: dt(get_i64(r, "started_at")?)?,
                    finished_at: get_opt_i64(r, "finished_at")?.map(dt).transpose()?,
                    status: get_str(r, "status")?,
                    preview: get_i64(r, "preview")? == 1,
                    counts: serde_json::from_str(&get_str(r, "counts")?)
                        .unwrap_or(serde_json::Value::Null),
                    error: get_opt_str(r, "error")?,
                })
            })
            .collect()
    }

    /// Records a sync that failed before writing anything (unreachable server, bad
    /// credentials, a bad filter): a `failed` run with its error, one `directory.sync_failed`
    /// audit record, and a system message — only when the run before did not fail too, so
    /// that a scheduled sync against a directory that is down for a weekend does not bury
    /// the other messages.
    pub async fn record_failed_directory_run(
        &self,
        actor: &Actor,
        code: &str,
        error: &str,
    ) -> Result<i64> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let before = sqlx::query(
            "SELECT status FROM directory_runs WHERE preview = 0 ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| get_str(&r, "status"))
        .transpose()?;
        let row = sqlx::query(
            "INSERT INTO directory_runs (started_at, finished_at, status, preview, counts, error) \
             VALUES ($1, $1, 'failed', 0, '{}', $2) RETURNING id",
        )
        .bind(ts(now))
        .bind(error.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let body = serde_json::json!({ "code": code, "error": error });
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "directory.sync_failed",
                "directory",
                body.clone(),
            )],
        )
        .await?;
        if before.as_deref() != Some("failed") {
            post_message(
                &mut tx,
                now,
                "directory",
                &format!("Directory sync failed: {error}"),
                &body,
            )
            .await?;
        }
        tx.commit().await?;
        get_i64(&row, "id")
    }
}
