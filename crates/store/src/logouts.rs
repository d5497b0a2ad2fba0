//! Ending sessions (S3, S4): the full logout rule, the idle reaper and an administrator's
//! "end session". Logouts the application asks for go through `login_batch`, which ends
//! them here unless the shorter rule of `session_rows` settles them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use seatkeeper_core::Error as DomainError;
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, Tx, audit, execute_in, fetch_in, get_i64, get_str, ts};
use crate::reconcile::reconcile;
use crate::sessions::EndedSessions;
use crate::sql_value::Val;
use crate::{Actor, HeldSeat, Ledger, Result};

/// Ends sessions (logout, reaper, administrator) and frees what they held: floating seats at
/// once; releasing dedicated seats of users left with no session (S4).
pub(crate) async fn end_sessions(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    ids: &[String],
    why: &str,
) -> Result<(Vec<bool>, EndedSessions)> {
    let vals: Vec<Val> = ids.iter().map(|i| Val::Text(i.clone())).collect();
    let rows = fetch_in(
        tx,
        "SELECT id, user_id FROM sessions WHERE id IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?;
    let mut found = BTreeSet::new();
    let mut users = BTreeSet::new();
    for r in &rows {
        found.insert(get_str(r, "id")?);
        users.insert(get_i64(r, "user_id")?);
    }
    let user_vals: Vec<Val> = users.iter().map(|u| Val::Int(*u)).collect();
    // A seat to release changes what logins read: the generation moves now, before any
    // pool row is touched, so that every transaction takes the generation row first and the
    // pool rows after (no lock-order deadlock with logins answered from memory).
    if !fetch_in(
        tx,
        "SELECT user_id FROM assignments WHERE release_pending = 1 AND user_id IN ({ids})",
        &user_vals,
        1,
        &[],
    )
    .await?
    .is_empty()
    {
        crate::db::bump_generation(tx).await?;
    }
    let existing: Vec<Val> = found.iter().map(|i| Val::Text(i.clone())).collect();
    execute_in(
        tx,
        "DELETE FROM floating_holds WHERE session_id IN ({ids})",
        &existing,
    )
    .await?;
    execute_in(tx, "DELETE FROM sessions WHERE id IN ({ids})", &existing).await?;
    let released_rows = fetch_in(
        tx,
        "DELETE FROM assignments WHERE release_pending = 1 AND user_id IN ({ids}) \
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = assignments.user_id) \
         RETURNING user_id, product_code",
        &user_vals,
        1,
        &[],
    )
    .await?;
    let mut report = EndedSessions {
        ended: found.len() as u64,
        released: Vec::new(),
    };
    if !released_rows.is_empty() {
        let released_users: Vec<Val> = released_rows
            .iter()
            .map(|r| get_i64(r, "user_id").map(Val::Int))
            .collect::<Result<_>>()?;
        let logins: BTreeMap<i64, String> = fetch_in(
            tx,
            "SELECT id, login FROM users WHERE id IN ({ids})",
            &released_users,
            1,
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((get_i64(r, "id")?, get_str(r, "login")?)))
        .collect::<Result<_>>()?;
        let mut entries = Vec::new();
        for r in &released_rows {
            let login = logins
                .get(&get_i64(r, "user_id")?)
                .cloned()
                .unwrap_or_default();
            let product = get_str(r, "product_code")?;
            entries.push(Audit::new(
                "license.released",
                &login,
                json!({"product": product, "session_end": why}),
            ));
            report.released.push(HeldSeat { login, product });
        }
        report.released.sort();
        audit(tx, now, actor, entries).await?;
        // Freed dedicated seats go to suspended holders first, as with any recall.
        reconcile(tx, now, true).await?;
    }
    Ok((ids.iter().map(|i| found.contains(i)).collect(), report))
}

impl Ledger {
    /// S3: ends every session idle for longer than `idle` (no heartbeat), freeing its seats.
    /// Safe to run on every node at once: each session ends exactly once.
    pub async fn reap_idle(&self, idle: Duration) -> Result<EndedSessions> {
        let now = self.now();
        let cutoff = ts(now) - i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        // Ending sessions changes no remembered login answer (a released seat goes through
        // `reconcile`, which moves the generation).
        let mut tx = self.begin_locked().await?;
        let ids: Vec<String> = sqlx::query("SELECT id FROM sessions WHERE last_seen < $1")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get_str(r, "id"))
            .collect::<Result<_>>()?;
        let (_, report) = end_sessions(
            &mut tx,
            now,
            &Actor::new("reaper", "seatkeeper"),
            &ids,
            "idle timeout",
        )
        .await?;
        if report.ended > 0 {
            audit(
                &mut tx,
                now,
                &Actor::new("reaper", "seatkeeper"),
                vec![Audit::new(
                    "session.reap",
                    "sessions",
                    json!({"ended": report.ended, "idle_secs": idle.as_secs()}),
                )],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// An administrator ends a session (the user is logged out at the next heartbeat).
    pub async fn end_session(&self, actor: &Actor, id: &str) -> Result<EndedSessions> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (found, report) = end_sessions(
            &mut tx,
            now,
            actor,
            &[id.to_string()],
            "ended by administrator",
        )
        .await?;
        if !found.first().copied().unwrap_or(false) {
            return Err(DomainError::UnknownSession(id.to_string()).into());
        }
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("session.end", id, json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}
