//! System messages for the administrators (N2).

use axum::Json;
use axum::extract::State;
use seatkeeper_store::MessageView;
use serde::Deserialize;

use super::{db_limit, page_limit};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    #[serde(default)]
    pub unread: bool,
    pub limit: Option<u64>,
}

pub async fn messages(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<Vec<MessageView>>> {
    let limit = page_limit(q.limit)?;
    Ok(Json(
        state.ledger.messages(q.unread, db_limit(limit)).await?,
    ))
}

pub async fn unread_messages(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        serde_json::json!({"unread": state.ledger.unread_messages().await?}),
    ))
}

pub async fn mark_message_read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    // The ledger reads id 0 as "every message": an id from a path never means that. The
    // answer is the ledger's own for an unknown id.
    if id < 1 {
        return Err(ApiError::invalid(format!("unknown system message {id}")));
    }
    let marked = state.ledger.mark_read(Some(id)).await?;
    Ok(Json(serde_json::json!({"id": id, "marked": marked})))
}

pub async fn mark_all_messages_read(
    State(state): State<AppState>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        serde_json::json!({"marked": state.ledger.mark_read(None).await?}),
    ))
}
