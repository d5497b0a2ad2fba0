//! Pending needs (D4): what a role asks for that no seat could meet, kept per user and
//! product, and their fulfilment when seats come free. Which needs get which seats is the
//! core's ([`seatkeeper_core::fulfilment`]); this module loads the candidates and applies.

use std::collections::BTreeSet;

use seatkeeper_core::distribution::{Available, Need, NeedReason};
use seatkeeper_core::fulfilment::{fulfil, quotas};
use seatkeeper_core::{Area, UserId};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::apply::apply_chunk;
use super::chunk::{DEFAULT_CHUNK_USERS, Phase, Resolved, load_chunk, run_in_progress};
use crate::db::{Audit, Tx, audit, dt, get_i64, get_str, parse};
use crate::loaders::{load_available, load_tree};
use crate::settings::distribution_settings_in;
use crate::{Actor, Ledger, Result};

#[derive(Debug, Clone, Serialize)]
pub struct NeedView {
    pub login: String,
    pub product: String,
    pub area: Area,
    pub reason: NeedReason,
    pub message: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// Users with pending needs that a free seat could meet, in the order a full run would serve
/// them ([`quotas`]), after user id `after`, at most `lim` per quota.
pub(super) async fn pending_candidates(
    tx: &mut Tx,
    after: i64,
    lim: i64,
    available: &Available,
) -> Result<BTreeSet<i64>> {
    let mut ids = BTreeSet::new();
    for q in quotas(available) {
        let q_rows = match q.folder {
            None => sqlx::query(
                "SELECT user_id FROM pending_needs WHERE product_code = $1 AND area = $2 \
                 AND user_id > $3 ORDER BY user_id LIMIT $4",
            )
            .bind(q.product)
            .bind(q.area.as_str().to_string())
            .bind(after)
            .bind(q.seats.min(lim)),
            Some(folder) => sqlx::query(
                "SELECT n.user_id FROM pending_needs n JOIN users u ON u.id = n.user_id \
                 WHERE n.product_code = $1 AND n.area = $2 AND u.folder_id = $3 \
                 AND n.user_id > $4 ORDER BY n.user_id LIMIT $5",
            )
            .bind(q.product)
            .bind(q.area.as_str().to_string())
            .bind(folder.0)
            .bind(after)
            .bind(q.seats.min(lim)),
        };
        for r in q_rows.fetch_all(&mut **tx).await? {
            ids.insert(get_i64(&r, "user_id")?);
        }
    }
    Ok(ids)
}

/// The stored pending needs of `users`.
async fn needs_of(tx: &mut Tx, users: &[i64]) -> Result<Vec<Need>> {
    // Ids are integers from the database: safe to inline.
    let list: Vec<String> = users.iter().map(i64::to_string).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT user_id, product_code, area, reason FROM pending_needs WHERE user_id IN ({})",
        list.join(",")
    )))
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok(Need {
            user: UserId(get_i64(r, "user_id")?),
            product: get_str(r, "product_code")?,
            area: parse(&get_str(r, "area")?)?,
            reason: parse(&get_str(r, "reason")?)?,
        })
    })
    .collect()
}

/// Fulfils pending needs from free seats, oldest account first, and drops needs their users
/// no longer want. Called whenever seats may have come free.
///
/// Not while a redistribution is running: users it has not reached yet may be older than the
/// pending ones, so freed seats wait for its end, whose last step calls this.
pub(crate) async fn fulfil_pending(tx: &mut Tx, now: OffsetDateTime) -> Result<u64> {
    if sqlx::query("SELECT user_id FROM pending_needs LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .is_none()
        || !distribution_settings_in(tx).await?.role_based_distribution
        || run_in_progress(tx).await?.is_some()
    {
        return Ok(0);
    }
    let mut available = load_available(tx).await?;
    // Only the users the free seats can serve: a recall freeing one seat must not plan every
    // pending user.
    let users: Vec<i64> = pending_candidates(tx, 0, i64::MAX, &available)
        .await?
        .into_iter()
        .collect();
    if users.is_empty() {
        return Ok(0);
    }
    let (tree, _) = load_tree(tx).await?;
    let actor = Actor::system();
    let mut granted = 0;
    for part in users.chunks(DEFAULT_CHUNK_USERS) {
        let chunk = load_chunk(tx, &Resolved::Users(part.to_vec()), 0, part.len(), false).await?;
        let pending = needs_of(tx, part).await?;
        let p = fulfil(
            &tree,
            &chunk.users,
            &chunk.holdings,
            &mut available,
            &pending,
        );
        granted += p.grants.len() as u64;
        let entries = p
            .grants
            .iter()
            .map(|g| {
                Audit::new(
                    "license.need_fulfilled",
                    chunk.logins.get(&g.user.0).cloned().unwrap_or_default(),
                    json!({"product": g.pool.product, "folder": g.pool.folder.0}),
                )
            })
            .collect();
        apply_chunk(tx, now, &actor, None, &chunk, &p, Phase::Grant).await?;
        audit(tx, now, &actor, entries).await?;
    }
    Ok(granted)
}

impl Ledger {
    /// Pending needs, optionally of one user, oldest account first.
    pub async fn pending_needs(
        &self,
        login: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<NeedView>> {
        let rows = sqlx::query(
            "SELECT u.login, n.product_code, n.area, n.reason, n.since FROM pending_needs n \
             JOIN users u ON u.id = n.user_id WHERE ($1 = '' OR lower(u.login) = $1) \
             ORDER BY n.user_id, n.product_code LIMIT $2 OFFSET $3",
        )
        .bind(login.unwrap_or("").to_ascii_lowercase())
        .bind(limit.clamp(1, 10_000))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let reason: NeedReason = parse(&get_str(r, "reason")?)?;
                Ok(NeedView {
                    login: get_str(r, "login")?,
                    product: get_str(r, "product_code")?,
                    area: parse(&get_str(r, "area")?)?,
                    reason,
                    message: reason.message(),
                    since: dt(get_i64(r, "since")?)?,
                })
            })
            .collect()
    }
}
