//! Notifications (N1, I4, X6): the settings that decide who is told what, the events in the
//! outbox, the notices time raises (license expiry), webhook subscriptions and deliveries.
//!
//! Events enter the outbox inside the transaction of their change (`outbox`); their
//! deliveries are made by trigger in that same transaction. What leaves the server — the
//! mail, the HTTP request — is the server's dispatcher's, which claims due deliveries here
//! and records how each attempt went.

mod deliveries;
mod webhooks;

pub use deliveries::{
    AttemptView, Claimed, DeliveryFilter, DeliveryOutcome, DeliveryView, DigestBatch, OutboxStats,
    RetryPolicy,
};
pub use webhooks::{NewWebhook, WebhookChange, WebhookView};

use std::collections::BTreeMap;

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::events::{
    DEFAULT_EXPIRY_NOTICES, DEFAULT_THRESHOLD_PERCENT, Ending, Event, EventClass, EventType,
    expiring_notices,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::db::{Audit, Tx, audit, dt, get_i64, get_str, meta_get, meta_set, ts};
use crate::outbox::emit;
use crate::{Actor, Ledger, Result};

const DIGEST: &str = "notify.mail.digest";
const THRESHOLD_DEFAULT: &str = "notify.threshold.default";
const THRESHOLD_PREFIX: &str = "notify.threshold.";
const EXPIRY_DAYS: &str = "notify.expiry_days";
/// How long after its end a license's `license.expired` is still raised (a server that was
/// down when it ended reports it when it comes back, not years later).
const EXPIRED_LOOKBACK: Duration = Duration::days(7);

/// Who is told what (N1, X6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Mail to the responsible address, per event class.
    pub mail: BTreeMap<EventClass, bool>,
    /// One mail a day with everything instead of one mail per event.
    pub digest: bool,
    /// `seats.threshold`: the percentage of a product's seats in use that raises it
    /// (0 = off), for every product without its own.
    pub threshold_percent: u8,
    /// Per product.
    pub product_thresholds: BTreeMap<String, u8>,
    /// `license.expiring`: how many days ahead.
    pub expiry_notice_days: Vec<u32>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            mail: EventClass::ALL
                .into_iter()
                .map(|c| (c, c.mailed_by_default()))
                .collect(),
            digest: false,
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
            product_thresholds: BTreeMap::new(),
            expiry_notice_days: DEFAULT_EXPIRY_NOTICES.to_vec(),
        }
    }
}

impl NotificationSettings {
    fn check(&self) -> std::result::Result<(), DomainError> {
        let pct = |p: u8, what: &str| {
            if p > 100 {
                Err(DomainError::Invalid(format!(
                    "{what}: {p} is not a percentage (0 turns the alert off, 1–100 sets it)"
                )))
            } else {
                Ok(())
            }
        };
        pct(self.threshold_percent, "threshold_percent")?;
        for (product, p) in &self.product_thresholds {
            pct(*p, &format!("product_thresholds.{product}"))?;
        }
        if self.expiry_notice_days.len() > 10 {
            return Err(DomainError::Invalid(
                "expiry_notice_days: at most 10 notices".into(),
            ));
        }
        if let Some(d) = self
            .expiry_notice_days
            .iter()
            .find(|d| **d == 0 || **d > 365)
        {
            return Err(DomainError::Invalid(format!(
                "expiry_notice_days: {d} is not between 1 and 365 days"
            )));
        }
        Ok(())
    }
}

/// An event of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: serde_json::Value,
}

pub(crate) fn event_view(row: &sqlx::any::AnyRow) -> Result<EventView> {
    Ok(EventView {
        id: get_i64(row, "event_id")?,
        at: dt(get_i64(row, "event_at")?)?,
        event_type: get_str(row, "event_type")?,
        data: serde_json::from_str(&get_str(row, "event_data")?).unwrap_or(serde_json::Value::Null),
    })
}

