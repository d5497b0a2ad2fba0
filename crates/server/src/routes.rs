//! The route table: every route with its method, path, who may call it and what it does.
//! The router, the access check and the OpenAPI document are all built from this one list,
//! and the tests walk it, so a route cannot exist without a declared access rule.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use seatkeeper_core::Permission::{ManageAccess, ManageLicenses, ViewLicenses};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{Access, enforce};
use crate::error::ApiError;
use crate::{AppState, admin, integration};

/// What a route's request body is, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Json,
    /// A license file, as the vendor sent it.
    License,
    Csv,
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
fn r(
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
    fn created(mut self) -> Route {
        self.spec.success = 201;
        self
    }
}

/// Users CSV files can be large (100,000 users is about 10 MB); other bodies keep axum's 2 MB.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

const VIEW: Access = Access::Requires(ViewLicenses);
const MANAGE: Access = Access::Requires(ManageLicenses);
const ACCESS: Access = Access::Requires(ManageAccess);

/// Every route of the server.
pub fn table() -> Vec<Route> {
    use Body::{Csv, Json as J, License, None as N};
    use Method as M;
    vec![
        r(
            M::GET,
            "/healthz",
            Access::Public,
            "meta",
            "Liveness: the process answers",
            N,
            &[],
            get(healthz),
        ),
        r(
            M::GET,
            "/api/v1/openapi.json",
            Access::Public,
            "meta",
            "This API's OpenAPI document",
            N,
            &[],
            get(openapi_document),
        ),
        // Integration API for the licensed application.
        r(
            M::POST,
            "/integration/v1/login",
            Access::Integration,
            "integration",
            "Log a user in: allowed (session, products, features) or refused (reason); auto-allocates a seat (S1, S2)",
            J,
            &[],
            post(integration::login),
        ),
        r(
            M::POST,
            "/integration/v1/heartbeat",
            Access::Integration,
            "integration",
            "Keep a session alive (S3)",
            J,
            &[],
            post(integration::heartbeat),
        ),
        r(
            M::POST,
            "/integration/v1/logout",
            Access::Integration,
            "integration",
            "End a session, freeing its floating seat (S3, S4)",
            J,
            &[],
            post(integration::logout),
        ),
        r(
            M::GET,
            "/integration/v1/entitlement",
            Access::Integration,
            "integration",
            "May this session or user use a feature?",
            N,
            &["session_id", "login", "feature"],
            get(integration::entitlement),
        ),
        // Administrator sign-in.
        r(
            M::POST,
            "/api/v1/auth/login",
            Access::Public,
            "auth",
            "Sign in with login and password; returns a bearer token",
            J,
            &[],
            post(admin::signin),
        ),
        r(
            M::POST,
            "/api/v1/auth/logout",
            Access::Admin,
            "auth",
            "Sign out (ends this sign-in token)",
            N,
            &[],
            post(admin::signout),
        ),
        r(
            M::GET,
            "/api/v1/auth/me",
            Access::Admin,
            "auth",
            "The caller and their permissions",
            N,
            &[],
            get(admin::me),
        ),
        // Licenses.
        r(
            M::GET,
            "/api/v1/instance",
            VIEW,
            "licenses",
            "Instance id and company id",
            N,
            &[],
            get(admin::instance),
        ),
        r(
            M::POST,
            "/api/v1/license-request",
            MANAGE,
            "licenses",
            "Make a license request for the vendor (L1)",
            J,
            &[],
            post(admin::license_request),
        ),
        r(
            M::PUT,
            "/api/v1/license/company-id",
            MANAGE,
            "licenses",
            "Change the installation's company id; refused while license files are loaded",
            J,
            &[],
            put(admin::set_company_id),
        ),
        r(
            M::GET,
            "/api/v1/licenses",
            VIEW,
            "licenses",
            "Imported license files",
            N,
            &[],
            get(admin::license_files),
        ),
        r(
            M::POST,
            "/api/v1/licenses",
            MANAGE,
            "licenses",
            "Import a license file (L2, L3)",
            License,
            &[],
            post(admin::import_license),
        ),
        r(
            M::DELETE,
            "/api/v1/licenses",
            MANAGE,
            "licenses",
            "Delete every license (L5); needs ?confirm=true",
            N,
            &["confirm"],
            delete(admin::delete_all_licenses),
        ),
        r(
            M::GET,
            "/api/v1/packages",
            VIEW,
            "licenses",
            "Packages with status and folder placement",
            N,
            &[],
            get(admin::packages),
        ),
        r(
            M::POST,
            "/api/v1/placements",
            MANAGE,
            "licenses",
            "Place seats of a package in a folder (X1)",
            J,
            &[],
            post(admin::place_seats),
        ),
        r(
            M::GET,
            "/api/v1/products",
            VIEW,
            "licenses",
            "Products declared by imported licenses",
            N,
            &[],
            get(admin::products),
        ),
        r(
            M::POST,
            "/api/v1/refresh",
            MANAGE,
            "licenses",
            "Re-evaluate capacity now (L4)",
            N,
            &[],
            post(admin::refresh),
        ),
        // Folders.
        r(
            M::GET,
            "/api/v1/folders",
            VIEW,
            "folders",
            "The folder tree",
            N,
            &[],
            get(admin::folders),
        ),
        r(
            M::POST,
            "/api/v1/folders",
            MANAGE,
            "folders",
            "Create a folder",
            J,
            &[],
            post(admin::create_folder),
        )
        .created(),
        r(
            M::DELETE,
            "/api/v1/folders/{id}",
            MANAGE,
            "folders",
            "Delete an empty folder",
            N,
            &[],
            delete(admin::delete_folder),
        ),
        // Users.
        r(
            M::GET,
            "/api/v1/users",
            VIEW,
            "users",
            "Users, filtered and paginated",
            N,
            &[
                "area", "state", "folder", "product", "role", "q", "limit", "offset",
            ],
            get(admin::users),
        ),
        r(
            M::POST,
            "/api/v1/users",
            MANAGE,
            "users",
            "Create a user (U1)",
            J,
            &[],
            post(admin::create_user),
        )
        .created(),
        r(
            M::POST,
            "/api/v1/users/import",
            MANAGE,
            "users",
            "Import users from CSV, all or nothing",
            Csv,
            &[],
            post(admin::import_users).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        ),
        r(
            M::GET,
            "/api/v1/users/export",
            VIEW,
            "users",
            "Export users as CSV (U4)",
            N,
            &[],
            get(admin::export_users),
        ),
        r(
            M::GET,
            "/api/v1/users/{login}",
            VIEW,
            "users",
            "One user with their licenses",
            N,
            &[],
            get(admin::user),
        ),
        r(
            M::DELETE,
            "/api/v1/users/{login}",
            MANAGE,
            "users",
            "Delete a user, freeing their seats",
            N,
            &[],
            delete(admin::delete_user),
        ),
        r(
            M::POST,
            "/api/v1/users/{login}/block",
            MANAGE,
            "users",
            "Block a user, freeing their seats and ending their sessions (U3)",
            J,
            &[],
            post(admin::block_user),
        ),
        r(
            M::POST,
            "/api/v1/users/{login}/activate",
            MANAGE,
            "users",
            "Unblock a user, if the area has room (U3)",
            N,
            &[],
            post(admin::activate_user),
        ),
        r(
            M::POST,
            "/api/v1/users/{login}/move",
            MANAGE,
            "users",
            "Move a user to another folder",
            J,
            &[],
            post(admin::move_user),
        ),
        r(
            M::PUT,
            "/api/v1/users/{login}/password",
            ACCESS,
            "access",
            "Set a user's administrator password",
            J,
            &[],
            put(admin::set_password),
        ),
        // Grants.
        r(
            M::POST,
            "/api/v1/grants",
            MANAGE,
            "grants",
            "Grant products to users, all or nothing (D1)",
            J,
            &[],
            post(admin::grant),
        ),
        r(
            M::POST,
            "/api/v1/recalls",
            MANAGE,
            "grants",
            "Recall products from users; seats in use are released at session end (D1, S4)",
            J,
            &[],
            post(admin::recall),
        ),
        // Reports.
        r(
            M::GET,
            "/api/v1/summary",
            VIEW,
            "reports",
            "Per-area and per-product counts (U4)",
            N,
            &["expiring_within_days"],
            get(admin::summary),
        ),
        r(
            M::GET,
            "/api/v1/audit",
            VIEW,
            "reports",
            "The audit log, newest first (N3)",
            N,
            &["action", "target", "actor", "before_id", "limit"],
            get(admin::audit),
        ),
        // Sessions.
        r(
            M::GET,
            "/api/v1/sessions",
            VIEW,
            "sessions",
            "Live sessions, newest first",
            N,
            &["login", "limit", "offset"],
            get(admin::sessions),
        ),
        r(
            M::POST,
            "/api/v1/sessions/reap",
            MANAGE,
            "sessions",
            "End idle sessions now (the reaper also runs by itself)",
            N,
            &[],
            post(admin::reap_sessions),
        ),
        r(
            M::DELETE,
            "/api/v1/sessions/{id}",
            MANAGE,
            "sessions",
            "End a session",
            N,
            &[],
            delete(admin::end_session),
        ),
        // Roles, permissions, tokens.
        r(
            M::GET,
            "/api/v1/roles",
            VIEW,
            "access",
            "Roles with permissions, members and bound products",
            N,
            &[],
            get(admin::roles),
        ),
        r(
            M::POST,
            "/api/v1/roles",
            ACCESS,
            "access",
            "Create a role",
            J,
            &[],
            post(admin::create_role),
        )
        .created(),
        r(
            M::PUT,
            "/api/v1/roles/{id}/permissions/{permission}",
            ACCESS,
            "access",
            "Grant a permission to a role",
            N,
            &[],
            put(admin::grant_permission),
        ),
        r(
            M::DELETE,
            "/api/v1/roles/{id}/permissions/{permission}",
            ACCESS,
            "access",
            "Withdraw a permission from a role",
            N,
            &[],
            delete(admin::revoke_permission),
        ),
        r(
            M::PUT,
            "/api/v1/roles/{id}/members/{login}",
            ACCESS,
            "access",
            "Add a member to a role",
            N,
            &[],
            put(admin::add_member),
        ),
        r(
            M::DELETE,
            "/api/v1/roles/{id}/members/{login}",
            ACCESS,
            "access",
            "Remove a member from a role",
            N,
            &[],
            delete(admin::remove_member),
        ),
        r(
            M::PATCH,
            "/api/v1/roles/{id}",
            ACCESS,
            "access",
            "Rename a role and/or move it under another parent (D2)",
            J,
            &[],
            patch(admin::update_role),
        ),
        r(
            M::DELETE,
            "/api/v1/roles/{id}",
            ACCESS,
            "access",
            "Delete a role without child roles; the seats it gave are recalled (D2)",
            N,
            &[],
            delete(admin::delete_role),
        ),
        r(
            M::POST,
            "/api/v1/roles/{id}/members",
            ACCESS,
            "access",
            "Add members to a role, all or nothing",
            J,
            &[],
            post(admin::add_members),
        ),
        r(
            M::DELETE,
            "/api/v1/roles/{id}/members",
            ACCESS,
            "access",
            "Remove members from a role, all or nothing",
            J,
            &[],
            delete(admin::remove_members),
        ),
        // Role-based distribution.
        r(
            M::PUT,
            "/api/v1/roles/{id}/products/{product}",
            MANAGE,
            "distribution",
            "Bind a product to a role: its members and its descendants' members get it (D2)",
            N,
            &[],
            put(admin::bind_product),
        ),
        r(
            M::DELETE,
            "/api/v1/roles/{id}/products/{product}",
            MANAGE,
            "distribution",
            "Unbind a product from a role (D2)",
            N,
            &[],
            delete(admin::unbind_product),
        ),
        r(
            M::GET,
            "/api/v1/settings/distribution",
            VIEW,
            "distribution",
            "Distribution settings: role_based_distribution, redistribute_on_role_change (D5)",
            N,
            &[],
            get(admin::distribution_settings),
        ),
        r(
            M::PUT,
            "/api/v1/settings/distribution",
            MANAGE,
            "distribution",
            "Change the distribution settings; omitted fields keep their value (D5)",
            J,
            &[],
            put(admin::set_distribution_settings),
        ),
        r(
            M::POST,
            "/api/v1/redistributions/preview",
            VIEW,
            "distribution",
            "Dry run: what a redistribution would grant and recall, and the needs it could not meet (D4)",
            J,
            &[],
            post(admin::preview_redistribution),
        ),
        r(
            M::POST,
            "/api/v1/redistributions",
            MANAGE,
            "distribution",
            "Redistribute by role for all users, a role or a user; the result is posted as a system message (D3, D4)",
            J,
            &[],
            post(admin::redistribute),
        ),
        r(
            M::GET,
            "/api/v1/redistributions",
            VIEW,
            "distribution",
            "Redistribution runs, newest first",
            N,
            &["limit"],
            get(admin::redistributions),
        ),
        r(
            M::POST,
            "/api/v1/users/{login}/redistribute",
            MANAGE,
            "distribution",
            "Redistribute for one user, keeping manual grants (the provisioning entry point, D5)",
            N,
            &[],
            post(admin::redistribute_user),
        ),
        r(
            M::GET,
            "/api/v1/users/{login}/explain/{product}",
            VIEW,
            "distribution",
            "Why a user holds a product, or why not (D6)",
            N,
            &[],
            get(admin::explain),
        ),
        r(
            M::GET,
            "/api/v1/needs",
            VIEW,
            "distribution",
            "Pending needs: seats roles ask for that no seat was free for",
            N,
            &["login", "limit", "offset"],
            get(admin::needs),
        ),
        // System messages.
        r(
            M::GET,
            "/api/v1/messages",
            VIEW,
            "messages",
            "System messages, newest first (N2)",
            N,
            &["unread", "limit"],
            get(admin::messages),
        ),
        r(
            M::GET,
            "/api/v1/messages/unread",
            VIEW,
            "messages",
            "How many system messages are unread (N2)",
            N,
            &[],
            get(admin::unread_messages),
        ),
        r(
            M::POST,
            "/api/v1/messages/{id}/read",
            VIEW,
            "messages",
            "Mark a system message as read (N2)",
            N,
            &[],
            post(admin::mark_message_read),
        ),
        r(
            M::POST,
            "/api/v1/messages/read",
            VIEW,
            "messages",
            "Mark every system message as read (N2)",
            N,
            &[],
            post(admin::mark_all_messages_read),
        ),
        r(
            M::GET,
            "/api/v1/tokens",
            ACCESS,
            "access",
            "API tokens (secrets are never shown again)",
            N,
            &[],
            get(admin::tokens),
        ),
        r(
            M::POST,
            "/api/v1/tokens",
            ACCESS,
            "access",
            "Create an API token; the secret is in this answer only",
            J,
            &[],
            post(admin::create_token),
        )
        .created(),
        r(
            M::DELETE,
            "/api/v1/tokens/{id}",
            ACCESS,
            "access",
            "Revoke an API token",
            N,
            &[],
            delete(admin::delete_token),
        ),
    ]
}

pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|r| r.spec).collect()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn openapi_document() -> axum::Json<Value> {
    axum::Json(openapi())
}

async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /api/v1/openapi.json",
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

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The OpenAPI 3.1 document, generated from the route table (and checked into
/// `docs/openapi.json`, which a test keeps equal to this).
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for spec in specs() {
        let mut params: Vec<Value> = path_params(spec.path)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(spec.query.iter().map(|name| {
            json!({"name": name, "in": "query", "required": *name == "feature", "schema": {"type": "string"}})
        }));
        let (security, permission) = match spec.access {
            Access::Public => (json!([]), Value::Null),
            Access::Integration => (json!([{"integrationToken": []}]), Value::Null),
            Access::Admin => (json!([{"adminToken": []}]), Value::Null),
            Access::Requires(p) => (json!([{"adminToken": []}]), json!(p.as_str())),
        };
        let mut op = json!({
            "summary": spec.summary,
            "tags": [spec.tag],
            "operationId": format!("{}_{}", spec.method.as_str().to_lowercase(),
                spec.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
            "security": security,
            "parameters": params,
            "responses": {
                spec.success.to_string(): {"description": if spec.success == 201 { "Created" } else { "Success" }, "content": {"application/json": {"schema": {"type": "object"}}}},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !permission.is_null() {
            op["x-permission"] = permission;
        }
        let body = match spec.body {
            Body::None => None,
            Body::Json => Some(json!({"application/json": {"schema": {"type": "object"}}})),
            Body::License => Some(
                json!({"application/json": {"schema": {"$ref": "#/components/schemas/LicenseFile"}}}),
            ),
            Body::Csv => Some(json!({"text/csv": {"schema": {"type": "string"}}})),
        };
        if let Some(content) = body {
            op["requestBody"] = json!({"required": true, "content": content});
        }
        let entry = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        entry[spec.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Seatkeeper API",
            "version": "1",
            "description": "Integration API for the licensed application (/integration/v1) and admin API (/api/v1). Errors are {\"error\": {\"code\", \"message\"}}. See docs/API.md."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "integrationToken": {"type": "http", "scheme": "bearer", "description": "An API token of scope `integration`"},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "A sign-in token (POST /api/v1/auth/login) or an API token of scope `admin`"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
                },
                "LicenseFile": {
                    "type": "object",
                    "required": ["format", "key_id", "payload", "signature"],
                    "properties": {"format": {"const": "seatkeeper-license/1"}, "key_id": {"type": "string"},
                        "payload": {"type": "string"}, "signature": {"type": "string"}}
                }
            }
        }
    })
}
