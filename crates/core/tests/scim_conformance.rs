#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (I2): what a SCIM conformance checker (scim2-tester) compares — a resource sent
//! comes back as sent (`emails.primary: false`, an absent `active`, group members without
//! `display`), also through what the ledger stores — and the body of a search by POST
//! (RFC 7644 §3.4.3).

#[path = "scim/support.rs"]
mod support;

use seatkeeper_core::scim::{
    GROUP_SCHEMA, GroupInput, GroupResource, MemberRef, Paging, SEARCH_REQUEST_SCHEMA,
    SearchRequest, StoredUser, USER_SCHEMA, UserInput, schemas,
};
use serde_json::{Value, json};
use support::*;
use time::macros::datetime;

/// What the ledger keeps of `input`, as the store hands it back.
fn stored(input: &UserInput) -> StoredUser {
    StoredUser {
        user_name: input.user_name.clone(),
        external_id: input.external_id.clone(),
        active: input.wants_active(),
        department: input.department.clone(),
        ledger_name: input.ledger_name(),
        ledger_email: input.ledger_email(),
        profile: Some(input.profile()),
    }
}

/// The representation's attributes a client sent (no `id`, `meta`, `groups`).
fn answered(input: &UserInput) -> Value {
    let mut json = resource(input.clone()).to_json(BASE);
    for key in ["id", "meta", "groups"] {
        json.as_object_mut().unwrap().remove(key);
    }
    json
}

#[test]
fn i2_email_primary_false_round_trips_and_absent_stays_absent() {
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "kim",
        "emails": [
            { "value": "kim@work.example", "type": "work", "primary": false },
            { "value": "kim@home.example", "type": "home" }
        ]
    });
    let u = UserInput::from_json(&body).unwrap();
    assert_eq!(
        (u.emails[0].primary, u.emails[1].primary),
        (Some(false), None)
    );
    assert_eq!(answered(&u), body);
    // Through the ledger and back.
    let back = UserInput::from_stored(&stored(&u));
    assert_eq!(back, u);
    assert_eq!(answered(&back), body);
    // With no primary one, the ledger keeps the first; a ledger change elsewhere to the
    // second makes it the primary one, and the first keeps its `false`.
    assert_eq!(u.ledger_email(), "kim@work.example");
    let moved = UserInput::from_stored(&StoredUser {
        ledger_email: "kim@home.example".into(),
        ..stored(&u)
    });
    assert_eq!(moved.ledger_email(), "kim@home.example");
    assert_eq!(
        (moved.emails[0].primary, moved.emails[1].primary),
        (Some(false), Some(true))
    );
    // A primary moved away is set false, not dropped.
    let mut two = u.clone();
    two.emails[0].primary = Some(true);
    let moved = UserInput::from_stored(&StoredUser {
        ledger_email: "kim@home.example".into(),
        ..stored(&two)
    });
    assert_eq!(
        (moved.emails[0].primary, moved.emails[1].primary),
        (Some(false), Some(true))
    );
}

#[test]
fn i2_absent_active_round_trips_and_the_ledger_state_shows() {
    let body = json!({ "schemas": [USER_SCHEMA], "userName": "kim" });
    let u = UserInput::from_json(&body).unwrap();
    assert_eq!(u.active, None);
    assert!(u.wants_active(), "unassigned is active in the ledger");
    assert_eq!(answered(&u), body, "no \"active\" comes back");
    assert_eq!(u.profile().get("active"), None);
    let back = UserInput::from_stored(&stored(&u));
    assert_eq!(back.active, None);
    assert_eq!(answered(&back), body);
    // "active": true sent is true back, through the ledger too.
    let sent_true = UserInput::from_json(&json!({ "userName": "kim", "active": true })).unwrap();
    assert_eq!(sent_true.profile()["active"], true);
    assert_eq!(
        UserInput::from_stored(&stored(&sent_true)).active,
        Some(true)
    );
    // A user the ledger holds inactive (waiting for room, deactivated) shows false, whatever
    // was sent; one sent false and then activated in the ledger shows true.
    for input in [&u, &sent_true] {
        let blocked = StoredUser {
            active: false,
            ..stored(input)
        };
        let shown = UserInput::from_stored(&blocked);
        assert_eq!(shown.active, Some(false));
        assert_eq!(answered(&shown)["active"], false);
    }
    let sent_false = UserInput::from_json(&json!({ "userName": "kim", "active": false })).unwrap();
    let activated = StoredUser {
        active: true,
        ..stored(&sent_false)
    };
    assert_eq!(UserInput::from_stored(&activated).active, Some(true));
    // A user made outside SCIM (no profile), active in the ledger: nothing was sent.
    let bare = StoredUser {
        user_name: "lee".into(),
        active: true,
        ledger_name: "lee".into(),
        ..StoredUser::default()
    };
    assert_eq!(UserInput::from_stored(&bare).active, None);
}

