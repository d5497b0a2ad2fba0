//! Journaled runs (D3/D4): a redistribution that is applied, a chunk per short write
//! transaction, so that grants and logins wait at most one chunk. The run's journal row
//! records the phase and the last user done in the same transaction as the chunk; a run
//! left behind by a crash is finished by the next process that opens the ledger. A run for
//! all users whose role tree, bindings and named pools are those of the last full run visits
//! only the users marked since (incremental).

use std::collections::HashMap;

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::distribution::{ManualGrants, RoleTree};
use seatkeeper_core::events::{Event, EventType};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::apply::{Database, baseline, clear_marks, may_clear_marks, set_baseline};
use super::chunk::{DEFAULT_CHUNK_USERS, Phase, Resolved};
use super::needs::fulfil_pending;
use super::report::{DEFAULT_DETAIL, PlanItem, RedistributionReport, Scope};
use super::walk::{Cursor, Step, Users, Walk, resolve_scope};
use crate::db::{Audit, Tx, audit, count, dt, get_i64, get_opt_i64, get_str, parse, ts};
use crate::loaders::load_tree;
use crate::messages::post_message;
use crate::process::{owner_gone, process_tag};
use crate::settings::{DistributionSettings, distribution_settings_in, save_distribution_settings};
use crate::{Actor, Ledger, Result, StoreError};

/// How long a run's lease lasts without a chunk renewing it.
const LEASE_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub actor: String,
    pub scope: Scope,
    pub manual: ManualGrants,
    pub status: String,
    pub phase: String,
    /// `full`, or `incremental`: only users changed since the last full run were visited.
    pub mode: String,
    pub users: u64,
    pub granted: u64,
    pub recalled: u64,
    pub releasing: u64,
    pub unmet: u64,
    pub message_id: Option<i64>,
}

/// A run's journal row, as a chunk reads it.
#[derive(Debug, sqlx::FromRow)]
struct Journal {
    actor: String,
    origin: String,
    scope: String,
    manual: String,
    status: String,
    phase: String,
    mode: String,
    after_user: i64,
    lease_owner: String,
    signature: String,
}

/// A row of the run listing, before its text becomes types.
#[derive(Debug, sqlx::FromRow)]
struct RunRow {
    id: i64,
    started_at: i64,
    finished_at: Option<i64>,
    actor: String,
    scope: String,
    manual: String,
    status: String,
    phase: String,
    mode: String,
    users: i64,
    granted: i64,
    recalled: i64,
    releasing: i64,
    unmet: i64,
    message_id: Option<i64>,
}

/// The counts a run's journal keeps, complete even when the run was resumed after a crash.
#[derive(Debug, sqlx::FromRow)]
struct Counts {
    granted: i64,
    recalled: i64,
    releasing: i64,
    reasons: i64,
    unmet: i64,
    users: i64,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// What a full run's plans depend on besides each user's own facts: the role tree, the
/// bindings and where products are sold as named seats. Equal signatures (and the same
/// option) let a run for all users visit only the users marked since.
async fn signature(tx: &mut Tx) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for r in sqlx::query("SELECT id, parent_id FROM roles ORDER BY id")
        .fetch_all(&mut **tx)
        .await?
    {
        (get_i64(&r, "id")?, get_opt_i64(&r, "parent_id")?).hash(&mut h);
    }
    "bindings".hash(&mut h);
    for r in sqlx::query(
        "SELECT role_id, product_code FROM role_products ORDER BY role_id, product_code",
    )
    .fetch_all(&mut **tx)
    .await?
    {
        (get_i64(&r, "role_id")?, get_str(&r, "product_code")?).hash(&mut h);
    }
    "pools".hash(&mut h);
    for r in sqlx::query(
        "SELECT DISTINCT product_code, area FROM seat_pools WHERE kind = 'named' \
         ORDER BY product_code, area",
    )
    .fetch_all(&mut **tx)
    .await?
    {
        (get_str(&r, "product_code")?, get_str(&r, "area")?).hash(&mut h);
    }
    Ok(format!("{:016x}", h.finish()))
}

