//! Users' lives over SCIM: the area limit (`[scim] limit = "block"` U2, `"refuse"` U1), D5
//! (a product bound to a group's role follows its members), DELETE (deprovisioning), and which
//! tokens the SCIM and admin routes take.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{GROUP_SCHEMA, Scim, USER_SCHEMA, on_both, setup};

/// `limit = "block"` (the default, said here explicitly): beyond the area's limit a user is
/// created blocked (`license_limit`), shown `active: false`, and activated when a SCIM DELETE
/// frees room; activating a deactivated user with the area full waits the same way.
async fn limit_block(db: &str, dir: &Path) {
    let env = setup(db, dir, "[scim]\nlimit = \"block\"\n", 2).await;
    let scim = &env.scim;
    let first = scim.create_user("first").await.id();
    let second = scim.create_user("second").await.id();
    let waiting = scim
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "third", "active": true}),
        )
        .await;
    let b = waiting.expect(201);
    assert_eq!(b["active"], false, "the answer shows the state it has: {b}");
    let third = waiting.id();
    assert_eq!(
        env.state("third").await,
        ("blocked".to_string(), Some("license_limit".to_string()))
    );
    assert_eq!(
        scim.get(&format!("/Users/{third}")).await.body["active"],
        false
    );
    // An update that keeps it active keeps it waiting (still no room).
    let a = scim
        .patch(
            &format!("/Users/{third}"),
            json!([{"op": "replace", "path": "displayName", "value": "Third"}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], false, "{}", a.body);
    assert_eq!(env.state("third").await.1.as_deref(), Some("license_limit"));
    // A PUT echoing the read (active: false, as shown) keeps it waiting, not deactivated.
    let mut echo = scim.get(&format!("/Users/{third}")).await.body;
    echo["displayName"] = json!("Third again");
    scim.put(&format!("/Users/{third}"), &echo, None)
        .await
        .expect(200);
    assert_eq!(env.state("third").await.1.as_deref(), Some("license_limit"));

    // Room frees: the waiting user is activated.
    scim.delete(&format!("/Users/{first}"), None)
        .await
        .expect(204);
    assert_eq!(env.state("third").await, ("active".to_string(), None));
    assert_eq!(
        scim.get(&format!("/Users/{third}")).await.body["active"],
        true
    );

    // Deactivate one, fill the room, reactivate: it waits for room again.
    scim.patch(
        &format!("/Users/{second}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
        None,
    )
    .await
    .expect(200);
    scim.create_user("fourth").await;
    assert_eq!(env.state("fourth").await.0, "active");
    let a = scim
        .patch(
            &format!("/Users/{second}"),
            json!([{"op": "replace", "path": "active", "value": true}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], false, "{}", a.body);
    assert_eq!(
        env.state("second").await,
        ("blocked".to_string(), Some("license_limit".to_string()))
    );
}

on_both!(
    limit_block,
    u2_scim_beyond_the_limit_creates_blocked_and_activates_when_room_frees_on_sqlite,
    u2_scim_beyond_the_limit_creates_blocked_and_activates_when_room_frees_on_postgres
);

/// `limit = "refuse"`: beyond the limit a create is 409 (a SCIM error) and nobody is created;
/// an activation beyond it is refused too and the user stays inactive.
async fn limit_refuse(db: &str, dir: &Path) {
    let env = setup(db, dir, "[scim]\nlimit = \"refuse\"\n", 1).await;
    let scim = &env.scim;
    let only = scim.create_user("only").await.id();
    let refused = scim
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "one.too.many"}),
        )
        .await;
    refused.expect_error(409, None);
    assert!(
        refused.body["detail"].as_str().unwrap().contains("limit"),
        "{}",
        refused.body
    );
    let (s, v) = env.admin_user("one.too.many").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nobody was created: {v}");
    assert!(
        scim.user_names("userName eq \"one.too.many\"")
            .await
            .is_empty()
    );

    // Deactivated, the first frees room; a second user fits; the first may not come back.
    scim.patch(
        &format!("/Users/{only}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
        None,
    )
    .await
    .expect(200);
    scim.create_user("second").await;
    let back = scim
        .patch(
            &format!("/Users/{only}"),
            json!([{"op": "replace", "path": "active", "value": true}]),
            None,
        )
        .await;
    back.expect_error(409, None);
    assert_eq!(
        env.state("only").await,
        ("blocked".to_string(), Some("deactivated".to_string()))
    );
    assert_eq!(
        scim.get(&format!("/Users/{only}")).await.body["active"],
        false
    );
}