async fn settings_in(tx: &mut Tx) -> Result<NotificationSettings> {
    let mut s = NotificationSettings::default();
    for c in EventClass::ALL {
        if let Some(v) = meta_get(tx, &format!("notify.mail.{}", c.as_str())).await? {
            s.mail.insert(c, v == "on");
        }
    }
    s.digest = meta_get(tx, DIGEST).await?.as_deref() == Some("on");
    if let Some(v) = meta_get(tx, THRESHOLD_DEFAULT).await? {
        s.threshold_percent = v.parse().unwrap_or(DEFAULT_THRESHOLD_PERCENT);
    }
    let rows = sqlx::query("SELECT key, value FROM meta WHERE key LIKE 'notify.threshold.%'")
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        let key = get_str(&r, "key")?;
        if key == THRESHOLD_DEFAULT {
            continue;
        }
        if let (Some(product), Ok(p)) = (
            key.strip_prefix(THRESHOLD_PREFIX),
            get_str(&r, "value")?.parse(),
        ) {
            s.product_thresholds.insert(product.to_string(), p);
        }
    }
    if let Some(v) = meta_get(tx, EXPIRY_DAYS).await? {
        s.expiry_notice_days = serde_json::from_str(&v).unwrap_or(s.expiry_notice_days);
    }
    Ok(s)
}

