//! Deliveries: claimed by a dispatcher (one node at a time: a lease, and on PostgreSQL
//! `FOR UPDATE SKIP LOCKED`), sent by the server, recorded attempt by attempt, retried with
//! backoff and failed after the retry window; listed, and redelivered by hand.
//!
//! None of this takes the ledger's write lock: delivery bookkeeping never queues a login.

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::events::next_attempt;
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{EventView, event_view};
use crate::db::{Audit, Backend, Tx, audit, dt, get_i64, get_opt_i64, get_opt_str, get_str, ts};
use crate::sql_value::Val;
use crate::{Actor, Ledger, Result};

/// A delivery a dispatcher holds: what to send and where.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub channel: String,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    pub event: EventView,
    /// Webhook deliveries: where, and the secret that signs.
    pub url: Option<String>,
    pub secret: Option<String>,
    pub webhook_id: Option<i64>,
    /// Mail deliveries: to whom.
    pub recipient: Option<String>,
}

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct DeliveryOutcome {
    pub delivered: bool,
    /// The HTTP status (webhooks) or SMTP reply code (mail), when there was one.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration: std::time::Duration,
}

/// When a failed delivery is tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first wait; doubled each time, at most an hour.
    pub base: Duration,
    /// After this long since the delivery was made, it is failed.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::seconds(30),
            give_up_after: Duration::hours(24),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub recipient: Option<String>,
    /// pending | delivered | failed | digest (waiting for the daily digest)
    pub state: String,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub event: EventView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptView {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub node: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<i64>,
    pub channel: Option<String>,
    pub state: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// The outbox at a glance (UI, metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub pending: u64,
    pub failed: u64,
    pub digest: u64,
    pub delivered: u64,
    pub failed_mail: u64,
    pub failed_webhook: u64,
}

/// The events of one recipient's digest.
#[derive(Debug, Clone)]
pub struct DigestBatch {
    pub recipient: String,
    /// Each finished with the digest mail's outcome.
    pub deliveries: Vec<Claimed>,
}

const SELECT: &str = "SELECT d.id, d.channel, d.webhook_id, d.recipient, d.state, d.attempts, \
     d.created_at, d.next_at, d.last_at, d.last_status, d.last_error, d.last_duration_ms, \
     e.id AS event_id, e.at AS event_at, e.type AS event_type, e.data AS event_data, \
     w.url, w.secret \
     FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN webhooks w ON w.id = d.webhook_id";

fn view(r: &sqlx::any::AnyRow) -> Result<DeliveryView> {
    let state = get_str(r, "state")?;
    Ok(DeliveryView {
        id: get_i64(r, "id")?,
        channel: get_str(r, "channel")?,
        webhook_id: get_opt_i64(r, "webhook_id")?,
        recipient: get_opt_str(r, "recipient")?,
        next_attempt_at: if state == "pending" {
            Some(dt(get_i64(r, "next_at")?)?)
        } else {
            None
        },
        state,
        attempts: get_i64(r, "attempts")?,
        created_at: dt(get_i64(r, "created_at")?)?,
        last_attempt_at: get_opt_i64(r, "last_at")?.map(dt).transpose()?,
        last_status: get_opt_i64(r, "last_status")?,
        last_error: get_opt_str(r, "last_error")?,
        last_duration_ms: get_opt_i64(r, "last_duration_ms")?,
        event: event_view(r)?,
    })
}

fn claimed(r: &sqlx::any::AnyRow) -> Result<Claimed> {
    let v = view(r)?;
    Ok(Claimed {
        id: v.id,
        channel: v.channel,
        attempts: u32::try_from(v.attempts).unwrap_or(0),
        created_at: v.created_at,
        event: v.event,
        url: get_opt_str(r, "url")?,
        secret: get_opt_str(r, "secret")?,
        webhook_id: v.webhook_id,
        recipient: v.recipient,
    })
}

/// Longest error kept per attempt: a receiver's body or a TLS error, not megabytes.
const ERROR_CHARS: usize = 500;

