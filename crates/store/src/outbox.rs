//! Writing events into the outbox (N1, I4, X6), inside the transaction of the change.
//!
//! Two ways in. A command that knows it caused something (a license imported, a run
//! finished) calls [`emit`]. Level events (an area at its limit, a product's seats past the
//! threshold or gone) are not called by anyone: every watched write transaction settles
//! them in its commit (`db::Tx::commit`), comparing the levels at its end with the
//! conditions already reported ([`seatkeeper_core::events::crossings`]), so no write path
//! can forget them and a condition that came and went inside one transaction is not
//! reported. The SQLite writer thread, which commits on a connection of its own, settles
//! through [`settle_sync`] with the same statements.
//!
//! This module imports nothing of the crate but its error type, so that the transaction type
//! in `db` can call it.

use std::collections::BTreeSet;

use seatkeeper_core::events::{AreaLevel, Crossings, Event, PoolLevel, crossings};
use seatkeeper_core::{Area, SeatKind};
use sqlx::{AnyConnection, Row as _};
use time::OffsetDateTime;

use crate::{Result, StoreError};

/// One product's seats of one kind in one area, all folders together, with its threshold
/// (`notify.threshold.<product>`, else `notify.threshold.default`, else 90; 0 = off).
const POOLS: &str = "SELECT p.product_code AS product, p.area AS area, p.kind AS kind, \
     CAST(SUM(p.used) AS BIGINT) AS used, CAST(SUM(p.capacity) AS BIGINT) AS total, \
     CAST(MAX(COALESCE(t.value, d.value, '90')) AS BIGINT) AS pct \
     FROM seat_pools p \
     LEFT JOIN meta t ON t.key = 'notify.threshold.' || p.product_code \
     LEFT JOIN meta d ON d.key = 'notify.threshold.default' \
     GROUP BY p.product_code, p.area, p.kind";
const AREAS: &str = "SELECT area, active_users, user_limit FROM area_counters";
const REPORTED: &str = "SELECT key FROM alert_conditions";
const RAISE: &str =
    "INSERT INTO alert_conditions (key, since) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
const CLEAR: &str = "DELETE FROM alert_conditions WHERE key = $1";
/// Events the database's triggers wrote (user.blocked, user.activated) carry `at` 0 until
/// the commit stamps them with the ledger's clock, which a trigger cannot read.
const STAMP_DELIVERIES: &str = "UPDATE deliveries SET created_at = $1, next_at = $1 \
     WHERE event_id IN (SELECT id FROM events WHERE at = 0)";
const STAMP_EVENTS: &str = "UPDATE events SET at = $1 WHERE at = 0";
const INSERT_EVENT: &str = "INSERT INTO events (at, type, class, dedupe, data) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe) DO NOTHING";

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} {value:?} in the ledger"))
}

fn area(s: &str) -> Result<Area> {
    s.parse().map_err(|_| bad("area", s))
}

