//! Pieces shared by the SCIM resources: schema URNs, case-insensitive keys, the ETag, limits.
//!
//! API: the URN constants, [`MAX_RESULTS`], [`MAX_OPERATIONS`], [`etag`].

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ast::PatchPath;
use super::error::ScimError;
use super::parse::parse_path;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Most resources one list response carries (`count` above it is lowered to it); advertised
/// as `filter.maxResults`.
pub const MAX_RESULTS: usize = 1000;
/// Most operations in one PATCH request. More is refused as `invalidValue` (400): `tooMany`
/// is for searches, and 413 is for bodies over the size limit, which the HTTP layer enforces.
pub const MAX_OPERATIONS: usize = 1000;
/// Longest `userName`, in characters.
pub const MAX_USER_NAME: usize = 256;
/// Longest other string attribute, in characters.
pub const MAX_STRING: usize = 1024;
/// Most e-mail addresses a user may carry.
pub const MAX_EMAILS: usize = 20;

/// The value of a key, matched without regard to case (RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The key as spelled in the map, matched without regard to case.
pub(crate) fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `W/"<hex>"`: SHA-256 of the resource's canonical JSON (keys sorted at every level, no
/// spaces), first 16 bytes. The caller passes the representation without `meta`, so the
/// version changes exactly when something a client can see changes.
pub fn etag(resource_without_meta: &Value) -> String {
    let mut text = String::new();
    canonical(resource_without_meta, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        hex.push_str(&format!("{byte:02x}"));
    }
    format!("W/\"{hex}\"")
}

/// Sorted keys regardless of whether serde_json keeps insertion order (its `preserve_order`
/// feature may be switched on by another crate in the build).
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A boolean, or the strings "True"/"False" in any case (Entra ID sends those).
pub(crate) fn boolish(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Whether `schemas` (any key case) lists `urn`, compared without regard to case.
pub(crate) fn lists_schema(body: &Map<String, Value>, urn: &str) -> bool {
    get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(urn)))
        })
}

/// The PATCH body's operations: `schemas` must list PatchOp, `Operations` must be a
/// non-empty array of at most [`MAX_OPERATIONS`] objects.
pub(crate) fn patch_operations(body: &Value) -> Result<&Vec<Value>, ScimError> {
    let map = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body must be a JSON object"))?;
    if !lists_schema(map, PATCH_OP_SCHEMA) {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body's \"schemas\" must contain \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let ops = get_ci(map, "Operations")
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body needs \"Operations\""))?
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("\"Operations\" must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax(
            "\"Operations\" must hold at least one operation",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "a PATCH request may hold at most {MAX_OPERATIONS} operations; this one holds {}",
            ops.len()
        )));
    }
    Ok(ops)
}

/// A PATCH operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation: its kind, `path` and `value` (keys and op names in any case).
pub(crate) fn operation(op: &Value) -> Result<(OpKind, Option<&str>, Option<&Value>), ScimError> {
    let map = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("each operation must be a JSON object"))?;
    let name = get_ci(map, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("each operation needs \"op\" as a string"))?;
    let kind = if name.eq_ignore_ascii_case("add") {
        OpKind::Add
    } else if name.eq_ignore_ascii_case("replace") {
        OpKind::Replace
    } else if name.eq_ignore_ascii_case("remove") {
        OpKind::Remove
    } else {
        return Err(ScimError::invalid_syntax(format!(
            "unknown operation {}: expected \"add\", \"replace\" or \"remove\"",
            crate::error::quoted(name)
        )));
    };
    let path = match get_ci(map, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(map, "value").filter(|v| !v.is_null());
    Ok((kind, path, value))
}

/// A PATCH `path`, parsed. RFC 7644 §3.12 tells the errors apart: a fault inside the
/// `[filter]` is `invalidFilter`, any other fault in the path is `invalidPath`.
pub(crate) fn patch_path(text: &str) -> Result<PatchPath, ScimError> {
    parse_path(text).map_err(|e| {
        let in_filter = match (text.find('['), e.position) {
            (Some(open), Some(at)) => at > open,
            _ => false,
        };
        if in_filter {
            ScimError::invalid_filter(e.detail)
        } else {
            ScimError::invalid_path(e.detail.replacen("invalid filter", "invalid path", 1))
        }
    })
}
