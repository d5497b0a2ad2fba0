//! The discovery documents (RFC 7644 §4, RFC 7643 §5–§7): what this service provider
//! supports, its resource types and the schemas of the attributes it keeps.
//!
//! API (`base_url` as for the resources, e.g. `https://host/scim/v2`, no trailing slash):
//! - [`service_provider_config`]`(base_url) -> Value`: PATCH yes; Bulk, sorting and
//!   changePassword no; filter yes with `maxResults` [`MAX_RESULTS`]; ETags yes; auth
//!   `oauthbearertoken`.
//! - [`resource_types`]`(base_url) -> Vec<Value>`: User (enterprise extension, optional) and
//!   Group.
//! - [`schemas`]`(base_url) -> Vec<Value>`: User, EnterpriseUser, Group, listing only the
//!   attributes Seatkeeper keeps, with RFC 7643 §7 characteristics. The common attributes
//!   (`id`, `externalId`, `meta`) are not listed, as RFC 7643 §3.1 defines them for all.

use serde_json::{Value, json};

use super::common::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, MAX_RESULTS, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA,
};

pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A Seatkeeper API token with the provision_users permission, \
                            sent as Authorization: Bearer <token>",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

pub fn resource_types(base_url: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A user of the license ledger",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }],
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/User"),
            },
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A role; its members are users",
            "schema": GROUP_SCHEMA,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/Group"),
            },
        }),
    ]
}

/// One attribute definition (RFC 7643 §7). `chars` = (mutability, returned, uniqueness).
fn attr(name: &str, ty: &str, multi: bool, required: bool, chars: (&str, &str, &str)) -> Value {
    let (mutability, returned, uniqueness) = chars;
    // References are caseExact, as the filter evaluator treats them (RFC 7643 §2.3.7).
    let case_exact = ty == "reference";
    json!({
        "name": name,
        "type": ty,
        "multiValued": multi,
        "description": "",
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    })
}

const RW: (&str, &str, &str) = ("readWrite", "default", "none");
const RO: (&str, &str, &str) = ("readOnly", "default", "none");

fn with(mut value: Value, key: &str, extra: Value) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.insert(key.into(), extra);
    }
    value
}

fn schema(
    base_url: &str,
    id: &str,
    name: &str,
    description: &str,
    attributes: Vec<Value>,
) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{id}"),
        },
    })
}

pub fn schemas(base_url: &str) -> Vec<Value> {
    let name_subs = [
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ]
    .iter()
    .map(|n| attr(n, "string", false, false, RW))
    .collect::<Vec<_>>();
    let email_subs = vec![
        attr("value", "string", false, false, RW),
        with(
            attr("type", "string", false, false, RW),
            "canonicalValues",
            json!(["work", "home", "other"]),
        ),
        attr("primary", "boolean", false, false, RW),
        attr("display", "string", false, false, RW),
    ];
    let group_subs = vec![
        attr("value", "string", false, false, RO),
        with(
            attr("$ref", "reference", false, false, RO),
            "referenceTypes",
            json!(["Group"]),
        ),
        attr("display", "string", false, false, RO),
        with(
            attr("type", "string", false, false, RO),
            "canonicalValues",
            json!(["direct"]),
        ),
    ];
    let user = vec![
        attr(
            "userName",
            "string",
            false,
            true,
            ("readWrite", "default", "server"),
        ),
        with(
            attr("name", "complex", false, false, RW),
            "subAttributes",
            Value::Array(name_subs),
        ),
        attr("displayName", "string", false, false, RW),
        with(
            attr("emails", "complex", true, false, RW),
            "subAttributes",
            Value::Array(email_subs),
        ),
        attr("active", "boolean", false, false, RW),
        with(
            attr("groups", "complex", true, false, RO),
            "subAttributes",
            Value::Array(group_subs),
        ),
    ];
    let enterprise = vec![attr("department", "string", false, false, RW)];
    let member_subs = vec![
        attr(
            "value",
            "string",
            false,
            false,
            ("immutable", "default", "none"),
        ),
        with(
            attr(
                "$ref",
                "reference",
                false,
                false,
                ("immutable", "default", "none"),
            ),
            "referenceTypes",
            json!(["User"]),
        ),
        // No `display`: members are answered without it (see `GroupResource::to_json`).
        with(
            attr(
                "type",
                "string",
                false,
                false,
                ("immutable", "default", "none"),
            ),
            "canonicalValues",
            json!(["User"]),
        ),
    ];
    let group = vec![
        attr(
            "displayName",
            "string",
            false,
            true,
            ("readWrite", "default", "server"),
        ),
        with(
            attr("members", "complex", true, false, RW),
            "subAttributes",
            Value::Array(member_subs),
        ),
    ];
    vec![
        schema(base_url, USER_SCHEMA, "User", "User Account", user),
        schema(
            base_url,
            ENTERPRISE_USER_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            enterprise,
        ),
        schema(base_url, GROUP_SCHEMA, "Group", "Group", group),
    ]
}
