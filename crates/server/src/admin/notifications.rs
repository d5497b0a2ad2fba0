//! Notification settings and mail (N1): who is told what, the mail configuration's state,
//! the test mail, and the mail deliveries that failed.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seatkeeper_core::events::EventClass;
use seatkeeper_store::{
    DeliveryFilter, DeliveryView, NotificationSettings, OutboxStats, ServerSettings,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiText, Caller};
use crate::notify::mail::MailState;

/// The notification settings and the responsible address they go to.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    /// Where mail goes (the settings' responsible person); none: no mail is sent.
    pub responsible_email: Option<String>,
    #[serde(flatten)]
    pub settings: NotificationSettings,
}

/// A change: omitted fields keep their value; `mail` changes only the classes it names;
/// `responsible_email` "" clears the address.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    pub responsible_email: Option<String>,
    pub mail: Option<BTreeMap<String, bool>>,
    pub digest: Option<bool>,
    pub threshold_percent: Option<u8>,
    pub product_thresholds: Option<BTreeMap<String, u8>>,
    pub expiry_notice_days: Option<Vec<u32>>,
}

pub async fn settings(State(state): State<AppState>) -> ApiResult<Json<SettingsView>> {
    Ok(Json(view(&state).await?))
}

async fn view(state: &AppState) -> ApiResult<SettingsView> {
    Ok(SettingsView {
        responsible_email: state.ledger.server_settings().await?.responsible_email,
        settings: state.ledger.notification_settings().await?,
    })
}

/// Applies a change to the current settings (checked by the store).
pub fn merged(
    mut s: NotificationSettings,
    body: &SettingsBody,
) -> Result<NotificationSettings, ApiError> {
    if let Some(mail) = &body.mail {
        for (name, on) in mail {
            let class = EventClass::parse(name).ok_or_else(|| {
                ApiError::invalid(format!(
                    "mail.{name}: not an event class (one of {})",
                    EventClass::ALL.map(EventClass::as_str).join(", ")
                ))
            })?;
            s.mail.insert(class, *on);
        }
    }
    if let Some(d) = body.digest {
        s.digest = d;
    }
    if let Some(p) = body.threshold_percent {
        s.threshold_percent = p;
    }
    if let Some(p) = &body.product_thresholds {
        s.product_thresholds = p.clone();
    }
    if let Some(d) = &body.expiry_notice_days {
        s.expiry_notice_days = d.clone();
    }
    Ok(s)
}

pub async fn put_settings(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<SettingsView>> {
    let new = merged(state.ledger.notification_settings().await?, &body)?;
    let server = match &body.responsible_email {
        Some(email) => {
            let old = state.ledger.server_settings().await?;
            let s = ServerSettings {
                responsible_email: Some(email.trim().to_string()).filter(|e| !e.is_empty()),
                ..old
            };
            // Checked before anything is written, so a bad address changes nothing.
            s.validate()?;
            Some(s)
        }
        None => None,
    };
    state
        .ledger
        .set_notification_settings(&p.actor, &new)
        .await?;
    if let Some(s) = server {
        state.ledger.set_server_settings(&p.actor, s).await?;
    }
    Ok(Json(view(&state).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestMailBody {
    /// Default: the responsible address.
    pub recipient: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TestMailQueued {
    /// The delivery: `GET /api/v1/notifications/mail` lists it once it failed.
    pub delivery: i64,
    pub recipient: String,
}

/// Queues a test mail; the dispatcher sends it within seconds.
pub async fn test_mail(
    State(state): State<AppState>,
    p: Caller,
    ApiText(text): ApiText,
) -> ApiResult<(StatusCode, Json<TestMailQueued>)> {
    // The body is optional: none (or `{}`) mails the responsible address.
    let body: TestMailBody = if text.trim().is_empty() {
        TestMailBody::default()
    } else {
        axum::Json::<TestMailBody>::from_bytes(text.as_bytes())
            .map(|axum::Json(b)| b)
            .map_err(ApiError::from)?
    };
    if state.settings.mail.is_none() {
        return Err(no_smtp());
    }
    let recipient = match body.recipient.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => state
            .ledger
            .server_settings()
            .await?
            .responsible_email
            .ok_or_else(|| {
                ApiError::invalid(
                    "no responsible address is set: set responsible_email \
                     (PUT /api/v1/notifications/settings) or give a recipient",
                )
            })?,
    };
    let id = state
        .ledger
        .queue_test_mail(&p.actor, Some(&recipient))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestMailQueued {
            delivery: id,
            recipient,
        }),
    ))
}

pub fn no_smtp() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "mail_not_configured",
        "no SMTP server is configured: add a [mail] section (host, tls, from) to the server's \
         config file and restart it",
    )
}

/// The mail configuration in use, the outbox, and the failed mail.
#[derive(Debug, Serialize)]
pub struct MailOverview {
    pub mail: MailState,
    pub responsible_email: Option<String>,
    pub outbox: OutboxStats,
    /// The most recent mail deliveries that failed (after every retry), newest first.
    pub failed: Vec<DeliveryView>,
    /// Mail deliveries waiting for a retry after a failed attempt.
    pub retrying: Vec<DeliveryView>,
}

pub async fn overview(state: &AppState) -> ApiResult<MailOverview> {
    let failed = state
        .ledger
        .deliveries(&DeliveryFilter {
            channel: Some("mail".into()),
            state: Some("failed".into()),
            limit: 50,
            ..Default::default()
        })
        .await?;
    let retrying = state
        .ledger
        .deliveries(&DeliveryFilter {
            channel: Some("mail".into()),
            state: Some("pending".into()),
            limit: 200,
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|d| d.attempts > 0)
        .take(50)
        .collect();
    Ok(MailOverview {
        mail: state
            .settings
            .mail
            .as_ref()
            .map(|m| m.state().clone())
            .unwrap_or_else(MailState::unconfigured),
        responsible_email: state.ledger.server_settings().await?.responsible_email,
        outbox: state.ledger.outbox_stats().await?,
        failed,
        retrying,
    })
}

pub async fn mail(State(state): State<AppState>) -> ApiResult<Json<MailOverview>> {
    Ok(Json(overview(&state).await?))
}
