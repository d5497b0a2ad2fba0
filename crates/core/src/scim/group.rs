//! The SCIM Group resource (RFC 7643 §4.2) and its PATCH, as set operations.
//!
//! API:
//! - [`GroupInput`] `{ display_name, external_id, members: Vec<String> }` and
//!   [`GroupInput::from_json`]: `displayName` required; each member needs a string `value`
//!   (a user id); a member `type` other than "User" → `invalidValue` (no nested groups);
//!   members deduplicated, order kept; unknown and readOnly attributes ignored.
//! - [`GroupResource`] `{ id, display_name, external_id, members: Vec<MemberRef>, created,
//!   last_modified }` and [`GroupResource::to_json`] (`meta.resourceType` "Group"; each
//!   member as `value`, `$ref`, `type` "User", without `display`).
//! - [`parse_group_patch`] → `Vec<GroupOp>`, applied in order by the store, set-based, so a
//!   large group is never loaded to change it. Accepted forms (op names in any case):
//!   `add`/`replace` with path `members`, `displayName`, `externalId` (also URN-qualified);
//!   `remove` with path `members` and a `value` list (Okta, Entra ID) or without (all
//!   members); `remove` with `members[value eq "id"]` or an `or` of those; `add`/`replace`
//!   without path and an object value whose keys are those attributes (`id`, `schemas` and
//!   `meta` in it ignored). Other member filters → `invalidFilter`; other paths →
//!   `invalidPath`; `remove` without path → `noTarget`; removing `displayName` →
//!   `invalidValue` (it is required).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::ast::{CompValue, CompareOp, Filter, PatchPath};
use super::common::{
    GROUP_SCHEMA, MAX_STRING, OpKind, etag, get_ci, operation, patch_operations, patch_path,
    rfc3339,
};
use super::error::ScimError;
use super::user::opt_string;

/// What a Group POST/PUT carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids (`members[].value`), each once, in the order sent.
    pub members: Vec<String>,
}

impl GroupInput {
    pub fn from_json(body: &Value) -> Result<GroupInput, ScimError> {
        let map = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a Group must be a JSON object"))?;
        let display_name = required_display_name(get_ci(map, "displayName"))?;
        let members = match get_ci(map, "members") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => member_ids(v)?,
        };
        Ok(GroupInput {
            display_name,
            external_id: opt_string(get_ci(map, "externalId"), "externalId", MAX_STRING)?,
            members,
        })
    }

    /// The attributes as JSON, with `schemas`, members as `{"value": id}`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("schemas".into(), json!([GROUP_SCHEMA]));
        map.insert(
            "displayName".into(),
            Value::String(self.display_name.clone()),
        );
        if let Some(x) = &self.external_id {
            map.insert("externalId".into(), Value::String(x.clone()));
        }
        if !self.members.is_empty() {
            let members = self.members.iter().map(|m| json!({ "value": m })).collect();
            map.insert("members".into(), Value::Array(members));
        }
        Value::Object(map)
    }
}

fn required_display_name(value: Option<&Value>) -> Result<String, ScimError> {
    opt_string(value, "displayName", MAX_STRING)?
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("\"displayName\" is required"))
}

/// Member ids from `[{"value": id, "type"?: "User", …}, …]` (or one such object).
fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => {
            return Err(ScimError::invalid_value(
                "\"members\" must be an array of objects with a \"value\"",
            ));
        }
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let map = item.as_object().ok_or_else(|| {
            ScimError::invalid_value("each member must be an object with a \"value\"")
        })?;
        let id = opt_string(get_ci(map, "value"), "members.value", MAX_STRING)?
            .ok_or_else(|| ScimError::invalid_value("each member needs a \"value\" (a user id)"))?;
        match get_ci(map, "type") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t.eq_ignore_ascii_case("User") => {}
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "member type {other} is not supported: members must be Users (no nested groups)"
                )));
            }
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A member as a group lists it: its user id. No `display`: it is optional and readOnly
/// (RFC 7643 §4.2), and a client that sends members without it compares what comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
}

/// A stored group, as the store hands it over to be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResource {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<MemberRef>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
}

impl GroupResource {
    /// The full representation; `base_url` as for [`super::UserResource::to_json`].
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut map = Map::new();
        map.insert("schemas".into(), json!([GROUP_SCHEMA]));
        map.insert("id".into(), Value::String(self.id.clone()));
        if let Some(x) = &self.external_id {
            map.insert("externalId".into(), Value::String(x.clone()));
        }
        map.insert(
            "displayName".into(),
            Value::String(self.display_name.clone()),
        );
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                json!({
                    "value": m.value,
                    "$ref": format!("{base_url}/Users/{}", m.value),
                    "type": "User",
                })
            })
            .collect();
        map.insert("members".into(), Value::Array(members));
        let mut body = Value::Object(map);
        let version = etag(&body);
        if let Some(map) = body.as_object_mut() {
            map.insert(
                "meta".into(),
                json!({
                    "resourceType": "Group",
                    "created": rfc3339(self.created),
                    "lastModified": rfc3339(self.last_modified),
                    "location": format!("{base_url}/Groups/{}", self.id),
                    "version": version,
                }),
            );
        }
        body
    }
}

/// One change to a group, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOp {
    SetDisplayName(String),
    SetExternalId(Option<String>),
    /// Add these users (already-members stay once).
    AddMembers(Vec<String>),
    /// Remove these users (non-members are no error).
    RemoveMembers(Vec<String>),
    RemoveAllMembers,
    /// Members become exactly these users.
    ReplaceMembers(Vec<String>),
}

