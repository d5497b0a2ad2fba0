//! The admin API (`/api/v1`): every ledger operation, JSON in and out. Each handler only
//! translates HTTP to a ledger call; the route table decides who may call it.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use seatkeeper_core::license::LicenseRequest;
use seatkeeper_core::{Area, Permission, UserState};
use seatkeeper_store::{
    AuditEntry, AuditFilter, BlockReport, CsvImportReport, DEFAULT_DETAIL, DeleteLicensesReport,
    DistributionSettings, EndedSessions, ExplainView, FolderView, GrantReport, ImportReport,
    InstanceInfo, LicenseFileView, ManualGrants, MessageView, NeedView, NewUser, PackageView,
    Principal, ProductView, RecallReport, RedistributionReport, RoleChange, RoleView, RunView,
    Scope, SeatChanges, SessionView, Summary, TokenScope, TokenView, UserFilter, UserView,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AppState;
use crate::auth;
use crate::client::Client;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ApiText, Caller};

/// A page of a list: `next_offset` is set when more items follow.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: u64,
    pub offset: u64,
    pub next_offset: Option<u64>,
}

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

fn page_limit(limit: Option<u64>) -> ApiResult<u64> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::invalid("`limit` must be at least 1")),
        l if l > MAX_LIMIT => Err(ApiError::invalid(format!(
            "`limit` must be at most {MAX_LIMIT}"
        ))),
        l => Ok(l),
    }
}

/// Builds a page from `limit + 1` fetched items.
fn page<T>(mut items: Vec<T>, limit: u64, offset: u64) -> Page<T> {
    let more = items.len() as u64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Page {
        next_offset: more.then(|| offset + limit),
        items,
        limit,
        offset,
    }
}

// ── sign-in ─────────────────────────────────────────────────────────────────────────────

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
    let (secret, principal) =
        crate::signin::authenticate(&state, &client, &body.login, &body.password, "api:signin")
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

// ── licenses ────────────────────────────────────────────────────────────────────────────

