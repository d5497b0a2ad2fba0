//! The body of a search by POST (RFC 7644 §3.4.3, `POST /Users/.search`, `/Groups/.search`,
//! `/.search`): the same query as a GET's parameters, read into their query-string form so
//! the caller answers it exactly as the GET (filter, [`Paging::from_query`](super::Paging),
//! [`project`](super::project)).
//!
//! API: [`SearchRequest`] `{ filter, start_index, count, attributes, excluded_attributes }`
//! (all `Option<String>`) and [`SearchRequest::from_json`]:
//! - `schemas` must list [`SEARCH_REQUEST_SCHEMA`] (any case), else `invalidSyntax` (the
//!   body "did not conform to the request schema", RFC 7644 §3.12); a body that is not an
//!   object → `invalidSyntax`.
//! - `filter`: a string; `attributes` / `excludedAttributes`: arrays of strings, joined with
//!   ","; `startIndex` / `count`: integers, kept as their decimal text; keys in any case;
//!   `null`, `""` and `[]` are unassigned (RFC 7643 §2.5). Another type → `invalidValue`.
//! - `sortBy` / `sortOrder` are ignored: `ServiceProviderConfig` says `sort.supported`
//!   false, so the client cannot expect an order, and refusing would fail clients that send
//!   a default sort. Unknown keys are ignored, as on resources.

use serde_json::{Map, Value};

use super::common::{get_ci, lists_schema};
use super::error::ScimError;

pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A search's query, as the GET query string would carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl SearchRequest {
    pub fn from_json(body: &Value) -> Result<SearchRequest, ScimError> {
        let map = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        if !lists_schema(map, SEARCH_REQUEST_SCHEMA) {
            return Err(ScimError::invalid_syntax(format!(
                "a SearchRequest's \"schemas\" must contain \"{SEARCH_REQUEST_SCHEMA}\""
            )));
        }
        let filter = match get_ci(map, "filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            Some(_) => return Err(ScimError::invalid_value("\"filter\" must be a string")),
        };
        Ok(SearchRequest {
            filter,
            start_index: integer(map, "startIndex")?,
            count: integer(map, "count")?,
            attributes: names(map, "attributes")?,
            excluded_attributes: names(map, "excludedAttributes")?,
        })
    }
}

/// An integer member, as text for [`Paging::from_query`](super::Paging::from_query).
fn integer(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match get_ci(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "\"{key}\" must be an integer"
        ))),
    }
}

/// An array of attribute names, joined with "," as the query parameter lists them.
fn names(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    let items = match get_ci(map, key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "\"{key}\" must be an array of strings"
            )));
        }
    };
    let names = items
        .iter()
        .map(|v| {
            v.as_str().ok_or_else(|| {
                ScimError::invalid_value(format!("\"{key}\" must be an array of strings"))
            })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    Ok((!names.is_empty()).then(|| names.join(",")))
}
