//! The discovery endpoints: `ServiceProviderConfig`, `ResourceTypes`, `Schemas`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use seatkeeper_core::scim::{self, ScimError};
use serde_json::Value;

use super::http::{Scim, ScimResult, base_url};
use crate::AppState;

pub async fn service_provider_config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ScimResult {
    Ok(Scim::ok(scim::service_provider_config(&base_url(
        &state, &headers,
    ))))
}

fn list(resources: Vec<Value>) -> Value {
    let n = resources.len();
    scim::list_response(
        resources,
        n,
        scim::Paging {
            start_index: 1,
            count: n,
        },
    )
}

fn one(resources: Vec<Value>, id: &str, what: &str) -> ScimResult {
    resources
        .into_iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        .map(Scim::ok)
        .ok_or_else(|| ScimError::not_found(format!("no {what} {id:?}")).into())
}

pub async fn resource_types(State(state): State<AppState>, headers: HeaderMap) -> ScimResult {
    Ok(Scim::ok(list(scim::resource_types(&base_url(
        &state, &headers,
    )))))
}

pub async fn resource_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    one(
        scim::resource_types(&base_url(&state, &headers)),
        &id,
        "resource type",
    )
}

pub async fn schemas(State(state): State<AppState>, headers: HeaderMap) -> ScimResult {
    Ok(Scim::ok(list(scim::schemas(&base_url(&state, &headers)))))
}

pub async fn schema(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    one(scim::schemas(&base_url(&state, &headers)), &id, "schema")
}
