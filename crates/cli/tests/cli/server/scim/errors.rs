//! Every refusal of the SCIM endpoints, in RFC 7644 §3.12's shape.

use std::path::Path;

use reqwest::Method;
use serde_json::json;

use super::{GROUP_SCHEMA, SCIM_TYPE, USER_SCHEMA, on_both, setup};

/// Each refusal an identity provider can meet, with its status and `scimType`, as
/// `application/scim+json` with the RFC 7644 §3.12 body; nothing is written by any.
async fn errors(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    let u = scim.create_user("taken").await;
    let path = format!("/Users/{}", u.id());
    let version = u.version();
    scim.create_group("Taken group", &[]).await;

    // uniqueness: a userName that exists (in any case), a group name that exists.
    for name in ["taken", "TAKEN"] {
        scim.post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": name}),
        )
        .await
        .expect_error(409, Some("uniqueness"));
    }
    scim.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "taken GROUP"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    // Renaming onto another user's userName is a uniqueness conflict too.
    let other = scim.create_user("other").await;
    scim.patch(
        &format!("/Users/{}", other.id()),
        json!([{"op": "replace", "path": "userName", "value": "taken"}]),
        None,
    )
    .await
    .expect_error(409, Some("uniqueness"));

    // mutability: id is readOnly.
    scim.patch(
        &path,
        json!([{"op": "replace", "path": "id", "value": "999"}]),
        None,
    )
    .await
    .expect_error(400, Some("mutability"));
    scim.put(
        &path,
        &json!({"schemas": [USER_SCHEMA], "id": "999", "userName": "taken"}),
        None,
    )
    .await
    .expect_error(400, Some("mutability"));

    // invalidValue: userName missing, active not a boolean, an e-mail that is no address.
    for body in [
        json!({"schemas": [USER_SCHEMA], "displayName": "No Name"}),
        json!({"schemas": [USER_SCHEMA], "userName": "bad.active", "active": "yes"}),
        json!({"schemas": [USER_SCHEMA], "userName": "bad.active", "active": 1}),
        json!({"schemas": [USER_SCHEMA], "userName": ""}),
    ] {
        scim.post("/Users", &body)
            .await
            .expect_error(400, Some("invalidValue"));
    }
    scim.patch(
        &path,
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        None,
    )
    .await
    .expect_error(400, Some("invalidValue"));
    scim.patch(&path, json!([{"op": "remove", "path": "userName"}]), None)
        .await
        .expect_error(400, Some("invalidValue"));
    // A member that is no user.
    scim.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "99999"}]}),
    )
    .await
    .expect_error(400, Some("invalidValue"));

    // invalidSyntax: a PATCH without the PatchOp schema, a body that is not JSON.
    let no_schema = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    scim.send(Method::PATCH, &path, Some(&no_schema), None)
        .await
        .expect_error(400, Some("invalidSyntax"));
    for (method, p) in [
        (Method::POST, "/Users".to_string()),
        (Method::PUT, path.clone()),
        (Method::PATCH, path.clone()),
        (Method::POST, "/Groups".to_string()),
    ] {
        scim.raw(
            method,
            &p,
            Some(SCIM_TYPE),
            Some("{\"userName\": ".into()),
            None,
        )
        .await
        .expect_error(400, Some("invalidSyntax"));
    }
    // An unknown op.
    scim.patch(
        &path,
        json!([{"op": "merge", "path": "displayName", "value": "x"}]),
        None,
    )
    .await
    .expect_error(400, Some("invalidSyntax"));

    // invalidPath: a sub-attribute of a simple attribute, a malformed path.
    for bad in ["userName.first", "name..givenName", "name.givenName.first"] {
        scim.patch(
            &path,
            json!([{"op": "replace", "path": bad, "value": "x"}]),
            None,
        )
        .await
        .expect_error(400, Some("invalidPath"));
    }
    // noTarget: replace through a filter that matches nothing; remove without a path.
    scim.patch(
        &path,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x.org"}]),
        None,
    )
    .await
    .expect_error(400, Some("noTarget"));
    scim.patch(&path, json!([{"op": "remove"}]), None)
        .await
        .expect_error(400, Some("noTarget"));
    // invalidFilter in a PATCH path's brackets.
    scim.patch(
        &path,
        json!([{"op": "replace", "path": "emails[type zz \"work\"].value", "value": "x"}]),
        None,
    )
    .await
    .expect_error(400, Some("invalidFilter"));

    // 404: unknown ids, in every shape.
    for p in [
        "/Users/999999",
        "/Users/abc",
        "/Users/0",
        "/Groups/999999",
        "/Groups/x",
    ] {
        scim.get(p).await.expect_error(404, None);
        scim.delete(p, None).await.expect_error(404, None);
        scim.patch(
            p,
            json!([{"op": "replace", "path": "displayName", "value": "x"}]),
            None,
        )
        .await
        .expect_error(404, None);
    }
    scim.put(
        "/Users/999999",
        &json!({"schemas": [USER_SCHEMA], "userName": "ghost"}),
        None,
    )
    .await
    .expect_error(404, None);

    // 415: a body in another content type.
    for ctype in [Some("text/plain"), Some("application/xml"), None] {
        scim.raw(
            Method::POST,
            "/Users",
            ctype,
            Some(json!({"userName": "typed"}).to_string()),
            None,
        )
        .await
        .expect_error(415, None);
    }
    // application/json is accepted, as RFC 7644 §3.1 allows; charset parameters too.
    scim.raw(
        Method::POST,
        "/Users",
        Some("application/json; charset=utf-8"),
        Some(json!({"userName": "json.typed"}).to_string()),
        None,
    )
    .await
    .expect(201);

    // Nothing refused was written: the user is as created, the refused names do not exist.
    let now = scim.get(&path).await;
    assert_eq!(now.version(), version, "{}", now.body);
    assert!(
        scim.user_names("userName eq \"bad.active\"")
            .await
            .is_empty()
    );
    assert!(scim.user_names("userName eq \"typed\"").await.is_empty());
    let groups = scim.list("Groups", &[]).await;
    assert_eq!(groups.expect(200)["totalResults"], 1, "{}", groups.body);
}

on_both!(
    errors,
    i2_every_error_type_in_rfc_7644_shape_on_sqlite,
    i2_every_error_type_in_rfc_7644_shape_on_postgres
);
