#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (I2): the SCIM User and Group resources (RFC 7643), their PATCH (RFC 7644
//! §3.5.2) in the forms Entra ID and Okta send, projection, ETags, errors (§3.12) and the
//! discovery documents.

use proptest::prelude::*;
use seatkeeper_core::scim::{
    ENTERPRISE_USER_SCHEMA, Email, GroupInput, GroupOp, GroupRef, GroupResource, MAX_OPERATIONS,
    MemberRef, Name, PATCH_OP_SCHEMA, ScimError, StoredUser, USER_SCHEMA, UserInput, UserResource,
    apply_user_patch, etag, parse_filter, parse_group_patch, project, resource_types, schemas,
    service_provider_config,
};
use serde_json::{Value, json};
use time::macros::datetime;

const BASE: &str = "https://seats.example/scim/v2";

fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": ops })
}

fn full_user() -> UserInput {
    UserInput {
        user_name: "bjensen@example.com".into(),
        external_id: Some("701984".into()),
        display_name: Some("Babs Jensen".into()),
        name: Some(Name {
            formatted: Some("Ms. Barbara J Jensen, III".into()),
            family_name: Some("Jensen".into()),
            given_name: Some("Barbara".into()),
            middle_name: Some("Jane".into()),
            honorific_prefix: Some("Ms.".into()),
            honorific_suffix: Some("III".into()),
        }),
        emails: vec![
            Email {
                value: "bjensen@example.com".into(),
                kind: Some("work".into()),
                primary: true,
                display: None,
            },
            Email {
                value: "babs@jensen.org".into(),
                kind: Some("home".into()),
                primary: false,
                display: Some("Babs".into()),
            },
        ],
        active: true,
        department: Some("Tour Operations".into()),
    }
}

fn resource(input: UserInput) -> UserResource {
    UserResource {
        id: "2819c223-7f76-453a-919d-413861904646".into(),
        input,
        groups: vec![GroupRef {
            value: "e9e30dba".into(),
            display: "Tour Guides".into(),
        }],
        created: datetime!(2026-01-23 04:56:22 UTC),
        last_modified: datetime!(2026-05-13 04:42:34 UTC),
    }
}

fn user_json() -> Value {
    resource(full_user()).to_json(BASE)
}

fn patched(ops: Value) -> UserInput {
    let out = apply_user_patch(&user_json(), &patch(ops)).unwrap();
    UserInput::from_json(&out).unwrap()
}

fn patch_err(current: &Value, ops: Value) -> ScimError {
    apply_user_patch(current, &patch(ops)).unwrap_err()
}

fn kind(e: &ScimError) -> (u16, Option<&'static str>) {
    (e.status, e.scim_type)
}

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
    assert!(u.active);
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
    // Absent `active` is active; "False" is false.
    assert!(
        UserInput::from_json(&json!({"userName": "a"}))
            .unwrap()
            .active
    );
    assert!(
        !UserInput::from_json(&json!({"userName": "a", "active": "False"}))
            .unwrap()
            .active
    );
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
            primary: true,
            ..Email::default()
        },
    ];
    assert_eq!(u.ledger_email(), "b@x");
    u.emails[1].primary = false;
    assert_eq!(u.ledger_email(), "a@x");

    // What the ledger stores rebuilds the same input.
    let full = full_user();
    let stored = StoredUser {
        user_name: full.user_name.clone(),
        external_id: full.external_id.clone(),
        active: full.active,
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
    assert_eq!(u.emails.iter().filter(|e| e.primary).count(), 1);
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
    assert!(!u.active);
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
    r.input.active = false;
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

// ---------- user PATCH ----------

#[test]
fn i2_user_patch_entra_forms() {
    // Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint",
    // Update User [Multi-valued properties].
    let u = patched(json!([
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
        { "op": "Replace", "path": "name.familyName", "value": "updatedFamilyName" }
    ]));
    assert_eq!(u.emails[0].value, "updatedEmail@microsoft.com");
    assert_eq!(u.emails[1].value, "babs@jensen.org");
    assert_eq!(
        u.name.unwrap().family_name.as_deref(),
        Some("updatedFamilyName")
    );
    // Update User [Single-valued properties].
    let u = patched(
        json!([{ "op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" }]),
    );
    assert_eq!(
        u.user_name,
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
    // Disable User; and the string boolean of "Known issues and resolutions with SCIM 2.0
    // protocol compliance" (customappsso job).
    assert!(!patched(json!([{ "op": "Replace", "path": "active", "value": false }])).active);
    assert!(!patched(json!([{ "op": "Replace", "path": "active", "value": "False" }])).active);
    // Add of a work e-mail the user does not have yet creates it.
    let mut no_work = full_user();
    no_work.emails.remove(0);
    let current = resource(no_work).to_json(BASE);
    let out = apply_user_patch(
        &current,
        &patch(json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com" }])),
    )
    .unwrap();
    let u = UserInput::from_json(&out).unwrap();
    assert_eq!(u.emails.len(), 2);
    assert_eq!(u.emails[1].value, "new@contoso.com");
    assert_eq!(u.emails[1].kind.as_deref(), Some("work"));
    // No path, keys that are paths (the "Known issues" page's PATCH form).
    let u = patched(json!([{ "op": "Replace", "value": {
        "displayName": "Barbara J.",
        "name.givenName": "Babs",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance",
        "active": "False",
        "title": "not kept"
    }}]));
    assert_eq!(u.display_name.as_deref(), Some("Barbara J."));
    assert_eq!(u.name.as_ref().unwrap().given_name.as_deref(), Some("Babs"));
    assert_eq!(
        u.name.as_ref().unwrap().family_name.as_deref(),
        Some("Jensen")
    );
    assert_eq!(u.department.as_deref(), Some("Finance"));
    assert!(!u.active);
    // URN-qualified path and the whole extension.
    let u = patched(
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "HR" }]),
    );
    assert_eq!(u.department.as_deref(), Some("HR"));
    let u = patched(
        json!([{ "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" }]),
    );
    assert_eq!(u.department, None);
    let out = apply_user_patch(&user_json(), &patch(json!([{ "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" }]))).unwrap();
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    let u = patched(
        json!([{ "op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": { "department": "Ops" } }]),
    );
    assert_eq!(u.department.as_deref(), Some("Ops"));
    let u = patched(
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Core" }]),
    );
    assert_eq!(u.display_name.as_deref(), Some("Core"));
}

