#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (I2): the SCIM User and Group resources (RFC 7643) — reading request bodies,
//! representations with ETags, what the ledger stores — errors (RFC 7644 §3.12),
//! `attributes`/`excludedAttributes` and the discovery documents. PATCH: `scim_patch.rs`.

#[path = "scim/support.rs"]
mod support;

use proptest::prelude::*;
use seatkeeper_core::scim::{
    ENTERPRISE_USER_SCHEMA, Email, GroupInput, GroupResource, MAX_RESULTS, MemberRef, Name, Paging,
    ScimError, StoredUser, USER_SCHEMA, UserInput, etag, if_match, list_response, parse_filter,
    project, resource_types, schemas, service_provider_config,
};
use serde_json::{Value, json};
use support::*;
use time::macros::datetime;

// ---------- errors ----------

#[test]
fn i2_errors_have_the_rfc_status_and_scim_type_and_body() {
    let cases: Vec<(ScimError, u16, Option<&str>)> = vec![
        (ScimError::invalid_filter("x"), 400, Some("invalidFilter")),
        (ScimError::invalid_syntax("x"), 400, Some("invalidSyntax")),
        (ScimError::invalid_path("x"), 400, Some("invalidPath")),
        (ScimError::no_target("x"), 400, Some("noTarget")),
        (ScimError::invalid_value("x"), 400, Some("invalidValue")),
        (ScimError::mutability("x"), 400, Some("mutability")),
        (ScimError::uniqueness("x"), 409, Some("uniqueness")),
        (ScimError::too_many("x"), 400, Some("tooMany")),
        (ScimError::sensitive("x"), 400, Some("sensitive")),
        (ScimError::invalid_vers("x"), 400, Some("invalidVers")),
        (ScimError::not_found("x"), 404, None),
        (ScimError::precondition_failed("x"), 412, None),
        (ScimError::conflict("x"), 409, None),
        (ScimError::unauthorized("x"), 401, None),
        (ScimError::forbidden("x"), 403, None),
        (ScimError::payload_too_large("x"), 413, None),
        (ScimError::internal("x"), 500, None),
        (ScimError::not_implemented("x"), 501, None),
    ];
    for (e, status, ty) in cases {
        assert_eq!((e.status, e.scim_type), (status, ty));
        let body = e.to_json();
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(
            body["status"],
            json!(status.to_string()),
            "status is a string"
        );
        assert_eq!(body["detail"], "x");
        match ty {
            Some(t) => assert_eq!(body["scimType"], t),
            None => assert!(body.get("scimType").is_none()),
        }
    }
    let from_filter: ScimError = parse_filter("userName eq").unwrap_err().into();
    assert_eq!(kind(&from_filter), (400, Some("invalidFilter")));
    assert!(from_filter.to_string().contains("invalidFilter"));
}

// ---------- users ----------

