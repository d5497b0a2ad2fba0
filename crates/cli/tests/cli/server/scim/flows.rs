//! The requests Microsoft Entra ID and Okta send, in order, with the bodies from their
//! published SCIM documentation, and what an identity provider's administrator then sees.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use super::{ENTERPRISE, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA, on_both, setup};

fn resource_ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn member_ids(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .map(|r| r["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Microsoft Entra ID's provisioning cycle. Request bodies from Microsoft Learn, "Tutorial:
/// Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
/// (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups),
/// sections "User Operations" and "Group Operations"; the string booleans ("False") from
/// "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra
/// user provisioning service" (same site, application-provisioning-config-problem-scim-compatibility).
async fn entra(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    // A department folder the `existing` rule (the default) finds.
    env.api
        .ok(
            Method::POST,
            "/api/v1/folders",
            &env.w.admin,
            Some(json!({"path": "Sales"})),
        )
        .await;
    let user_name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1";

    // "Get User by query – Zero results".
    let found = scim
        .list(
            "Users",
            &[("filter", &format!("userName eq \"{user_name}\""))],
        )
        .await;
    let b = found.expect(200);
    assert_eq!(b["schemas"], json!([LIST_SCHEMA]), "{b}");
    assert_eq!(b["totalResults"], 0, "{b}");
    assert_eq!(b["Resources"], json!([]), "{b}");

    // "Create User", with the enterprise extension's department.
    let created = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": user_name,
                "active": true,
                "emails": [{
                    "primary": true,
                    "type": "work",
                    "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
                }],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
                "roles": [],
                ENTERPRISE: {"department": "Sales"}
            }),
        )
        .await;
    let u = created.expect(201).clone();
    let id = created.id();
    assert_eq!(u["userName"], user_name);
    assert_eq!(u["active"], true);
    assert_eq!(u["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(u[ENTERPRISE]["department"], "Sales", "{u}");
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["name"]["familyName"], "familyName");
    let location = u["meta"]["location"].as_str().unwrap();
    assert!(location.ends_with(&format!("/scim/v2/Users/{id}")), "{u}");
    assert_eq!(created.location.as_deref(), Some(location));
    assert_eq!(created.etag.as_deref(), u["meta"]["version"].as_str());
    // The administrator sees a SCIM user in the department's folder, active.
    let (_, admin_view) = env.admin_user(user_name).await;
    assert_eq!(admin_view["folder"], "Sales", "{admin_view}");
    assert_eq!(admin_view["source"], "scim", "{admin_view}");
    assert_eq!(admin_view["state"], "active");
    assert_eq!(
        admin_view["email"],
        "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
    );

    // "Get User by query": now found; "Get User" by id.
    let found = scim
        .list(
            "Users",
            &[("filter", &format!("userName eq \"{user_name}\""))],
        )
        .await;
    assert_eq!(resource_ids(found.expect(200)), vec![id.clone()]);
    let by_external = scim
        .list(
            "Users",
            &[(
                "filter",
                "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
            )],
        )
        .await;
    assert_eq!(resource_ids(by_external.expect(200)), vec![id.clone()]);
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.expect(200)["userName"], user_name);

    // The user takes a seat (a grant by the administrator).
    env.api
        .ok(
            Method::POST,
            "/api/v1/grants",
            &env.w.admin,
            Some(json!({"users": [user_name], "products": ["crm"]})),
        )
        .await;
    assert_eq!(env.products(user_name).await, ["crm"]);

    // "Update User [Multi-valued properties]" and an Add of a work e-mail by value path.
    let path = format!("/Users/{id}");
    let a = scim
        .patch(
            &path,
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ]),
            None,
        )
        .await;
    let b = a.expect(200);
    assert_eq!(b["emails"][0]["value"], "updatedEmail@microsoft.com", "{b}");
    assert_eq!(b["name"]["familyName"], "updatedFamilyName");
    assert_eq!(env.state(user_name).await.0, "active");
    let a = scim
        .patch(
            &path,
            json!([{"op": "Remove", "path": "emails[type eq \"work\"].value"}]),
            None,
        )
        .await;
    assert!(a.expect(200).get("emails").is_none(), "{}", a.body);
    let a = scim
        .patch(
            &path,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "second@contoso.com"}]),
            None,
        )
        .await;
    let b = a.expect(200);
    assert_eq!(
        b["emails"],
        json!([{"value": "second@contoso.com", "type": "work"}]),
        "{b}"
    );
    let (_, admin_view) = env.admin_user(user_name).await;
    assert_eq!(admin_view["email"], "second@contoso.com", "{admin_view}");

    // Groups: "Get Group by displayName" (members excluded) → none; "Create Group".
    let q = [
        ("excludedAttributes", "members"),
        ("filter", "displayName eq \"displayName\""),
    ];
    let none = scim.list("Groups", &q).await;
    assert_eq!(none.expect(200)["totalResults"], 0, "{}", none.body);
    let g = scim
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group"],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName",
                "meta": {"resourceType": "Group"}
            }),
        )
        .await;
    let gb = g.expect(201);
    let gid = g.id();
    assert_eq!(gb["displayName"], "displayName");
    assert_eq!(gb["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(gb["meta"]["resourceType"], "Group");
    assert_eq!(member_ids(gb), Vec::<String>::new());
    let gpath = format!("/Groups/{gid}");

    // "Update Group [Add Members]".
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]),
            None,
        )
        .await;
    assert_eq!(member_ids(a.expect(200)), vec![id.clone()]);
    let member = scim.get(&path).await;
    assert_eq!(
        member.expect(200)["groups"][0]["value"],
        json!(gid),
        "the user's groups show the membership: {}",
        member.body
    );
    // The same query now finds the group, without its members.
    let found = scim.list("Groups", &q).await;
    let b = found.expect(200);
    assert_eq!(resource_ids(b), vec![gid.clone()]);
    assert!(b["Resources"][0].get("members").is_none(), "{b}");
    assert_eq!(b["Resources"][0]["displayName"], "displayName");
    // "Update Group [Attributes]".
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]),
            None,
        )
        .await;
    assert_eq!(
        a.expect(200)["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    // "Update Group [Remove Members]".
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}]),
            None,
        )
        .await;
    assert_eq!(member_ids(a.expect(200)), Vec::<String>::new());
    assert_eq!(
        scim.get(&path).await.body.get("groups"),
        None,
        "no groups left"
    );

    // The user is signed in to the application when Entra disables them (S4).
    let signed_in = env.api.login(&env.w.app, user_name).await;
    assert_eq!(signed_in["outcome"], "allowed", "{signed_in}");
    let session = signed_in["session_id"].as_str().unwrap().to_string();

    // "Disable User": blocked, seats freed, and the answer says so.
    let a = scim
        .patch(
            &path,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], false, "{}", a.body);
    assert_eq!(
        env.state(user_name).await,
        ("blocked".to_string(), Some("deactivated".to_string()))
    );
    assert!(
        env.products(user_name).await.is_empty(),
        "the seat is freed"
    );
    assert_eq!(scim.get(&path).await.body["active"], false);
    // The session is ended (S4): the application hears so on its next call.
    let (status, e) = env
        .api
        .call(
            Method::GET,
            &format!("/integration/v1/entitlement?session_id={session}&feature=sales"),
            Some(&env.w.app),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["code"], "unknown_session", "{e}");
    let again = env.api.login(&env.w.app, user_name).await;
    assert_eq!(
        (&again["outcome"], &again["reason"]),
        (&json!("refused"), &json!("blocked")),
        "{again}"
    );
    let inactive = scim.user_names("active eq false").await;
    assert_eq!(inactive, [user_name]);
    // Assigned again: Entra sends active "True"; the user is active again.
    let a = scim
        .patch(
            &path,
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], true, "{}", a.body);
    assert_eq!(env.state(user_name).await, ("active".to_string(), None));
}