#[test]
fn i2_user_patch_okta_forms() {
    // developer.okta.com, "SCIM 2.0 protocol reference", Update a specific User (PATCH).
    let u = patched(json!([{ "op": "replace", "value": { "active": false } }]));
    assert!(!u.active);
    let u = patched(
        json!([{ "op": "replace", "value": { "id": "2819c223-7f76-453a-919d-413861904646", "active": true } }]),
    );
    assert!(u.active);
}

#[test]
fn i2_user_patch_rfc_forms() {
    // Case-insensitive names, add/replace/remove on every shape.
    let u = patched(json!([{ "op": "ADD", "path": "NAME.GIVENNAME", "value": "B" }]));
    assert_eq!(u.name.unwrap().given_name.as_deref(), Some("B"));
    let u = patched(
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "third@x", "type": "other" }] }]),
    );
    assert_eq!(u.emails.len(), 3);
    let u = patched(
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "BJENSEN@example.com" }] }]),
    );
    assert_eq!(
        u.emails.len(),
        2,
        "a value already present is not added twice"
    );
    let u =
        patched(json!([{ "op": "replace", "path": "emails", "value": [{ "value": "only@x" }] }]));
    assert_eq!(u.emails.len(), 1);
    assert_eq!(u.ledger_email(), "only@x");
    let u = patched(json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]));
    assert_eq!(u.emails.len(), 1);
    let u = patched(json!([{ "op": "remove", "path": "emails" }]));
    assert!(u.emails.is_empty());
    let u = patched(json!([{ "op": "remove", "path": "name.middleName" }]));
    assert_eq!(u.name.unwrap().middle_name, None);
    let u = patched(json!([{ "op": "remove", "path": "name" }]));
    assert_eq!(u.name, None);
    let u = patched(json!([{ "op": "replace", "path": "name", "value": { "givenName": "Bea" } }]));
    let n = u.name.unwrap();
    assert_eq!(
        (n.given_name.as_deref(), n.family_name.as_deref()),
        (Some("Bea"), Some("Jensen"))
    );
    let u = patched(json!([{ "op": "remove", "path": "emails[value eq \"nobody@x\"]" }]));
    assert_eq!(u.emails.len(), 2, "removing nothing is no error");
    // Primary moves: setting it on one clears it on the other.
    let u = patched(
        json!([{ "op": "replace", "path": "emails[type eq \"home\"].primary", "value": true }]),
    );
    assert!(!u.emails[0].primary && u.emails[1].primary);
    assert_eq!(u.ledger_email(), "babs@jensen.org");
    let u = patched(
        json!([{ "op": "replace", "path": "emails[primary eq true].value", "value": "p@x" }]),
    );
    assert_eq!(u.ledger_email(), "p@x");
    // Removing an e-mail's value removes the e-mail.
    let u = patched(json!([{ "op": "remove", "path": "emails[type eq \"home\"].value" }]));
    assert_eq!(u.emails.len(), 1);
    // The representation keeps id, groups and meta.
    let out = apply_user_patch(
        &user_json(),
        &patch(json!([{ "op": "replace", "path": "displayName", "value": "X" }])),
    )
    .unwrap();
    assert_eq!(out["id"], user_json()["id"]);
    assert_eq!(out["groups"], user_json()["groups"]);
}

