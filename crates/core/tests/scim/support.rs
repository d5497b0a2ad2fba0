//! Shared by the SCIM resource and PATCH tests (issue 16, I2): a full user as RFC 7643's
//! examples have it, its representation, and generators.
#![allow(dead_code)]

use proptest::prelude::*;
use seatkeeper_core::scim::{
    Email, GroupRef, Name, PATCH_OP_SCHEMA, ScimError, UserInput, UserResource,
};
use serde_json::{Value, json};
use time::macros::datetime;

pub const BASE: &str = "https://seats.example/scim/v2";

pub fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": ops })
}

pub fn full_user() -> UserInput {
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
                primary: Some(true),
                display: None,
            },
            Email {
                value: "babs@jensen.org".into(),
                kind: Some("home".into()),
                primary: None,
                display: Some("Babs".into()),
            },
        ],
        active: Some(true),
        department: Some("Tour Operations".into()),
    }
}

pub fn resource(input: UserInput) -> UserResource {
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

pub fn user_json() -> Value {
    resource(full_user()).to_json(BASE)
}

pub fn kind(e: &ScimError) -> (u16, Option<&'static str>) {
    (e.status, e.scim_type)
}

pub fn arb_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z0-9 .@'-]{1,20}")
}

prop_compose! {
    pub fn arb_user()(
        user_name in "[a-z0-9.@]{1,30}",
        external_id in arb_string(),
        display_name in arb_string(),
        given in arb_string(),
        family in arb_string(),
        // The last element: a non-primary e-mail's `primary` as sent (false or absent).
        emails in prop::collection::vec(
            ("[a-z]{1,8}@[a-z]{1,8}", arb_string(), arb_string(), prop::option::of(Just(false))),
            0..4,
        ),
        primary in 0usize..5,
        active in prop::option::of(any::<bool>()),
        department in arb_string(),
    ) -> UserInput {
        let name = if given.is_none() && family.is_none() { None } else {
            Some(Name { given_name: given, family_name: family, ..Name::default() })
        };
        UserInput {
            user_name, external_id, display_name, name,
            emails: emails.into_iter().enumerate().map(|(i, (value, kind, display, other))| Email {
                value, kind, primary: if i == primary { Some(true) } else { other }, display,
            }).collect(),
            active, department,
        }
    }
}
