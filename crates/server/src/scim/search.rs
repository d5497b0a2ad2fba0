//! `POST /.search` at the root: users and groups together.

use axum::extract::State;
use axum::http::HeaderMap;
use seatkeeper_core::scim::{self, ScimError};

use super::http::{ListQuery, Scim, ScimBody, ScimResult, base_url};
use super::{groups, users};
use crate::AppState;

/// `POST /.search` at the root (RFC 7644 §3.4.3): users and groups together.
pub async fn search_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let q = ListQuery::from_search(scim::SearchRequest::from_json(&body)?);
    let paging = scim::Paging::from_query(q.start_index.as_deref(), q.count.as_deref())?;
    let filter = q
        .filter
        .as_deref()
        .map(scim::parse_filter)
        .transpose()
        .map_err(ScimError::from)?;
    let base = base_url(&state, &headers);
    let mut all = users::matching(&state, &base, filter.as_ref(), None).await?;
    all.extend(groups::matching(&state, &base, filter.as_ref()).await?);
    let total = all.len();
    let page = all
        .iter()
        .skip(paging.offset())
        .take(paging.count)
        .map(|r| q.project(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scim::ok(scim::list_response(page, total, paging)))
}