#[test]
fn i2_user_round_trips_through_its_representation() {
    let input = full_user();
    let json = user_json();
    assert_eq!(UserInput::from_json(&json).unwrap(), input);
    assert_eq!(
        json["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );
    assert_eq!(
        json[ENTERPRISE_USER_SCHEMA]["department"],
        "Tour Operations"
    );
    assert_eq!(json["groups"][0]["$ref"], format!("{BASE}/Groups/e9e30dba"));
    assert_eq!(json["groups"][0]["display"], "Tour Guides");
    let meta = &json["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["created"], "2026-01-23T04:56:22Z");
    assert_eq!(meta["lastModified"], "2026-05-13T04:42:34Z");
    assert_eq!(
        meta["location"],
        format!("{BASE}/Users/2819c223-7f76-453a-919d-413861904646")
    );
    assert!(meta["version"].as_str().unwrap().starts_with("W/\""));
    // Without department, only the core schema.
    let mut plain = full_user();
    plain.department = None;
    assert_eq!(
        resource(plain).to_json(BASE)["schemas"],
        json!([USER_SCHEMA])
    );
}

#[test]
fn i2_user_from_json_is_lenient_where_identity_providers_differ() {
    // Entra ID's create body (Microsoft Learn, "Tutorial: Develop and plan provisioning for
    // a SCIM endpoint", Create User), with its string boolean from the "Known issues" page.
    let entra = json!({
        "UserName": "UserName123",
        "Active": "True",
        "DisplayName": "BobIsAmazing",
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": "ryan3",
        "name": { "formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan" },
        "emails": [{ "Primary": true, "type": "work", "value": "Test@contoso.com" }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "Department": "Sales" },
        "roles": [],
        "meta": { "resourceType": "User" },
        "id": "ignored-readonly",
        "groups": [{ "value": "ignored" }]
    });
    let u = UserInput::from_json(&entra).unwrap();
    assert_eq!(u.user_name, "UserName123");
    assert_eq!(u.active, Some(true));
    assert_eq!(u.display_name.as_deref(), Some("BobIsAmazing"));
    assert_eq!(u.department.as_deref(), Some("Sales"));
    assert_eq!(u.ledger_email(), "Test@contoso.com");
    assert_eq!(u.ledger_name(), "BobIsAmazing");
    // Okta's create body (developer.okta.com, "SCIM 2.0 protocol reference", Create Users).
    let okta = json!({
        "schemas": [USER_SCHEMA],
        "userName": "test.user@okta.local",
        "name": { "givenName": "Test", "familyName": "User" },
        "emails": [{ "primary": true, "value": "test.user@okta.local", "type": "work" }],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let u = UserInput::from_json(&okta).unwrap();
    assert_eq!(u.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
    assert_eq!(u.name.as_ref().unwrap().given_name.as_deref(), Some("Test"));
    // Absent (or null) `active` is unassigned, which the ledger holds active; "False" is false.
    for body in [
        json!({"userName": "a"}),
        json!({"userName": "a", "active": null}),
    ] {
        let u = UserInput::from_json(&body).unwrap();
        assert_eq!(u.active, None);
        assert!(u.wants_active());
    }
    let u = UserInput::from_json(&json!({"userName": "a", "active": "False"})).unwrap();
    assert_eq!(u.active, Some(false));
    assert!(!u.wants_active());
}

#[test]
fn i2_user_from_json_refuses_bad_values_naming_the_attribute() {
    let long = "x".repeat(257);
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"value": format!("{i}@x")}))
        .collect();
    let cases = [
        (json!({}), "userName"),
        (json!({"userName": ""}), "userName"),
        (json!({"userName": "  "}), "userName"),
        (json!({"userName": 5}), "userName"),
        (json!({"userName": long}), "userName"),
        (json!({"userName": "a", "active": "yes"}), "active"),
        (
            json!({"userName": "a", "displayName": ["x"]}),
            "displayName",
        ),
        (json!({"userName": "a", "name": "Bob"}), "name"),
        (
            json!({"userName": "a", "name": {"givenName": 1}}),
            "name.givenName",
        ),
        (json!({"userName": "a", "emails": "a@b"}), "emails"),
        (
            json!({"userName": "a", "emails": [{"type": "work"}]}),
            "emails[0]",
        ),
        (json!({"userName": "a", "emails": many}), "emails"),
        (
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
            "primary",
        ),
        (
            json!({"userName": "a", "displayName": "y".repeat(1025)}),
            "displayName",
        ),
        (
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "Sales"}),
            ENTERPRISE_USER_SCHEMA,
        ),
    ];
    for (body, attr) in cases {
        let e = UserInput::from_json(&body).unwrap_err();
        assert_eq!(kind(&e), (400, Some("invalidValue")), "{body}");
        assert!(e.detail.contains(attr), "{body}: {}", e.detail);
    }
    let e = UserInput::from_json(&json!(["x"])).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidSyntax")));
}

#[test]
fn i2_ledger_name_email_and_profile() {
    let mut u = UserInput::new("jdoe");
    assert_eq!(
        (u.ledger_name(), u.ledger_email()),
        ("jdoe".into(), String::new())
    );
    u.name = Some(Name {
        given_name: Some("John".into()),
        family_name: Some("Doe".into()),
        ..Name::default()
    });
    assert_eq!(u.ledger_name(), "John Doe");
    u.emails = vec![
        Email {
            value: "a@x".into(),
            ..Email::default()
        },
        Email {
            value: "b@x".into(),
            primary: Some(true),
            ..Email::default()
        },
    ];
    assert_eq!(u.ledger_email(), "b@x");
    u.emails[1].primary = Some(false);
    assert_eq!(u.ledger_email(), "a@x");

    // What the ledger stores rebuilds the same input.
    let full = full_user();
    let stored = StoredUser {
        user_name: full.user_name.clone(),
        external_id: full.external_id.clone(),
        active: full.wants_active(),
        department: full.department.clone(),
        ledger_name: full.ledger_name(),
        ledger_email: full.ledger_email(),
        profile: Some(full.profile()),
    };
    assert_eq!(UserInput::from_stored(&stored), full);
    // The ledger's own columns win when changed elsewhere.
    let changed = StoredUser {
        ledger_name: "Barbara Renamed".into(),
        ledger_email: "babs@jensen.org".into(),
        ..stored.clone()
    };
    let u = UserInput::from_stored(&changed);
    assert_eq!(u.ledger_name(), "Barbara Renamed");
    assert_eq!(u.ledger_email(), "babs@jensen.org");
    assert_eq!(
        u.emails.iter().filter(|e| e.primary == Some(true)).count(),
        1
    );
    // A user made outside SCIM (no profile).
    let bare = StoredUser {
        user_name: "kim".into(),
        active: false,
        ledger_name: "Kim Lee".into(),
        ledger_email: "kim@x".into(),
        ..StoredUser::default()
    };
    let u = UserInput::from_stored(&bare);
    assert_eq!(u.display_name.as_deref(), Some("Kim Lee"));
    assert_eq!(u.ledger_email(), "kim@x");
    assert_eq!(u.active, Some(false));
}

#[test]
fn i2_etag_changes_iff_the_resource_changes() {
    let a = user_json();
    let again = user_json();
    assert_eq!(a["meta"]["version"], again["meta"]["version"]);
    // Same content, other lastModified: same version (meta is not hashed).
    let mut later = resource(full_user());
    later.last_modified = datetime!(2027-01-01 00:00 UTC);
    assert_eq!(later.to_json(BASE)["meta"]["version"], a["meta"]["version"]);
    // Any change a client can see changes it.
    let mut r = resource(full_user());
    r.input.active = Some(false);
    assert_ne!(r.to_json(BASE)["meta"]["version"], a["meta"]["version"]);
    let mut r = resource(full_user());
    r.groups.clear();
    assert_ne!(r.to_json(BASE)["meta"]["version"], a["meta"]["version"]);
    let mut r = resource(full_user());
    r.input.emails[1].display = None;
    assert_ne!(r.to_json(BASE)["meta"]["version"], a["meta"]["version"]);
    // Key order does not matter.
    assert_eq!(
        etag(&json!({"a": 1, "b": [1, {"c": 2, "d": 3}]})),
        etag(&json!({"b": [1, {"d": 3, "c": 2}], "a": 1}))
    );
    assert_ne!(etag(&json!({"a": 1})), etag(&json!({"a": "1"})));
}

// ---------- groups ----------

#[test]
fn i2_group_round_trips_and_refuses_bad_bodies() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Tour Guides",
        "externalId": "ext-1",
        "members": [{ "value": "u1", "type": "User" }, { "value": "u2", "display": "B" }, { "value": "u1" }]
    });
    let g = GroupInput::from_json(&body).unwrap();
    assert_eq!(g.members, vec!["u1".to_string(), "u2".to_string()]);
    assert_eq!(GroupInput::from_json(&g.to_json()).unwrap(), g);
    let res = GroupResource {
        id: "e9e30dba".into(),
        display_name: g.display_name.clone(),
        external_id: g.external_id.clone(),
        members: vec![MemberRef { value: "u1".into() }],
        created: datetime!(2026-01-23 04:56:22 UTC),
        last_modified: datetime!(2026-01-23 04:56:22 UTC),
    };
    let json = res.to_json(BASE);
    assert_eq!(json["meta"]["resourceType"], "Group");
    assert_eq!(json["meta"]["location"], format!("{BASE}/Groups/e9e30dba"));
    assert_eq!(json["members"][0]["$ref"], format!("{BASE}/Users/u1"));
    let back = GroupInput::from_json(&json).unwrap();
    assert_eq!(
        (back.display_name, back.members),
        ("Tour Guides".to_string(), vec!["u1".to_string()])
    );
    let mut other = res.clone();
    other.members.clear();
    assert_ne!(
        other.to_json(BASE)["meta"]["version"],
        json["meta"]["version"]
    );

    for bad in [
        json!({}),
        json!({ "displayName": "" }),
        json!({ "displayName": "g", "members": [{ "display": "no value" }] }),
        json!({ "displayName": "g", "members": [{ "value": "g2", "type": "Group" }] }),
        json!({ "displayName": "g", "members": "u1" }),
    ] {
        let e = GroupInput::from_json(&bad).unwrap_err();
        assert_eq!(kind(&e), (400, Some("invalidValue")), "{bad}");
    }
}