#[test]
fn i2_user_patch_errors() {
    let cur = user_json();
    let check = |ops: Value, status: u16, ty: &str| {
        let e = patch_err(&cur, ops.clone());
        assert_eq!(
            kind(&e),
            (
                status,
                Some(match ty {
                    "noTarget" => "noTarget",
                    "mutability" => "mutability",
                    "invalidValue" => "invalidValue",
                    "invalidPath" => "invalidPath",
                    "invalidFilter" => "invalidFilter",
                    "invalidSyntax" => "invalidSyntax",
                    _ => unreachable!(),
                })
            ),
            "{ops}: {e}"
        );
    };
    check(
        json!([{ "op": "replace", "path": "emails[type eq \"pager\"].value", "value": "x" }]),
        400,
        "noTarget",
    );
    check(
        json!([{ "op": "add", "path": "emails[value co \"zzz\"].value", "value": "x" }]),
        400,
        "noTarget",
    );
    check(json!([{ "op": "remove" }]), 400, "noTarget");
    check(
        json!([{ "op": "replace", "path": "id", "value": "other" }]),
        400,
        "mutability",
    );
    check(json!([{ "op": "remove", "path": "id" }]), 400, "mutability");
    check(
        json!([{ "op": "add", "path": "groups", "value": [{ "value": "g" }] }]),
        400,
        "mutability",
    );
    check(
        json!([{ "op": "replace", "path": "meta.created", "value": "x" }]),
        400,
        "mutability",
    );
    check(
        json!([{ "op": "replace", "value": { "id": "other" } }]),
        400,
        "mutability",
    );
    check(
        json!([{ "op": "remove", "path": "userName" }]),
        400,
        "invalidValue",
    );
    check(
        json!([{ "op": "replace", "path": "userName", "value": "" }]),
        400,
        "invalidValue",
    );
    check(
        json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
        400,
        "invalidValue",
    );
    check(
        json!([{ "op": "replace", "path": "displayName" }]),
        400,
        "invalidValue",
    );
    check(
        json!([{ "op": "replace", "value": "x" }]),
        400,
        "invalidValue",
    );
    check(
        json!([{ "op": "replace", "path": "userName.first", "value": "x" }]),
        400,
        "invalidPath",
    );
    check(
        json!([{ "op": "replace", "path": "name[givenName eq \"x\"]", "value": "x" }]),
        400,
        "invalidPath",
    );
    check(
        json!([{ "op": "replace", "path": "emails[", "value": "x" }]),
        400,
        "invalidFilter",
    );
    check(
        json!([{ "op": "replace", "path": 5, "value": "x" }]),
        400,
        "invalidPath",
    );
    check(
        json!([{ "op": "move", "path": "displayName", "value": "x" }]),
        400,
        "invalidSyntax",
    );
    check(json!([]), 400, "invalidSyntax");
    check(json!(["x"]), 400, "invalidSyntax");
    let e = apply_user_patch(&cur, &json!({ "Operations": [] })).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidSyntax")));
    let e = apply_user_patch(&cur, &json!({ "schemas": [PATCH_OP_SCHEMA] })).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidSyntax")));
    let many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({ "op": "replace", "path": "active", "value": true }))
        .collect();
    let e = patch_err(&cur, Value::Array(many));
    assert_eq!(kind(&e), (400, Some("invalidValue")));
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
        members: vec![MemberRef {
            value: "u1".into(),
            display: "Babs".into(),
        }],
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

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn i2_group_patch_entra_and_okta_forms() {
    // Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint":
    // Update Group [Add Members], [Remove Members], Update Group [Attributes].
    let ops = parse_group_patch(&patch(json!([
        { "op": "Add", "path": "members", "value": [{ "$ref": null, "value": "f648f8d5-ea3e-4b1c-b8c3-a4c2dfae0d5b" }] }
    ]))).unwrap();
    assert_eq!(
        ops,
        vec![GroupOp::AddMembers(ids(&[
            "f648f8d5-ea3e-4b1c-b8c3-a4c2dfae0d5b"
        ]))]
    );
    let ops = parse_group_patch(&patch(json!([
        { "op": "Remove", "path": "members", "value": [{ "$ref": null, "value": "a0c0a5f6" }] }
    ])))
    .unwrap();
    assert_eq!(ops, vec![GroupOp::RemoveMembers(ids(&["a0c0a5f6"]))]);
    let ops = parse_group_patch(&patch(json!([
        { "op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }
    ]))).unwrap();
    assert_eq!(
        ops,
        vec![GroupOp::SetDisplayName(
            "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName".into()
        )]
    );
    // developer.okta.com, "SCIM 2.0 protocol reference": Update Group name (PATCH, no path,
    // `id` echoed), remove a member by value path, add members.
    let ops = parse_group_patch(&patch(json!([
        { "op": "replace", "value": { "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2" } }
    ]))).unwrap();
    assert_eq!(ops, vec![GroupOp::SetDisplayName("Test SCIMv2".into())]);
    let ops = parse_group_patch(&patch(json!([
        { "op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]" }
    ])))
    .unwrap();
    assert_eq!(
        ops,
        vec![GroupOp::RemoveMembers(ids(&[
            "89bb1940-b905-4575-9e7f-6f887cfb368e"
        ]))]
    );
    let ops = parse_group_patch(&patch(json!([
        { "op": "add", "path": "members", "value": [
            { "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local" }
        ] }
    ])))
    .unwrap();
    assert_eq!(
        ops,
        vec![GroupOp::AddMembers(ids(&[
            "23a35c27-23d3-4c03-b4c5-6443c09e7173"
        ]))]
    );
    // Replace of all members, remove of all, `or` of member filters, externalId, several ops.
    let ops = parse_group_patch(&patch(json!([
        { "op": "replace", "path": "members", "value": [{ "value": "a" }, { "value": "b" }] },
        { "op": "remove", "path": "members[value eq \"a\" or value eq \"c\"]" },
        { "op": "replace", "path": "externalId", "value": "x9" },
        { "op": "remove", "path": "externalId" },
        { "op": "add", "value": { "members": [{ "value": "d" }], "displayName": "G" } },
        { "op": "remove", "path": "members" },
        { "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "H" }
    ]))).unwrap();
    assert_eq!(
        ops,
        vec![
            GroupOp::ReplaceMembers(ids(&["a", "b"])),
            GroupOp::RemoveMembers(ids(&["a", "c"])),
            GroupOp::SetExternalId(Some("x9".into())),
            GroupOp::SetExternalId(None),
            // Keys of one value in a fixed order: displayName, externalId, members.
            GroupOp::SetDisplayName("G".into()),
            GroupOp::AddMembers(ids(&["d"])),
            GroupOp::RemoveAllMembers,
            GroupOp::SetDisplayName("H".into()),
        ]
    );
}

#[test]
fn i2_group_patch_errors() {
    let cases = [
        (
            json!([{ "op": "remove", "path": "members[display eq \"Babs\"]" }]),
            Some("invalidFilter"),
        ),
        (
            json!([{ "op": "remove", "path": "members[value ne \"a\"]" }]),
            Some("invalidFilter"),
        ),
        (
            json!([{ "op": "remove", "path": "members[value eq \"a\" and value eq \"b\"]" }]),
            Some("invalidFilter"),
        ),
        (
            json!([{ "op": "remove", "path": "members[value eq" }]),
            Some("invalidFilter"),
        ),
        (
            json!([{ "op": "replace", "path": "owner", "value": "x" }]),
            Some("invalidPath"),
        ),
        (
            json!([{ "op": "replace", "path": "id", "value": "x" }]),
            Some("invalidPath"),
        ),
        (
            json!([{ "op": "add", "path": "members[value eq \"a\"]", "value": [{"value": "a"}] }]),
            Some("invalidPath"),
        ),
        (
            json!([{ "op": "replace", "value": { "owner": "x" } }]),
            Some("invalidPath"),
        ),
        (json!([{ "op": "remove" }]), Some("noTarget")),
        (
            json!([{ "op": "remove", "path": "displayName" }]),
            Some("invalidValue"),
        ),
        (
            json!([{ "op": "replace", "path": "displayName", "value": "" }]),
            Some("invalidValue"),
        ),
        (
            json!([{ "op": "add", "path": "members", "value": [{ "value": "g", "type": "Group" }] }]),
            Some("invalidValue"),
        ),
        (
            json!([{ "op": "add", "path": "members" }]),
            Some("invalidValue"),
        ),
        (
            json!([{ "op": "delete", "path": "members" }]),
            Some("invalidSyntax"),
        ),
    ];
    for (ops, ty) in cases {
        let e = parse_group_patch(&patch(ops.clone())).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, ty), "{ops}: {e}");
    }
    let e = parse_group_patch(&json!({ "schemas": ["urn:wrong"], "Operations": [] })).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidSyntax")));
    let e = parse_group_patch(&json!({ "schemas": [PATCH_OP_SCHEMA] })).unwrap_err();
    assert_eq!(kind(&e), (400, Some("invalidSyntax")));
    let e = parse_group_patch(&patch(
        json!([{ "op": "remove", "path": "members[display eq \"Babs\"]" }]),
    ))
    .unwrap_err();
    assert!(e.detail.contains("value eq"), "{}", e.detail);
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

// ---------- properties ----------

fn arb_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z0-9 .@'-]{1,20}")
}