impl Ledger {
    /// D5: changes the distribution settings. Turning role-based distribution back on
    /// fulfils the pending needs that can be met.
    pub async fn set_distribution_settings(
        &self,
        actor: &Actor,
        new: DistributionSettings,
    ) -> Result<DistributionSettings> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let Some(old) = save_distribution_settings(&mut tx, now, actor, new).await? else {
            // Nothing changes, so nothing is written or audited.
            return Ok(new);
        };
        if new.role_based_distribution && !old.role_based_distribution {
            fulfil_pending(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// D3/D4: applies the redistribution for `scope` and posts the result as a system
    /// message. Refused while role-based distribution is off or another run is going.
    pub async fn redistribute(
        &self,
        actor: &Actor,
        scope: &Scope,
        manual: ManualGrants,
    ) -> Result<RedistributionReport> {
        self.redistribute_chunked(actor, scope, manual, DEFAULT_CHUNK_USERS)
            .await
    }

    /// [`Ledger::redistribute`] with a chosen chunk size (benchmarks and the crash test).
    pub async fn redistribute_chunked(
        &self,
        actor: &Actor,
        scope: &Scope,
        manual: ManualGrants,
        chunk_users: usize,
    ) -> Result<RedistributionReport> {
        let now = self.now();
        let owner = process_tag();
        let mut tx = self.begin_write().await?;
        if !distribution_settings_in(&mut tx)
            .await?
            .role_based_distribution
        {
            return Err(DomainError::DistributionOff.into());
        }
        if let Some(r) = sqlx::query("SELECT id FROM redistributions WHERE status = 'running'")
            .fetch_optional(&mut *tx)
            .await?
        {
            return Err(DomainError::RedistributionRunning(get_i64(&r, "id")?).into());
        }
        let (tree, _) = load_tree(&mut tx).await?;
        // Validates the scope before anything is written.
        resolve_scope(&mut tx, &tree, scope).await?;
        let sig = if *scope == Scope::All {
            signature(&mut tx).await?
        } else {
            String::new()
        };
        let incremental = *scope == Scope::All
            && baseline(&mut tx).await?.as_deref() == Some(&*format!("{}:{sig}", manual.as_str()));
        let row = sqlx::query(
            "INSERT INTO redistributions (started_at, actor, origin, scope, manual, status, \
             phase, mode, signature, after_user, lease_owner, lease_until) \
             VALUES ($1, $2, $3, $4, $5, 'running', 'recall', $8, $9, 0, $6, $7) RETURNING id",
        )
        .bind(ts(now))
        .bind(actor.name.clone())
        .bind(actor.origin.clone())
        .bind(serde_json::to_string(scope).map_err(corrupt)?)
        .bind(manual.as_str().to_string())
        .bind(owner.clone())
        .bind(ts(now) + LEASE_SECS)
        .bind(if incremental { "incremental" } else { "full" })
        .bind(sig)
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        tx.commit().await?;
        self.continue_run(id, &owner, chunk_users).await
    }

    /// Drives run `id` from its journal to the end, a step of the walk per transaction.
    async fn continue_run(
        &self,
        id: i64,
        owner: &str,
        chunk_users: usize,
    ) -> Result<RedistributionReport> {
        let mut report = RedistributionReport {
            id: Some(id),
            ..Default::default()
        };
        let mut tree_cache: Option<(RoleTree, HashMap<i64, String>, Resolved)> = None;
        loop {
            let now = self.now();
            let mut tx = self.begin_write().await?;
            let run: Journal = sqlx::query_as(
                "SELECT actor, origin, scope, manual, status, phase, mode, after_user, \
                 lease_owner, signature FROM redistributions WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if run.lease_owner != owner || run.status != "running" {
                return Err(DomainError::Conflict(format!(
                    "redistribution #{id} was taken over by another process"
                ))
                .into());
            }
            let actor = Actor::new(run.actor, run.origin);
            let scope: Scope = serde_json::from_str(&run.scope).map_err(corrupt)?;
            let manual: ManualGrants = parse(&run.manual)?;
            let at = Cursor {
                phase: match run.phase.as_str() {
                    "recall" => Phase::Recall,
                    _ => Phase::Grant,
                },
                after: run.after_user,
            };
            let incremental = run.mode == "incremental";
            if tree_cache.is_none() {
                let (tree, names) = load_tree(&mut tx).await?;
                let resolved = resolve_scope(&mut tx, &tree, &scope).await?;
                tree_cache = Some((tree, names, resolved));
            }
            let Some((tree, names, resolved)) = tree_cache.as_ref() else {
                return Err(corrupt("role tree not loaded"));
            };
            report.scope = scope.describe(names);
            report.manual = Some(manual);
            let walk = Walk {
                tree,
                manual,
                users: if incremental {
                    Users::Marked
                } else {
                    Users::Scope(resolved)
                },
                chunk_users,
                detail: DEFAULT_DETAIL,
            };
            let mut database = Database {
                now,
                actor: &actor,
                run: Some(id),
            };
            let step = walk.step(&mut tx, at, &mut database).await?;
            let Step::Chunk {
                part,
                first,
                last,
                users,
            } = step
            else {
                if at.next(&step).is_some() {
                    sqlx::query(
                        "UPDATE redistributions SET phase = 'grant', after_user = 0, \
                         lease_until = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(ts(now) + LEASE_SECS)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    continue;
                }
                self.finish_run(&mut tx, now, id, &actor, scope == Scope::All, &mut report)
                    .await?;
                if scope == Scope::All && !run.signature.is_empty() {
                    set_baseline(&mut tx, &format!("{}:{}", manual.as_str(), run.signature))
                        .await?;
                }
                tx.commit().await?;
                return Ok(report);
            };
            if at.phase == Phase::Grant && may_clear_marks(&mut tx, manual).await? {
                if scope == Scope::All && !incremental {
                    // Every user in the range was planned: one range delete.
                    sqlx::query(
                        "DELETE FROM distribution_dirty WHERE user_id >= $1 AND user_id <= $2",
                    )
                    .bind(first)
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    clear_marks(&mut tx, &users).await?;
                }
            }
            sqlx::query(
                "UPDATE redistributions SET after_user = $2, lease_until = $3, \
                 granted = granted + $4, recalled = recalled + $5, releasing = releasing + $6, \
                 reasons = reasons + $7, unmet = unmet + $8, users = users + $9 WHERE id = $1",
            )
            .bind(id)
            .bind(last)
            .bind(ts(now) + LEASE_SECS)
            .bind(part.granted as i64)
            .bind(part.recalled as i64)
            .bind(part.releasing as i64)
            .bind(part.reasons_changed as i64)
            .bind(part.unmet as i64)
            .bind(part.users as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            report.absorb(*part, DEFAULT_DETAIL);
            self.yield_to_writers().await;
        }
    }

    async fn finish_run(
        &self,
        tx: &mut Tx,
        now: OffsetDateTime,
        id: i64,
        actor: &Actor,
        all: bool,
        report: &mut RedistributionReport,
    ) -> Result<()> {
        let run: Counts = sqlx::query_as(
            "SELECT granted, recalled, releasing, reasons, unmet, users FROM redistributions \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        // The journal's counts are complete even when the run was resumed after a crash.
        report.granted = count(run.granted);
        report.recalled = count(run.recalled);
        report.releasing = count(run.releasing);
        report.reasons_changed = count(run.reasons);
        report.unmet = count(run.unmet);
        report.users = count(run.users);
        if all {
            // For all users, the unmet needs are every pending need: an incremental run
            // visited only some users, but the others' needs stand as they were.
            let n = sqlx::query("SELECT COUNT(*) AS n FROM pending_needs")
                .fetch_one(&mut **tx)
                .await?;
            report.unmet = count(get_i64(&n, "n")?);
            report.unmet_needs.clear();
            for r in sqlx::query(
                "SELECT u.login, n.product_code, n.reason FROM pending_needs n \
                 JOIN users u ON u.id = n.user_id ORDER BY n.user_id, n.product_code LIMIT $1",
            )
            .bind(DEFAULT_DETAIL as i64)
            .fetch_all(&mut **tx)
            .await?
            {
                report.unmet_needs.push(PlanItem {
                    login: get_str(&r, "login")?,
                    product: get_str(&r, "product_code")?,
                    folder: None,
                    detail: Some(get_str(&r, "reason")?),
                });
            }
            sqlx::query("UPDATE redistributions SET unmet = $2 WHERE id = $1")
                .bind(id)
                .bind(report.unmet as i64)
                .execute(&mut **tx)
                .await?;
        }
        let title = format!(
            "Redistribution #{id} for {}: {} granted, {} recalled, {} needs unmet",
            report.scope, report.granted, report.recalled, report.unmet
        );
        let body = json!({
            "redistribution": id,
            "scope": report.scope,
            "manual": report.manual,
            "users": report.users,
            "granted": report.granted,
            "recalled": report.recalled,
            "releasing": report.releasing,
            "reasons_changed": report.reasons_changed,
            "unmet": report.unmet,
            "unmet_needs": report.unmet_needs.iter().take(50).collect::<Vec<_>>(),
        });
        let msg = post_message(tx, now, "redistribution", &title, &body).await?;
        report.message_id = Some(msg);
        crate::outbox::emit(
            tx,
            now,
            &Event::new(EventType::RedistributionCompleted, &body),
        )
        .await?;
        if report.unmet > 0 {
            let unmet = json!({
                "redistribution": id,
                "scope": report.scope,
                "unmet": report.unmet,
                "unmet_needs": report.unmet_needs.iter().take(50).collect::<Vec<_>>(),
            });
            crate::outbox::emit(tx, now, &Event::new(EventType::NeedsUnmet, &unmet)).await?;
        }
        sqlx::query(
            "UPDATE redistributions SET status = 'done', phase = 'done', finished_at = $2, \
             message_id = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(ts(now))
        .bind(msg)
        .execute(&mut **tx)
        .await?;
        audit(
            tx,
            now,
            actor,
            vec![Audit::new(
                "license.redistribute",
                report.scope.clone(),
                body,
            )],
        )
        .await?;
        // Seats this run freed that nobody in its scope could use serve pending needs of
        // users outside it.
        fulfil_pending(tx, now).await?;
        Ok(())
    }
    /// [`Ledger::resume_redistributions`] when a run's lease has run out or its owner is
    /// gone; a read and nothing more otherwise (no write lock, no new generation), so a live
    /// node can ask every few seconds.
    pub async fn resume_stale_redistributions(&self) -> Result<Vec<RedistributionReport>> {
        let now = ts(self.now());
        let stale = sqlx::query(
            "SELECT lease_owner, lease_until FROM redistributions WHERE status = 'running'",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(get_i64(r, "lease_until")? < now || owner_gone(&get_str(r, "lease_owner")?)))
        .collect::<Result<Vec<bool>>>()?;
        if !stale.contains(&true) {
            return Ok(Vec::new());
        }
        self.resume_redistributions().await
    }

    /// Finishes runs that a crashed process left behind (roll forward). Called when a ledger
    /// is opened, and by live servers every few seconds (`resume_stale_redistributions`); a run whose owner is alive (another node) is left to it until its lease
    /// runs out.
    pub async fn resume_redistributions(&self) -> Result<Vec<RedistributionReport>> {
        let mut out = Vec::new();
        loop {
            let now = self.now();
            let owner = process_tag();
            let mut tx = self.begin_write().await?;
            let Some(r) = sqlx::query(
                "SELECT id, lease_owner, lease_until FROM redistributions WHERE status = 'running'",
            )
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(out);
            };
            let id = get_i64(&r, "id")?;
            let stale =
                get_i64(&r, "lease_until")? < ts(now) || owner_gone(&get_str(&r, "lease_owner")?);
            if !stale {
                return Ok(out);
            }
            sqlx::query(
                "UPDATE redistributions SET lease_owner = $2, lease_until = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(owner.clone())
            .bind(ts(now) + LEASE_SECS)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(run = id, "resuming an unfinished redistribution");
            out.push(self.continue_run(id, &owner, DEFAULT_CHUNK_USERS).await?);
        }
    }

    pub async fn redistributions(&self, limit: i64) -> Result<Vec<RunView>> {
        let rows: Vec<RunRow> = sqlx::query_as(
            "SELECT id, started_at, finished_at, actor, scope, manual, status, phase, mode, users, \
             granted, recalled, releasing, unmet, message_id FROM redistributions \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RunView {
                    id: r.id,
                    started_at: dt(r.started_at)?,
                    finished_at: r.finished_at.map(dt).transpose()?,
                    actor: r.actor,
                    scope: serde_json::from_str(&r.scope).map_err(corrupt)?,
                    manual: parse(&r.manual)?,
                    status: r.status,
                    phase: r.phase,
                    mode: r.mode,
                    users: count(r.users),
                    granted: count(r.granted),
                    recalled: count(r.recalled),
                    releasing: count(r.releasing),
                    unmet: count(r.unmet),
                    message_id: r.message_id,
                })
            })
            .collect()
    }
}
