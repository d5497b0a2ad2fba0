//! PATCH of a User (RFC 7644 §3.5.2), applied to its JSON representation.
//!
//! API: [`apply_user_patch`]`(current, body) -> Result<Value, ScimError>`: the new
//! representation (attributes from [`UserInput::to_json`], plus `id`, `groups` and `meta`
//! copied from `current`, `meta` stale), already checked by [`UserInput::from_json`].
//!
//! Rules:
//! - `schemas` must list PatchOp, `Operations` 1..=[`MAX_OPERATIONS`](super::MAX_OPERATIONS)
//!   (more → `invalidValue`); op names in any case; `remove` without `path` → `noTarget`.
//! - Paths: `attr`, `attr.sub`, URN-qualified (core User schema or the enterprise extension,
//!   or the bare extension URN with an object value), `emails[filter]` and
//!   `emails[filter].sub`. Without `path`, the value is an object whose keys are such paths
//!   (Entra ID sends `{"name.givenName": …, "urn:…:User:department": …}`).
//! - Attributes Seatkeeper does not keep (`title`, `phoneNumbers`, other extensions, unknown
//!   sub-attributes) are accepted and dropped, as on POST, so an identity provider's default
//!   mapping does not fail. A sub-attribute or filter on a simple attribute → `invalidPath`.
//! - `id`, `meta`, `groups`, `schemas`: a value equal to the current one is ignored (Okta
//!   echoes `id`), any other change → `mutability`. Removing `userName` → `invalidValue`.
//! - `add`/`replace` on a complex attribute merge the given sub-attributes (RFC 7644
//!   §3.5.2.1/§3.5.2.3); `add` to `emails` appends values not already present; `replace`
//!   of `emails` replaces the list.
//! - `emails[filter]`: `replace` matching nothing → `noTarget` (§3.5.2.3); `add` matching
//!   nothing creates the value from the filter's `eq` terms (Entra ID's
//!   `Add emails[type eq "work"].value`), or → `noTarget` if the filter is not such terms;
//!   `remove` matching nothing does nothing. An e-mail left without `value` is dropped.
//! - Removing `active` leaves it unassigned: the result has no `active` (the ledger keeps
//!   such a user active).
//! - `active` and `primary` accept "True"/"False"; setting `primary` true on one e-mail sets
//!   it false on the others (§3.5.2: "the service provider SHALL automatically set …").

use serde_json::{Map, Value, json};

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::common::{
    ENTERPRISE_USER_SCHEMA, OpKind, USER_SCHEMA, boolish, get_ci, key_ci, operation,
    patch_operations, patch_path,
};
use super::error::ScimError;
use super::user::{NAME_FIELDS, UserInput};

const EMAIL_FIELDS: [&str; 4] = ["value", "type", "primary", "display"];
/// Marks an e-mail whose `primary` this operation set to true; removed before returning.
const MARK: &str = "\u{0}primary-set";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Simple,
    Complex(&'static [&'static str]),
    Multi(&'static [&'static str]),
}

/// The attributes a PATCH can change: (in extension, canonical name, shape).
const ATTRS: [(bool, &str, Shape); 7] = [
    (false, "userName", Shape::Simple),
    (false, "externalId", Shape::Simple),
    (false, "displayName", Shape::Simple),
    (false, "active", Shape::Simple),
    (false, "name", Shape::Complex(&NAME_FIELDS)),
    (false, "emails", Shape::Multi(&EMAIL_FIELDS)),
    (true, "department", Shape::Simple),
];

const READ_ONLY: [&str; 4] = ["id", "meta", "groups", "schemas"];

/// Where an operation writes.
struct Loc {
    ext: bool,
    attr: &'static str,
    shape: Shape,
    sub: Option<&'static str>,
    filter: Option<Filter>,
}

/// Applies a PATCH body to a User representation.
pub fn apply_user_patch(current: &Value, body: &Value) -> Result<Value, ScimError> {
    let ops = patch_operations(body)?;
    let current_map = current
        .as_object()
        .ok_or_else(|| ScimError::internal("the current User is not a JSON object"))?;
    let mut doc = match UserInput::from_json(current)?.to_json() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for op in ops {
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
                for (key, v) in values {
                    let v = Some(v).filter(|v| !v.is_null());
                    apply_at(&mut doc, current_map, kind, key, v)?;
                }
            }
            Some(text) => apply_at(&mut doc, current_map, kind, text, value)?,
        }
        tidy_primary(&mut doc);
    }
    drop_emails_without_value(&mut doc);
    let input = UserInput::from_json(&Value::Object(doc))?;
    let mut out = input.to_json();
    if let Some(map) = out.as_object_mut() {
        for key in ["id", "groups", "meta"] {
            if let Some(v) = get_ci(current_map, key) {
                map.insert(key.into(), v.clone());
            }
        }
    }
    Ok(out)
}

