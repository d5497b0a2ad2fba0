//! Evaluating a filter against a SCIM resource in its JSON form (RFC 7644 §3.4.2.2).
//!
//! - Attribute names and schema URNs match keys without regard to case (RFC 7643 §2.1).
//! - A path naming an attribute of a core schema (`urn:ietf:params:scim:schemas:core:…`, or
//!   the resource's first `schemas` entry) is looked up at the top level; any other schema
//!   URN names an extension object keyed by that URN.
//! - A multi-valued attribute matches if any of its values matches. A complex value compared
//!   without a sub-attribute (`emails co "x"`) is compared through its `value` sub-attribute.
//! - Strings compare case-insensitively unless [`CaseExact`] says the attribute is caseExact.
//! - Two strings that are both RFC 3339 date-times compare as instants (`eq` included, so
//!   `…:34Z` equals `…:34.000Z`); other strings compare lexicographically.
//! - Numbers compare numerically. `gt`/`ge`/`lt`/`le` on a boolean attribute is an
//!   `invalidFilter` error (RFC 7644: "Boolean and Binary attributes SHALL cause a failed
//!   response"). Values of another type than the comparison value do not match (`ne`: do).
//! - `pr`: some value is not null, not "", not [] and not {}. `eq null` matches exactly when
//!   `pr` does not (RFC 7643 §2.5: unassigned and null are the same state); `ne null` when it
//!   does.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use super::parse::FilterError;

/// Which attributes compare their strings case-exactly (RFC 7643 `caseExact`).
///
/// `attr` is the top-level attribute, `sub_attr` its sub-attribute if any; both as written
/// in the filter, so implementations should compare them case-insensitively.
pub trait CaseExact {
    fn case_exact(&self, attr: &str, sub_attr: Option<&str>) -> bool;
}

impl<F: Fn(&str, Option<&str>) -> bool> CaseExact for F {
    fn case_exact(&self, attr: &str, sub_attr: Option<&str>) -> bool {
        self(attr, sub_attr)
    }
}

/// The `caseExact` rules of RFC 7643's User, Group and enterprise User schemas (§3.1, §4,
/// §8.7.1): `id`, `externalId`, `meta.resourceType`, `meta.location`, `meta.version`,
/// `photos.value`, `x509Certificates.value` and every `$ref` are case-exact; every other
/// string attribute (`userName`, `displayName`, `emails.value`, `members.value`, …) is not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rfc7643;

impl CaseExact for Rfc7643 {
    fn case_exact(&self, attr: &str, sub_attr: Option<&str>) -> bool {
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match sub_attr {
            None => is(attr, "id") || is(attr, "externalId"),
            Some(sub) => {
                is(sub, "$ref")
                    || (is(attr, "meta")
                        && (is(sub, "resourceType") || is(sub, "location") || is(sub, "version")))
                    || (is(sub, "value") && (is(attr, "photos") || is(attr, "x509Certificates")))
            }
        }
    }
}

impl Filter {
    /// Whether `resource` matches, with RFC 7643's `caseExact` rules. A filter that cannot be
    /// evaluated (`gt` on a boolean) matches nothing; [`Filter::try_matches`] says why.
    pub fn matches(&self, resource: &Value) -> bool {
        self.try_matches(resource).unwrap_or(false)
    }

    /// [`Filter::matches`], with the `invalidFilter` error a search must answer instead.
    pub fn try_matches(&self, resource: &Value) -> Result<bool, FilterError> {
        self.try_matches_with(resource, &Rfc7643)
    }

    /// [`Filter::try_matches`] with other `caseExact` rules (custom schemas).
    pub fn try_matches_with(
        &self,
        resource: &Value,
        rules: &dyn CaseExact,
    ) -> Result<bool, FilterError> {
        eval(self, Scope::Root(resource), rules)
    }
}

/// Where a filter's paths are looked up: the resource, or one value of a multi-valued
/// attribute inside `attr[…]` (whose paths name that value's sub-attributes).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Root(&'a Value),
    Element {
        parent: &'a AttrPath,
        value: &'a Value,
    },
}

