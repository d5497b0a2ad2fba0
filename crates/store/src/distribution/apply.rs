//! Where a chunk's plan goes. A run writes it to the database ([`Database`]); a preview keeps
//! it in memory ([`Memory`]) and shows the next chunks what the earlier ones would have done,
//! so that it reads the ledger without a write lock and never makes a login wait.

use std::collections::{BTreeMap, HashMap, HashSet};

use seatkeeper_core::distribution::{Available, Need, Plan};
use seatkeeper_core::{PoolKey, UserId};
use serde_json::json;
use time::OffsetDateTime;

use super::chunk::{Chunk, Phase};
use crate::Actor;
use crate::Result;
use crate::db::{
    Audit, Tx, audit, execute_in, fetch_in, get_i64, get_str, insert_rows, meta_get, ts,
};
use crate::sql_value::Val;

/// Where a walk's plans go: each step of the walk hands its chunk's plan to one.
pub(super) trait Applier {
    /// Makes `chunk` and `available`, as read from the database, show what this applier's
    /// earlier chunks did where the database does not.
    fn overlay(&self, _chunk: &mut Chunk, _available: &mut Available) {}

    /// Applies the `phase` part of a chunk's plan.
    async fn apply(&mut self, tx: &mut Tx, chunk: &Chunk, p: &Plan, phase: Phase) -> Result<()>;
}

/// The database, inside the walk's transaction: what runs use.
pub(super) struct Database<'a> {
    pub now: OffsetDateTime,
    pub actor: &'a Actor,
    /// The run's id, written into the audit and `granted_by`.
    pub run: Option<i64>,
}

impl Applier for Database<'_> {
    async fn apply(&mut self, tx: &mut Tx, chunk: &Chunk, p: &Plan, phase: Phase) -> Result<()> {
        apply_chunk(tx, self.now, self.actor, self.run, chunk, p, phase).await
    }
}

/// Memory: what previews use. Holds the effect of the recall phase (seats it frees,
/// assignments it drops or marks releasing, reasons it drops) and of the grants so far.
#[derive(Debug, Default)]
pub(super) struct Memory {
    freed: BTreeMap<PoolKey, i64>,
    gone: HashSet<(i64, String)>,
    releasing: HashSet<(i64, String)>,
    dropped: HashSet<(i64, String)>,
}

impl Applier for Memory {
    fn overlay(&self, chunk: &mut Chunk, available: &mut Available) {
        for (k, n) in &self.freed {
            *available.entry(k.clone()).or_insert(0) += n;
        }
        chunk
            .holdings
            .retain(|h| !self.gone.contains(&(h.user.0, h.pool.product.clone())));
        for h in &mut chunk.holdings {
            let key = (h.user.0, h.pool.product.clone());
            if self.dropped.contains(&key) {
                h.by_role = false;
            }
            if self.releasing.contains(&key) {
                h.releasing = true;
            }
        }
    }

    async fn apply(&mut self, _tx: &mut Tx, _chunk: &Chunk, p: &Plan, phase: Phase) -> Result<()> {
        if phase != Phase::Grant {
            for r in &p.recalls {
                let key = (r.user.0, r.pool.product.clone());
                if r.releasing {
                    self.releasing.insert(key);
                } else {
                    *self.freed.entry(r.pool.clone()).or_insert(0) += 1;
                    self.gone.insert(key);
                }
            }
            self.dropped
                .extend(p.drop_role_reason.iter().map(|(u, pr)| (u.0, pr.clone())));
        }
        if phase != Phase::Recall {
            for g in &p.grants {
                *self.freed.entry(g.pool.clone()).or_insert(0) -= 1;
            }
        }
        Ok(())
    }
}