#[test]
fn i2_group_members_come_back_without_display() {
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Tour Guides",
        "members": [{ "value": "u1" }, { "value": "u2", "display": "ignored" }]
    });
    let g = GroupInput::from_json(&body).unwrap();
    let res = GroupResource {
        id: "e9e30dba".into(),
        display_name: g.display_name.clone(),
        external_id: None,
        members: g
            .members
            .iter()
            .map(|m| MemberRef { value: m.clone() })
            .collect(),
        created: datetime!(2026-01-23 04:56:22 UTC),
        last_modified: datetime!(2026-01-23 04:56:22 UTC),
    };
    let json = res.to_json(BASE);
    assert_eq!(
        json["members"],
        json!([
            { "value": "u1", "$ref": format!("{BASE}/Users/u1"), "type": "User" },
            { "value": "u2", "$ref": format!("{BASE}/Users/u2"), "type": "User" }
        ])
    );
    // The published Group schema does not list what is never answered.
    let all = schemas(BASE);
    let group = all.iter().find(|s| s["id"] == GROUP_SCHEMA).unwrap();
    let members = group["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap();
    let subs: Vec<&str> = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "$ref", "type"]);
}

// ---------- POST .search ----------

#[test]
fn i2_search_request_reads_as_the_query_string() {
    // RFC 7644 §3.4.3's example, with sortBy (ignored: sort is not supported).
    let body = json!({
        "schemas": [SEARCH_REQUEST_SCHEMA],
        "attributes": ["displayName", "userName"],
        "excludedAttributes": ["emails"],
        "filter": "displayName sw \"smith\"",
        "startIndex": 1,
        "count": 10,
        "sortBy": "userName",
        "sortOrder": "descending",
        "unknown": { "ignored": true }
    });
    let s = SearchRequest::from_json(&body).unwrap();
    assert_eq!(
        s,
        SearchRequest {
            filter: Some("displayName sw \"smith\"".into()),
            start_index: Some("1".into()),
            count: Some("10".into()),
            attributes: Some("displayName,userName".into()),
            excluded_attributes: Some("emails".into()),
        }
    );
    let paging = Paging::from_query(s.start_index.as_deref(), s.count.as_deref()).unwrap();
    assert_eq!((paging.start_index, paging.count), (1, 10));
    // Only `schemas`: everything unassigned, as a GET without parameters; keys in any case;
    // null, "" and [] are unassigned.
    assert_eq!(
        SearchRequest::from_json(&json!({ "schemas": [SEARCH_REQUEST_SCHEMA] })).unwrap(),
        SearchRequest::default()
    );
    let s = SearchRequest::from_json(&json!({
        "Schemas": ["URN:ietf:params:scim:api:messages:2.0:searchrequest"],
        "Filter": "",
        "attributes": [],
        "excludedAttributes": null,
        "COUNT": 0,
        "startIndex": -3
    }))
    .unwrap();
    assert_eq!(
        (s.filter, s.attributes, s.excluded_attributes),
        (None, None, None)
    );
    let paging = Paging::from_query(s.start_index.as_deref(), s.count.as_deref()).unwrap();
    assert_eq!((paging.start_index, paging.count), (1, 0));
}

#[test]
fn i2_search_request_refusals() {
    let schema = json!([SEARCH_REQUEST_SCHEMA]);
    let cases = [
        (json!([]), "invalidSyntax"),
        (json!("filter"), "invalidSyntax"),
        (json!({ "filter": "userName pr" }), "invalidSyntax"),
        (
            json!({ "schemas": [USER_SCHEMA], "filter": "userName pr" }),
            "invalidSyntax",
        ),
        (json!({ "schemas": SEARCH_REQUEST_SCHEMA }), "invalidSyntax"),
        (json!({ "schemas": schema, "filter": 3 }), "invalidValue"),
        (
            json!({ "schemas": schema, "filter": ["userName pr"] }),
            "invalidValue",
        ),
        (
            json!({ "schemas": schema, "attributes": "userName" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": schema, "attributes": ["userName", 1] }),
            "invalidValue",
        ),
        (
            json!({ "schemas": schema, "excludedAttributes": {} }),
            "invalidValue",
        ),
        (
            json!({ "schemas": schema, "startIndex": "1" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": schema, "startIndex": 1.5 }),
            "invalidValue",
        ),
        (json!({ "schemas": schema, "count": true }), "invalidValue"),
    ];
    for (body, scim_type) in cases {
        let e = SearchRequest::from_json(&body).unwrap_err();
        assert_eq!(kind(&e), (400, Some(scim_type)), "{body}");
        assert!(!e.detail.is_empty());
    }
}
