//! `/scim/v2/Users`: list (filter, paging, projection), read, create, replace, patch, delete.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use seatkeeper_core::UserState;
use seatkeeper_core::scim::{
    self, Filter, GroupRef, ScimError, StoredUser, UserInput, UserResource,
};
use seatkeeper_store::{ScimUser, UserLookup, UserUpsert};
use serde_json::Value;

use super::http::{
    ListQuery, Resources, Scim, ScimBody, ScimFail, ScimResult, base_url, check_if_match,
    eq_string, keep_matching, parse_id, store_error,
};
use crate::AppState;
use crate::extract::Caller;

/// The department kept in the stored profile (the ledger has no column for it; the folder
/// follows it by the `[scim]` rule).
const DEPARTMENT: &str = "department";

pub(crate) fn resource(u: &ScimUser, base: &str) -> Value {
    let department = u
        .profile
        .as_ref()
        .and_then(|p| p.get(DEPARTMENT))
        .and_then(Value::as_str)
        .map(str::to_string);
    let stored = StoredUser {
        user_name: u.login.clone(),
        external_id: u.external_id.clone(),
        // A user waiting for room (U2) or blocked for any reason is not active: the answer
        // shows the state the user really has.
        active: u.state == UserState::Active,
        department,
        ledger_name: u.name.clone(),
        ledger_email: u.email.clone(),
        profile: u.profile.clone(),
    };
    UserResource {
        id: u.id.to_string(),
        input: UserInput::from_stored(&stored),
        groups: u
            .groups
            .iter()
            .map(|(id, name)| GroupRef {
                value: id.to_string(),
                display: name.clone(),
            })
            .collect(),
        created: u.created_at,
        last_modified: u.modified_at,
    }
    .to_json(base)
}

/// What the ledger keeps of a SCIM user: every attribute, `groups` aside (read-only).
fn upsert(state: &AppState, input: &UserInput) -> UserUpsert {
    let mut profile = input.profile();
    if let (Some(d), Some(map)) = (&input.department, profile.as_object_mut()) {
        map.insert(DEPARTMENT.into(), Value::String(d.clone()));
    }
    UserUpsert {
        login: input.user_name.clone(),
        name: Some(input.ledger_name()),
        email: Some(input.ledger_email()),
        active: Some(input.wants_active()),
        external_id: Some(input.external_id.clone()),
        folder: state.settings.scim.folder_rule(input.department.as_deref()),
        area: None,
        profile: Some(profile),
        roles: None,
    }
}

/// The fast path of the filters identity providers send before every create: `userName`,
/// `externalId` or `id` `eq` a string, read by index. Other filters are evaluated on every
/// user's representation.
fn lookup(filter: &Filter) -> Option<UserLookup> {
    let (attr, s) = eq_string(filter)?;
    match attr.as_str() {
        "username" => Some(UserLookup::UserName(s.to_string())),
        "externalid" => Some(UserLookup::ExternalId(s.to_string())),
        "id" => Some(s.parse().map(UserLookup::Id).unwrap_or(UserLookup::Id(0))),
        _ => None,
    }
}

/// The users' lists (`http::list`, `http::search`).
pub struct Users;

impl Resources for Users {
    async fn page(
        state: &AppState,
        base: &str,
        offset: u64,
        count: u64,
    ) -> Result<(u64, Vec<Value>), ScimFail> {
        let (total, users) = state
            .ledger
            .scim_users(&UserLookup::All, offset, Some(count))
            .await?;
        Ok((total, users.iter().map(|u| resource(u, base)).collect()))
    }

    /// Read by index when the filter is one identity providers send before every create.
    async fn matching(
        state: &AppState,
        base: &str,
        filter: Option<&Filter>,
    ) -> Result<Vec<Value>, ScimFail> {
        let fast = filter.and_then(lookup).unwrap_or(UserLookup::All);
        let (_, users) = state.ledger.scim_users(&fast, 0, None).await?;
        keep_matching(users.iter().map(|u| resource(u, base)), filter)
    }
}

async fn one(state: &AppState, id: i64) -> Result<ScimUser, ScimFail> {
    state
        .ledger
        .scim_users(&UserLookup::Id(id), 0, Some(1))
        .await?
        .1
        .pop()
        .ok_or_else(|| ScimError::not_found(format!("no user with id {id}")).into())
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ScimResult {
    let id = parse_id(&id, "user")?;
    let q = ListQuery::parse(query.as_deref());
    let u = one(&state, id).await?;
    let r = resource(&u, &base_url(&state, &headers));
    let projected = q.project(&r)?;
    Ok(Scim::ok(keep_meta(projected, &r)))
}

/// The answer to a single read keeps `meta` (for its ETag header) even when projected away.
fn keep_meta(mut projected: Value, full: &Value) -> Value {
    if let (Some(map), Some(meta)) = (projected.as_object_mut(), full.get("meta")) {
        map.entry("meta").or_insert_with(|| meta.clone());
    }
    projected
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let input = UserInput::from_json(&body)?;
    let u = state
        .ledger
        .scim_create_user(
            &caller.actor,
            upsert(&state, &input),
            state.settings.scim.limit,
        )
        .await?;
    Ok(Scim::created(resource(&u, &base_url(&state, &headers))))
}

/// PUT and PATCH: the new description is decided from the user as they are inside the
/// write, after `If-Match`.
async fn update(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    change: impl FnOnce(&Value) -> Result<UserInput, ScimError>,
) -> ScimResult {
    let id = parse_id(id, "user")?;
    let base = base_url(state, headers);
    let out = state
        .ledger
        .scim_update_user(&caller.actor, id, state.settings.scim.limit, |u| {
            let current = resource(u, &base);
            check_if_match(headers, &current)?;
            let input = change(&current)?;
            let mut up = upsert(state, &input);
            // `active` as the user was shown is no change: a user waiting for room (U2) or
            // blocked by an administrator is shown `active: false`, and a PATCH of another
            // attribute (or a PUT echoing the read) must not turn that into a deactivation,
            // which would stop them being activated when room frees.
            if current.get("active").and_then(Value::as_bool) == Some(input.wants_active()) {
                up.active = None;
            }
            Ok::<_, ScimError>(up)
        })
        .await
        .map_err(store_error)?;
    let user = out?;
    // A user blocked (or renamed) here may hold tokens: this node forgets them at once.
    state.principals.clear();
    Ok(Scim::ok(resource(&user, &base)))
}

pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let input = UserInput::from_json(&body)?;
    // `id` in a PUT body is read-only: it may repeat the URL's, not change it.
    if let Some(given) = body.get("id").and_then(Value::as_str)
        && given != id
    {
        return Err(ScimError::mutability(format!(
            "id is read-only: the body names {given:?}, the URL {id:?}"
        ))
        .into());
    }
    update(&state, &caller, &headers, &id, |_| Ok(input)).await
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    update(&state, &caller, &headers, &id, |current| {
        let new = scim::apply_user_patch(current, &body)?;
        UserInput::from_json(&new)
    })
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    let id = parse_id(&id, "user")?;
    let base = base_url(&state, &headers);
    state
        .ledger
        .scim_delete_user(&caller.actor, id, state.settings.scim.delete, |u| {
            check_if_match(&headers, &resource(u, &base))
        })
        .await
        .map_err(store_error)??;
    state.principals.clear();
    Ok(Scim::no_content())
}
