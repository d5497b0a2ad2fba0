//! The folder tree.

use axum::Json;
use axum::extract::State;
use seatkeeper_store::FolderView;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Caller};

pub async fn folders(State(state): State<AppState>) -> ApiResult<Json<Vec<FolderView>>> {
    Ok(Json(state.ledger.folders().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderBody {
    pub path: String,
}

pub async fn create_folder(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<FolderBody>,
) -> ApiResult<(axum::http::StatusCode, Json<FolderView>)> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(state.ledger.create_folder(&p.actor, &body.path).await?),
    ))
}

pub async fn delete_folder(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    let folders = state.ledger.folders().await?;
    let folder = folders
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| seatkeeper_core::Error::UnknownFolder(id.to_string()))?;
    state.ledger.delete_folder(&p.actor, &folder.path).await?;
    Ok(Json(serde_json::json!({"deleted": folder.path})))
}
