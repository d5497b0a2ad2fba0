//! Keeps the stored pools equal to what the core says capacity is at `now` (L3, L4, U1):
//! suspends the newest surplus assignments of a shrunken pool, brings suspended ones back
//! when seats return, and refreshes the area user limits.

use std::collections::BTreeSet;

use seatkeeper_core::capacity;
use seatkeeper_core::seats::{Held, reconcile_pool};
use seatkeeper_core::{PoolKey, SeatKind};
use time::OffsetDateTime;

use crate::db::{Audit, Tx, audit, execute_in, get_i64, get_str, meta_get, meta_set, parse, ts};
use crate::distribution::fulfil_pending;
use crate::loaders::{load_license_terms, load_packages, load_placements, load_pools};
use crate::messages::post_message;
use crate::sql_value::Val;
use crate::{Actor, HeldSeat, Ledger, Result, SeatChanges, StoreError};

pub(crate) const VALID_UNTIL: &str = "capacity_valid_until";
/// Products whose every package has expired (a JSON list): the login answer of a license
/// manager reports them (L4).
pub(crate) const EXPIRED_PRODUCTS: &str = "expired_products";

fn pool_binds(k: &PoolKey) -> [Val; 4] {
    [
        Val::Text(k.product.clone()),
        Val::Text(k.area.as_str().to_string()),
        Val::Text(k.kind.as_str().to_string()),
        Val::Int(k.folder.0),
    ]
}

async fn held_in_pool(tx: &mut Tx, k: &PoolKey, status: &str) -> Result<Vec<Held>> {
    let mut q = sqlx::query(
        "SELECT id, granted_at FROM assignments WHERE product_code = $1 AND area = $2 \
         AND kind = $3 AND folder_id = $4 AND status = $5",
    );
    for v in pool_binds(k) {
        q = crate::db::bind(q, v);
    }
    let rows = q.bind(status.to_string()).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(Held {
                granted_at: get_i64(r, "granted_at")?,
                id: get_i64(r, "id")?,
            })
        })
        .collect()
}

async fn set_status(tx: &mut Tx, ids: &[i64], status: &'static str) -> Result<Vec<HeldSeat>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let vals: Vec<Val> = ids.iter().map(|i| Val::Int(*i)).collect();
    let rows = crate::db::fetch_in(
        tx,
        "SELECT u.login, a.product_code FROM assignments a JOIN users u ON u.id = a.user_id \
         WHERE a.id IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?;
    let sql = format!("UPDATE assignments SET status = '{status}' WHERE id IN ({{ids}})");
    execute_in(tx, &sql, &vals).await?;
    rows.iter()
        .map(|r| {
            Ok(HeldSeat {
                login: get_str(r, "login")?,
                product: get_str(r, "product_code")?,
            })
        })
        .collect()
}

async fn drop_newest_holds(tx: &mut Tx, k: &PoolKey, surplus: u64) -> Result<Vec<HeldSeat>> {
    let mut q = sqlx::query(
        "SELECT h.session_id, u.login FROM floating_holds h JOIN sessions s ON s.id = h.session_id \
         JOIN users u ON u.id = s.user_id WHERE h.product_code = $1 AND h.area = $2 \
         AND h.kind = $3 AND h.folder_id = $4 \
         ORDER BY h.acquired_at DESC, h.session_id DESC LIMIT $5",
    );
    for v in pool_binds(k) {
        q = crate::db::bind(q, v);
    }
    let rows = q
        .bind(i64::try_from(surplus).unwrap_or(i64::MAX))
        .fetch_all(&mut **tx)
        .await?;
    let mut sessions = Vec::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        sessions.push(Val::Text(get_str(r, "session_id")?));
        out.push(HeldSeat {
            login: get_str(r, "login")?,
            product: k.product.clone(),
        });
    }
    // One statement for all of them: the newest sessions' holds of this product.
    crate::db::fetch_in(
        tx,
        "DELETE FROM floating_holds WHERE product_code = $1 AND session_id IN ({ids}) \
         RETURNING session_id",
        &sessions,
        2,
        &[Val::Text(k.product.clone())],
    )
    .await?;
    Ok(out)
}

