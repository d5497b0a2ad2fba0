//! The SCIM 2.0 routes (I2), every one for a `provisioning` token holding `provision_users`.

use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};

use super::{Body, Route, r};
use crate::auth::Access;
use crate::scim::{discovery, groups, users};

pub fn table() -> Vec<Route> {
    use Body::{None as N, Scim as S};
    use Method as M;
    const P: Access = Access::Provision;
    const T: &str = "scim";
    const LIST: &[&str] = &[
        "filter",
        "startIndex",
        "count",
        "attributes",
        "excludedAttributes",
    ];
    const PROJECT: &[&str] = &["attributes", "excludedAttributes"];
    vec![
        r(
            M::GET,
            "/scim/v2/ServiceProviderConfig",
            P,
            T,
            "What this SCIM service provider supports (RFC 7643 §5)",
            N,
            &[],
            get(discovery::service_provider_config),
        ),
        r(
            M::GET,
            "/scim/v2/ResourceTypes",
            P,
            T,
            "The resource types: User (with the enterprise extension) and Group",
            N,
            &[],
            get(discovery::resource_types),
        ),
        r(
            M::GET,
            "/scim/v2/ResourceTypes/{id}",
            P,
            T,
            "One resource type",
            N,
            &[],
            get(discovery::resource_type),
        ),
        r(
            M::GET,
            "/scim/v2/Schemas",
            P,
            T,
            "The schemas, with the attributes this provider keeps",
            N,
            &[],
            get(discovery::schemas),
        ),
        r(
            M::GET,
            "/scim/v2/Schemas/{id}",
            P,
            T,
            "One schema",
            N,
            &[],
            get(discovery::schema),
        ),
        r(
            M::GET,
            "/scim/v2/Users",
            P,
            T,
            "List users: filter, paging, attributes (I2)",
            N,
            LIST,
            get(users::list),
        ),
        r(
            M::POST,
            "/scim/v2/Users",
            P,
            T,
            "Create a user; beyond the area's limit: blocked and waiting, or refused (U1/U2)",
            S,
            &[],
            post(users::create),
        )
        .created(),
        r(
            M::GET,
            "/scim/v2/Users/{id}",
            P,
            T,
            "One user",
            N,
            PROJECT,
            get(users::get),
        ),
        r(
            M::PUT,
            "/scim/v2/Users/{id}",
            P,
            T,
            "Replace a user (If-Match); active false blocks (seats freed)",
            S,
            &[],
            put(users::replace),
        ),
        r(
            M::PATCH,
            "/scim/v2/Users/{id}",
            P,
            T,
            "Change a user with PatchOp operations (If-Match)",
            S,
            &[],
            patch(users::patch),
        ),
        r(
            M::DELETE,
            "/scim/v2/Users/{id}",
            P,
            T,
            "Block (default) or delete a user, freeing their seats",
            N,
            &[],
            delete(users::delete),
        ),
        r(
            M::GET,
            "/scim/v2/Groups",
            P,
            T,
            "List groups (roles provisioning may change): filter, paging, attributes",
            N,
            LIST,
            get(groups::list),
        ),
        r(
            M::POST,
            "/scim/v2/Groups",
            P,
            T,
            "Create a group (an organizational role) with members (D5)",
            S,
            &[],
            post(groups::create),
        )
        .created(),
        r(
            M::GET,
            "/scim/v2/Groups/{id}",
            P,
            T,
            "One group with its members",
            N,
            PROJECT,
            get(groups::get),
        ),
        r(
            M::PUT,
            "/scim/v2/Groups/{id}",
            P,
            T,
            "Replace a group's name and members (If-Match; D5)",
            S,
            PROJECT,
            put(groups::replace),
        ),
        r(
            M::PATCH,
            "/scim/v2/Groups/{id}",
            P,
            T,
            "Add, remove or replace members; rename (If-Match; D5)",
            S,
            PROJECT,
            patch(groups::patch),
        ),
        r(
            M::DELETE,
            "/scim/v2/Groups/{id}",
            P,
            T,
            "Delete a group (its role); members are redistributed (D5)",
            N,
            &[],
            delete(groups::delete),
        ),
    ]
}