pub async fn instance(State(state): State<AppState>) -> ApiResult<Json<InstanceInfo>> {
    Ok(Json(state.ledger.instance().await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseRequestBody {
    pub company_id: Option<String>,
    pub app_version: Option<String>,
}

pub async fn license_request(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<LicenseRequestBody>,
) -> ApiResult<Json<LicenseRequest>> {
    let version = body
        .app_version
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    Ok(Json(
        state
            .ledger
            .license_request(&p.actor, body.company_id.as_deref(), &version)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyIdBody {
    pub company_id: String,
}

/// The one way to change a recorded company id (a license request refuses a different one).
pub async fn set_company_id(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<CompanyIdBody>,
) -> ApiResult<Json<InstanceInfo>> {
    Ok(Json(
        state
            .ledger
            .set_company_id(&p.actor, &body.company_id)
            .await?,
    ))
}

pub async fn license_files(State(state): State<AppState>) -> ApiResult<Json<Vec<LicenseFileView>>> {
    Ok(Json(state.ledger.license_files().await?))
}

/// The body is the license file itself, as the vendor sent it.
pub async fn import_license(
    State(state): State<AppState>,
    p: Caller,
    ApiText(body): ApiText,
) -> ApiResult<Json<ImportReport>> {
    if state.settings.vendor_keys.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_vendor_key",
            "no vendor key is trusted: start the server with --vendor-key <public key PEM>",
        ));
    }
    Ok(Json(
        state
            .ledger
            .import_license(&p.actor, &body, &state.settings.vendor_keys)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ConfirmQuery {
    pub confirm: Option<bool>,
}

pub async fn delete_all_licenses(
    State(state): State<AppState>,
    p: Caller,
    ApiQuery(q): ApiQuery<ConfirmQuery>,
) -> ApiResult<Json<DeleteLicensesReport>> {
    if q.confirm != Some(true) {
        return Err(ApiError::invalid(
            "deleting every license switches the installation to demo mode: repeat with ?confirm=true",
        ));
    }
    Ok(Json(state.ledger.delete_all_licenses(&p.actor).await?))
}

pub async fn packages(State(state): State<AppState>) -> ApiResult<Json<Vec<PackageView>>> {
    Ok(Json(state.ledger.packages().await?))
}

pub async fn products(State(state): State<AppState>) -> ApiResult<Json<Vec<ProductView>>> {
    Ok(Json(state.ledger.products().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementBody {
    pub serial: String,
    /// Folder path ("Sales/North"); "" or "/" is the root.
    pub folder: String,
    pub seats: u32,
}

pub async fn place_seats(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<PlacementBody>,
) -> ApiResult<Json<Vec<PackageView>>> {
    state
        .ledger
        .place_seats(&p.actor, &body.serial, &body.folder, body.seats)
        .await?;
    Ok(Json(state.ledger.packages().await?))
}

pub async fn refresh(
    State(state): State<AppState>,
    Extension(_p): Extension<Principal>,
) -> ApiResult<Json<SeatChanges>> {
    Ok(Json(state.ledger.refresh().await?))
}

// ── folders ─────────────────────────────────────────────────────────────────────────────

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

// ── users ───────────────────────────────────────────────────────────────────────────────

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

// ── grants ──────────────────────────────────────────────────────────────────────────────

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

// ── reports ─────────────────────────────────────────────────────────────────────────────

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

// ── sessions ────────────────────────────────────────────────────────────────────────────

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

// ── roles and tokens ────────────────────────────────────────────────────────────────────

/// A role as the listing shows it: the stored role with the products bound to it (its own
/// bindings; its members also get those of its ancestors).
#[derive(Debug, Serialize)]
pub struct RoleListing {
    #[serde(flatten)]
    pub role: RoleView,
    pub products: Vec<String>,
}

/// Every role with its bound products.
pub async fn role_listing(
    ledger: &seatkeeper_store::Ledger,
) -> seatkeeper_store::Result<Vec<RoleListing>> {
    let mut bound = ledger.role_products().await?;
    Ok(ledger
        .roles()
        .await?
        .into_iter()
        .map(|role| RoleListing {
            products: bound.remove(&role.id).unwrap_or_default(),
            role,
        })
        .collect())
}

pub async fn roles(State(state): State<AppState>) -> ApiResult<Json<Vec<RoleListing>>> {
    Ok(Json(role_listing(&state.ledger).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub name: String,
    /// "organizational" or "functional".
    pub kind: String,
    pub parent_id: Option<i64>,
}

pub async fn create_role(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<(axum::http::StatusCode, Json<RoleView>)> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(
            state
                .ledger
                .create_role(&p.actor, &body.name, &body.kind, body.parent_id)
                .await?,
        ),
    ))
}

async fn role_permission(
    state: &AppState,
    p: &Caller,
    role: i64,
    permission: &str,
    on: bool,
) -> ApiResult<Json<serde_json::Value>> {
    let perm: Permission = permission.parse()?;
    state
        .ledger
        .set_role_permission(&p.actor, role, perm, on)
        .await?;
    state.principals.clear();
    Ok(Json(
        serde_json::json!({"role_id": role, "permission": perm, "granted": on}),
    ))
}

pub async fn grant_permission(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, permission)): ApiPath<(i64, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    role_permission(&state, &p, role, &permission, true).await
}

pub async fn revoke_permission(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, permission)): ApiPath<(i64, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    role_permission(&state, &p, role, &permission, false).await
}

async fn role_member(
    state: &AppState,
    p: &Caller,
    role: i64,
    login: &str,
    on: bool,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .ledger
        .set_role_member(&p.actor, role, login, on)
        .await?;
    state.principals.clear();
    Ok(Json(
        serde_json::json!({"role_id": role, "login": login, "member": on}),
    ))
}

pub async fn add_member(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, login)): ApiPath<(i64, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    role_member(&state, &p, role, &login, true).await
}

pub async fn remove_member(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, login)): ApiPath<(i64, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    role_member(&state, &p, role, &login, false).await
}

/// `Some(v)` for a field that is present, even when it is `null`: tells "move to the top"
/// (`"parent": null`) from "do not move" (no `parent`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdateBody {
    pub name: Option<String>,
    /// The new parent role; `null` makes a functional role top-level (an organizational one
    /// goes under "All employees"). Absent: the role stays where it is.
    #[serde(default, deserialize_with = "present", alias = "parent_id")]
    pub parent: Option<Option<i64>>,
}

#[derive(Debug, Serialize)]
pub struct RoleUpdateAnswer {
    pub role: RoleListing,
    /// What moving the role redistributed (with `redistribute_on_role_change` on).
    pub redistribution: Option<RedistributionReport>,
}

/// Renames and/or moves a role. The new name is checked before the move, so that a refused
/// name changes nothing; the move is then applied, then the rename.
pub async fn update_role(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleUpdateBody>,
) -> ApiResult<Json<RoleUpdateAnswer>> {
    if body.name.is_none() && body.parent.is_none() {
        return Err(ApiError::invalid(
            "nothing to change: give `name`, `parent`, or both",
        ));
    }
    let who = p.actor.clone();
    if let Some(name) = &body.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ApiError::invalid("a role needs a name (1–200 characters)"));
        }
        let roles = state.ledger.roles().await?;
        if !roles.iter().any(|r| r.id == id) {
            return Err(seatkeeper_core::Error::UnknownRole(id.to_string()).into());
        }
        if roles
            .iter()
            .any(|r| r.id != id && r.name.to_lowercase() == name.to_lowercase())
        {
            return Err(ApiError::invalid(format!(
                "a role named {name:?} already exists"
            )));
        }
    }
    let redistribution = match body.parent {
        Some(parent) => {
            state
                .ledger
                .move_role(&who, id, parent)
                .await?
                .redistribution
        }
        None => None,
    };
    if let Some(name) = &body.name {
        state.ledger.rename_role(&who, id, name).await?;
    }
    let role = role_listing(&state.ledger)
        .await?
        .into_iter()
        .find(|r| r.role.id == id)
        .ok_or_else(|| seatkeeper_core::Error::UnknownRole(id.to_string()))?;
    Ok(Json(RoleUpdateAnswer {
        role,
        redistribution,
    }))
}

#[derive(Debug, Serialize)]
pub struct RoleChangeAnswer {
    pub role_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// For member changes: whether the logins are now members; for bindings: whether the
    /// product is now bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    #[serde(flatten)]
    pub change: RoleChange,
}

impl RoleChangeAnswer {
    fn new(role_id: i64, change: RoleChange) -> Self {
        RoleChangeAnswer {
            role_id,
            product: None,
            member: None,
            bound: None,
            deleted: None,
            change,
        }
    }
}

pub async fn delete_role(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RoleChangeAnswer>> {
    let change = state.ledger.delete_role(&p.actor, id).await?;
    // Its members may have held permissions through it.
    state.principals.clear();
    Ok(Json(RoleChangeAnswer {
        deleted: Some(true),
        ..RoleChangeAnswer::new(id, change)
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginsBody {
    pub logins: Vec<String>,
}

async fn role_members(
    state: &AppState,
    p: &Caller,
    role: i64,
    logins: &[String],
    on: bool,
) -> ApiResult<Json<RoleChangeAnswer>> {
    let change = state
        .ledger
        .set_role_members(&p.actor, role, logins, on)
        .await?;
    state.principals.clear();
    Ok(Json(RoleChangeAnswer {
        member: Some(on),
        ..RoleChangeAnswer::new(role, change)
    }))
}

pub async fn add_members(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(role): ApiPath<i64>,
    ApiJson(body): ApiJson<LoginsBody>,
) -> ApiResult<Json<RoleChangeAnswer>> {
    role_members(&state, &p, role, &body.logins, true).await
}

pub async fn remove_members(
    State(state): State<AppState>,
    p: Caller,
    ApiPath(role): ApiPath<i64>,
    ApiJson(body): ApiJson<LoginsBody>,
) -> ApiResult<Json<RoleChangeAnswer>> {
    role_members(&state, &p, role, &body.logins, false).await
}

async fn role_product(
    state: &AppState,
    p: &Caller,
    role: i64,
    product: String,
    on: bool,
) -> ApiResult<Json<RoleChangeAnswer>> {
    let change = state
        .ledger
        .set_role_product(&p.actor, role, &product, on)
        .await?;
    Ok(Json(RoleChangeAnswer {
        product: Some(product),
        bound: Some(on),
        ..RoleChangeAnswer::new(role, change)
    }))
}

pub async fn bind_product(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, product)): ApiPath<(i64, String)>,
) -> ApiResult<Json<RoleChangeAnswer>> {
    role_product(&state, &p, role, product, true).await
}

pub async fn unbind_product(
    State(state): State<AppState>,
    p: Caller,
    ApiPath((role, product)): ApiPath<(i64, String)>,
) -> ApiResult<Json<RoleChangeAnswer>> {
    role_product(&state, &p, role, product, false).await
}

// ── role-based distribution ─────────────────────────────────────────────────────────────

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

fn db_limit(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
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

// ── system messages ─────────────────────────────────────────────────────────────────────

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