async fn set_capacity(tx: &mut Tx, k: &PoolKey, capacity: u64) -> Result<()> {
    let mut q = sqlx::query(
        "INSERT INTO seat_pools (product_code, area, kind, folder_id, capacity, used) \
         VALUES ($1, $2, $3, $4, $5, 0) \
         ON CONFLICT (product_code, area, kind, folder_id) DO UPDATE SET capacity = excluded.capacity",
    );
    for v in pool_binds(k) {
        q = crate::db::bind(q, v);
    }
    q.bind(i64::try_from(capacity).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Brings the stored pools and limits in line with `now`, and lets users waiting for room
/// (`license_limit`) take what the change freed (U2, `waiting`). Unless `force`d, does
/// nothing until the next instant at which a package or limit starts or ends, so the check
/// costs one lookup on the hot path. Every path that frees room in an area (a block, a
/// delete, a move to another area, a limit raised or lifted) calls it forced after its
/// change, in the same transaction.
pub(crate) async fn reconcile(
    tx: &mut Tx,
    now: OffsetDateTime,
    force: bool,
) -> Result<SeatChanges> {
    reconcile_with(tx, now, force, true).await
}

/// [`reconcile`], forced, leaving room free for the caller: the directory sync's blocks,
/// whose room its own plan hands out (in the planner's order, which also counts re-enabled
/// users) and which activates what is still waiting when it ends.
pub(crate) async fn reconcile_holding_room(
    tx: &mut Tx,
    now: OffsetDateTime,
) -> Result<SeatChanges> {
    reconcile_with(tx, now, true, false).await
}

async fn reconcile_with(
    tx: &mut Tx,
    now: OffsetDateTime,
    force: bool,
    activate_waiting: bool,
) -> Result<SeatChanges> {
    if !force {
        match meta_get(tx, VALID_UNTIL).await?.as_deref() {
            Some("never") => return Ok(SeatChanges::default()),
            Some(t) if parse::<i64>(t)? > ts(now) => return Ok(SeatChanges::default()),
            _ => {}
        }
    }
    // Capacity is being recomputed: logins remembered before this are not repeated.
    crate::db::bump_generation(tx).await?;
    let packages = load_packages(tx).await?;
    let placements = load_placements(tx).await?;
    let terms = load_license_terms(tx, &packages).await?;
    let view = capacity::pools_at(&packages, &placements, now);
    let current = load_pools(tx).await?;

    let keys: BTreeSet<&PoolKey> = view.pools.keys().chain(current.keys()).collect();
    let mut changes = SeatChanges::default();
    for key in keys {
        let target = view.pools.get(key).copied().unwrap_or(0);
        let row = current.get(key).copied().unwrap_or_default();
        if target == row.capacity && row.suspended == 0 {
            continue;
        }
        if key.kind == SeatKind::Concurrent && row.used > target {
            // Floating seats beyond the new capacity are taken from the newest sessions;
            // the sessions go on but lose the product (their next entitlement check says so).
            changes
                .suspended
                .extend(drop_newest_holds(tx, key, row.used - target).await?);
        } else if row.used > target {
            let active = held_in_pool(tx, key, "active").await?;
            let change = reconcile_pool(target, &active, &[]);
            changes
                .suspended
                .extend(set_status(tx, &change.suspend, "suspended").await?);
        }
        set_capacity(tx, key, target).await?;
        if row.suspended > 0 && target > row.used {
            let active = held_in_pool(tx, key, "active").await?;
            let suspended = held_in_pool(tx, key, "suspended").await?;
            let change = reconcile_pool(target, &active, &suspended);
            changes
                .restored
                .extend(set_status(tx, &change.restore, "active").await?);
        }
    }

    let in_force: BTreeSet<&str> = view
        .pools
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, _)| k.product.as_str())
        .collect();
    let expired: BTreeSet<&str> = packages
        .iter()
        .filter(|p| p.expires.is_some_and(|e| e <= now) && !in_force.contains(p.product.as_str()))
        .map(|p| p.product.as_str())
        .collect();
    meta_set(
        tx,
        EXPIRED_PRODUCTS,
        &serde_json::to_string(&expired).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    )
    .await?;

    for (area, limit) in capacity::area_limits_at(&terms, now) {
        sqlx::query("UPDATE area_counters SET user_limit = $1 WHERE area = $2")
            .bind(limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)))
            .bind(area.as_str().to_string())
            .execute(&mut **tx)
            .await?;
    }
    let next = [view.next_change, capacity::next_limit_change(&terms, now)]
        .into_iter()
        .flatten()
        .min();
    meta_set(
        tx,
        VALID_UNTIL,
        &next.map_or_else(|| "never".to_string(), |t| ts(t).to_string()),
    )
    .await?;

    let mut entries = Vec::new();
    for s in &changes.suspended {
        entries.push(Audit::new(
            "assignment.suspend",
            &s.login,
            serde_json::json!({"product": s.product, "reason": "capacity"}),
        ));
    }
    for s in &changes.restored {
        entries.push(Audit::new(
            "assignment.restore",
            &s.login,
            serde_json::json!({"product": s.product}),
        ));
    }
    audit(tx, now, &Actor::system(), entries).await?;
    for (list, title, what) in [
        (
            &changes.suspended,
            "license(s) suspended: fewer seats are in force than are assigned",
            "upload a renewal or a license with more seats; suspended assignments come back by themselves",
        ),
        (
            &changes.restored,
            "suspended license(s) restored: seats are in force again",
            "nothing to do",
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let mut per_product: std::collections::BTreeMap<&str, u64> = Default::default();
        for s in list {
            *per_product.entry(s.product.as_str()).or_default() += 1;
        }
        post_message(
            tx,
            now,
            "limit",
            &format!("{} {title}", list.len()),
            &serde_json::json!({
                "products": per_product,
                "users": list.iter().take(20).map(|s| s.login.as_str()).collect::<Vec<_>>(),
                "what_next": what,
            }),
        )
        .await?;
    }
    if activate_waiting {
        crate::room::activate_waiting(tx, now, &Actor::system()).await?;
    }
    // Seats may have come free (or capacity returned): pending needs are served now.
    fulfil_pending(tx, now).await?;
    Ok(changes)
}

impl Ledger {
    /// Re-evaluates capacity now, whether due or not; reports what was suspended or restored.
    pub async fn refresh(&self) -> Result<SeatChanges> {
        let (tx, changes) = self.begin_write_forced().await?;
        tx.commit().await?;
        Ok(changes)
    }
}
