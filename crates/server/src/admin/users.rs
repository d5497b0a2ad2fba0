//! Users (U1–U4): listing, creating, blocking, moving, passwords, CSV import and export.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use seatkeeper_core::{Area, UserState};
use seatkeeper_store::{BlockReport, CsvImportReport, NewUser, UserFilter, UserView};
use serde::Deserialize;

use super::{Page, page, page_limit};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ApiText, Caller};
use crate::{AppState, auth};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    pub area: Option<Area>,
    pub state: Option<UserState>,
    pub folder: Option<String>,
    pub product: Option<String>,
    /// Direct members of this role (id).
    pub role: Option<i64>,
    /// Matches login, name or e-mail.
    pub q: Option<String>,
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: u64,
}

pub async fn users(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let limit = page_limit(q.limit)?;
    let items = state
        .ledger
        .users(&UserFilter {
            area: q.area,
            state: q.state,
            folder: q.folder,
            product: q.product,
            role: q.role,
            search: q.q,
            limit: Some(limit + 1),
            offset: q.offset,
        })
        .await?;
    Ok(Json(page(items, limit, q.offset)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub login: String,
    pub name: Option<String>,
    #[serde(default)]
    pub email: String,
    pub area: Area,
    #[serde(default)]
    pub folder: String,
    pub state: Option<UserState>,
}

pub async fn create_user(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<(axum::http::StatusCode, Json<UserView>)> {
    let user = state
        .ledger
        .create_user(
            &p.actor,
            NewUser {
                name: body.name.unwrap_or_else(|| body.login.clone()),
                login: body.login,
                email: body.email,
                area: body.area,
                folder: body.folder,
                state: body.state.unwrap_or(UserState::Active),
            },
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(user)))
}

pub async fn user(
    State(state): State<AppState>,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(state.ledger.user(&login).await?))
}

pub async fn delete_user(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Json<BlockReport>> {
    let report = state.ledger.delete_user(&p.actor, &login).await?;
    state.principals.clear();
    Ok(Json(report))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    pub reason: Option<String>,
}

pub async fn block_user(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(body): ApiJson<BlockBody>,
) -> ApiResult<Json<BlockReport>> {
    let reason = body.reason.unwrap_or_else(|| "manual".to_string());
    let report = state.ledger.block_user(&p.actor, &login, &reason).await?;
    state.principals.clear();
    Ok(Json(report))
}

pub async fn activate_user(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    state.ledger.activate_user(&p.actor, &login).await?;
    state.principals.clear();
    Ok(Json(state.ledger.user(&login).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    pub folder: String,
}

pub async fn move_user(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(body): ApiJson<MoveBody>,
) -> ApiResult<Json<UserView>> {
    state
        .ledger
        .move_user(&p.actor, &login, &body.folder)
        .await?;
    Ok(Json(state.ledger.user(&login).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

pub async fn set_password(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&body.password))
        .await
        .map_err(|_| ApiError::unavailable("password hashing interrupted"))??;
    state
        .ledger
        .set_password_hash(&p.actor, &login, &hash)
        .await?;
    state.principals.clear();
    Ok(Json(
        serde_json::json!({"login": login, "password_set": true}),
    ))
}

/// The body is the CSV file (the same columns `GET /users/export` writes).
pub async fn import_users(
    State(state): State<AppState>,
    p: Caller,
    ApiText(body): ApiText,
) -> ApiResult<Json<CsvImportReport>> {
    let report = state.ledger.import_users_csv(&p.actor, &body).await?;
    // Rows may have blocked users: their tokens must stop working here at once.
    state.principals.clear();
    Ok(Json(report))
}

pub async fn export_users(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let csv = state.ledger.export_users_csv().await?;
    Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}
