//! Live sessions of the licensed application: listing, ending one, reaping idle ones.

use axum::extract::State;
use axum::{Extension, Json};
use seatkeeper_store::{EndedSessions, Principal, SessionView};
use serde::Deserialize;

use super::{Page, page, page_limit};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery, Caller};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    pub login: Option<String>,
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: u64,
}

pub async fn sessions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SessionsQuery>,
) -> ApiResult<Json<Page<SessionView>>> {
    let limit = page_limit(q.limit)?;
    let items = state
        .ledger
        .sessions(q.login.as_deref(), limit + 1, q.offset)
        .await?;
    Ok(Json(page(items, limit, q.offset)))
}

pub async fn end_session(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndedSessions>> {
    Ok(Json(state.ledger.end_session(&p.actor, &id).await?))
}

pub async fn reap_sessions(
    State(state): State<AppState>,
    Extension(_p): Extension<Principal>,
) -> ApiResult<Json<EndedSessions>> {
    Ok(Json(
        state
            .ledger
            .reap_idle(state.settings.idle_timeout())
            .await?,
    ))
}