on_both!(
    limit_refuse,
    u1_scim_beyond_the_limit_refused_with_409_when_limit_is_refuse_on_sqlite,
    u1_scim_beyond_the_limit_refused_with_409_when_limit_is_refuse_on_postgres
);

/// D5: crm bound (admin API) to a SCIM group's role goes to members added by PATCH, leaves
/// members removed, and is recalled from everybody when the group is deleted.
async fn d5_groups(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    let ann = scim.create_user("ann").await.id();
    let bob = scim.create_user("bob").await.id();
    let g = scim.create_group("Sales", &[]).await;
    let gpath = format!("/Groups/{}", g.id());
    env.api
        .ok(
            Method::PUT,
            &format!("/api/v1/roles/{}/products/crm", g.id()),
            &env.w.admin,
            None,
        )
        .await;
    assert!(env.products("ann").await.is_empty());

    scim.patch(
        &gpath,
        json!([{"op": "Add", "path": "members", "value": [{"value": ann}]}]),
        None,
    )
    .await
    .expect(200);
    assert_eq!(
        env.products("ann").await,
        ["crm"],
        "added: given by the role"
    );
    let (_, v) = env.admin_user("ann").await;
    assert_eq!(v["licenses"][0]["by_role"], true, "{v}");
    assert!(env.products("bob").await.is_empty());

    // Entra sends a remove and an add as two operations of one PATCH.
    scim.patch(
        &gpath,
        json!([
            {"op": "Remove", "path": "members", "value": [{"value": ann}]},
            {"op": "Add", "path": "members", "value": [{"value": bob}]}
        ]),
        None,
    )
    .await
    .expect(200);
    assert!(env.products("ann").await.is_empty(), "removed: recalled");
    assert_eq!(env.products("bob").await, ["crm"]);

    // Okta's replace of all members moves it back.
    scim.patch(
        &gpath,
        json!([{"op": "replace", "path": "members", "value": [{"value": ann}]}]),
        None,
    )
    .await
    .expect(200);
    assert_eq!(env.products("ann").await, ["crm"]);
    assert!(env.products("bob").await.is_empty());

    // A PUT of the group with both members gives it to both.
    scim.put(
        &gpath,
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales",
                "members": [{"value": ann}, {"value": bob}]}),
        None,
    )
    .await
    .expect(200);
    assert_eq!(env.products("bob").await, ["crm"]);

    // The group goes: what it gave is recalled.
    scim.delete(&gpath, None).await.expect(204);
    assert!(env.products("ann").await.is_empty());
    assert!(env.products("bob").await.is_empty());
    // A product bound to a group given to a new user at create: POST /Groups with members.
    let g2 = scim.create_group("Support", &[]).await;
    env.api
        .ok(
            Method::PUT,
            &format!("/api/v1/roles/{}/products/crm", g2.id()),
            &env.w.admin,
            None,
        )
        .await;
    let cat = scim.create_user("cat").await.id();
    scim.patch(
        &format!("/Groups/{}", g2.id()),
        json!([{"op": "add", "path": "members", "value": [{"value": cat}]}]),
        None,
    )
    .await
    .expect(200);
    assert_eq!(env.products("cat").await, ["crm"]);
    // Deactivating a member frees the seat; reactivating gives it back (D5 for the user).
    let cpath = format!("/Users/{cat}");
    scim.patch(
        &cpath,
        json!([{"op": "replace", "value": {"active": false}}]),
        None,
    )
    .await
    .expect(200);
    assert!(env.products("cat").await.is_empty());
    scim.patch(
        &cpath,
        json!([{"op": "replace", "value": {"active": true}}]),
        None,
    )
    .await
    .expect(200);
    assert_eq!(env.products("cat").await, ["crm"]);
}

on_both!(
    d5_groups,
    d5_scim_group_membership_moves_a_role_bound_product_on_sqlite,
    d5_scim_group_membership_moves_a_role_bound_product_on_postgres
);