/// Writes the `phase` part of a chunk's plan.
pub(super) async fn apply_chunk(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    run: Option<i64>,
    chunk: &Chunk,
    p: &Plan,
    phase: Phase,
) -> Result<()> {
    let id_of = |u: &UserId, product: &str| chunk.ids.get(&(u.0, product.to_string())).copied();
    let login = |u: &UserId| chunk.logins.get(&u.0).cloned().unwrap_or_default();
    if phase != Phase::Grant || !p.recalls.is_empty() {
        let mut doomed = Vec::new();
        let mut releasing = Vec::new();
        let mut entries = Vec::new();
        for r in &p.recalls {
            if let Some(id) = id_of(&r.user, &r.pool.product) {
                if r.releasing {
                    releasing.push(Val::Int(id));
                } else {
                    doomed.push(Val::Int(id));
                }
                entries.push(Audit::new(
                    "license.recall",
                    login(&r.user),
                    json!({"product": r.pool.product, "releasing": r.releasing,
                           "manual": r.manual, "redistribution": run}),
                ));
            }
        }
        execute_in(tx, "DELETE FROM assignments WHERE id IN ({ids})", &doomed).await?;
        execute_in(
            tx,
            "UPDATE assignments SET release_pending = 1 WHERE id IN ({ids})",
            &releasing,
        )
        .await?;
        let dropped: Vec<Val> = p
            .drop_role_reason
            .iter()
            .filter_map(|(u, prod)| id_of(u, prod).map(Val::Int))
            .collect();
        execute_in(
            tx,
            "UPDATE assignments SET by_role = 0 WHERE id IN ({ids})",
            &dropped,
        )
        .await?;
        audit(tx, now, actor, entries).await?;
    }
    if phase == Phase::Recall {
        return Ok(());
    }
    let added: Vec<Val> = p
        .add_role_reason
        .iter()
        .filter_map(|(u, prod)| id_of(u, prod).map(Val::Int))
        .collect();
    execute_in(
        tx,
        "UPDATE assignments SET by_role = 1, release_pending = 0 WHERE id IN ({ids})",
        &added,
    )
    .await?;
    let by = match run {
        Some(id) => format!("{} (redistribution #{id})", actor.name),
        None => actor.name.clone(),
    };
    let rows = p
        .grants
        .iter()
        .map(|g| {
            vec![
                Val::Int(g.user.0),
                Val::Text(g.pool.product.clone()),
                Val::Text(g.pool.area.as_str().to_string()),
                Val::Text(g.pool.kind.as_str().to_string()),
                Val::Int(g.pool.folder.0),
                Val::Text("active".into()),
                Val::Int(0),
                Val::Int(1),
                Val::Int(ts(now)),
                Val::Text(by.clone()),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, manual, \
         by_role, granted_at, granted_by)",
        10,
        rows,
    )
    .await?;
    replace_needs(tx, now, chunk.users.iter().map(|u| u.id.0), &p.unmet).await?;
    Ok(())
}

/// The pending needs of `users` become exactly `unmet` (the `since` of a need that stays is
/// kept).
async fn replace_needs(
    tx: &mut Tx,
    now: OffsetDateTime,
    users: impl Iterator<Item = i64>,
    unmet: &[Need],
) -> Result<()> {
    let users: Vec<Val> = users.map(Val::Int).collect();
    let mut since: HashMap<(i64, String), i64> = HashMap::new();
    for r in fetch_in(
        tx,
        "DELETE FROM pending_needs WHERE user_id IN ({ids}) RETURNING user_id, product_code, since",
        &users,
        1,
        &[],
    )
    .await?
    {
        since.insert(
            (get_i64(&r, "user_id")?, get_str(&r, "product_code")?),
            get_i64(&r, "since")?,
        );
    }
    let rows = unmet
        .iter()
        .map(|n| {
            vec![
                Val::Int(n.user.0),
                Val::Text(n.product.clone()),
                Val::Text(n.area.as_str().to_string()),
                Val::Text(n.reason.as_str().to_string()),
                Val::Int(
                    since
                        .get(&(n.user.0, n.product.clone()))
                        .copied()
                        .unwrap_or(ts(now)),
                ),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO pending_needs (user_id, product_code, area, reason, since)",
        5,
        rows,
    )
    .await
}

const BASELINE: &str = "distribution.baseline";

/// The baseline of incremental runs: `<manual option>:<signature>` of the last full run for
/// all users (see `runs::signature`).
pub(super) async fn baseline(tx: &mut Tx) -> Result<Option<String>> {
    meta_get(tx, BASELINE).await
}

pub(super) async fn set_baseline(tx: &mut Tx, value: &str) -> Result<()> {
    crate::db::meta_set(tx, BASELINE, value).await
}

/// Whether a run with `manual` may clear the marks of the users it plans: a run that keeps
/// manual grants leaves users "unfinished" for a baseline that removes them.
pub(super) async fn may_clear_marks(
    tx: &mut Tx,
    manual: seatkeeper_core::distribution::ManualGrants,
) -> Result<bool> {
    Ok(
        manual == seatkeeper_core::distribution::ManualGrants::Remove
            || !baseline(tx)
                .await?
                .is_some_and(|b| b.starts_with("remove:")),
    )
}

/// Clears the "changed since the last full run" marks of `users`.
pub(super) async fn clear_marks(tx: &mut Tx, users: &[i64]) -> Result<()> {
    let ids: Vec<Val> = users.iter().map(|i| Val::Int(*i)).collect();
    execute_in(
        tx,
        "DELETE FROM distribution_dirty WHERE user_id IN ({ids})",
        &ids,
    )
    .await?;
    Ok(())
}
