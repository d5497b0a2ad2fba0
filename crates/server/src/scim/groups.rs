//! `/scim/v2/Groups` → roles: list, read, create, replace, patch (members add / remove /
//! replace, in the forms Entra ID and Okta send), delete. Membership changes redistribute for
//! the users they touch (D5, in the store).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use seatkeeper_core::scim::{
    self, Filter, GroupInput, GroupOp, GroupResource, MemberRef, ScimError,
};
use seatkeeper_store::{GroupChange, GroupLookup, ScimGroup};
use serde_json::Value;

use super::http::{
    ListQuery, Resources, Scim, ScimBody, ScimFail, ScimResult, base_url, check_if_match,
    eq_string, keep_matching, parse_id, store_error, unknown_reference,
};
use crate::AppState;
use crate::extract::Caller;

pub(crate) fn resource(g: &ScimGroup, base: &str) -> Value {
    let created = g.created_at.unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    GroupResource {
        id: g.id.to_string(),
        display_name: g.name.clone(),
        external_id: g.external_id.clone(),
        members: g
            .members
            .iter()
            .map(|(id, _)| MemberRef {
                value: id.to_string(),
            })
            .collect(),
        created,
        last_modified: g.modified_at.unwrap_or(created),
    }
    .to_json(base)
}

fn lookup(filter: &Filter) -> Option<GroupLookup> {
    let (attr, s) = eq_string(filter)?;
    match attr.as_str() {
        "displayname" => Some(GroupLookup::DisplayName(s.to_string())),
        "externalid" => Some(GroupLookup::ExternalId(s.to_string())),
        "id" => Some(s.parse().map(GroupLookup::Id).unwrap_or(GroupLookup::Id(0))),
        _ => None,
    }
}

/// Member ids: the ledger's user ids are integers; anything else names no user.
fn member_ids(values: &[String]) -> Result<Vec<i64>, ScimError> {
    values
        .iter()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("no such user: {v:?}")))
        })
        .collect()
}

fn changes(ops: Vec<GroupOp>) -> Result<Vec<GroupChange>, ScimError> {
    ops.into_iter()
        .map(|op| {
            Ok(match op {
                GroupOp::SetDisplayName(n) => GroupChange::Rename(n),
                GroupOp::SetExternalId(x) => GroupChange::ExternalId(x),
                GroupOp::AddMembers(m) => GroupChange::Add(member_ids(&m)?),
                // Removing a member id that is no user's is no change, as for a non-member.
                GroupOp::RemoveMembers(m) => {
                    GroupChange::Remove(m.iter().filter_map(|v| v.parse().ok()).collect())
                }
                GroupOp::RemoveAllMembers => GroupChange::RemoveAll,
                GroupOp::ReplaceMembers(m) => GroupChange::Replace(member_ids(&m)?),
            })
        })
        .collect()
}

/// The groups' lists (`http::list`, `http::search`).
pub struct Groups;

impl Resources for Groups {
    async fn page(
        state: &AppState,
        base: &str,
        offset: u64,
        count: u64,
    ) -> Result<(u64, Vec<Value>), ScimFail> {
        let (total, groups) = state
            .ledger
            .scim_groups(&GroupLookup::All, offset, Some(count), true)
            .await?;
        Ok((total, groups.iter().map(|g| resource(g, base)).collect()))
    }

    async fn matching(
        state: &AppState,
        base: &str,
        filter: Option<&Filter>,
    ) -> Result<Vec<Value>, ScimFail> {
        let fast = filter.and_then(lookup).unwrap_or(GroupLookup::All);
        let (_, groups) = state.ledger.scim_groups(&fast, 0, None, true).await?;
        keep_matching(groups.iter().map(|g| resource(g, base)), filter)
    }
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ScimResult {
    let id = parse_id(&id, "group")?;
    let q = ListQuery::parse(query.as_deref());
    let g = state
        .ledger
        .scim_groups(&GroupLookup::Id(id), 0, Some(1), true)
        .await?
        .1
        .pop()
        .ok_or_else(|| ScimFail(ScimError::not_found(format!("no group with id {id}"))))?;
    let r = resource(&g, &base_url(&state, &headers));
    let mut projected = q.project(&r)?;
    if let (Some(map), Some(meta)) = (projected.as_object_mut(), r.get("meta")) {
        map.entry("meta").or_insert_with(|| meta.clone());
    }
    Ok(Scim::ok(projected))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let input = GroupInput::from_json(&body)?;
    let members = member_ids(&input.members)?;
    let g = state
        .ledger
        .scim_create_group(
            &caller.actor,
            &input.display_name,
            input.external_id.clone(),
            members,
            state.settings.scim.group_parent.as_deref(),
        )
        .await
        .map_err(unknown_reference)?;
    Ok(Scim::created(resource(&g, &base_url(&state, &headers))))
}

async fn update(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    query: Option<&str>,
    id: &str,
    decide: impl FnOnce() -> Result<Vec<GroupChange>, ScimError>,
) -> ScimResult {
    let id = parse_id(id, "group")?;
    let base = base_url(state, headers);
    let out = state
        .ledger
        .scim_update_group(&caller.actor, id, |g| {
            check_if_match(headers, &resource(g, &base))?;
            decide()
        })
        .await
        .map_err(|e| match e {
            // A role id in the URL that is gone is 404; a member that is no user, 400.
            seatkeeper_store::StoreError::Domain(seatkeeper_core::Error::UnknownRole(_)) => {
                store_error(e)
            }
            other => unknown_reference(other),
        })?;
    let r = resource(&out?, &base);
    let q = ListQuery::parse(query);
    Ok(Scim::ok(q.project(&r)?))
}

pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let input = GroupInput::from_json(&body)?;
    let members = member_ids(&input.members)?;
    update(&state, &caller, &headers, query.as_deref(), &id, || {
        Ok(vec![
            GroupChange::Rename(input.display_name),
            GroupChange::ExternalId(input.external_id),
            GroupChange::Replace(members),
        ])
    })
    .await
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let ops = changes(scim::parse_group_patch(&body)?)?;
    update(&state, &caller, &headers, query.as_deref(), &id, || Ok(ops)).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    let id = parse_id(&id, "group")?;
    let base = base_url(&state, &headers);
    state
        .ledger
        .scim_delete_group(&caller.actor, id, |g| {
            check_if_match(&headers, &resource(g, &base))
        })
        .await
        .map_err(store_error)??;
    Ok(Scim::no_content())
}
