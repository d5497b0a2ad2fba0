//! The OpenAPI 3.1 document, generated from the route table.

use serde_json::{Value, json};

use super::{Body, specs};
use crate::auth::Access;

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
            Access::Metrics => (json!([{"metricsToken": []}]), Value::Null),
            Access::Provision => (
                json!([{"provisioningToken": []}]),
                json!(seatkeeper_core::Permission::ProvisionUsers.as_str()),
            ),
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
        // `op` is the object just built: the inserts below cannot fail.
        let Value::Object(fields) = &mut op else {
            continue;
        };
        if !permission.is_null() {
            fields.insert("x-permission".into(), permission);
        }
        let body = match spec.body {
            Body::None => None,
            Body::Json => Some(json!({"application/json": {"schema": {"type": "object"}}})),
            Body::License => Some(
                json!({"application/json": {"schema": {"$ref": "#/components/schemas/LicenseFile"}}}),
            ),
            Body::Csv => Some(json!({"text/csv": {"schema": {"type": "string"}}})),
            Body::Scim => Some(json!({"application/scim+json": {"schema": {"type": "object"}}})),
        };
        if let Some(content) = body {
            fields.insert(
                "requestBody".into(),
                json!({"required": true, "content": content}),
            );
        }
        if let Value::Object(operations) = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}))
        {
            operations.insert(spec.method.as_str().to_lowercase(), op);
        }
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
                "adminToken": {"type": "http", "scheme": "bearer", "description": "A sign-in token (POST /api/v1/auth/login) or an API token of scope `admin`"},
                "metricsToken": {"type": "http", "scheme": "bearer", "description": "The `[metrics] token` of the configuration (not an API token)"},
                "provisioningToken": {"type": "http", "scheme": "bearer", "description": "An API token of scope `provisioning` whose owner holds `provision_users` (SCIM, provision)"}
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
