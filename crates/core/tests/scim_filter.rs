#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 16 (I2): the SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2),
//! parsed by a grammar, printed canonically, evaluated on User and Group resources, and
//! refused with `invalidFilter` and a position when malformed.

#[path = "fuzz/mutate.rs"]
mod mutate;

use proptest::prelude::*;
use seatkeeper_core::scim::{
    AttrPath, CompValue, CompareOp, Filter, MAX_DEPTH, MAX_LEN, PatchPath, parse_filter, parse_path,
};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn parse(s: &str) -> Filter {
    parse_filter(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.into())
}

fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::compare(path, op, value)
}

fn a(name: &str) -> AttrPath {
    AttrPath::new(name)
}

/// Every example filter of RFC 7644 §3.4.2.2.
const RFC_EXAMPLES: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    r#"title pr"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
];

#[test]
fn i2_rfc7644_example_filters_parse_and_round_trip() {
    for example in RFC_EXAMPLES {
        let filter = parse(example);
        let printed = filter.to_string();
        assert_eq!(
            parse(&printed),
            filter,
            "{example:?} printed as {printed:?}"
        );
    }
}

#[test]
fn i2_rfc7644_example_trees() {
    assert_eq!(
        parse(r#"userName eq "bjensen""#),
        cmp(a("userName"), CompareOp::Eq, s("bjensen"))
    );
    assert_eq!(
        parse(r#"name.familyName co "O'Malley""#),
        cmp(
            AttrPath::sub("name", "familyName"),
            CompareOp::Co,
            s("O'Malley")
        )
    );
    assert_eq!(
        parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
        cmp(
            a("userName").in_schema("urn:ietf:params:scim:schemas:core:2.0:User"),
            CompareOp::Sw,
            s("J")
        )
    );
    assert_eq!(parse("title pr"), Filter::present(a("title")));
    // `and` binds tighter than `or`; both group to the left.
    assert_eq!(
        parse("a pr or b pr and c pr"),
        Filter::present(a("a")).or(Filter::present(a("b")).and(Filter::present(a("c"))))
    );
    assert_eq!(
        parse("a pr and b pr and c pr"),
        Filter::present(a("a"))
            .and(Filter::present(a("b")))
            .and(Filter::present(a("c")))
    );
    assert_eq!(
        parse(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ),
        cmp(a("userType"), CompareOp::Ne, s("Employee")).and(
            cmp(a("emails"), CompareOp::Co, s("example.com"))
                .or(cmp(
                    AttrPath::sub("emails", "value"),
                    CompareOp::Co,
                    s("example.org")
                ))
                .not()
        )
    );
    assert_eq!(
        parse(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
        cmp(a("userType"), CompareOp::Eq, s("Employee")).and(Filter::value_path(
            a("emails"),
            cmp(a("type"), CompareOp::Eq, s("work")).and(cmp(
                a("value"),
                CompareOp::Co,
                s("@example.com")
            ))
        ))
    );
    assert_eq!(
        parse(&format!(
            "{ENTERPRISE}:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""
        )),
        cmp(
            AttrPath::sub("manager", "value").in_schema(ENTERPRISE),
            CompareOp::Eq,
            s("26118915-6090-4610-87e4-49d8ca9f808d")
        )
    );
}

#[test]
fn i2_keywords_and_literals_are_case_insensitive_values_json() {
    assert_eq!(
        parse(r#"userName EQ "x" AND title Pr OR NOT (active Eq TRUE)"#),
        parse(r#"userName eq "x" and title pr or not (active eq true)"#)
    );
    assert_eq!(
        parse("x eq Null"),
        cmp(a("x"), CompareOp::Eq, CompValue::Null)
    );
    assert_eq!(
        parse("x eq FALSE"),
        cmp(a("x"), CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(
        parse("x ge -12.5e1"),
        cmp(
            a("x"),
            CompareOp::Ge,
            CompValue::Number(serde_json::Number::from_f64(-125.0).unwrap())
        )
    );
    // Floats read back exactly as printed (serde_json's default reader was one ulp off on
    // these, found by the round-trip property).
    for float in ["8.217690279863314e-237", "-2.680947596791418e227"] {
        let f = parse(&format!("x gt {float}"));
        assert_eq!(parse(&f.to_string()), f, "{float}");
        let expected = serde_json::Number::from_f64(float.parse().unwrap()).unwrap();
        assert_eq!(f, cmp(a("x"), CompareOp::Gt, CompValue::Number(expected)));
    }
    assert_eq!(
        parse("x eq 42"),
        cmp(a("x"), CompareOp::Eq, CompValue::Number(42.into()))
    );
    assert_eq!(
        parse(r#"x eq "tab\there \"q\" \u00e9 \\ \/""#),
        cmp(a("x"), CompareOp::Eq, s("tab\there \"q\" é \\ /"))
    );
    // Whitespace is free around parentheses and brackets; `not` may touch its `(`.
    assert_eq!(
        parse(r#"not(emails[ type eq "work" ])"#),
        Filter::value_path(a("emails"), cmp(a("type"), CompareOp::Eq, s("work"))).not()
    );
    // `not` not followed by `(` is an attribute's name; so are other keywords before an
    // operator.
    assert_eq!(parse("not pr"), Filter::present(a("not")));
    assert_eq!(parse(r#"and eq "x""#), cmp(a("and"), CompareOp::Eq, s("x")));
    assert_eq!(
        parse(r#"members.$ref eq "https://x/Users/1""#),
        cmp(
            AttrPath::sub("members", "$ref"),
            CompareOp::Eq,
            s("https://x/Users/1")
        )
    );
}

#[test]
fn i2_entra_and_okta_filters() {
    // Entra ID: userName / externalId / displayName eq; Okta: userName eq, and sw lookups.
    for f in [
        r#"userName eq "AlexW@contoso.com""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
        r#"displayName eq "Sales Group""#,
        r#"userName eq "isaac.brock@example.com""#,
        r#"userName sw "isaac""#,
        r#"id eq "2819c223-7f76-453a-919d-413861904646" and members eq "ab12""#,
    ] {
        let filter = parse(f);
        assert_eq!(filter.to_string(), f, "already canonical");
    }
    let user = json!({"userName": "AlexW@contoso.com", "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"});
    assert!(parse(r#"userName eq "alexw@CONTOSO.com""#).matches(&user));
    assert!(parse(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#).matches(&user));
    // externalId is caseExact (RFC 7643 §3.1).
    assert!(!parse(r#"externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF""#).matches(&user));
}

fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen",
        "name": {"familyName": "O'Malley", "givenName": "Barbara", "formatted": ""},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"a330bc54f0671c9\""
        },
        ENTERPRISE: {"department": "Tours", "employeeNumber": "701984", "manager": {"value": "26118915"}},
        "x-score": 12.5
    })
}

fn intern() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "99",
        "userName": "Jim",
        "userType": "Intern",
        "active": false,
        "emails": [{"value": "jim@example.org", "type": "work"}],
        "meta": {"lastModified": "2011-05-13T06:42:34.000+02:00"},
        "title": null
    })
}

#[test]
fn i2_evaluates_rfc_examples_on_users() {
    let b = bjensen();
    let j = intern();
    let cases: &[(&str, bool, bool)] = &[
        (r#"userName eq "bjensen""#, true, false),
        (r#"userName eq "BJENSEN""#, true, false),
        (r#"name.familyName co "o'malley""#, true, false),
        (r#"userName sw "J""#, false, true),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "j""#,
            false,
            true,
        ),
        (r#"title pr"#, true, false),
        // Jim's lastModified is the same instant written with an offset and fractions.
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            false,
            false,
        ),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true, true),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            false,
            false,
        ),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true, true),
        (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true, true),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:33.5Z""#,
            true,
            true,
        ),
        (r#"meta.created lt "2011-01-01T00:00:00Z""#, true, false),
        (r#"title pr and userType eq "Employee""#, true, false),
        (r#"title pr or userType eq "Intern""#, true, true),
        (&format!("schemas eq \"{ENTERPRISE}\""), true, false),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
            false,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
            false,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com")"#,
            false,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            true,
            false,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
            false,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
            false,
        ),
        // The work address is not the one at jensen.org: the conditions hold for one value.
        (
            r#"emails[type eq "work" and value co "jensen.org"]"#,
            false,
            false,
        ),
        (r#"emails[type eq "home"]"#, true, false),
        (r#"emails[not (type eq "home")]"#, true, true),
        (r#"emails ew ".ORG""#, true, true),
        (r#"emails.primary eq true"#, true, false),
        (r#"active eq true"#, true, false),
        (r#"active eq false"#, false, true),
        (r#"active ne true"#, false, true),
        (r#"x-score gt 12"#, true, false),
        (r#"x-score le 12.5"#, true, false),
        (r#"x-score lt 1.25e1"#, false, false),
        (r#"x-score eq "12.5""#, false, false),
        (r#"groups.display co "guide""#, true, false),
        (r#"groups eq "E9E30DBA""#, true, false),
        (
            &format!("{ENTERPRISE}:department eq \"tours\""),
            true,
            false,
        ),
        (
            &format!("{ENTERPRISE}:manager.value eq \"26118915\""),
            true,
            false,
        ),
        (
            &format!("{ENTERPRISE}:manager eq \"26118915\""),
            true,
            false,
        ),
        (
            &format!("{}:employeeNumber pr", ENTERPRISE.to_uppercase()),
            true,
            false,
        ),
        (r#"department pr"#, false, false),
        (r#"name.formatted pr"#, false, false),
        (r#"title eq null"#, false, true),
        (r#"title ne null"#, true, false),
        (r#"nickName eq null"#, true, true),
        (r#"USERNAME eq "jim" and META.LASTMODIFIED pr"#, false, true),
        (
            r#"id eq "2819C223-7F76-453A-919D-413861904646""#,
            false,
            false,
        ),
        (r#"meta.version eq "w/\"a330bc54f0671c9\"""#, false, false),
        (r#"meta.version eq "W/\"a330bc54f0671c9\"""#, true, false),
        (r#"userName gt "bb" and userName lt "BK""#, true, false),
        (r#"userName ne "nobody""#, true, true),
        (r#"title ne "nobody""#, true, false),
    ];
    for (filter, on_b, on_j) in cases {
        let f = parse(filter);
        assert_eq!(f.try_matches(&b), Ok(*on_b), "{filter} on bjensen");
        assert_eq!(f.try_matches(&j), Ok(*on_j), "{filter} on jim");
    }
}

#[test]
fn i2_evaluates_on_groups_and_custom_case_rules() {
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223", "display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223"},
            {"value": "902c246b", "display": "Mandy Pepperidge"}
        ]
    });
    assert!(parse(r#"displayName eq "tour guides""#).matches(&group));
    assert!(parse(r#"members[value eq "2819C223"]"#).matches(&group));
    assert!(parse(r#"members eq "902c246b""#).matches(&group));
    assert!(!parse(r#"members[value eq "nobody"]"#).matches(&group));
    assert!(parse(r#"members[display sw "mandy" and not (value eq "2819c223")]"#).matches(&group));
    assert!(
        !parse(r#"members[$ref ew "users/2819C223"]"#).matches(&group),
        "$ref is caseExact"
    );
    assert!(parse(r#"members[$ref ew "Users/2819c223"]"#).matches(&group));
    assert!(parse(r#"members pr"#).matches(&group));
    assert!(!parse(r#"members pr"#).matches(&json!({"members": []})));
    assert!(!parse(r#"members pr"#).matches(&json!({"members": [{}]})));
    // Core-schema paths look at the top level even when the resource lists no `schemas`;
    // an extension URN looks under its own key only.
    let bare = json!({"userName": "ann", "department": "Sales"});
    assert!(
        parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann""#).matches(&bare)
    );
    assert!(parse(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME pr"#).matches(&bare));
    assert!(!parse(&format!("{ENTERPRISE}:department pr")).matches(&bare));
    assert!(
        !parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann""#)
            .matches(&json!({"schemas": [ENTERPRISE], ENTERPRISE: {"userName": "x"}}))
    );
    // A custom resource type's own schema is its first `schemas` entry.
    let device = json!({"schemas": ["urn:example:Device"], "serial": "A1"});
    assert!(parse(r#"urn:example:Device:serial eq "a1""#).matches(&device));
    // A schema saying displayName is caseExact.
    let exact = |attr: &str, _: Option<&str>| attr.eq_ignore_ascii_case("displayName");
    let f = parse(r#"displayName eq "tour guides""#);
    assert_eq!(f.try_matches_with(&group, &exact), Ok(false));
}

#[test]
fn i2_ordering_a_boolean_is_invalid_filter() {
    let err = parse_filter("active gt true").unwrap_err();
    assert_eq!(err.scim_type(), "invalidFilter");
    assert_eq!(err.position, Some(10));
    assert!(err.detail.contains("character 11"), "{err}");
    assert!(err.detail.contains("'gt'"), "{err}");
    for bad in [
        "x ge false",
        "x lt null",
        "x le true",
        r#"x co 1"#,
        "x sw null",
        "x ew true",
    ] {
        let err = parse_filter(bad).unwrap_err();
        assert_eq!(err.position, Some(5), "{bad}: {err}");
    }
    // An ordering of a boolean attribute, found while evaluating.
    let err = parse(r#"active gt "a""#)
        .try_matches(&bjensen())
        .unwrap_err();
    assert_eq!(err.scim_type(), "invalidFilter");
    assert!(err.detail.contains("boolean attribute \"active\""), "{err}");
    assert!(!parse(r#"active gt "a""#).matches(&bjensen()));
}

fn refused(filter: &str, position: usize, words: &[&str]) {
    let err = match parse_filter(filter) {
        Ok(f) => panic!("{filter:?} should be refused, parsed as {f:?}"),
        Err(e) => e,
    };
    assert_eq!(err.scim_type(), "invalidFilter");
    assert_eq!(err.position, Some(position), "{filter:?}: {err}");
    assert!(
        err.detail.starts_with("invalid filter at character "),
        "{err}"
    );
    for word in words {
        assert!(
            err.detail.contains(word),
            "{filter:?}: {err} should say {word:?}"
        );
    }
}

#[test]
fn i2_errors_name_the_position_and_what_was_expected() {
    refused(
        r#"userName eq "bjensen"#,
        12,
        &["unterminated string", "character 13"],
    );
    refused(
        r#"userName eqq "bjensen""#,
        9,
        &["expected an operator", "\"eqq\""],
    );
    refused(
        r#"userName eq"#,
        11,
        &["expected a value", "end of the filter"],
    );
    refused(
        r#"userName eq bjensen"#,
        12,
        &["expected a value", "double-quoted", "\"bjensen\""],
    );
    refused(
        r#"userName eq "x" foo"#,
        16,
        &["'and', 'or' or the end", "\"foo\""],
    );
    refused(r#"userName eq "x")"#, 15, &["')'"]);
    refused(r#"(userName eq "x""#, 16, &["'and', 'or' or ')'"]);
    refused(r#"emails[type eq "work""#, 21, &["']'"]);
    refused(r#"emails[type[value eq "x"]]"#, 11, &["cannot nest"]);
    refused(r#"name.familyName[x eq "x"]"#, 0, &["sub-attribute"]);
    refused(r#"title pr and"#, 12, &["attribute path"]);
    refused(r#"not title pr"#, 4, &["expected an operator", "\"title\""]);
    refused(r#""x" eq userName"#, 0, &["attribute path", "the string"]);
    refused(r#"a.b.c pr"#, 0, &["attribute path", "\"a.b.c\""]);
    refused(r#"1abc pr"#, 0, &["invalid number"]);
    refused(r#"x eq 1e999999"#, 5, &["invalid number"]);
    refused(r#"x eq 01"#, 5, &["invalid number"]);
    refused(r#"x eq "bad \q escape""#, 5, &["invalid string"]);
    refused(r#"x eq "\ud800""#, 5, &["invalid string"]);
    refused("x eq \"new\nline\"", 5, &["invalid string"]);
    refused(r#"http:x pr"#, 0, &["schema URN"]);
    refused(r#"urn:x: pr"#, 0, &["attribute path"]);
    refused(r#"x eq "a" & y pr"#, 9, &["unexpected character '&'"]);
    refused(r#"é pr"#, 0, &["unexpected character"]);
    // Byte offset 10, the 10th character (é takes two bytes).
    refused(r#"x eq "é" y"#, 10, &["character 10"]);
    refused("", 0, &["attribute path", "end of the filter"]);
    refused("   ", 3, &["attribute path"]);
    refused("()", 1, &["attribute path", "')'"]);
}

#[test]
fn i2_depth_and_length_are_limited() {
    let ok = format!("{}x pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse_filter(&ok).is_ok());
    let deep = format!(
        "{}x pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    refused(&deep, MAX_DEPTH, &["nested more than 32"]);
    let nots = format!(
        "{}x pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    refused(&nots, 5 * MAX_DEPTH + 4, &["nested more than"]);
    // Far deeper than any stack would survive, still a clean refusal.
    let huge = "(".repeat(MAX_LEN);
    refused(&huge, MAX_DEPTH, &["nested more than"]);
    let long = format!("x eq \"{}\"", "a".repeat(MAX_LEN));
    refused(&long, MAX_LEN, &["at most 4096"]);
    // A long flat chain is a loop, not recursion: it parses, prints and evaluates.
    let chain = vec!["x pr"; 400].join(" and ");
    assert!(chain.len() <= MAX_LEN);
    let f = parse(&chain);
    assert_eq!(parse(&f.to_string()), f);
    assert!(f.matches(&json!({"x": 1})));
}

#[test]
fn i2_patch_paths() {
    assert_eq!(
        parse_path("members").unwrap(),
        PatchPath::Attr(a("members"))
    );
    assert_eq!(
        parse_path("name.familyName").unwrap(),
        PatchPath::Attr(AttrPath::sub("name", "familyName"))
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:department")).unwrap(),
        PatchPath::Attr(a("department").in_schema(ENTERPRISE))
    );
    assert_eq!(
        parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap(),
        PatchPath::Value {
            path: a("members"),
            filter: cmp(
                a("value"),
                CompareOp::Eq,
                s("2819c223-7f76-453a-919d-413861904646")
            ),
            sub_attr: None,
        }
    );
    let work_value = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(
        work_value,
        PatchPath::Value {
            path: a("emails"),
            filter: cmp(a("type"), CompareOp::Eq, s("work")),
            sub_attr: Some("value".into()),
        }
    );
    assert_eq!(work_value.to_string(), r#"emails[type eq "work"].value"#);
    // Entra ID's address form.
    assert!(parse_path(r#"addresses[type eq "work"].streetAddress"#).is_ok());
    for (bad, position) in [
        ("", 0),
        ("members[", 8),
        (r#"members[value eq "x"] .value"#, 22),
        (r#"members[value eq "x"].a.b"#, 21),
        (r#"members[value eq "x"]x"#, 21),
        (r#"members eq "x""#, 8),
        (r#"members[value eq "x"][type eq "y"]"#, 21),
        ("name.familyName.x", 0),
        ("(members)", 0),
    ] {
        let err = parse_path(bad).unwrap_err();
        assert_eq!(err.scim_type(), "invalidFilter");
        assert_eq!(err.position, Some(position), "{bad:?}: {err}");
    }
}

// ── properties ───────────────────────────────────────────────────────────────────────────

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "userName", "title", "emails", "value", "type", "active", "and", "or", "not", "pr",
            "eq", "true", "null", "id", "$ref", "NAME", "x-y_z9",
        ])
        .prop_map(String::from),
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
    ]
}

fn attr_path(sub: bool) -> impl Strategy<Value = AttrPath> {
    let schema = prop::option::weighted(
        0.2,
        prop::sample::select(vec![
            ENTERPRISE,
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:x",
            "URN:a:b.c-d:9",
        ])
        .prop_map(String::from),
    );
    let sub_attr = if sub {
        prop::option::weighted(0.3, name()).boxed()
    } else {
        Just(None).boxed()
    };
    (schema, name(), sub_attr).prop_map(|(schema, attr, sub_attr)| AttrPath {
        schema,
        attr,
        sub_attr,
    })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
        "\\PC{0,12}".prop_map(CompValue::String),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        attr_path(true).prop_map(Filter::Present),
        (
            attr_path(true),
            prop::sample::select(CompareOp::ALL.to_vec()),
            comp_value()
        )
            .prop_filter(
                "the parser refuses this operator with this value",
                |(_, op, v)| op.accepts(v)
            )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
    ]
}

/// Boolean combinations of `leaf`, `depth` levels deep at most.
fn combine(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(Filter::not),
        ]
    })
    .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let value_path = (attr_path(false), combine(leaf().boxed(), 3))
        .prop_map(|(path, f)| Filter::value_path(path, f));
    combine(prop_oneof![3 => leaf(), 1 => value_path].boxed(), 5)
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = RFC_EXAMPLES.iter().map(|s| s.as_bytes().to_vec()).collect();
    seeds.push(br#"not (a eq -1.5e3) and b[c eq true or not (d ne null)]"#.to_vec());
    seeds.push(br#"members[value eq "2819c223"].display"#.to_vec());
    seeds
}

fn check_outcome(
    input: &str,
    result: Result<String, seatkeeper_core::scim::FilterError>,
) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert_eq!(e.scim_type(), "invalidFilter");
        let position = e.position.unwrap();
        prop_assert!(position <= input.len(), "{} beyond {:?}", position, input);
        prop_assert!(
            e.detail.starts_with("invalid filter at character "),
            "{}",
            e.detail
        );
        prop_assert!(e.detail.len() < 1024, "long message {}", e.detail);
    }
    Ok(())
}

proptest! {
    #[test]
    fn i2_display_then_parse_gives_the_same_tree(f in filter()) {
        let printed = f.to_string();
        let back = parse_filter(&printed);
        prop_assert_eq!(back.as_ref(), Ok(&f), "printed as {}", printed);
        // Canonical: printing again gives the same text.
        prop_assert_eq!(back.unwrap().to_string(), printed);
    }

    #[test]
    fn i2_patch_paths_round_trip(
        path in attr_path(false),
        f in combine(leaf().boxed(), 3),
        sub in prop::option::of(name()),
        plain in attr_path(true),
    ) {
        let p = PatchPath::Value { path, filter: f, sub_attr: sub };
        prop_assert_eq!(parse_path(&p.to_string()), Ok(p.clone()));
        let p = PatchPath::Attr(plain);
        prop_assert_eq!(parse_path(&p.to_string()), Ok(p.clone()));
    }

    #[test]
    fn i2_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let input = String::from_utf8_lossy(&bytes);
        check_outcome(&input, parse_filter(&input).map(|f| f.to_string()))?;
        check_outcome(&input, parse_path(&input).map(|p| p.to_string()))?;
    }

    #[test]
    fn i2_mutated_filters_never_panic(
        seed in prop::sample::select(seeds()),
        edits in mutate::byte_edits(),
    ) {
        let bytes = mutate::apply_bytes(seed, &edits, &seeds());
        let input = String::from_utf8_lossy(&bytes);
        let parsed = parse_filter(&input);
        if let Ok(f) = &parsed {
            // Whatever parses prints as a filter that parses to the same tree, and evaluates.
            let again = parse_filter(&f.to_string());
            prop_assert_eq!(again.as_ref(), Ok(f));
            let _ = f.try_matches(&bjensen());
        }
        check_outcome(&input, parsed.map(|f| f.to_string()))?;
        check_outcome(&input, parse_path(&input).map(|p| p.to_string()))?;
    }

    #[test]
    fn i2_not_matches_exactly_when_the_filter_does_not(f in filter(), resource in resource()) {
        let inner = f.try_matches(&resource);
        let negated = f.clone().not().try_matches(&resource);
        match inner {
            Ok(m) => prop_assert_eq!(negated, Ok(!m)),
            // Ordering a boolean: the same refusal either way.
            Err(e) => prop_assert_eq!(negated, Err(e)),
        }
    }
}

/// Resources whose attribute names are the generator's, so filters often find values.
fn resource() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![
            "",
            "work",
            "WORK",
            "x",
            "2011-05-13T04:42:34Z",
            "bjensen"
        ])
        .prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "userName", "title", "emails", "value", "type", "active", "id", "NAME", "and",
    ]);
    let object = prop::collection::btree_map(keys.clone(), scalar.clone(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let value = prop_oneof![
        scalar,
        object.clone(),
        prop::collection::vec(object, 0..3).prop_map(Value::Array),
    ];
    prop::collection::btree_map(keys, value, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}