// ---------- projection ----------

#[test]
fn i2_projection_of_attributes_and_excluded_attributes() {
    let u = user_json();
    let p = project(&u, Some("userName,NAME.givenName,emails.value"), None).unwrap();
    let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{p}");
    assert_eq!(p["id"], u["id"]);
    assert_eq!(p["schemas"], u["schemas"]);
    assert_eq!(p["userName"], u["userName"]);
    assert_eq!(p["name"], json!({ "givenName": "Barbara" }));
    assert_eq!(
        p["emails"],
        json!([{ "value": "bjensen@example.com" }, { "value": "babs@jensen.org" }])
    );
    let p = project(&u, Some("urn:ietf:params:scim:schemas:core:2.0:User:displayName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None).unwrap();
    assert_eq!(p["displayName"], "Babs Jensen");
    assert_eq!(
        p[ENTERPRISE_USER_SCHEMA],
        json!({ "department": "Tour Operations" })
    );
    let p = project(&u, Some(ENTERPRISE_USER_SCHEMA), None).unwrap();
    assert_eq!(p[ENTERPRISE_USER_SCHEMA], u[ENTERPRISE_USER_SCHEMA]);
    let p = project(&u, Some("meta.lastModified"), None).unwrap();
    assert_eq!(p["meta"], json!({ "lastModified": "2026-05-13T04:42:34Z" }));

    let p = project(&u, None, Some("emails,name.formatted,groups,id,schemas,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")).unwrap();
    assert!(p.get("emails").is_none() && p.get("groups").is_none());
    assert!(
        p.get(ENTERPRISE_USER_SCHEMA).is_none(),
        "emptied extension goes"
    );
    assert!(p["name"].get("formatted").is_none());
    assert_eq!(p["name"]["givenName"], "Barbara");
    assert_eq!(p["id"], u["id"], "id cannot be excluded");
    assert_eq!(p["schemas"], u["schemas"]);
    assert_eq!(project(&u, None, None).unwrap(), u);
    assert_eq!(project(&u, Some(" "), Some("")).unwrap(), u);
    let e = project(&u, Some("userName eq \"x\""), None).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidValue")));
}

// ---------- discovery ----------

#[test]
fn i2_discovery_documents_are_truthful() {
    let spc = service_provider_config(BASE);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], false);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        format!("{BASE}/ServiceProviderConfig")
    );
    let types = resource_types(BASE);
    assert_eq!(types.len(), 2);
    assert_eq!(
        types[0]["schemaExtensions"][0]["schema"],
        ENTERPRISE_USER_SCHEMA
    );
    assert_eq!(types[1]["endpoint"], "/Groups");
    assert_eq!(
        types[0]["meta"]["location"],
        format!("{BASE}/ResourceTypes/User")
    );
    let all = schemas(BASE);
    assert_eq!(all.len(), 3);
    // Every attribute the User representation carries is in the published schemas.
    let user_schema = &all[0];
    assert_eq!(user_schema["id"], USER_SCHEMA);
    assert_eq!(
        user_schema["meta"]["location"],
        format!("{BASE}/Schemas/{USER_SCHEMA}")
    );
    let names: Vec<&str> = user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for key in user_json().as_object().unwrap().keys() {
        if ![
            "id",
            "externalId",
            "meta",
            "schemas",
            ENTERPRISE_USER_SCHEMA,
        ]
        .contains(&key.as_str())
        {
            assert!(
                names.contains(&key.as_str()),
                "{key} missing from the schema"
            );
        }
    }
    let user_name = &user_schema["attributes"][0];
    assert_eq!(
        (
            user_name["required"].as_bool(),
            user_name["uniqueness"].as_str()
        ),
        (Some(true), Some("server"))
    );
    let groups = user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "groups")
        .unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    let member_ref = &all[2]["attributes"][1]["subAttributes"][1];
    assert_eq!(
        (
            member_ref["name"].as_str(),
            member_ref["caseExact"].as_bool()
        ),
        (Some("$ref"), Some(true))
    );
    for s in &all {
        for a in s["attributes"].as_array().unwrap() {
            for k in [
                "type",
                "multiValued",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
            ] {
                assert!(a.get(k).is_some(), "{} lacks {k}", a["name"]);
            }
        }
    }
}

