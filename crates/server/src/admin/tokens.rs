//! API tokens: integration tokens for the application and admin tokens for automation.

use axum::Json;
use axum::extract::State;
use seatkeeper_store::{TokenScope, TokenView};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Caller};
use crate::{AppState, auth};

pub async fn tokens(State(state): State<AppState>) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(state.ledger.tokens().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// "integration" (the application) or "admin" (automation acting as `owner`).
    pub scope: TokenScope,
    /// The user the token acts as; the caller by default.
    pub owner: Option<String>,
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct NewToken {
    /// The secret, shown this once; only its hash is stored.
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

pub async fn create_token(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<TokenBody>,
) -> ApiResult<(axum::http::StatusCode, Json<NewToken>)> {
    if body.scope == TokenScope::Signin {
        return Err(ApiError::invalid(
            "sign-in tokens come from POST /api/v1/auth/login",
        ));
    }
    let expires_at = match body.expires_in_days {
        Some(d) if !(1..=3650).contains(&d) => {
            return Err(ApiError::invalid(
                "`expires_in_days` must be between 1 and 3650",
            ));
        }
        Some(d) => Some(state.ledger.now() + time::Duration::days(d)),
        None => None,
    };
    let secret = auth::new_secret(body.scope)?;
    let owner = body.owner.unwrap_or_else(|| p.login.clone());
    let view = state
        .ledger
        .create_token(
            &p.actor,
            &owner,
            &body.name,
            body.scope,
            &auth::secret_hash(&secret),
            expires_at,
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(NewToken {
            token: secret,
            view,
        }),
    ))
}

pub async fn delete_token(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    state.ledger.delete_token(&p.actor, id).await?;
    state.principals.clear();
    Ok(Json(serde_json::json!({"deleted": id})))
}
