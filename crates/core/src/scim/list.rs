//! Paging and list responses (RFC 7644 §3.4.2.4, §3.4.2), and `If-Match` (§3.14).
//!
//! API:
//! - [`Paging::from_query`]`(start_index, count) -> Result<Paging, ScimError>`: the raw query
//!   values; absent `startIndex` → 1, below 1 → 1 (RFC: "interpreted as 1"); absent `count`
//!   → [`MAX_RESULTS`]; negative → 0; above [`MAX_RESULTS`] → [`MAX_RESULTS`] (RFC: the
//!   server may return fewer); not an integer → `invalidValue`. [`Paging::offset`] is the
//!   0-based row to start at.
//! - [`list_response`]`(resources, total_results, paging) -> Value`: the ListResponse body.
//! - [`if_match`]`(header, version) -> bool`: whether an `If-Match` header value accepts the
//!   current `meta.version` (`*`, a list, weak or strong forms of the same tag).

use serde_json::{Value, json};

use super::common::{LIST_RESPONSE_SCHEMA, MAX_RESULTS};
use super::error::ScimError;

/// Which page of a list to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return (0 asks only for `totalResults`).
    pub count: usize,
}

impl Paging {
    pub fn from_query(start_index: Option<&str>, count: Option<&str>) -> Result<Paging, ScimError> {
        let int = |name: &str, raw: &str| -> Result<i64, ScimError> {
            raw.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!(
                    "\"{name}\" must be an integer, not {}",
                    crate::error::quoted(raw)
                ))
            })
        };
        let start_index = match start_index {
            None => 1,
            Some(raw) => usize::try_from(int("startIndex", raw)?.max(1)).unwrap_or(usize::MAX),
        };
        let count = match count {
            None => MAX_RESULTS,
            Some(raw) => usize::try_from(int("count", raw)?.max(0))
                .unwrap_or(usize::MAX)
                .min(MAX_RESULTS),
        };
        Ok(Paging { start_index, count })
    }

    /// The 0-based offset of the first result.
    pub fn offset(&self) -> usize {
        self.start_index.saturating_sub(1)
    }
}

/// A ListResponse: `totalResults` is the number matching the filter, `Resources` the page.
pub fn list_response(resources: Vec<Value>, total_results: usize, paging: Paging) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": paging.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// Whether `If-Match: header` accepts a resource whose `meta.version` is `version`. Tags
/// compare by their opaque part: SCIM versions are weak (`W/"…"`) and clients send them back
/// with or without the `W/`.
pub fn if_match(header: &str, version: &str) -> bool {
    fn opaque(tag: &str) -> &str {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    let current = opaque(version);
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || (!tag.is_empty() && opaque(tag) == current))
}
