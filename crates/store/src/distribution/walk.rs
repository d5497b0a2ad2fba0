//! The redistribution walk: the scope's users in id order, a chunk at a time, all recalls
//! first (phase `recall`), then grants (phase `grant`), which makes the chunked result the
//! one the planner computes for the whole scope at once.
//!
//! Previews and runs take the same steps ([`Walk::step`]) and differ only in where a plan
//! goes ([`Applier`]) and in how many transactions they take: a preview reads everything in
//! one read transaction and keeps its plans in memory; a run writes each chunk in a short
//! write transaction of its own and journals where it is (see `runs`).

use std::collections::BTreeSet;

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::distribution::{Available, ManualGrants, ROOT_ROLE, RoleTree, plan};
use serde_json::json;
use time::OffsetDateTime;

use super::apply::{Applier, Memory, apply_chunk, clear_marks, may_clear_marks};
use super::chunk::{Chunk, DEFAULT_CHUNK_USERS, Phase, Resolved, load_chunk, run_in_progress};
use super::needs::{fulfil_pending, pending_candidates};
use super::report::{RedistributionReport, Scope};
use crate::db::{Audit, Tx, audit, get_i64};
use crate::loaders::{load_available, load_tree};
use crate::settings::distribution_settings_in;
use crate::{Actor, Ledger, Result};

/// `scope` with ids resolved against the database (an unknown role or user refuses it).
pub(super) async fn resolve_scope(tx: &mut Tx, tree: &RoleTree, scope: &Scope) -> Result<Resolved> {
    Ok(match scope {
        Scope::All => Resolved::All,
        Scope::Role { role } => {
            if !tree.contains(*role) {
                return Err(DomainError::UnknownRole(role.to_string()).into());
            }
            let roles = tree.descendants(*role);
            Resolved::Roles {
                employees: roles.contains(&ROOT_ROLE),
                roles,
            }
        }
        Scope::User { login } => {
            let u = crate::loaders::user_by_login(tx, login).await?;
            Resolved::Users(vec![u.id])
        }
    })
}

/// Where a walk is: the phase, and the last user id done in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub phase: Phase,
    pub after: i64,
}

impl Cursor {
    pub const START: Cursor = Cursor {
        phase: Phase::Recall,
        after: 0,
    };

    /// Where the walk goes after `step`; `None` when it is over.
    pub fn next(self, step: &Step) -> Option<Cursor> {
        match (step, self.phase) {
            (Step::Chunk { last, .. }, phase) => Some(Cursor {
                phase,
                after: *last,
            }),
            (Step::End, Phase::Recall) => Some(Cursor {
                phase: Phase::Grant,
                after: 0,
            }),
            (Step::End, _) => None,
        }
    }
}

/// What one step did.
#[derive(Debug)]
pub(super) enum Step {
    /// Planned and applied the chunk of users `first..=last` (`users` of them).
    Chunk {
        /// Boxed: a report is large, and most steps are moved once.
        part: Box<RedistributionReport>,
        first: i64,
        last: i64,
        users: Vec<i64>,
    },
    /// No user was left in this phase.
    End,
}

/// Which users a walk visits.
#[derive(Debug, Clone, Copy)]
pub(super) enum Users<'a> {
    /// Every user of the scope.
    Scope(&'a Resolved),
    /// An incremental run: the users marked as changed since the last full run, and, in the
    /// grant phase, those with pending needs that a free seat could now meet.
    Marked,
}

pub(super) struct Walk<'a> {
    pub tree: &'a RoleTree,
    pub manual: ManualGrants,
    pub users: Users<'a>,
    pub chunk_users: usize,
    /// Items of each list that a step's report keeps.
    pub detail: usize,
}

impl Walk<'_> {
    /// Loads the next chunk after `at`, plans it and gives the plan's `at.phase` part to
    /// `applier`.
    pub async fn step(&self, tx: &mut Tx, at: Cursor, applier: &mut impl Applier) -> Result<Step> {
        let mut available = load_available(tx).await?;
        let mut chunk = match self.users {
            Users::Marked => {
                let ids = marked_ids(tx, at.after, self.chunk_users, at.phase, &available).await?;
                if ids.is_empty() {
                    Chunk::default()
                } else {
                    load_chunk(tx, &Resolved::Users(ids), 0, self.chunk_users, false).await?
                }
            }
            Users::Scope(scope) => {
                load_chunk(
                    tx,
                    scope,
                    at.after,
                    self.chunk_users,
                    at.phase == Phase::Recall,
                )
                .await?
            }
        };
        if chunk.users.is_empty() {
            return Ok(Step::End);
        }
        applier.overlay(&mut chunk, &mut available);
        let p = plan(
            self.tree,
            &chunk.users,
            &chunk.holdings,
            &available,
            self.manual,
        );
        let mut part = RedistributionReport::default();
        part.tally(&chunk, &p, at.phase, self.detail);
        applier.apply(tx, &chunk, &p, at.phase).await?;
        Ok(Step::Chunk {
            part: Box::new(part),
            first: chunk.first(),
            last: chunk.last,
            users: chunk.users.iter().map(|u| u.id.0).collect(),
        })
    }
}