impl Ledger {
    /// N1/X6: who is told what.
    pub async fn notification_settings(&self) -> Result<NotificationSettings> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        settings_in(&mut tx).await
    }

    /// Replaces the notification settings (audited). A product's own threshold equal to
    /// the default is dropped.
    pub async fn set_notification_settings(
        &self,
        actor: &Actor,
        new: &NotificationSettings,
    ) -> Result<NotificationSettings> {
        new.check()?;
        let now = self.now();
        // Watched: a new threshold may put a product past it (or re-arm it) at once.
        let mut tx = self.begin_write().await?;
        let old = settings_in(&mut tx).await?;
        for (c, on) in &new.mail {
            if *c != EventClass::Test {
                meta_set(
                    &mut tx,
                    &format!("notify.mail.{}", c.as_str()),
                    if *on { "on" } else { "off" },
                )
                .await?;
            }
        }
        meta_set(&mut tx, DIGEST, if new.digest { "on" } else { "off" }).await?;
        meta_set(
            &mut tx,
            THRESHOLD_DEFAULT,
            &new.threshold_percent.to_string(),
        )
        .await?;
        sqlx::query("DELETE FROM meta WHERE key LIKE 'notify.threshold.%' AND key <> $1")
            .bind(THRESHOLD_DEFAULT.to_string())
            .execute(&mut *tx)
            .await?;
        for (product, p) in &new.product_thresholds {
            if *p != new.threshold_percent {
                meta_set(
                    &mut tx,
                    &format!("{THRESHOLD_PREFIX}{product}"),
                    &p.to_string(),
                )
                .await?;
            }
        }
        let mut days = new.expiry_notice_days.clone();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        meta_set(&mut tx, EXPIRY_DAYS, &json!(days).to_string()).await?;
        let saved = settings_in(&mut tx).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "settings.notifications",
                "notifications",
                json!({"before": old, "after": saved}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// The outbox's events, newest first (`before`: only ids below it, for paging).
    pub async fn events(
        &self,
        event_type: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventView>> {
        let rows = sqlx::query(
            "SELECT id AS event_id, at AS event_at, type AS event_type, data AS event_data \
             FROM events WHERE ($1 = '' OR type = $1) AND id < $2 AND class <> 'test' \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(event_type.unwrap_or_default().to_string())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_view).collect()
    }

    /// The notices time raises: `license.expiring` at the configured days ahead and
    /// `license.expired` once a license's packages have ended (within the last week). Each
    /// has a dedupe key, so running this every minute on every node raises each once.
    /// A package renewed by another (which carries its seats on) is not reported.
    pub async fn raise_license_notices(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let days = settings_in(&mut tx).await?.expiry_notice_days;
        let horizon = days.iter().copied().max().unwrap_or(0);
        let rows = sqlx::query(
            "SELECT f.license_id, f.company_id, p.expires, p.product_code \
             FROM packages p JOIN license_files f ON f.id = p.license_file_id \
             WHERE p.expires IS NOT NULL AND p.expires > $1 AND p.expires <= $2 \
             AND NOT EXISTS (SELECT 1 FROM packages r WHERE r.replaces LIKE '%\"' || p.serial || '\"%') \
             ORDER BY f.license_id, p.expires, p.product_code",
        )
        .bind(ts(now - EXPIRED_LOOKBACK))
        .bind(ts(now + Duration::days(i64::from(horizon))))
        .fetch_all(&mut *tx)
        .await?;
        let mut endings: BTreeMap<(String, i64), Ending> = BTreeMap::new();
        for r in &rows {
            let (license, at) = (get_str(r, "license_id")?, get_i64(r, "expires")?);
            let e = endings.entry((license.clone(), at)).or_insert(Ending {
                license_id: license,
                customer: get_str(r, "company_id")?,
                products: Vec::new(),
                expires_at: dt(at)?,
            });
            let product = get_str(r, "product_code")?;
            if !e.products.contains(&product) {
                e.products.push(product);
            }
        }
        let endings: Vec<Ending> = endings.into_values().collect();
        let mut events = expiring_notices(&endings, &days, now);
        for e in endings.iter().filter(|e| e.expires_at <= now) {
            let mut event = Event::new(
                EventType::LicenseExpired,
                &json!({"license_id": e.license_id, "customer": e.customer,
                    "products": e.products,
                    "expired_at": e.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()}),
            );
            event.dedupe = Some(format!(
                "license.expired:{}:{}",
                e.license_id,
                e.expires_at.unix_timestamp()
            ));
            events.push(event);
        }
        let mut raised = 0;
        for e in &events {
            if emit(&mut tx, now, e).await? {
                raised += 1;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }

    /// Queues a test mail to `recipient` (the responsible address when `None`): an event of
    /// its own ("test") delivered like any other, so it shows the whole path working.
    pub async fn queue_test_mail(&self, actor: &Actor, recipient: Option<&str>) -> Result<i64> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let to = match recipient.filter(|r| !r.trim().is_empty()) {
            Some(r) => {
                seatkeeper_core::validate::email(r)?;
                r.trim().to_string()
            }
            None => meta_get(&mut tx, "setting.responsible_email")
                .await?
                .filter(|e| !e.is_empty())
                .ok_or_else(|| {
                    DomainError::Invalid(
                        "no responsible address is set: set one in the settings, or give a \
                         recipient for the test mail"
                            .into(),
                    )
                })?,
        };
        let event = Event::new(
            EventType::Test,
            &json!({"message": "Seatkeeper test mail: mail delivery works.", "requested_by": actor.name}),
        );
        let id = insert_test_delivery(&mut tx, now, &event, "mail", None, Some(&to)).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("notify.test_mail", &to, json!({"delivery": id}))],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// An event of class "test" with one delivery (no fan-out): for "Send test".
pub(crate) async fn insert_test_delivery(
    tx: &mut Tx,
    now: OffsetDateTime,
    event: &Event,
    channel: &str,
    webhook: Option<i64>,
    recipient: Option<&str>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO events (at, type, class, data) VALUES ($1, 'test', 'test', $2) RETURNING id",
    )
    .bind(ts(now))
    .bind(event.data.to_string())
    .fetch_one(&mut **tx)
    .await?;
    let event_id = get_i64(&row, "id")?;
    let row = sqlx::query(
        "INSERT INTO deliveries (event_id, channel, webhook_id, recipient, state, created_at, next_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING id",
    )
    .bind(event_id)
    .bind(channel.to_string())
    .bind(webhook)
    .bind(recipient.map(str::to_string))
    .bind(ts(now))
    .fetch_one(&mut **tx)
    .await?;
    get_i64(&row, "id")
}