#[derive(Clone, Copy)]
enum Attr {
    DisplayName,
    ExternalId,
    Members,
    /// `id`, `schemas`, `meta` inside a no-path value: readOnly, ignored.
    Ignored,
}

/// The group attribute a name (possibly URN-qualified with the core Group schema) names.
fn attr(name: &str) -> Option<Attr> {
    let prefix = format!("{GROUP_SCHEMA}:");
    let name = match name.get(..prefix.len()) {
        Some(p) if p.eq_ignore_ascii_case(&prefix) => name.get(prefix.len()..).unwrap_or(""),
        _ => name,
    };
    let is = |a: &str| name.eq_ignore_ascii_case(a);
    if is("displayName") {
        Some(Attr::DisplayName)
    } else if is("externalId") {
        Some(Attr::ExternalId)
    } else if is("members") {
        Some(Attr::Members)
    } else if is("id") || is("schemas") || is("meta") {
        Some(Attr::Ignored)
    } else {
        None
    }
}

fn unknown_path(path: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "{} is not a Group attribute that can be changed: expected \"displayName\", \
         \"externalId\" or \"members\"",
        crate::error::quoted(path)
    ))
}

/// Parses a Group PATCH body into the operations to apply, in order.
pub fn parse_group_patch(body: &Value) -> Result<Vec<GroupOp>, ScimError> {
    let mut out = Vec::new();
    for op in patch_operations(body)? {
        let (kind, path, value) = operation(op)?;
        match path {
            None => {
                if kind == OpKind::Remove {
                    return Err(ScimError::no_target("\"remove\" needs a \"path\""));
                }
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::invalid_value(
                        "an operation without \"path\" needs an object \"value\"",
                    ));
                };
                let mut named = Vec::with_capacity(values.len());
                for (key, v) in values {
                    named.push((attr(key).ok_or_else(|| unknown_path(key))?, v));
                }
                // A fixed order, whatever order the JSON object keeps its keys in.
                named.sort_by_key(|(a, _)| *a as u8);
                for (a, v) in named {
                    apply(kind, a, Some(v).filter(|v| !v.is_null()), &mut out)?;
                }
            }
            Some(text) => {
                let parsed = patch_path(text)?;
                match parsed {
                    PatchPath::Attr(p) if p.sub_attr.is_none() => {
                        let full = match &p.schema {
                            Some(s) => format!("{s}:{}", p.attr),
                            None => p.attr.clone(),
                        };
                        match attr(&full) {
                            Some(Attr::Ignored) | None => return Err(unknown_path(text)),
                            Some(a) => apply(kind, a, value, &mut out)?,
                        }
                    }
                    PatchPath::Value {
                        path,
                        filter,
                        sub_attr: None,
                    } if path.schema.is_none()
                        && matches!(attr(&path.attr), Some(Attr::Members)) =>
                    {
                        if kind != OpKind::Remove {
                            return Err(ScimError::invalid_path(format!(
                                "{} with a member filter is not supported: use \"members\" \
                                 with a value list",
                                if kind == OpKind::Add {
                                    "\"add\""
                                } else {
                                    "\"replace\""
                                }
                            )));
                        }
                        let mut ids = Vec::new();
                        member_filter_ids(&filter, &mut ids)?;
                        out.push(GroupOp::RemoveMembers(ids));
                    }
                    _ => return Err(unknown_path(text)),
                }
            }
        }
    }
    Ok(out)
}

fn apply(
    kind: OpKind,
    attr: Attr,
    value: Option<&Value>,
    out: &mut Vec<GroupOp>,
) -> Result<(), ScimError> {
    match (attr, kind) {
        (Attr::Ignored, _) => {}
        (Attr::DisplayName, OpKind::Remove) => {
            return Err(ScimError::invalid_value(
                "\"displayName\" is required and cannot be removed",
            ));
        }
        (Attr::DisplayName, _) => {
            out.push(GroupOp::SetDisplayName(required_display_name(value)?));
        }
        (Attr::ExternalId, OpKind::Remove) => out.push(GroupOp::SetExternalId(None)),
        (Attr::ExternalId, _) => out.push(GroupOp::SetExternalId(opt_string(
            value,
            "externalId",
            MAX_STRING,
        )?)),
        (Attr::Members, OpKind::Remove) => out.push(match value {
            // Okta and Entra ID name the members to remove in `value` (not RFC 7644, sent).
            Some(v) => GroupOp::RemoveMembers(member_ids(v)?),
            None => GroupOp::RemoveAllMembers,
        }),
        (Attr::Members, OpKind::Add) => {
            let v = value.ok_or_else(|| ScimError::invalid_value("\"add\" needs a \"value\""))?;
            out.push(GroupOp::AddMembers(member_ids(v)?));
        }
        (Attr::Members, OpKind::Replace) => out.push(GroupOp::ReplaceMembers(match value {
            Some(v) => member_ids(v)?,
            None => Vec::new(),
        })),
    }
    Ok(())
}

/// The ids of `value eq "id"`, or of an `or` of those.
fn member_filter_ids(filter: &Filter, ids: &mut Vec<String>) -> Result<(), ScimError> {
    match filter {
        Filter::Or(a, b) => {
            member_filter_ids(a, ids)?;
            member_filter_ids(b, ids)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.schema.is_none()
            && path.sub_attr.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
            Ok(())
        }
        other => Err(ScimError::invalid_filter(format!(
            "member filter \"{other}\" is not supported: only value eq \"<user id>\", \
             alone or joined by \"or\""
        ))),
    }
}