/// The next users of an incremental run after `after`: those marked since the baseline and,
/// in the grant phase, those with pending needs that a free seat could now meet.
async fn marked_ids(
    tx: &mut Tx,
    after: i64,
    limit: usize,
    phase: Phase,
    available: &Available,
) -> Result<Vec<i64>> {
    let lim = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let sql = if phase == Phase::Recall {
        "SELECT d.user_id FROM distribution_dirty d WHERE d.user_id > $1 \
         AND EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = d.user_id) \
         ORDER BY d.user_id LIMIT $2"
    } else {
        "SELECT user_id FROM distribution_dirty WHERE user_id > $1 ORDER BY user_id LIMIT $2"
    };
    for r in sqlx::query(sql)
        .bind(after)
        .bind(lim)
        .fetch_all(&mut **tx)
        .await?
    {
        ids.insert(get_i64(&r, "user_id")?);
    }
    if phase != Phase::Recall {
        ids.extend(pending_candidates(tx, after, lim, available).await?);
    }
    Ok(ids.into_iter().take(limit).collect())
}

impl Ledger {
    /// D4: the plan for `scope`, computed as the run would, changing nothing. One read
    /// transaction: it takes no write lock, so logins and grants go on while it reads.
    pub async fn preview_redistribution(
        &self,
        scope: &Scope,
        manual: ManualGrants,
        detail: usize,
    ) -> Result<RedistributionReport> {
        let mut tx = self.begin_read().await?;
        let (tree, names) = load_tree(&mut tx).await?;
        let resolved = resolve_scope(&mut tx, &tree, scope).await?;
        let mut report = RedistributionReport {
            preview: true,
            scope: scope.describe(&names),
            manual: Some(manual),
            ..Default::default()
        };
        let walk = Walk {
            tree: &tree,
            manual,
            users: Users::Scope(&resolved),
            chunk_users: DEFAULT_CHUNK_USERS,
            detail,
        };
        let mut memory = Memory::default();
        let mut at = Some(Cursor::START);
        while let Some(cursor) = at {
            let step = walk.step(&mut tx, cursor, &mut memory).await?;
            at = cursor.next(&step);
            if let Step::Chunk { part, .. } = step {
                report.absorb(*part, detail);
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// Redistributes for `users` inside the caller's transaction (triggers and the provisioning
/// entry point: small scopes, applied with the change that caused them, recalls and grants
/// of a chunk at once).
pub(crate) async fn redistribute_users_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    users: Vec<i64>,
    manual: ManualGrants,
) -> Result<RedistributionReport> {
    let mut report = RedistributionReport {
        manual: Some(manual),
        scope: format!("{} user(s) touched by a change", users.len()),
        ..Default::default()
    };
    if users.is_empty() || !distribution_settings_in(tx).await?.role_based_distribution {
        return Ok(report);
    }
    let (tree, _) = load_tree(tx).await?;
    let mut users = users;
    users.sort_unstable();
    users.dedup();
    // While a run is going, these users take no free seat: what they want becomes a pending
    // need, served oldest account first when the run ends (with the run's own unmet needs),
    // so a per-user run never jumps the order of the run in progress.
    let waiting_for = run_in_progress(tx).await?;
    if let Some(run) = waiting_for {
        report.scope = format!("{} (seats wait for redistribution #{run})", report.scope);
    }
    for part in users.chunks(DEFAULT_CHUNK_USERS) {
        let chunk = load_chunk(tx, &Resolved::Users(part.to_vec()), 0, part.len(), false).await?;
        let mut available = load_available(tx).await?;
        if waiting_for.is_some() {
            available.values_mut().for_each(|free| *free = 0);
        }
        let p = plan(&tree, &chunk.users, &chunk.holdings, &available, manual);
        report.tally(&chunk, &p, Phase::Whole, super::report::DEFAULT_DETAIL);
        apply_chunk(tx, now, actor, None, &chunk, &p, Phase::Whole).await?;
        if may_clear_marks(tx, manual).await? {
            clear_marks(tx, part).await?;
        }
        let mut entries = Vec::new();
        for g in &p.grants {
            entries.push(Audit::new(
                "license.grant",
                chunk.logins.get(&g.user.0).cloned().unwrap_or_default(),
                json!({"product": g.pool.product, "by_role": true}),
            ));
        }
        audit(tx, now, actor, entries).await?;
    }
    // Seats the recalls freed serve pending needs, inside or outside these users.
    fulfil_pending(tx, now).await?;
    Ok(report)
}
