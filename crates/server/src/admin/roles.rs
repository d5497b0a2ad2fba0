//! Roles (D2): the role tree, permissions, members and bound products.

use axum::Json;
use axum::extract::State;
use seatkeeper_core::Permission;
use seatkeeper_store::{RedistributionReport, RoleChange, RoleView};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Caller};

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
