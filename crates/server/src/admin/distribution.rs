//! Role-based distribution (D3–D6): settings, preview and runs, explain, pending needs.

use axum::Json;
use axum::extract::State;
use seatkeeper_store::{
    DEFAULT_DETAIL, DistributionSettings, ExplainView, ManualGrants, NeedView,
    RedistributionReport, RunView, Scope,
};
use serde::Deserialize;

use super::{Page, db_limit, page, page_limit};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};

pub async fn distribution_settings(
    State(state): State<AppState>,
) -> ApiResult<Json<DistributionSettings>> {
    Ok(Json(state.ledger.distribution_settings().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    pub redistribute_on_role_change: Option<bool>,
    pub role_based_distribution: Option<bool>,
}

pub async fn set_distribution_settings(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<DistributionSettings>> {
    let old = state.ledger.distribution_settings().await?;
    let new = DistributionSettings {
        redistribute_on_role_change: body
            .redistribute_on_role_change
            .unwrap_or(old.redistribute_on_role_change),
        role_based_distribution: body
            .role_based_distribution
            .unwrap_or(old.role_based_distribution),
    };
    Ok(Json(
        state
            .ledger
            .set_distribution_settings(&p.actor, new)
            .await?,
    ))
}

/// Most items of each list a preview may carry (the counts are always complete).
const MAX_DETAIL: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    pub scope: Scope,
    /// "keep" (default) or "remove" manually granted licenses that no role asks for.
    #[serde(default)]
    pub manual: ManualGrants,
    /// Items of each list (grants, recalls, unmet needs) in the answer; 200 by default.
    pub detail: Option<usize>,
}

pub async fn preview_redistribution(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<RedistributionReport>> {
    let detail = body.detail.unwrap_or(DEFAULT_DETAIL);
    if detail > MAX_DETAIL {
        return Err(ApiError::invalid(format!(
            "`detail` must be at most {MAX_DETAIL}"
        )));
    }
    Ok(Json(
        state
            .ledger
            .preview_redistribution(&body.scope, body.manual, detail)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedistributeBody {
    pub scope: Scope,
    #[serde(default)]
    pub manual: ManualGrants,
}

pub async fn redistribute(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<RedistributeBody>,
) -> ApiResult<Json<RedistributionReport>> {
    Ok(Json(
        state
            .ledger
            .redistribute(&p.actor, &body.scope, body.manual)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    pub limit: Option<u64>,
}

pub async fn redistributions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<RunView>>> {
    let limit = page_limit(q.limit)?;
    Ok(Json(state.ledger.redistributions(db_limit(limit)).await?))
}

pub async fn redistribute_user(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Json<RedistributionReport>> {
    Ok(Json(
        state.ledger.redistribute_user(&p.actor, &login).await?,
    ))
}

pub async fn explain(
    State(state): State<AppState>,
    ApiPath((login, product)): ApiPath<(String, String)>,
) -> ApiResult<Json<ExplainView>> {
    Ok(Json(state.ledger.explain(&login, &product).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedsQuery {
    pub login: Option<String>,
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: u64,
}

pub async fn needs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<NeedsQuery>,
) -> ApiResult<Json<Page<NeedView>>> {
    let limit = page_limit(q.limit)?;
    let offset = i64::try_from(q.offset).map_err(|_| ApiError::invalid("`offset` is too large"))?;
    let items = state
        .ledger
        .pending_needs(
            q.login.as_deref().filter(|l| !l.is_empty()),
            db_limit(limit + 1),
            offset,
        )
        .await?;
    Ok(Json(page(items, limit, q.offset)))
}
