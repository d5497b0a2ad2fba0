//! Manual grants and recalls of products (D1).

use axum::Json;
use axum::extract::State;
use seatkeeper_store::{GrantReport, RecallReport};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsBody {
    pub users: Vec<String>,
    pub products: Vec<String>,
}

pub async fn grant(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<PairsBody>,
) -> ApiResult<Json<GrantReport>> {
    Ok(Json(
        state
            .ledger
            .grant(&p.actor, &body.users, &body.products)
            .await?,
    ))
}

pub async fn recall(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<PairsBody>,
) -> ApiResult<Json<RecallReport>> {
    Ok(Json(
        state
            .ledger
            .recall(&p.actor, &body.users, &body.products)
            .await?,
    ))
}
