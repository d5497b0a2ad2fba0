//! `POST /.search` at the root: users and groups together.

use axum::extract::State;
use axum::http::HeaderMap;
use seatkeeper_core::scim;

use super::http::{ListQuery, Resources, ScimBody, ScimResult, base_url};
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
    let filter = q.filter()?;
    let base = base_url(&state, &headers);
    let mut all = users::Users::matching(&state, &base, filter.as_ref()).await?;
    all.extend(groups::Groups::matching(&state, &base, filter.as_ref()).await?);
    let total = all.len();
    let page = all
        .into_iter()
        .skip(paging.offset())
        .take(paging.count)
        .collect();
    q.respond(page, total, paging)
}
