//! The API's own sign-in (`/api/v1/auth`): a bearer token for a login and password, sign-out,
//! and who the caller is. The checks and limits are `crate::auth::signin`'s, shared with the UI.

use axum::extract::State;
use axum::{Extension, Json};
use seatkeeper_core::Permission;
use seatkeeper_store::{Principal, TokenScope};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AppState;
use crate::client::Client;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Caller};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninBody {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SigninAnswer {
    /// Bearer token for the admin API; shown once.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub login: String,
    pub permissions: Vec<Permission>,
}

pub async fn signin(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SigninBody>,
) -> ApiResult<Json<SigninAnswer>> {
    let (secret, principal) = crate::auth::signin::authenticate(
        &state,
        &client,
        &body.login,
        &body.password,
        "api:signin",
    )
    .await?;
    let expires_at = state.ledger.now() + state.settings.signin_ttl;
    Ok(Json(SigninAnswer {
        token: secret,
        expires_at,
        login: principal.login.clone(),
        permissions: if principal.builtin {
            Permission::ALL.to_vec()
        } else {
            principal.permissions.into_iter().collect()
        },
    }))
}

pub async fn signout(
    State(state): State<AppState>,
    p: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    if p.scope == TokenScope::Signin {
        state.ledger.delete_signin(p.token_id).await?;
        state.principals.clear();
    }
    Ok(Json(
        serde_json::json!({"signed_out": p.scope == TokenScope::Signin}),
    ))
}

/// The caller, with the permissions in effect (the built-in administrator has them all).
pub async fn me(Extension(mut p): Extension<Principal>) -> Json<Principal> {
    if p.builtin {
        p.permissions = Permission::ALL.into_iter().collect();
    }
    Json(p)
}