impl Ledger {
    /// Claims up to `limit` due deliveries for `node` for `lease`: pending, due, and not
    /// held by a live claim (a node that died mid-delivery loses its claim when the lease
    /// ends). Mail only when `mail` (a node without SMTP leaves it to one with).
    pub async fn claim_deliveries(
        &self,
        node: &str,
        lease: Duration,
        mail: bool,
        limit: i64,
    ) -> Result<Vec<Claimed>> {
        let now = self.now();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE deliveries SET claimed_by = $1, claimed_until = $2 WHERE id IN \
             (SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= $3 \
              AND (claimed_until IS NULL OR claimed_until < $3) AND ($4 = 1 OR channel <> 'mail') \
              ORDER BY next_at, id LIMIT $5{lock}) RETURNING id"
        );
        // An idle outbox costs a read, not a write transaction: on SQLite every write
        // transaction takes the database's one write lock.
        let due = sqlx::query(
            "SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $1) AND ($2 = 1 OR channel <> 'mail') \
             LIMIT 1",
        )
        .bind(ts(now))
        .bind(i64::from(mail))
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_rows().await?;
        let ids: Vec<Val> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(node.to_string())
            .bind(ts(now + lease))
            .bind(ts(now))
            .bind(i64::from(mail))
            .bind(limit.clamp(1, 1000))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get_i64(r, "id").map(Val::Int))
            .collect::<Result<_>>()?;
        let rows = crate::db::fetch_in(
            &mut tx,
            &format!("{SELECT} WHERE d.id IN ({{ids}}) ORDER BY d.next_at, d.id"),
            &ids,
            1,
            &[],
        )
        .await?;
        tx.commit().await?;
        rows.iter().map(claimed).collect()
    }

    /// Records an attempt on a delivery `node` claimed: delivered, or retried after the
    /// backoff, or failed once the retry window is over. `false` when the claim was lost
    /// (the lease ended and another node took it): nothing is recorded then.
    pub async fn finish_delivery(
        &self,
        node: &str,
        claimed: &Claimed,
        outcome: &DeliveryOutcome,
        retry: RetryPolicy,
    ) -> Result<bool> {
        let now = self.now();
        let attempts = claimed.attempts.saturating_add(1);
        let (state, next) = if outcome.delivered {
            ("delivered", now)
        } else {
            match next_attempt(
                attempts,
                claimed.created_at,
                now,
                retry.base,
                retry.give_up_after,
            ) {
                Some(next) => ("pending", next),
                None => ("failed", now),
            }
        };
        let error = outcome
            .error
            .as_deref()
            .map(|e| seatkeeper_core::error::brief_to(e, ERROR_CHARS));
        let ms = i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX);
        let mut tx = self.begin_rows().await?;
        let done = sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = attempts + 1, next_at = $2, \
             last_at = $3, last_status = $4, last_error = $5, last_duration_ms = $6, \
             done_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $3 END, \
             claimed_by = NULL, claimed_until = NULL \
             WHERE id = $7 AND claimed_by = $8 AND state = 'pending'",
        )
        .bind(state.to_string())
        .bind(ts(next))
        .bind(ts(now))
        .bind(outcome.status)
        .bind(error.clone())
        .bind(ms)
        .bind(claimed.id)
        .bind(node.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, at, node, status, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(claimed.id)
        .bind(ts(now))
        .bind(node.to_string())
        .bind(outcome.status)
        .bind(error)
        .bind(ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deliveries, newest first.
    pub async fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryView>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ($1 = 0 OR d.webhook_id = $1) AND ($2 = '' OR d.channel = $2) \
             AND ($3 = '' OR d.state = $3) AND d.id < $4 ORDER BY d.id DESC LIMIT $5"
        )))
        .bind(filter.webhook_id.unwrap_or(0))
        .bind(filter.channel.clone().unwrap_or_default())
        .bind(filter.state.clone().unwrap_or_default())
        .bind(filter.before.unwrap_or(i64::MAX))
        .bind(filter.limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(view).collect()
    }

    /// One delivery and its attempts, oldest first.
    pub async fn delivery(&self, id: i64) -> Result<(DeliveryView, Vec<AttemptView>)> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(DomainError::UnknownDelivery(id))?;
        let attempts = sqlx::query(
            "SELECT at, node, status, error, duration_ms FROM delivery_attempts \
             WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AttemptView {
                at: dt(get_i64(r, "at")?)?,
                node: get_str(r, "node")?,
                status: get_opt_i64(r, "status")?,
                error: get_opt_str(r, "error")?,
                duration_ms: get_i64(r, "duration_ms")?,
            })
        })
        .collect::<Result<_>>()?;
        Ok((view(&row)?, attempts))
    }

    /// Redeliver: a delivered or failed delivery (or one waiting for its next retry) is due
    /// again now, with a new retry window. Receivers see the same delivery id and can drop
    /// it if they already have it.
    pub async fn redeliver(&self, actor: &Actor, id: i64) -> Result<DeliveryView> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'pending', next_at = $1, created_at = $1, \
             done_at = NULL, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $2 AND state <> 'digest'",
        )
        .bind(ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.no_redelivery(&mut tx, id).await);
        }
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("notify.redeliver", id.to_string(), json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(self.delivery(id).await?.0)
    }

    async fn no_redelivery(&self, tx: &mut Tx, id: i64) -> crate::StoreError {
        match sqlx::query("SELECT state FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
        {
            Ok(Some(_)) => DomainError::Conflict(format!(
                "delivery {id} waits for the daily digest; it is sent with it"
            ))
            .into(),
            Ok(None) => DomainError::UnknownDelivery(id).into(),
            Err(e) => e.into(),
        }
    }

    /// Counts by state.
    pub async fn outbox_stats(&self) -> Result<OutboxStats> {
        let rows = sqlx::query(
            "SELECT state, channel, COUNT(*) AS n FROM deliveries GROUP BY state, channel",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut s = OutboxStats::default();
        for r in &rows {
            let n = crate::db::count(get_i64(r, "n")?);
            match (
                get_str(r, "state")?.as_str(),
                get_str(r, "channel")?.as_str(),
            ) {
                ("pending", _) => s.pending += n,
                ("digest", _) => s.digest += n,
                ("delivered", _) => s.delivered += n,
                ("failed", channel) => {
                    s.failed += n;
                    if channel == "mail" {
                        s.failed_mail += n;
                    } else {
                        s.failed_webhook += n;
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Takes every mail waiting for the digest, per recipient, for `node`: they become
    /// pending deliveries claimed by it, answered with their events, to be sent as one mail
    /// and finished each with the same outcome.
    pub async fn claim_digest(&self, node: &str, lease: Duration) -> Result<Vec<DigestBatch>> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let ids: Vec<Val> = sqlx::query(
            "UPDATE deliveries SET state = 'pending', claimed_by = $1, claimed_until = $2, \
             next_at = $3, created_at = $3 WHERE state = 'digest' RETURNING id",
        )
        .bind(node.to_string())
        .bind(ts(now + lease))
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| get_i64(r, "id").map(Val::Int))
        .collect::<Result<_>>()?;
        let rows = crate::db::fetch_in(
            &mut tx,
            &format!("{SELECT} WHERE d.id IN ({{ids}}) ORDER BY d.recipient, d.id"),
            &ids,
            1,
            &[],
        )
        .await?;
        tx.commit().await?;
        let mut out: Vec<DigestBatch> = Vec::new();
        for r in &rows {
            let c = claimed(r)?;
            let to = c.recipient.clone().unwrap_or_default();
            match out.last_mut() {
                Some(b) if b.recipient == to => b.deliveries.push(c),
                _ => out.push(DigestBatch {
                    recipient: to,
                    deliveries: vec![c],
                }),
            }
        }
        Ok(out)
    }

    /// Drops what no one needs any more: events older than `keep` whose deliveries are all
    /// done (delivered or failed), with them.
    pub async fn prune_outbox(&self, keep: Duration) -> Result<u64> {
        let cutoff = ts(self.now() - keep);
        let mut tx = self.begin_rows().await?;
        let n = sqlx::query(
            "DELETE FROM events WHERE at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d \
             WHERE d.event_id = events.id AND d.state IN ('pending', 'digest'))",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
