#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (I2): PATCH of Users (applied to the representation) and Groups (parsed into set
//! operations), RFC 7644 §3.5.2, in the forms Entra ID and Okta send, every refusal with its
//! `scimType`, and random or mutated bodies (never a panic; a 400 or 409 when refused).

#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "scim/support.rs"]
mod support;

use proptest::prelude::*;
use seatkeeper_core::scim::{
    ENTERPRISE_USER_SCHEMA, GroupInput, GroupOp, MAX_OPERATIONS, PATCH_OP_SCHEMA, ScimError,
    USER_SCHEMA, UserInput, apply_user_patch, parse_group_patch, project,
};
use serde_json::{Value, json};
use support::*;

fn patched(ops: Value) -> UserInput {
    let out = apply_user_patch(&user_json(), &patch(ops)).unwrap();
    UserInput::from_json(&out).unwrap()
}

fn patch_err(current: &Value, ops: Value) -> ScimError {
    apply_user_patch(current, &patch(ops)).unwrap_err()
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
    let off = |value: Value| {
        patched(json!([{ "op": "Replace", "path": "active", "value": value }])).active
    };
    assert_eq!(off(json!(false)), Some(false));
    assert_eq!(off(json!("False")), Some(false));
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
    // Sub-attributes of a new work e-mail in any order, primary first.
    let out = apply_user_patch(
        &current,
        &patch(json!([
            { "op": "Add", "path": "emails[type eq \"work\"].primary", "value": "True" },
            { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@contoso.com" }
        ])),
    )
    .unwrap();
    let u = UserInput::from_json(&out).unwrap();
    assert_eq!(u.ledger_email(), "w@contoso.com");
    assert_eq!(
        u.emails.iter().filter(|e| e.primary == Some(true)).count(),
        1
    );
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
    assert_eq!(u.active, Some(false));
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
fn i2_user_patch_remove_active_leaves_it_unassigned() {
    let out = apply_user_patch(
        &user_json(),
        &patch(json!([{ "op": "remove", "path": "active" }])),
    )
    .unwrap();
    assert_eq!(out.get("active"), None, "{out}");
    let u = UserInput::from_json(&out).unwrap();
    assert_eq!(u.active, None);
    assert!(
        u.wants_active(),
        "the ledger keeps an unassigned user active"
    );
    assert_eq!(u.profile().get("active"), None);
    // And set again afterwards.
    let out = apply_user_patch(
        &out,
        &patch(json!([{ "op": "add", "path": "active", "value": false }])),
    )
    .unwrap();
    assert_eq!(out["active"], false);
}

#[test]
fn i2_user_patch_okta_forms() {
    // developer.okta.com, "SCIM 2.0 protocol reference", Update a specific User (PATCH).
    let u = patched(json!([{ "op": "replace", "value": { "active": false } }]));
    assert_eq!(u.active, Some(false));
    let u = patched(
        json!([{ "op": "replace", "value": { "id": "2819c223-7f76-453a-919d-413861904646", "active": true } }]),
    );
    assert_eq!(u.active, Some(true));
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
    assert_eq!(
        (u.emails[0].primary, u.emails[1].primary),
        (Some(false), Some(true))
    );
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
        json!([{ "op": "replace", "path": "emails[type xx \"work\"].value", "value": "x" }]),
        400,
        "invalidFilter",
    );
    // A malformed path outside the brackets is invalidPath (RFC 7644 §3.12).
    for bad in ["", "5abc", "name..givenName", "emails]", "display Name"] {
        check(
            json!([{ "op": "replace", "path": bad, "value": "x" }]),
            400,
            "invalidPath",
        );
    }
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
        (
            json!([{ "op": "remove", "path": "members..value" }]),
            Some("invalidPath"),
        ),
        (
            json!([{ "op": "remove", "path": "members.value" }]),
            Some("invalidPath"),
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

// ---------- properties ----------

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

    #[test]
    fn i2_mutated_vendor_patches_never_panic(
        seed in prop::sample::select(seed_bodies()),
        json_edits in mutate::json_edits(),
        byte_edits in mutate::byte_edits(),
    ) {
        let current = user_json();
        // Edited as JSON (values of another type, deleted and duplicated keys) …
        let edited = mutate::apply_json(seed.clone(), &json_edits);
        // … and as bytes, when the result is still JSON.
        let bytes = mutate::apply_bytes(seed.to_string().into_bytes(), &byte_edits, &[]);
        let from_bytes: Option<Value> = serde_json::from_slice(&bytes).ok();
        for body in std::iter::once(edited).chain(from_bytes) {
            for r in [
                apply_user_patch(&current, &body).map(|_| ()),
                parse_group_patch(&body).map(|_| ()),
            ] {
                if let Err(e) = r {
                    prop_assert!(e.status == 400 || e.status == 409, "{e}");
                }
            }
        }
    }
}

/// The vendors' bodies used above, as seeds for mutation.
fn seed_bodies() -> Vec<Value> {
    vec![
        patch(json!([
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
            { "op": "Replace", "path": "name.familyName", "value": "updatedFamilyName" }
        ])),
        patch(json!([{ "op": "Replace", "path": "active", "value": "False" }])),
        patch(
            json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "n@contoso.com" }]),
        ),
        patch(json!([{ "op": "replace", "value": { "active": false } }])),
        patch(json!([{ "op": "Replace", "value": {
            "name.givenName": "Babs",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance"
        }}])),
        patch(
            json!([{ "op": "Add", "path": "members", "value": [{ "$ref": null, "value": "f648f8d5" }] }]),
        ),
        patch(json!([{ "op": "remove", "path": "members[value eq \"89bb1940\"]" }])),
        patch(
            json!([{ "op": "replace", "value": { "id": "abf4dd94", "displayName": "Test SCIMv2" } }]),
        ),
        patch(json!([{ "op": "remove", "path": "members", "value": [{ "value": "a" }] }])),
    ]
}
