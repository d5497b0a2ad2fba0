//! Users taken in just in time (I3): `POST /integration/v1/sso-login` verifies an OpenID
//! Connect ID token, creates or updates its user and logs them in, answering exactly as
//! `POST /integration/v1/login`; `POST /integration/v1/provision` is the same upsert for an
//! application that verified the sign-in itself. Both go through the ledger's one
//! provisioning call, which also redistributes for the user (D5).

use axum::Json;
use axum::extract::State;
use seatkeeper_core::login::{Refusal, RefusedLogin};
use seatkeeper_core::{Area, Error as DomainError};
use seatkeeper_store::{
    FolderRule, LimitPolicy, LoginAnswer, LoginRequest, Provisioned, Provisioner, RoleSync,
    StoreError, UserUpsert, UserView,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::sso::{self, SsoError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoLoginBody {
    /// The ID token the application received when the user signed in.
    pub id_token: String,
    /// Free text about the client, as for `/integration/v1/login`.
    #[serde(default)]
    pub client: String,
}

pub async fn sso_login(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SsoLoginBody>,
) -> ApiResult<Json<LoginAnswer>> {
    let result = sso_log_in(&state, caller, body).await;
    crate::metrics::count_login(&state, "sso", &result);
    result
}

async fn sso_log_in(
    state: &AppState,
    caller: Caller,
    body: SsoLoginBody,
) -> ApiResult<Json<LoginAnswer>> {
    let verifier = state.sso.as_ref().ok_or(SsoError::NotConfigured)?;
    let now = state.ledger.now().unix_timestamp();
    let claims = verifier.verify(&body.id_token, now).await.map_err(|e| {
        tracing::info!(code = e.code(), error = %e, "SSO sign-in refused");
        ApiError::from(e)
    })?;
    let config = verifier.config();
    let mut id = sso::identity(&claims, &config.claims)?;
    let roles = match &id.groups {
        Some(groups) if !config.group_roles.is_empty() => {
            let (managed, wanted) = sso::roles_for(&config.group_roles, groups);
            Some(RoleSync {
                managed: Some(managed),
                wanted,
            })
        }
        // No mapping, or a token without its groups: roles are not touched.
        _ => None,
    };
    // Area and folder place a user the sign-in creates; an existing user stays where an
    // administrator put them. A user the directory sync keeps is the directory's: the
    // sign-in logs them in and changes nothing.
    let (placement, directory) = match state.ledger.user(&id.login).await {
        Ok(user) => {
            // Logins match case-insensitively; the stored spelling is kept.
            id.login = user.login;
            (None, user.source == "directory")
        }
        Err(StoreError::Domain(DomainError::UnknownUser(_))) => (
            Some((config.area, FolderRule::Create(config.folder.clone()))),
            false,
        ),
        Err(e) => return Err(e.into()),
    };
    let up = UserUpsert {
        login: id.login.clone(),
        name: id.name,
        email: id.email,
        active: None,
        external_id: None,
        area: placement.as_ref().map(|(area, _)| *area),
        folder: placement.map(|(_, folder)| folder),
        profile: None,
        roles,
    };
    let mut actor = caller.actor.clone();
    actor.origin = "api:sso".into();
    let result = if directory {
        Ok(id.login.clone())
    } else {
        upsert(state, &actor, Provisioner::Sso, up)
            .await
            .map(|p| p.user.login)
    };
    let login = match result {
        Ok(login) => login,
        // U1 on this path: creating (or activating) the user would pass the area's limit.
        // The answer is the one a login beyond the limit gets; nothing was written.
        Err(ApiError {
            code: "area_limit", ..
        }) => {
            return Ok(Json(LoginAnswer::Refused(RefusedLogin::new(
                &id.login,
                Refusal::AreaLimit,
            ))));
        }
        Err(e) => return Err(e),
    };
    let client = crate::integration::client_text(body.client);
    let answer = state.gate.login(LoginRequest { login, client }).await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionBody {
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The user's provisioned roles, by name: roles outside the list are taken away (those
    /// provisioning may touch), roles in it given. Absent: roles are left as they are.
    pub roles: Option<Vec<String>>,
    pub area: Option<Area>,
    pub folder: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProvisionAnswer {
    pub user: UserView,
    pub created: bool,
    pub changed: bool,
}

pub async fn provision(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ProvisionBody>,
) -> ApiResult<Json<ProvisionAnswer>> {
    let login = body.login.trim().to_string();
    if login.is_empty() || login.len() > 256 {
        return Err(ApiError::invalid("`login` must be 1–256 characters"));
    }
    let up = UserUpsert {
        login,
        name: body.name,
        email: body.email,
        active: None,
        external_id: None,
        area: body.area,
        folder: body.folder.map(FolderRule::Exact),
        profile: None,
        roles: body.roles.map(|roles| RoleSync {
            managed: None,
            wanted: roles.into_iter().collect(),
        }),
    };
    let p = upsert(&state, &caller.actor, Provisioner::Sso, up).await?;
    Ok(Json(ProvisionAnswer {
        user: p.user,
        created: p.created,
        changed: p.changed,
    }))
}

/// The ledger's upsert, refusing (not blocking) a user beyond the area's limit.
async fn upsert(
    state: &AppState,
    actor: &seatkeeper_store::Actor,
    by: Provisioner,
    up: UserUpsert,
) -> ApiResult<Provisioned> {
    let p = state
        .ledger
        .provision_user(actor, by, up, LimitPolicy::Refuse)
        .await?;
    if p.changed {
        // A user blocked, renamed or given roles here may hold tokens: this node forgets
        // what it resolved for them at once.
        state.principals.clear();
    }
    Ok(p)
}