fn kind(s: &str) -> Result<SeatKind> {
    s.parse().map_err(|_| bad("seat kind", s))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn pool_level(
    product: String,
    area_s: &str,
    kind_s: &str,
    used: i64,
    total: i64,
    pct: i64,
) -> Result<PoolLevel> {
    Ok(PoolLevel {
        product,
        area: area(area_s)?,
        kind: kind(kind_s)?,
        used: count(used),
        total: count(total),
        threshold_percent: u8::try_from(pct.clamp(0, 100)).ok().filter(|p| *p > 0),
    })
}

/// Settles the level conditions at the end of a transaction on `conn`.
pub(crate) async fn settle(conn: &mut AnyConnection, now: OffsetDateTime) -> Result<()> {
    for stamp in [STAMP_DELIVERIES, STAMP_EVENTS] {
        sqlx::query(stamp)
            .bind(now.unix_timestamp())
            .execute(&mut *conn)
            .await?;
    }
    let mut pools = Vec::new();
    for r in sqlx::query(POOLS).fetch_all(&mut *conn).await? {
        pools.push(pool_level(
            r.try_get("product")?,
            &r.try_get::<String, _>("area")?,
            &r.try_get::<String, _>("kind")?,
            r.try_get("used")?,
            r.try_get("total")?,
            r.try_get("pct")?,
        )?);
    }
    let mut areas = Vec::new();
    for r in sqlx::query(AREAS).fetch_all(&mut *conn).await? {
        areas.push(AreaLevel {
            area: area(&r.try_get::<String, _>("area")?)?,
            active: count(r.try_get("active_users")?),
            limit: r.try_get::<Option<i64>, _>("user_limit")?.map(count),
        });
    }
    let reported = sqlx::query(REPORTED)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("key"))
        .collect::<std::result::Result<BTreeSet<_>, _>>()?;
    let Crossings { fire, raise, clear } = crossings(&areas, &pools, &reported);
    for key in clear {
        sqlx::query(CLEAR).bind(key).execute(&mut *conn).await?;
    }
    for (key, event) in raise.into_iter().zip(fire) {
        // Only the transaction that raised it reports it: one that wrote without the write
        // lock (remembered logins on PostgreSQL) may settle at the same time as another.
        let raised = sqlx::query(RAISE)
            .bind(key)
            .bind(now.unix_timestamp())
            .execute(&mut *conn)
            .await?;
        if raised.rows_affected() == 1 {
            emit(conn, now, &event).await?;
        }
    }
    Ok(())
}

/// Writes `event` into the outbox (its deliveries follow by trigger). `false` when an event
/// with the same dedupe key is already there.
pub(crate) async fn emit(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
    event: &Event,
) -> Result<bool> {
    let done = sqlx::query(INSERT_EVENT)
        .bind(now.unix_timestamp())
        .bind(event.event_type.as_str().to_string())
        .bind(event.event_type.class().as_str().to_string())
        .bind(event.dedupe.clone())
        .bind(event.data.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// [`settle`] on the SQLite writer thread's connection, inside its transaction.
pub(crate) fn settle_sync(
    conn: &rusqlite::Connection,
    now: OffsetDateTime,
) -> rusqlite::Result<()> {
    let corrupt = |e: StoreError| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    };
    let mut pools = Vec::new();
    let mut stmt = conn.prepare_cached(POOLS)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        pools.push(
            pool_level(
                r.get("product")?,
                &r.get::<_, String>("area")?,
                &r.get::<_, String>("kind")?,
                r.get("used")?,
                r.get("total")?,
                r.get("pct")?,
            )
            .map_err(corrupt)?,
        );
    }
    drop(rows);
    let mut areas = Vec::new();
    let mut stmt = conn.prepare_cached(AREAS)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        areas.push(AreaLevel {
            area: area(&r.get::<_, String>("area")?).map_err(corrupt)?,
            active: count(r.get("active_users")?),
            limit: r.get::<_, Option<i64>>("user_limit")?.map(count),
        });
    }
    drop(rows);
    let mut stmt = conn.prepare_cached(REPORTED)?;
    let reported = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<BTreeSet<_>>>()?;
    let Crossings { fire, raise, clear } = crossings(&areas, &pools, &reported);
    for key in clear {
        conn.prepare_cached(CLEAR)?.execute([key])?;
    }
    for (key, event) in raise.into_iter().zip(fire) {
        let raised = conn
            .prepare_cached(RAISE)?
            .execute(rusqlite::params![key, now.unix_timestamp()])?;
        if raised == 1 {
            conn.prepare_cached(INSERT_EVENT)?
                .execute(rusqlite::params![
                    now.unix_timestamp(),
                    event.event_type.as_str(),
                    event.event_type.class().as_str(),
                    event.dedupe,
                    event.data.to_string(),
                ])?;
        }
    }
    Ok(())
}
