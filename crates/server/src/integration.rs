//! The integration API the licensed application calls (S1–S4, I4): log in, heartbeat, log
//! out, entitlement check. Login answers are 200 with `outcome` = `allowed` or `refused`:
//! a refusal is an answer about the user, not an error of the call.

use axum::Json;
use axum::extract::State;
use seatkeeper_store::{EntitlementAnswer, LoginAnswer, LoginRequest};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub login: String,
    /// Free text about the client (host, application), shown to administrators.
    #[serde(default)]
    pub client: String,
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<LoginAnswer>> {
    let result = log_in(&state, body).await;
    crate::metrics::count_login(&state, "login", &result);
    result
}

async fn log_in(state: &AppState, body: LoginBody) -> ApiResult<Json<LoginAnswer>> {
    if body.login.trim().is_empty() || body.login.len() > 256 {
        return Err(ApiError::invalid("`login` must be 1–256 characters"));
    }
    let answer = state
        .gate
        .login(LoginRequest {
            login: body.login.trim().to_string(),
            client: client_text(body.client),
        })
        .await?;
    Ok(Json(answer))
}

/// The client text a login records: at most 200 bytes, cut on a character boundary
/// (`String::truncate` panics inside a character).
pub(crate) fn client_text(mut client: String) -> String {
    client.truncate(client.floor_char_boundary(200));
    client
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    pub session_id: String,
}

#[derive(Debug, Serialize)]
pub struct HeartbeatAnswer {
    pub session_id: String,
    pub alive: bool,
    /// Without a heartbeat for this long the session ends and its floating seats are freed.
    pub idle_timeout_secs: u64,
}

fn unknown_session(id: &str) -> ApiError {
    seatkeeper_core::Error::UnknownSession(id.to_string()).into()
}

pub async fn heartbeat(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SessionBody>,
) -> ApiResult<Json<HeartbeatAnswer>> {
    if !state.gate.heartbeat(body.session_id.clone()).await? {
        return Err(unknown_session(&body.session_id));
    }
    Ok(Json(HeartbeatAnswer {
        session_id: body.session_id,
        alive: true,
        idle_timeout_secs: state.settings.idle_timeout().as_secs(),
    }))
}

#[derive(Debug, Serialize)]
pub struct LogoutAnswer {
    pub session_id: String,
    pub ended: bool,
}

pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SessionBody>,
) -> ApiResult<Json<LogoutAnswer>> {
    if !state.gate.logout(body.session_id.clone()).await? {
        return Err(unknown_session(&body.session_id));
    }
    Ok(Json(LogoutAnswer {
        session_id: body.session_id,
        ended: true,
    }))
}

#[derive(Debug, Deserialize)]
pub struct EntitlementQuery {
    pub session_id: Option<String>,
    pub login: Option<String>,
    pub feature: String,
}

pub async fn entitlement(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EntitlementQuery>,
) -> ApiResult<Json<EntitlementAnswer>> {
    Ok(Json(
        state
            .ledger
            .entitlement(q.session_id.as_deref(), q.login.as_deref(), &q.feature)
            .await?,
    ))
}
