//! Reports: the per-area and per-product summary (U4) and the audit log (N3).

use axum::Json;
use axum::extract::State;
use seatkeeper_store::{AuditEntry, AuditFilter, Summary};
use serde::{Deserialize, Serialize};

use super::page_limit;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    pub expiring_within_days: Option<i64>,
}

pub async fn summary(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> ApiResult<Json<Summary>> {
    let days = q.expiring_within_days.unwrap_or(30);
    if !(0..=3650).contains(&days) {
        return Err(ApiError::invalid(
            "`expiring_within_days` must be between 0 and 3650",
        ));
    }
    Ok(Json(
        state.ledger.summary(time::Duration::days(days)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub target: Option<String>,
    pub actor: Option<String>,
    /// Keyset pagination: records older than this id (use the previous page's `next_before_id`).
    pub before_id: Option<i64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub limit: u64,
    pub next_before_id: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(q.limit)?;
    let mut items = state
        .ledger
        .audit_log(&AuditFilter {
            action: q.action,
            target: q.target,
            actor: q.actor,
            before_id: q.before_id,
            limit: Some(limit + 1),
        })
        .await?;
    let more = items.len() as u64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Json(AuditPage {
        next_before_id: if more {
            items.last().map(|e| e.id)
        } else {
            None
        },
        items,
        limit,
    }))
}