/// DELETE /Users/{id} with the default `delete = "block"`: the user is gone for SCIM (GET is
/// 404, lists and filters leave them out: RFC 7644 §3.6) while the administrator sees them
/// blocked `deprovisioned` with their seats freed; POSTing the same userName again brings the
/// same user back, active.
async fn deprovision(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    let gone = scim.create_user("leaver").await.id();
    scim.create_user("stayer").await;
    env.api
        .ok(
            Method::POST,
            "/api/v1/grants",
            &env.w.admin,
            Some(json!({"users": ["leaver"], "products": ["crm"]})),
        )
        .await;
    let g = scim.create_group("Team", &[&gone]).await;
    scim.delete(&format!("/Users/{gone}"), None)
        .await
        .expect(204);

    scim.get(&format!("/Users/{gone}"))
        .await
        .expect_error(404, None);
    assert!(scim.user_names("userName eq \"leaver\"").await.is_empty());
    let all = scim.list("Users", &[]).await;
    let b = all.expect(200);
    assert_eq!(b["totalResults"], 1, "{b}");
    assert_eq!(b["Resources"][0]["userName"], "stayer");
    // A second DELETE, a PATCH or a PUT of the gone user: 404 as well.
    scim.delete(&format!("/Users/{gone}"), None)
        .await
        .expect_error(404, None);
    scim.patch(
        &format!("/Users/{gone}"),
        json!([{"op": "replace", "path": "active", "value": true}]),
        None,
    )
    .await
    .expect_error(404, None);
    // The administrator still sees them, blocked, seat freed.
    assert_eq!(
        env.state("leaver").await,
        ("blocked".to_string(), Some("deprovisioned".to_string()))
    );
    assert!(env.products("leaver").await.is_empty());
    // A group does not list a deprovisioned member.
    let group = scim.get(&format!("/Groups/{}", g.id())).await;
    assert!(
        !group
            .expect(200)
            .to_string()
            .contains(&format!("\"{gone}\"")),
        "{}",
        group.body
    );

    // Assigned again: the identity provider looks the user up (not found) and POSTs them.
    let back = scim
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "leaver", "displayName": "Back",
                    "active": true}),
        )
        .await;
    let b = back.expect(201);
    assert_eq!(back.id(), gone, "the same user comes back: {b}");
    assert_eq!(b["active"], true);
    assert_eq!(b["displayName"], "Back");
    assert_eq!(env.state("leaver").await, ("active".to_string(), None));
    assert_eq!(scim.user_names("userName eq \"leaver\"").await, ["leaver"]);
}

on_both!(
    deprovision,
    i2_scim_delete_deprovisions_hides_and_a_new_post_brings_the_user_back_on_sqlite,
    i2_scim_delete_deprovisions_hides_and_a_new_post_brings_the_user_back_on_postgres
);

/// A provisioning token opens SCIM only; admin and integration tokens do not open SCIM; a
/// provisioning token cannot be made for an owner without `provision_users`.
async fn tokens(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let (s, v) = env
        .api
        .call(Method::GET, "/api/v1/users", Some(&env.scim.token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a provisioning token on the admin API: {v}"
    );
    let (s, v) = env
        .api
        .call(
            Method::POST,
            "/integration/v1/login",
            Some(&env.scim.token),
            Some(json!({"login": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "…and on the integration API: {v}");
    for (token, whose) in [(&env.w.admin, "admin"), (&env.w.app, "integration")] {
        let other = Scim::new(&env.api.base, token);
        for a in [
            other.get("/Users").await,
            other.get("/ServiceProviderConfig").await,
            other
                .post(
                    "/Users",
                    &json!({"schemas": [USER_SCHEMA], "userName": "sneaky"}),
                )
                .await,
        ] {
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{whose} token: {}", a.body);
            a.expect_error(403, None);
        }
    }
    assert!(
        env.scim
            .user_names("userName eq \"sneaky\"")
            .await
            .is_empty()
    );
    // The provisioning token itself works.
    env.scim.get("/ServiceProviderConfig").await.expect(200);
    // An owner without provision_users gets no provisioning token.
    env.api
        .ok(
            Method::POST,
            "/api/v1/users",
            &env.w.admin,
            Some(json!({"login": "clerk", "area": "employee"})),
        )
        .await;
    let (s, v) = env
        .api
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&env.w.admin),
            Some(json!({"name": "idp", "scope": "provisioning", "owner": "clerk"})),
        )
        .await;
    assert!(s.is_client_error(), "{s} {v}");
}

on_both!(
    tokens,
    i2_scim_takes_only_provisioning_tokens_on_sqlite,
    i2_scim_takes_only_provisioning_tokens_on_postgres
);
