//! Webhook subscriptions (I4): where events are posted, which types, signed with which
//! secret. Whether a URL may be called at all (scheme, private addresses) is the server's
//! policy, checked before these are called and again at each delivery.

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::events::{Event, EventType};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::insert_test_delivery;
use crate::db::{Audit, Tx, audit, dt, get_i64, get_str, ts};
use crate::{Actor, Ledger, Result};

/// Longest URL and description accepted.
const URL_MAX: usize = 2048;
const DESCRIPTION_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Only in the answer that created it (or rotated it): the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewWebhook {
    pub url: String,
    /// Event types, or `["*"]`; at least one.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// A secret of your own (at least 16 characters); one is made when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

fn yes() -> bool {
    true
}

/// What an update changes; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
    /// `true`: a new secret is made and answered once.
    #[serde(default)]
    pub rotate_secret: bool,
}

fn check_events(events: &[String]) -> std::result::Result<Vec<String>, DomainError> {
    if events.is_empty() {
        return Err(DomainError::Invalid(
            "events: name at least one event type, or \"*\" for all".into(),
        ));
    }
    let mut out = Vec::new();
    for e in events {
        let e = e.trim();
        if e != "*" && EventType::parse(e).is_none_or(|t| t == EventType::Test) {
            return Err(DomainError::Invalid(format!(
                "events: unknown event type {}; known: *, {}",
                seatkeeper_core::error::quoted(e),
                EventType::ALL.map(EventType::as_str).join(", ")
            )));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

fn check_text(url: &str, description: &str) -> std::result::Result<(), DomainError> {
    if url.trim().is_empty() || url.len() > URL_MAX {
        return Err(DomainError::Invalid(format!(
            "url: give the receiver's http(s) URL (at most {URL_MAX} characters)"
        )));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(DomainError::Invalid(format!(
            "description: at most {DESCRIPTION_MAX} characters"
        )));
    }
    Ok(())
}

fn new_secret() -> String {
    format!("whsec_{}", uuid::Uuid::new_v4().simple())
}

async fn load(tx: &mut Tx, id: i64) -> Result<WebhookView> {
    let row =
        sqlx::query("SELECT id, url, description, active, created_at FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(DomainError::UnknownWebhook(id))?;
    let events = sqlx::query("SELECT type FROM webhook_events WHERE webhook_id = $1 ORDER BY type")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| get_str(r, "type"))
        .collect::<Result<_>>()?;
    Ok(WebhookView {
        id,
        url: get_str(&row, "url")?,
        description: get_str(&row, "description")?,
        events,
        active: get_i64(&row, "active")? == 1,
        created_at: dt(get_i64(&row, "created_at")?)?,
        secret: None,
    })
}

async fn set_events(tx: &mut Tx, id: i64, events: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM webhook_events WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for e in events {
        sqlx::query("INSERT INTO webhook_events (webhook_id, type) VALUES ($1, $2)")
            .bind(id)
            .bind(e.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Ledger {
    /// I4: subscribes a receiver. The answer carries the signing secret, the only time it
    /// is shown.
    pub async fn create_webhook(&self, actor: &Actor, new: &NewWebhook) -> Result<WebhookView> {
        check_text(&new.url, &new.description)?;
        let events = check_events(&new.events)?;
        let secret = match &new.secret {
            Some(s) if s.chars().count() < 16 || s.len() > 256 => {
                return Err(DomainError::Invalid(
                    "secret: between 16 and 256 characters (or leave it out and one is made)"
                        .into(),
                )
                .into());
            }
            Some(s) => s.clone(),
            None => new_secret(),
        };
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let id = get_i64(
            &sqlx::query(
                "INSERT INTO webhooks (url, secret, description, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(new.url.trim().to_string())
            .bind(secret.clone())
            .bind(new.description.clone())
            .bind(i64::from(new.active))
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await?,
            "id",
        )?;
        set_events(&mut tx, id, &events).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "webhook.create",
                id.to_string(),
                json!({"url": new.url.trim(), "events": events}),
            )],
        )
        .await?;
        let mut view = load(&mut tx, id).await?;
        tx.commit().await?;
        view.secret = Some(secret);
        Ok(view)
    }

    pub async fn webhooks(&self) -> Result<Vec<WebhookView>> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let ids = sqlx::query("SELECT id FROM webhooks ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get_i64(r, "id"))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(load(&mut tx, id).await?);
        }
        Ok(out)
    }

    pub async fn webhook(&self, id: i64) -> Result<WebhookView> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        load(&mut tx, id).await
    }

    /// Changes a subscription. Deliveries already made keep going to the URL they were
    /// made for; a paused webhook gets no new ones.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: i64,
        change: &WebhookChange,
    ) -> Result<WebhookView> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let old = load(&mut tx, id).await?;
        let url = change.url.clone().unwrap_or(old.url.clone());
        let description = change
            .description
            .clone()
            .unwrap_or(old.description.clone());
        check_text(&url, &description)?;
        let events = match &change.events {
            Some(e) => check_events(e)?,
            None => old.events.clone(),
        };
        let secret = change.rotate_secret.then(new_secret);
        sqlx::query(
            "UPDATE webhooks SET url = $1, description = $2, active = $3, \
             secret = COALESCE($4, secret) WHERE id = $5",
        )
        .bind(url.trim().to_string())
        .bind(description)
        .bind(i64::from(change.active.unwrap_or(old.active)))
        .bind(secret.clone())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        set_events(&mut tx, id, &events).await?;
        let mut view = load(&mut tx, id).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "webhook.update",
                id.to_string(),
                json!({"url": view.url, "events": view.events, "active": view.active,
                    "secret_rotated": secret.is_some()}),
            )],
        )
        .await?;
        tx.commit().await?;
        view.secret = secret;
        Ok(view)
    }

    /// Removes a subscription with its deliveries and their log.
    pub async fn delete_webhook(&self, actor: &Actor, id: i64) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let old = load(&mut tx, id).await?;
        sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "webhook.delete",
                id.to_string(),
                json!({"url": old.url}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues a "test" event to this webhook only (also when paused): the delivery id.
    pub async fn test_webhook(&self, actor: &Actor, id: i64) -> Result<i64> {
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        load(&mut tx, id).await?;
        let event = Event::new(
            EventType::Test,
            &json!({"message": "Seatkeeper test delivery: this webhook works.",
                "requested_by": actor.name}),
        );
        let delivery =
            insert_test_delivery(&mut tx, now, &event, "webhook", Some(id), None).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "webhook.test",
                id.to_string(),
                json!({"delivery": delivery}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(delivery)
    }
}
