//! The route table: every route with its method, path, who may call it and what it does.
//! The router, the access check and the OpenAPI document are all built from this one list,
//! and the tests walk it, so a route cannot exist without a declared access rule.
//!
//! A new API route is one entry in `table` (pointing at its handler in `admin::<resource>`
//! or `integration`); the router, the access check and `openapi` follow from it.

mod notify_table;
mod openapi;
mod scim_table;
mod table;

pub use openapi::openapi;

/// Every route of the server: the API's and SCIM's.
pub fn table() -> Vec<Route> {
    let mut all = table::table();
    all.extend(scim_table::table());
    all.extend(notify_table::table());
    all
}

use axum::Router;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::Value;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::auth::{Access, enforce};
use crate::error::ApiError;

/// What a route's request body is, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Json,
    /// A license file, as the vendor sent it.
    License,
    Csv,
    /// A SCIM resource or PatchOp (`application/scim+json`).
    Scim,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body: Body,
    pub query: &'static [&'static str],
    /// The status of a successful answer: 200, or 201 for a route that creates something.
    pub success: u16,
}

pub struct Route {
    pub spec: RouteSpec,
    pub handler: MethodRouter<AppState>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn r(
    method: Method,
    path: &'static str,
    access: Access,
    tag: &'static str,
    summary: &'static str,
    body: Body,
    query: &'static [&'static str],
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        spec: RouteSpec {
            method,
            path,
            access,
            summary,
            tag,
            body,
            query,
            success: 200,
        },
        handler,
    }
}

impl Route {
    /// Marks a route that answers 201 Created (its handler returns `StatusCode::CREATED`).
    pub(super) fn created(mut self) -> Route {
        self.spec.success = 201;
        self
    }

    /// Marks a route that answers 202 Accepted (queued work).
    pub(super) fn accepted(mut self) -> Route {
        self.spec.success = 202;
        self
    }
}
pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|r| r.spec).collect()
}

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the database before answering "not ready".
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Readiness: 200 `ready` when the ledger's database answers within `READY_TIMEOUT`, else 503
/// with the reason (a load balancer takes the node out; `/healthz` stays liveness).
pub(super) async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.ledger.ready()).await {
        Ok(Ok(())) => Ok("ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database cannot be read");
            Err(ApiError::unavailable(
                "not ready: the ledger's database cannot be read; see the server log",
            ))
        }
        Err(_) => Err(ApiError::unavailable(format!(
            "not ready: the ledger's database did not answer within {} s",
            READY_TIMEOUT.as_secs()
        ))),
    }
}

pub(super) async fn openapi_document() -> axum::Json<Value> {
    axum::Json(openapi())
}

/// An error of the router itself; on SCIM's paths in SCIM's shape.
fn router_error(uri: &Uri, e: ApiError) -> Response {
    if uri.path().starts_with("/scim/") {
        crate::scim::from_api_error(e)
    } else {
        e.into_response()
    }
}

async fn not_found(uri: Uri) -> Response {
    router_error(
        &uri,
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such route; see /api/v1/openapi.json",
        ),
    )
}

async fn method_not_allowed(uri: Uri) -> Response {
    router_error(
        &uri,
        ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method; see /api/v1/openapi.json",
        ),
    )
}

/// The router: each route wrapped in the access check its table entry declares.
pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in table() {
        let guarded = route.handler.route_layer(from_fn_with_state(
            (state.clone(), route.spec.access),
            enforce,
        ));
        match by_path.iter_mut().find(|(p, _)| *p == route.spec.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(guarded);
                *existing = merged;
            }
            None => by_path.push((route.spec.path, guarded)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Answers carry tokens (sign-in, token creation, the integration login's session id)
        // and per-user data: no cache, shared or private, may keep them. Set on every API
        // answer so a new route cannot forget it.
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}