prop_compose! {
    fn arb_user()(
        user_name in "[a-z0-9.@]{1,30}",
        external_id in arb_string(),
        display_name in arb_string(),
        given in arb_string(),
        family in arb_string(),
        emails in prop::collection::vec(("[a-z]{1,8}@[a-z]{1,8}", arb_string(), arb_string()), 0..4),
        primary in 0usize..5,
        active in any::<bool>(),
        department in arb_string(),
    ) -> UserInput {
        let name = if given.is_none() && family.is_none() { None } else {
            Some(Name { given_name: given, family_name: family, ..Name::default() })
        };
        UserInput {
            user_name, external_id, display_name, name,
            emails: emails.into_iter().enumerate().map(|(i, (value, kind, display))| Email {
                value, kind, primary: i == primary, display,
            }).collect(),
            active, department,
        }
    }
}

const PATHS: &[&str] = &[
    "userName",
    "displayName",
    "externalId",
    "active",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[primary eq true].primary",
    "emails[value sw \"a\"].display",
    "id",
    "meta",
    "groups",
    "schemas",
    "title",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "emails[",
    "name[x eq 1]",
    "userName.x",
    "",
    "members",
    "urn:other:ext:Foo:bar",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z@. ]{0,12}".prop_map(Value::String),
        prop_oneof![Just("True"), Just("False"), Just("work"), Just("")].prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value".to_string()),
                    Just("type".to_string()),
                    Just("primary".to_string()),
                    Just("givenName".to_string()),
                    Just("department".to_string()),
                    Just("active".to_string()),
                    Just("displayName".to_string()),
                    Just("id".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_op() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("add"), Just("Replace"), Just("REMOVE"), Just("move")],
        prop::option::of(prop::sample::select(PATHS)),
        prop::option::of(arb_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut m = serde_json::Map::new();
            m.insert("op".into(), json!(op));
            if let Some(p) = path {
                m.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                m.insert("value".into(), v);
            }
            Value::Object(m)
        })
}

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
            active: user.active,
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

    #[test]
    fn i2_random_user_patches_never_panic(user in arb_user(), ops in prop::collection::vec(arb_op(), 1..5)) {
        let current = resource(user).to_json(BASE);
        match apply_user_patch(&current, &patch(Value::Array(ops))) {
            Ok(out) => { UserInput::from_json(&out).unwrap(); }
            Err(e) => prop_assert!(e.status == 400 || e.status == 409, "{e}"),
        }
    }

    #[test]
    fn i2_random_group_patches_never_panic(ops in prop::collection::vec(arb_op(), 1..5)) {
        if let Err(e) = parse_group_patch(&patch(Value::Array(ops))) {
            prop_assert!(e.status == 400 || e.status == 409, "{e}");
        }
    }

    #[test]
    fn i2_random_bodies_never_panic(body in arb_json(), attrs in "[a-zA-Z.,:\\[\\] \"]{0,30}") {
        let current = user_json();
        for r in [apply_user_patch(&current, &body).map(|_| ()), parse_group_patch(&body).map(|_| ()),
                  UserInput::from_json(&body).map(|_| ()), GroupInput::from_json(&body).map(|_| ())] {
            if let Err(e) = r { prop_assert!(e.status == 400 || e.status == 409, "{e}"); }
        }
        if let Err(e) = project(&current, Some(&attrs), Some(&attrs)) {
            prop_assert_eq!(e.status, 400);
        }
    }
}