on_both!(
    entra,
    i2_entra_id_provisioning_cycle_on_sqlite,
    i2_entra_id_provisioning_cycle_on_postgres
);

/// Okta's provisioning cycle. Request bodies from Okta Developer, "SCIM 2.0 protocol
/// reference" (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20):
/// "Create Users", "Retrieve specific Users", "Update a specific User (PUT)", "Update a
/// specific User (PATCH)", "Create Groups", "Update Group membership" / "Update Group name".
async fn okta(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    let login = "test.user@okta.local";
    let q = [
        ("filter", "userName eq \"test.user@okta.local\""),
        ("startIndex", "1"),
        ("count", "100"),
    ];
    let none = scim.list("Users", &q).await;
    assert_eq!(none.expect(200)["totalResults"], 0, "{}", none.body);
    let created = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA],
                "userName": login,
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": true, "value": login, "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
        )
        .await;
    let b = created.expect(201);
    let id = created.id();
    assert_eq!(b["displayName"], "Test User");
    assert!(b.get("password").is_none(), "a password is never kept: {b}");
    let found = scim.list("Users", &q).await;
    let b = found.expect(200);
    assert_eq!(resource_ids(b), vec![id.clone()]);
    assert_eq!(
        (&b["startIndex"], &b["itemsPerPage"]),
        (&json!(1), &json!(1))
    );
    let path = format!("/Users/{id}");

    // PUT: the whole user, `id` echoed.
    let put = scim
        .put(
            &path,
            &json!({
                "schemas": [USER_SCHEMA],
                "id": id,
                "userName": login,
                "name": {"givenName": "Another", "familyName": "User"},
                "emails": [{"primary": true, "value": login, "type": "work"}],
                "displayName": "Another User",
                "locale": "en-US",
                "externalId": "00u1dhhb1fkIGP7RL1d8",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
            None,
        )
        .await;
    let b = put.expect(200);
    assert_eq!(b["name"]["givenName"], "Another", "{b}");
    assert_eq!(b["externalId"], "00u1dhhb1fkIGP7RL1d8");
    let (_, admin_view) = env.admin_user(login).await;
    assert_eq!(admin_view["name"], "Another User", "{admin_view}");

    // Deactivate: no path, a value object.
    env.api
        .ok(
            Method::POST,
            "/api/v1/grants",
            &env.w.admin,
            Some(json!({"users": [login], "products": ["crm"]})),
        )
        .await;
    let a = scim
        .patch(
            &path,
            json!([{"op": "replace", "value": {"active": false}}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], false, "{}", a.body);
    assert_eq!(env.state(login).await.0, "blocked");
    assert!(env.products(login).await.is_empty(), "the seat is freed");
    // Reactivate, with `id` echoed in the value.
    let a = scim
        .patch(
            &path,
            json!([{"op": "replace", "value": {"id": id, "active": true}}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["active"], true, "{}", a.body);
    assert_eq!(env.state(login).await, ("active".to_string(), None));

    // Groups: "Create Groups" with members, replace all members, remove one by value path.
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for n in ["okta.two@okta.local", "okta.three@okta.local"] {
            v.push(scim.create_user(n).await.id());
        }
        v
    };
    let g = scim
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP_SCHEMA],
                "displayName": "Test SCIMv2",
                "members": [{"value": id, "display": login}]
            }),
        )
        .await;
    assert_eq!(member_ids(g.expect(201)), vec![id.clone()]);
    let gpath = format!("/Groups/{}", g.id());
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "replace", "path": "members", "value": [
                {"value": ids[0], "display": "okta.two@okta.local"},
                {"value": ids[1], "display": "okta.three@okta.local"}
            ]}]),
            None,
        )
        .await;
    assert_eq!(member_ids(a.expect(200)), ids);
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]),
            None,
        )
        .await;
    assert_eq!(member_ids(a.expect(200)), vec![ids[1].clone()]);
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "add", "path": "members", "value": [{"value": id, "display": login}]}]),
            None,
        )
        .await;
    let mut want = vec![id.clone(), ids[1].clone()];
    want.sort_by_key(|i| i.parse::<i64>().unwrap());
    assert_eq!(member_ids(a.expect(200)), want);
    // "Update Group name": no path, `id` echoed.
    let a = scim
        .patch(
            &gpath,
            json!([{"op": "replace", "value": {"id": g.id(), "displayName": "Test SCIMv2 renamed"}}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)["displayName"], "Test SCIMv2 renamed");
    let roles = env
        .api
        .ok(Method::GET, "/api/v1/roles", &env.w.admin, None)
        .await;
    assert!(
        roles.to_string().contains("Test SCIMv2 renamed"),
        "the group is a role the administrator sees: {roles}"
    );
    // Okta's DELETE of a group.
    scim.delete(&gpath, None).await.expect(204);
    scim.get(&gpath).await.expect_error(404, None);
}

