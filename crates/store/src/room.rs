//! An area's room for active users. U1: `check_room` refuses one more active user in a full
//! area (and tells the administrators when a change fills it). U2 between syncs: users
//! waiting for room (`license_limit`) take it as soon as an event
//! frees it. Called by `reconcile`, which every such path already ends with — a block or a
//! delete (by hand or by a sync), a CSV import that blocks or moves users to another area, a
//! license import or removal that raises or lifts a limit, a limit starting or ending in time —
//! so the activation is in the event's own transaction and no path can forget it. The rule
//! (who, in what order) is the core's `waiting_to_activate`.

use std::collections::BTreeMap;

use seatkeeper_core::directory::{Waiting, reason, waiting_to_activate};
use seatkeeper_core::{Area, Error as DomainError, UserState};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, Tx, audit, count, dt, execute_in, get_i64, get_opt_i64, get_str, parse};
use crate::sql_value::Val;
use crate::{Actor, Result};

/// Refuses one more active user in `area` when the area is at its limit (U1). The trigger on
/// `area_counters` enforces the same; this gives the precise message.
pub(crate) async fn check_room(
    tx: &mut Tx,
    area: Area,
    extra: u64,
    now: time::OffsetDateTime,
) -> Result<()> {
    let row = sqlx::query("SELECT active_users, user_limit FROM area_counters WHERE area = $1")
        .bind(area.as_str().to_string())
        .fetch_one(&mut **tx)
        .await?;
    let active = count(get_i64(&row, "active_users")?);
    if let Some(limit) = crate::db::get_opt_i64(&row, "user_limit")?.map(count) {
        if active + extra > limit {
            return Err(DomainError::AreaLimit {
                area,
                limit,
                active,
            }
            .into());
        }
        // The change that fills the area tells the administrators (N2), once: later
        // refusals are answered to whoever asked, not posted again.
        if active < limit && active + extra >= limit {
            crate::messages::post_message(
                tx,
                now,
                "limit",
                &format!("The {area} area has reached its user limit ({limit} active users)"),
                &serde_json::json!({"area": area.as_str(), "limit": limit, "active_users": active + extra,
                    "what_next": "block users who no longer need access, or ask the vendor for a higher limit"}),
            )
            .await?;
        }
    }
    Ok(())
}

/// Room left per area (limit − active); `None` = no limit.
pub(crate) async fn rooms(tx: &mut Tx) -> Result<BTreeMap<Area, Option<i64>>> {
    let rows = sqlx::query("SELECT area, active_users, user_limit FROM area_counters")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            let area: Area = parse(&get_str(r, "area")?)?;
            let active = get_i64(r, "active_users")?;
            Ok((area, get_opt_i64(r, "user_limit")?.map(|l| l - active)))
        })
        .collect()
}

/// Activates, per area, the oldest users blocked for `license_limit` while the area has
/// room; one `user.activate` audit record each, as a sync's activation writes. The logins
/// activated, oldest first per area.
pub(crate) async fn activate_waiting(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
) -> Result<Vec<String>> {
    let areas = rooms(tx).await?;
    let mut done = Vec::new();
    for (area, room) in areas {
        if room.is_some_and(|r| r <= 0) {
            continue;
        }
        // Only as many rows as could fit, through the partial index users_waiting (the
        // reason is a literal so that both planners can match the index's WHERE clause).
        let rows = sqlx::query(
            "SELECT id, login, created_at, block_reason FROM users \
             WHERE area = $1 AND block_reason = 'license_limit' AND state = 'blocked' \
             AND builtin = 0 ORDER BY created_at, id LIMIT $2",
        )
        .bind(area.as_str().to_string())
        .bind(room.unwrap_or(i64::MAX))
        .fetch_all(&mut **tx)
        .await?;
        if rows.is_empty() {
            continue;
        }
        let waiting = rows
            .iter()
            .map(|r| {
                Ok(Waiting {
                    id: get_i64(r, "id")?,
                    login: get_str(r, "login")?,
                    created_at: dt(get_i64(r, "created_at")?)?,
                    state: UserState::Blocked,
                    block_reason: Some(get_str(r, "block_reason")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let logins = waiting_to_activate(room, &waiting);
        if logins.is_empty() {
            continue;
        }
        let chosen: std::collections::HashSet<&str> = logins.iter().map(String::as_str).collect();
        let ids: Vec<Val> = waiting
            .iter()
            .filter(|w| chosen.contains(w.login.as_str()))
            .map(|w| Val::Int(w.id))
            .collect();
        // Posts the "area is full" message (N2) when these fill it, as any activation does.
        check_room(tx, area, ids.len() as u64, now).await?;
        execute_in(
            tx,
            "UPDATE users SET state = 'active', block_reason = NULL WHERE id IN ({ids})",
            &ids,
        )
        .await?;
        let entries = logins
            .iter()
            .map(|l| Audit::new("user.activate", l, json!({"waited": reason::LICENSE_LIMIT})))
            .collect();
        audit(tx, now, actor, entries).await?;
        done.extend(logins);
    }
    Ok(done)
}
