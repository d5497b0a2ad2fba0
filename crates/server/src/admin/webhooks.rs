//! Webhooks (I4) and the outbox: subscriptions, their delivery log, redelivery, events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seatkeeper_store::{
    AttemptView, DeliveryFilter, DeliveryView, EventView, NewWebhook, WebhookChange, WebhookView,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::notify::webhook::check_url;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub secret: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
    #[serde(default)]
    pub rotate_secret: bool,
}

async fn allowed(state: &AppState, url: &str) -> ApiResult<()> {
    check_url(url, state.settings.notifications.allow_private_targets)
        .await
        .map_err(ApiError::invalid)
}

pub async fn webhooks(State(state): State<AppState>) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(state.ledger.webhooks().await?))
}

pub async fn webhook(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(state.ledger.webhook(id).await?))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    allowed(&state, &body.url).await?;
    let view = state
        .ledger
        .create_webhook(
            &p.actor,
            &NewWebhook {
                url: body.url,
                events: body.events,
                description: body.description,
                active: body.active,
                secret: body.secret,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn update_webhook(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WebhookPatch>,
) -> ApiResult<Json<WebhookView>> {
    if let Some(url) = &body.url {
        allowed(&state, url).await?;
    }
    let change = WebhookChange {
        url: body.url,
        events: body.events,
        description: body.description,
        active: body.active,
        rotate_secret: body.rotate_secret,
    };
    Ok(Json(
        state.ledger.update_webhook(&p.actor, id, &change).await?,
    ))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    state.ledger.delete_webhook(&p.actor, id).await?;
    Ok(Json(serde_json::json!({"deleted": id})))
}

#[derive(Debug, Serialize)]
pub struct Queued {
    /// The delivery made; follow it with GET /api/v1/deliveries/{id}.
    pub delivery: i64,
}

pub async fn test_webhook(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let delivery = state.ledger.test_webhook(&p.actor, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { delivery })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    pub state: Option<String>,
    pub channel: Option<String>,
    /// Only deliveries with a smaller id (paging: the last id of the previous page).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

fn filter(q: DeliveryQuery, webhook_id: Option<i64>) -> ApiResult<DeliveryFilter> {
    if let Some(s) = &q.state
        && !["pending", "delivered", "failed", "digest"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "`state` is one of pending, delivered, failed, digest",
        ));
    }
    if let Some(c) = &q.channel
        && !["webhook", "mail"].contains(&c.as_str())
    {
        return Err(ApiError::invalid("`channel` is webhook or mail"));
    }
    Ok(DeliveryFilter {
        webhook_id,
        channel: q.channel,
        state: q.state,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    })
}

pub async fn webhook_deliveries(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    state.ledger.webhook(id).await?;
    Ok(Json(state.ledger.deliveries(&filter(q, Some(id))?).await?))
}

pub async fn deliveries(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    Ok(Json(state.ledger.deliveries(&filter(q, None)?).await?))
}

#[derive(Debug, Serialize)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    pub attempts: Vec<AttemptView>,
}

pub async fn delivery(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryDetail>> {
    let (delivery, attempts) = state.ledger.delivery(id).await?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

pub async fn redeliver(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(state.ledger.redeliver(&p.actor, id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    if let Some(t) = &q.event_type
        && seatkeeper_core::events::EventType::parse(t).is_none()
    {
        return Err(ApiError::invalid(format!(
            "unknown event type {}",
            seatkeeper_core::error::quoted(t)
        )));
    }
    Ok(Json(
        state
            .ledger
            .events(q.event_type.as_deref(), q.before, q.limit.unwrap_or(100))
            .await?,
    ))
}