fn eval(filter: &Filter, scope: Scope<'_>, rules: &dyn CaseExact) -> Result<bool, FilterError> {
    match filter {
        Filter::And(a, b) => Ok(eval(a, scope, rules)? && eval(b, scope, rules)?),
        Filter::Or(a, b) => Ok(eval(a, scope, rules)? || eval(b, scope, rules)?),
        Filter::Not(inner) => Ok(!eval(inner, scope, rules)?),
        Filter::Present(path) => Ok(resolve(scope, path).into_iter().any(is_present)),
        Filter::ValuePath { path, filter } => {
            for value in resolve(scope, path) {
                if value.is_object()
                    && eval(
                        filter,
                        Scope::Element {
                            parent: path,
                            value,
                        },
                        rules,
                    )?
                {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Filter::Compare { path, op, value } => {
            let values = resolve(scope, path);
            if let CompValue::Null = value {
                let present = values.into_iter().any(is_present);
                return match op {
                    CompareOp::Eq => Ok(!present),
                    CompareOp::Ne => Ok(present),
                    _ => Err(FilterError::eval(format_args!(
                        "'{op}' cannot compare with null"
                    ))),
                };
            }
            for found in values.into_iter().filter(|v| !v.is_null()) {
                // A complex value compared whole is compared through its `value`.
                let (found, via_value) = match found {
                    Value::Object(map) if path.sub_attr.is_none() => match get_ci(map, "value") {
                        Some(v) => (v, true),
                        None => continue,
                    },
                    other => (other, false),
                };
                let exact = match scope {
                    Scope::Root(_) if via_value => rules.case_exact(&path.attr, Some("value")),
                    Scope::Root(_) => rules.case_exact(&path.attr, path.sub_attr.as_deref()),
                    Scope::Element { parent, .. } => {
                        rules.case_exact(&parent.attr, Some(&path.attr))
                    }
                };
                let flat: Vec<&Value> = match found {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                // null is no value (RFC 7643 §2.5): it matches no comparison, not even `ne`.
                for item in flat.into_iter().filter(|v| !v.is_null()) {
                    if compare(item, *op, value, exact, path)? {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        }
    }
}

/// A key of an object, matched without regard to case.
fn get_ci<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => get_ci(map, key),
        _ => None,
    }
}

/// Arrays spread into their items (a multi-valued attribute is its values).
fn spread<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// The values a path names in a scope, multi-valued attributes spread.
fn resolve<'a>(scope: Scope<'a>, path: &AttrPath) -> Vec<&'a Value> {
    let base = match scope {
        Scope::Element { value, .. } => Some(value),
        Scope::Root(resource) => match &path.schema {
            Some(schema) if !is_core_schema(resource, schema) => get(resource, schema),
            _ => Some(resource),
        },
    };
    let mut top = Vec::new();
    if let Some(found) = base.and_then(|b| get(b, &path.attr)) {
        spread(found, &mut top);
    }
    match &path.sub_attr {
        None => top,
        Some(sub) => {
            let mut out = Vec::new();
            for value in top {
                if let Some(found) = get(value, sub) {
                    spread(found, &mut out);
                }
            }
            out
        }
    }
}

/// A core schema's attributes sit at the top level of the resource; an extension's under
/// its URN.
fn is_core_schema(resource: &Value, schema: &str) -> bool {
    const CORE: &str = "urn:ietf:params:scim:schemas:core:";
    let core = schema
        .get(..CORE.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE));
    let first = get(resource, "schemas")
        .and_then(|s| s.as_array())
        .and_then(|s| s.first())
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(schema));
    core || first
}

/// RFC 7644 `pr`: "a non-empty value, or … a non-empty node for complex attributes".
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn date(s: &str) -> Option<OffsetDateTime> {
    // Cheap test first: most strings are not dates.
    if s.len() < 20 || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn ordered(op: CompareOp, ordering: Option<Ordering>) -> bool {
    match (op, ordering) {
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, Some(_)) => false,
    }
}

fn compare(
    found: &Value,
    op: CompareOp,
    value: &CompValue,
    exact: bool,
    path: &AttrPath,
) -> Result<bool, FilterError> {
    Ok(match (found, value) {
        (Value::Bool(_), _) if op.is_ordering() => {
            return Err(FilterError::eval(format_args!(
                "'{op}' cannot order the boolean attribute \"{path}\""
            )));
        }
        (_, CompValue::Bool(_) | CompValue::Null) if op.is_ordering() || op.is_substring() => {
            return Err(FilterError::eval(format_args!(
                "'{op}' cannot compare with {value}"
            )));
        }
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (Value::Number(a), CompValue::Number(b)) => ordered(op, compare_numbers(a, b)),
        (Value::String(a), CompValue::String(b)) => compare_strings(a, op, b, exact),
        // Different types: never equal.
        _ => op == CompareOp::Ne,
    })
}

fn compare_strings(found: &str, op: CompareOp, value: &str, exact: bool) -> bool {
    let fold = |s: &str| -> String { s.to_lowercase() };
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if exact {
        (Cow::Borrowed(found), Cow::Borrowed(value))
    } else {
        (Cow::Owned(fold(found)), Cow::Owned(fold(value)))
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => {
            let ordering = match (date(found), date(value)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => a.cmp(&b),
            };
            ordered(op, Some(ordering))
        }
    }
}