// ---------- paging, lists, If-Match ----------

#[test]
fn i2_paging_follows_rfc_7644() {
    let p = |s: Option<&str>, c: Option<&str>| Paging::from_query(s, c).unwrap();
    assert_eq!(
        p(None, None),
        Paging {
            start_index: 1,
            count: MAX_RESULTS
        }
    );
    assert_eq!(
        p(Some("0"), Some("-5")),
        Paging {
            start_index: 1,
            count: 0
        }
    );
    assert_eq!(
        p(Some("-3"), Some("10")),
        Paging {
            start_index: 1,
            count: 10
        }
    );
    assert_eq!(
        p(Some("51"), Some("100000")),
        Paging {
            start_index: 51,
            count: MAX_RESULTS
        }
    );
    assert_eq!(p(Some("51"), None).offset(), 50);
    for (s, c) in [(Some("x"), None), (None, Some("1.5")), (Some(""), None)] {
        let e = Paging::from_query(s, c).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some("invalidValue")));
    }
    let body = list_response(vec![json!({"id": "a"})], 7, p(Some("3"), Some("1")));
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 7, "startIndex": 3, "itemsPerPage": 1,
            "Resources": [{"id": "a"}],
        })
    );
}

#[test]
fn i2_if_match_compares_versions() {
    let v = user_json()["meta"]["version"].as_str().unwrap().to_owned();
    assert!(if_match(&v, &v));
    assert!(if_match("*", &v));
    assert!(
        if_match(v.trim_start_matches("W/"), &v),
        "strong form of the same tag"
    );
    assert!(if_match(&format!("W/\"other\", {v}"), &v));
    assert!(!if_match("W/\"other\"", &v));
    assert!(!if_match("", &v));
}

// ---------- properties ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn i2_user_representation_round_trips(user in arb_user()) {
        let r = resource(user.clone());
        let json = r.to_json(BASE);
        prop_assert_eq!(UserInput::from_json(&json).unwrap(), user.clone());
        let stored = StoredUser {
            user_name: user.user_name.clone(),
            external_id: user.external_id.clone(),
            active: user.wants_active(),
            department: user.department.clone(),
            ledger_name: user.ledger_name(),
            ledger_email: user.ledger_email(),
            profile: Some(user.profile()),
        };
        prop_assert_eq!(UserInput::from_stored(&stored), user);
    }

    #[test]
    fn i2_etag_differs_when_the_user_differs(a in arb_user(), b in arb_user()) {
        let (ja, jb) = (resource(a.clone()).to_json(BASE), resource(b.clone()).to_json(BASE));
        prop_assert_eq!(a == b, ja["meta"]["version"] == jb["meta"]["version"]);
    }

}