on_both!(
    okta,
    i2_okta_provisioning_cycle_on_sqlite,
    i2_okta_provisioning_cycle_on_postgres
);

/// The `[scim]` settings an operator sets: departments become folders under a root (created
/// when missing, '/' in a department kept out of the path), groups are placed under a parent
/// role, and `meta.location` uses the public URL.
async fn settings(db: &str, dir: &Path) {
    let config = "[scim]\ndepartment_folders = \"create\"\ndepartment_root = \"Departments\"\n\
                  group_parent = \"Provisioned\"\nbase_url = \"https://seats.example.com/scim/v2/\"\n";
    let env = setup(db, dir, config, 1000).await;
    let scim = &env.scim;
    let parent = env
        .api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &env.w.admin,
            Some(json!({"name": "Provisioned", "kind": "organizational", "parent_id": null})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let created = scim
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "dee", "active": true,
                    ENTERPRISE: {"department": "Research"}}),
        )
        .await;
    let b = created.expect(201);
    let id = created.id();
    assert_eq!(
        b["meta"]["location"],
        json!(format!("https://seats.example.com/scim/v2/Users/{id}")),
        "{b}"
    );
    assert_eq!(created.location.as_deref(), b["meta"]["location"].as_str());
    assert_eq!(
        env.admin_user("dee").await.1["folder"],
        "Departments/Research"
    );
    let a = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Support/EMEA"}]),
            None,
        )
        .await;
    assert_eq!(a.expect(200)[ENTERPRISE]["department"], "Support/EMEA");
    assert_eq!(
        env.admin_user("dee").await.1["folder"],
        "Departments/Support-EMEA"
    );
    let g = scim.create_group("Research team", &[&id]).await;
    let roles = env
        .api
        .ok(Method::GET, "/api/v1/roles", &env.w.admin, None)
        .await;
    let role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_i64() == g.id().parse::<i64>().ok())
        .unwrap();
    assert_eq!(role["parent_id"], parent, "{role}");
    assert_eq!(role["source"], "scim", "{role}");
    assert_eq!(role["members"], json!(["dee"]), "{role}");
    // Roles that carry a permission (the built-in administrators) are no groups: SCIM lists
    // only the organizational roles provisioning may touch.
    let all = scim.list("Groups", &[]).await;
    assert_eq!(
        all.expect(200)["totalResults"],
        2,
        "Provisioned and Research team: {}",
        all.body
    );
}

on_both!(
    settings,
    i2_scim_settings_departments_group_parent_and_base_url_on_sqlite,
    i2_scim_settings_departments_group_parent_and_base_url_on_postgres
);