fn is_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// One operation at a path given as text (a `path`, or a key of a no-path value).
fn apply_at(
    doc: &mut Map<String, Value>,
    current: &Map<String, Value>,
    kind: OpKind,
    text: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if is_ci(text, ENTERPRISE_USER_SCHEMA) {
        // The whole extension: its keys are its attributes.
        return match (kind, value) {
            (OpKind::Remove, _) => {
                if let Some(k) = key_ci(doc, ENTERPRISE_USER_SCHEMA) {
                    doc.remove(&k);
                }
                Ok(())
            }
            (_, Some(Value::Object(attrs))) => {
                for (key, v) in attrs {
                    if is_ci(key, "schemas") {
                        continue;
                    }
                    let path = AttrPath::new(key.clone()).in_schema(ENTERPRISE_USER_SCHEMA);
                    let v = Some(v).filter(|v| !v.is_null());
                    apply_path(doc, current, kind, PatchPath::Attr(path), v)?;
                }
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!(
                "\"{ENTERPRISE_USER_SCHEMA}\" needs an object value"
            ))),
        };
    }
    if is_ci(text, "schemas") && kind != OpKind::Remove {
        // A no-path value may carry `schemas`; the server decides them.
        return Ok(());
    }
    apply_path(doc, current, kind, patch_path(text)?, value)
}

fn locate(path: PatchPath) -> Result<Option<Loc>, ScimError> {
    let (attr_path, filter, filter_sub) = match path {
        PatchPath::Attr(p) => (p, None, None),
        PatchPath::Value {
            path,
            filter,
            sub_attr,
        } => (path, Some(filter), sub_attr),
    };
    let ext = match &attr_path.schema {
        None => false,
        Some(s) if is_ci(s, USER_SCHEMA) => false,
        Some(s) if is_ci(s, ENTERPRISE_USER_SCHEMA) => true,
        // Another extension: not kept, dropped as on POST.
        Some(_) => return Ok(None),
    };
    if !ext && READ_ONLY.iter().any(|r| is_ci(r, &attr_path.attr)) {
        return Err(ScimError::mutability(format!(
            "\"{}\" is readOnly",
            attr_path.attr
        )));
    }
    let Some(&(_, attr, shape)) = ATTRS
        .iter()
        .find(|(e, name, _)| *e == ext && is_ci(name, &attr_path.attr))
    else {
        return Ok(None);
    };
    let sub_text = match (&attr_path.sub_attr, &filter_sub) {
        (Some(_), Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "\"{attr_path}\" cannot be followed by a filter and a sub-attribute"
            )));
        }
        (Some(s), None) | (None, Some(s)) => Some(s.clone()),
        (None, None) => None,
    };
    let subs: &[&str] = match shape {
        Shape::Simple => {
            if sub_text.is_some() || filter.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "\"{attr}\" is a simple attribute: it has no sub-attributes or values to filter"
                )));
            }
            &[]
        }
        Shape::Complex(subs) => {
            if filter.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "\"{attr}\" is single-valued: it cannot be filtered"
                )));
            }
            subs
        }
        Shape::Multi(subs) => subs,
    };
    let sub = match sub_text {
        None => None,
        Some(s) => match subs.iter().find(|k| is_ci(k, &s)) {
            Some(k) => Some(*k),
            // A sub-attribute Seatkeeper does not keep (`emails.foo`): dropped.
            None => return Ok(None),
        },
    };
    Ok(Some(Loc {
        ext,
        attr,
        shape,
        sub,
        filter,
    }))
}

