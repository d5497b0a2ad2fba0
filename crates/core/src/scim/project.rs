//! The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5, §3.9).
//!
//! API: [`project`]`(resource, attributes, excluded) -> Result<Value, ScimError>`.
//!
//! - Both are comma-separated attribute names: `userName`, `name.givenName`, `emails.value`,
//!   URN-qualified (`urn:ietf:params:scim:schemas:core:2.0:User:userName`,
//!   `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`) or a bare
//!   extension URN (the whole extension). Names compare without regard to case; names of
//!   nothing in the resource select nothing; a name that is not an attribute path (a filter,
//!   say) → `invalidValue`.
//! - `attributes`: only those, plus what the schemas mark `returned: "always"`: `id` (and
//!   `schemas`, which every resource carries). A sub-attribute of a multi-valued attribute
//!   keeps that sub-attribute of every value.
//! - `excludedAttributes`: everything but those; `id` and `schemas` cannot be excluded.
//! - Both: `attributes` first, then `excludedAttributes`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ast::PatchPath;
use super::error::ScimError;
use super::parse::parse_path;

/// Always returned (RFC 7643 §3.1 `id` "returned: always"; `schemas` identifies the
/// resource).
const ALWAYS: [&str; 2] = ["id", "schemas"];

#[derive(Default, Debug)]
struct Node {
    /// The whole attribute is named (not only some of its sub-attributes).
    whole: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.whole = true,
            Some((first, rest)) => self
                .children
                .entry(first.to_lowercase())
                .or_default()
                .insert(rest),
        }
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.children.get(&key.to_lowercase())
    }
}

/// Projects a resource's representation.
pub fn project(
    resource: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<Value, ScimError> {
    let mut out = resource.clone();
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let tree = selection(list)?;
        if let (Value::Object(src), Some(projected)) = (resource, include(resource, &tree)) {
            let mut map = match projected {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            for (k, v) in src {
                if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k)) {
                    map.insert(k.clone(), v.clone());
                }
            }
            out = Value::Object(map);
        }
    }
    if let Some(list) = excluded.filter(|l| !l.trim().is_empty()) {
        let mut tree = selection(list)?;
        for always in ALWAYS {
            tree.children.remove(always);
        }
        exclude(&mut out, &tree);
    }
    Ok(out)
}

/// The names of a list as a tree: top-level key (an extension's URN is one), then
/// sub-attribute (or the extension's attribute), then its sub-attribute.
fn selection(list: &str) -> Result<Node, ScimError> {
    let mut root = Node::default();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        for path in paths_of(name)? {
            root.insert(&path);
        }
    }
    Ok(root)
}

/// The tree paths a name may mean. A URN may be a whole extension (its key in the resource)
/// or an attribute in one; the grammar cannot tell, so both are selected and the one that
/// names nothing selects nothing.
fn paths_of(name: &str) -> Result<Vec<Vec<String>>, ScimError> {
    const CORE: &str = "urn:ietf:params:scim:schemas:core:";
    let mut paths = Vec::with_capacity(2);
    let looks_like_urn = name.to_lowercase().starts_with("urn:");
    if looks_like_urn {
        paths.push(vec![name.to_owned()]);
    }
    let attr = match parse_path(name) {
        Ok(PatchPath::Attr(p)) => p,
        _ if looks_like_urn => return Ok(paths),
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{} is not an attribute name",
                crate::error::quoted(name)
            )));
        }
    };
    let mut path = Vec::with_capacity(3);
    match &attr.schema {
        Some(schema) if !schema.to_lowercase().starts_with(CORE) => path.push(schema.clone()),
        _ => {}
    }
    path.push(attr.attr.clone());
    if let Some(sub) = &attr.sub_attr {
        path.push(sub.clone());
    }
    paths.push(path);
    Ok(paths)
}

/// The parts of `value` the tree names; `None` when nothing is left.
fn include(value: &Value, tree: &Node) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let Some(node) = tree.child(k) else { continue };
                if node.whole {
                    out.insert(k.clone(), v.clone());
                } else if let Some(kept) = include(v, node) {
                    out.insert(k.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|i| include(i, tree)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        // A sub-attribute of a simple value names nothing.
        _ => None,
    }
}

/// Removes the parts of `value` the tree names; an object or list emptied by that goes too.
fn exclude(value: &mut Value, tree: &Node) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let Some(node) = tree.child(&k) else { continue };
                if node.whole {
                    map.remove(&k);
                } else if let Some(v) = map.get_mut(&k) {
                    exclude(v, node);
                    let emptied = match v {
                        Value::Object(m) => m.is_empty(),
                        Value::Array(a) => a.is_empty(),
                        _ => false,
                    };
                    if emptied {
                        map.remove(&k);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                exclude(item, tree);
            }
            items.retain(|i| !matches!(i, Value::Object(m) if m.is_empty()));
        }
        _ => {}
    }
}