/// The object the attribute lives in: the resource, or the extension object.
fn container(doc: &mut Map<String, Value>, ext: bool) -> Option<&mut Map<String, Value>> {
    if !ext {
        return Some(doc);
    }
    let key = key_ci(doc, ENTERPRISE_USER_SCHEMA).unwrap_or_else(|| ENTERPRISE_USER_SCHEMA.into());
    let slot = doc.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

/// Sets `key` (replacing any spelling of it) to `value`, booleans coerced.
fn set_ci(map: &mut Map<String, Value>, key: &str, value: Value) {
    if let Some(k) = key_ci(map, key) {
        map.remove(&k);
    }
    let value = coerce(key, value);
    if is_ci(key, "primary") && value == Value::Bool(true) {
        map.insert(MARK.into(), Value::Bool(true));
    }
    map.insert(key.into(), value);
}

fn remove_ci(map: &mut Map<String, Value>, key: &str) {
    if let Some(k) = key_ci(map, key) {
        map.remove(&k);
    }
}

/// "True"/"False" as booleans for `active` and `primary`, at any depth; an object whose
/// `primary` becomes true is marked (see [`tidy_primary`]).
fn coerce(key: &str, value: Value) -> Value {
    match value {
        Value::String(_) if is_ci(key, "active") || is_ci(key, "primary") => {
            boolish(&value).map_or(value, Value::Bool)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| coerce(key, v)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                set_ci(&mut out, &k, v);
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Merges the keys of `value` (an object) into `target`.
fn merge(target: &mut Map<String, Value>, value: &Value, attr: &str) -> Result<(), ScimError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ScimError::invalid_value(format!("\"{attr}\" needs an object value")))?;
    for (k, v) in obj {
        set_ci(target, k, v.clone());
    }
    Ok(())
}

fn apply_path(
    doc: &mut Map<String, Value>,
    current: &Map<String, Value>,
    kind: OpKind,
    path: PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // A readOnly attribute given its current value (Okta echoes `id`) is no change.
    if let (PatchPath::Attr(p), Some(v)) = (&path, value)
        && p.schema.is_none()
        && p.sub_attr.is_none()
        && kind != OpKind::Remove
        && READ_ONLY.iter().any(|r| is_ci(r, &p.attr))
        && get_ci(current, &p.attr) == Some(v)
    {
        return Ok(());
    }
    let Some(loc) = locate(path)? else {
        return Ok(());
    };
    let needs_value =
        || value.ok_or_else(|| ScimError::invalid_value(format!("\"{}\" needs a value", loc.attr)));
    if kind == OpKind::Remove && loc.attr == "userName" {
        return Err(ScimError::invalid_value(
            "\"userName\" is required and cannot be removed",
        ));
    }
    let Some(map) = container(doc, loc.ext) else {
        return Ok(());
    };
    match (loc.shape, loc.sub, &loc.filter) {
        (Shape::Simple, _, _) => match kind {
            OpKind::Remove => remove_ci(map, loc.attr),
            _ => set_ci(map, loc.attr, needs_value()?.clone()),
        },
        (Shape::Complex(_), None, _) => match kind {
            OpKind::Remove => remove_ci(map, loc.attr),
            _ => {
                let v = needs_value()?;
                if let Some(target) = object_at(map, loc.attr) {
                    merge(target, v, loc.attr)?;
                }
            }
        },
        (Shape::Complex(_), Some(sub), _) => match kind {
            OpKind::Remove => {
                if let Some(Value::Object(obj)) = map.get_mut(loc.attr) {
                    remove_ci(obj, sub);
                }
            }
            _ => {
                let v = needs_value()?.clone();
                if let Some(target) = object_at(map, loc.attr) {
                    set_ci(target, sub, v);
                }
            }
        },
        (Shape::Multi(_), None, None) if kind == OpKind::Remove => remove_ci(map, loc.attr),
        (Shape::Multi(_), sub, None) => {
            let Some(list) = array_at(map, loc.attr) else {
                return Ok(());
            };
            match (kind, sub) {
                (OpKind::Remove, None) => list.clear(),
                (OpKind::Remove, Some(sub)) => {
                    for item in list.iter_mut() {
                        if let Value::Object(obj) = item {
                            remove_ci(obj, sub);
                        }
                    }
                }
                (OpKind::Add, None) => {
                    for v in values_of(needs_value()?) {
                        let v = coerce(loc.attr, v);
                        if !list.iter().any(|existing| same_value(existing, &v)) {
                            list.push(v);
                        }
                    }
                }
                (OpKind::Replace, None) => {
                    let values = values_of(needs_value()?);
                    *list = values.into_iter().map(|v| coerce(loc.attr, v)).collect();
                }
                (_, Some(sub)) => {
                    let v = needs_value()?;
                    if list.is_empty() {
                        list.push(json!({}));
                    }
                    for item in list.iter_mut() {
                        if let Value::Object(obj) = item {
                            set_ci(obj, sub, v.clone());
                        }
                    }
                }
            }
        }
        (Shape::Multi(_), sub, Some(filter)) => {
            let Some(list) = array_at(map, loc.attr) else {
                return Ok(());
            };
            let probe = Filter::value_path(AttrPath::new(loc.attr), filter.clone());
            let mut matched = Vec::new();
            for (i, item) in list.iter().enumerate() {
                if probe.try_matches(&json!({ (loc.attr): [item] }))? {
                    matched.push(i);
                }
            }
            if kind == OpKind::Remove {
                if let Some(sub) = sub {
                    for i in matched {
                        if let Some(Value::Object(obj)) = list.get_mut(i) {
                            remove_ci(obj, sub);
                        }
                    }
                } else {
                    let mut i = 0;
                    list.retain(|_| {
                        i += 1;
                        !matched.contains(&(i - 1))
                    });
                }
                return Ok(());
            }
            let v = needs_value()?;
            if matched.is_empty() {
                let created = match kind {
                    OpKind::Add => from_filter(filter),
                    _ => None,
                };
                let Some(mut created) = created else {
                    return Err(ScimError::no_target(format!(
                        "no value of \"{}\" matches [{filter}]",
                        loc.attr
                    )));
                };
                write_item(&mut created, sub, v, loc.attr)?;
                list.push(Value::Object(created));
                return Ok(());
            }
            for i in matched {
                if let Some(Value::Object(obj)) = list.get_mut(i) {
                    write_item(obj, sub, v, loc.attr)?;
                }
            }
        }
    }
    Ok(())
}

fn write_item(
    obj: &mut Map<String, Value>,
    sub: Option<&str>,
    value: &Value,
    attr: &str,
) -> Result<(), ScimError> {
    match sub {
        Some(sub) => {
            set_ci(obj, sub, value.clone());
            Ok(())
        }
        None => merge(obj, value, attr),
    }
}

/// The object at `key`, created (or made an object) if need be.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

/// The array at `key`, created (or made an array) if need be; a lone object becomes a
/// one-value array.
fn array_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let slot = map.entry(key).or_insert_with(|| json!([]));
    if slot.is_object() {
        *slot = Value::Array(vec![slot.take()]);
    } else if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut()
}

fn values_of(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Two values of a multi-valued attribute are the same if their `value`s are
/// (case-insensitively), or if they are equal outright.
fn same_value(a: &Value, b: &Value) -> bool {
    let v = |x: &Value| {
        x.as_object()
            .and_then(|m| get_ci(m, "value"))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    match (v(a), v(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The value a filter of `eq` terms joined by `and` describes (`type eq "work"` →
/// `{"type": "work"}`); `None` for any other filter.
fn from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(f: &Filter, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::And(a, b) => walk(a, out) && walk(b, out),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.schema.is_none() && path.sub_attr.is_none() => {
                let v = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    _ => return false,
                };
                set_ci(out, &path.attr, v);
                true
            }
            _ => false,
        }
    }
    walk(filter, &mut out).then_some(out)
}

/// After each operation: the e-mail just made primary is the only primary one.
fn tidy_primary(doc: &mut Map<String, Value>) {
    let Some(Value::Array(list)) = doc.get_mut("emails") else {
        return;
    };
    let marked = list
        .iter()
        .any(|e| e.as_object().is_some_and(|m| m.contains_key(MARK)));
    for item in list.iter_mut() {
        if let Value::Object(obj) = item
            && obj.remove(MARK).is_none()
            && marked
            && get_ci(obj, "primary").is_some()
        {
            set_ci(obj, "primary", Value::Bool(false));
        }
    }
}

/// After all operations (an e-mail may get its `type` or `primary` before its `value`):
/// e-mails left without a `value` are dropped.
fn drop_emails_without_value(doc: &mut Map<String, Value>) {
    let Some(Value::Array(list)) = doc.get_mut("emails") else {
        return;
    };
    // Only objects: anything else stays for `UserInput::from_json` to refuse.
    list.retain(|e| {
        e.as_object()
            .is_none_or(|m| get_ci(m, "value").is_some_and(|v| !v.is_null() && v != ""))
    });
}
