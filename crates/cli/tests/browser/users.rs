//! Users: bulk grant (D1), filtering, a user's page, block and unblock at the area limit (U3).

use serde_json::json;

use crate::harness::{PASSWORD, Ui, order};

fn row(login: &str) -> String {
    format!("#users tr[data-login='{login}']")
}

/// Ticks the row checkboxes of `logins` in the users list.
async fn select(ui: &Ui, logins: &[&str]) {
    for l in logins {
        ui.click(&format!(
            "form#bulk {} input[type=checkbox][name=login][value='{l}']",
            row(l)
        ))
        .await;
    }
}

async fn bulk(ui: &Ui, action: &str) {
    ui.submit(&format!("form#bulk button[name=action][value={action}]"))
        .await;
}

/// Selected users get a product through the bulk dialog; used and free follow on the license
/// manager; a grant that needs more seats than are free is refused whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_d1_bulk_grant_changes_used_free() {
    let Some(ui) = Ui::start("ui_d1_bulk_grant_changes_used_free").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["ann", "bob", "cid", "dan"]).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/users").await;
    ui.wait(&row("dan")).await;
    ui.shot("users").await;

    select(&ui, &["ann", "bob"]).await;
    bulk(&ui, "grant").await;
    ui.wait("button#confirm-bulk").await;
    ui.click("input[type=checkbox][name=product][value=crm]")
        .await;
    ui.shot("users-grant-dialog").await;
    ui.submit("button#confirm-bulk").await;
    ui.wait_path("/ui/users").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Granted 2"), "{flash}");
    assert_eq!(ui.cell(&row("ann"), "licenses").await, "crm");
    assert_eq!(ui.cell(&row("cid"), "licenses").await, "");

    // Three users, two analytics seats: all or nothing.
    select(&ui, &["ann", "bob", "cid"]).await;
    bulk(&ui, "grant").await;
    ui.click("input[type=checkbox][name=product][value=analytics]")
        .await;
    ui.submit("button#confirm-bulk").await;
    ui.wait_path("/ui/users").await;
    let error = ui.text(".error[role=alert]").await;
    assert!(error.to_lowercase().contains("seat"), "{error}");

    ui.goto("/ui/licenses").await;
    ui.wait_path("/ui/licenses").await;
    assert_eq!(ui.counts("crm").await, ("5".into(), "2".into(), "3".into()));
    assert_eq!(
        ui.counts("analytics").await,
        ("2".into(), "0".into(), "2".into())
    );

    // The filter narrows the list.
    ui.goto("/ui/users").await;
    ui.fill("form#user-filter input[name=q]", "bo").await;
    ui.submit("form#user-filter [type=submit]").await;
    ui.wait_query("/ui/users", "q=bo").await;
    ui.wait(&row("bob")).await;
    assert!(!ui.exists(&row("ann")).await);

    // The user's page shows the grant and why.
    ui.goto("/ui/users/ann").await;
    let held = "#licenses tr[data-product='crm']";
    ui.wait(held).await;
    let reasons = ui.cell(held, "reasons").await;
    assert!(reasons.contains("by hand"), "{reasons}");
    ui.wait("#sessions").await;
    ui.shot("user").await;
    ui.finish().await;
}

/// Blocking frees the user's seat and place; unblocking while the area is at its user limit
/// is refused with the reason, and the user stays blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_u3_unblock_refused_at_area_limit() {
    let Some(ui) = Ui::start("ui_u3_unblock_refused_at_area_limit").await else {
        return;
    };
    ui.licensed(&order(5, 2, 2)).await;
    ui.api.users(&["ann", "bob"]).await;
    ui.api
        .post(
            "/api/v1/grants",
            json!({"users": ["ann"], "products": ["crm"]}),
        )
        .await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/users").await;
    select(&ui, &["ann"]).await;
    bulk(&ui, "block").await;
    ui.wait_path("/ui/users").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Blocked 1"), "{flash}");
    let state = ui.find(&row("ann")).await.attr("data-state").await.unwrap();
    assert_eq!(state.as_deref(), Some("blocked"));
    assert_eq!(ui.api.product("crm").await["used"], 0);

    // The freed place goes to a new user, created through the form.
    ui.fill("form#new-user input[name=login]", "cid").await;
    ui.submit("form#new-user [type=submit]").await;
    ui.wait_path("/ui/users").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("cid"), "{flash}");

    ui.goto("/ui/licenses").await;
    let employees = "#areas tr[data-area='employee']";
    assert_eq!(ui.cell(employees, "active").await, "2");
    assert_eq!(ui.cell(employees, "limit").await, "2");

    ui.goto("/ui/users").await;
    select(&ui, &["ann"]).await;
    bulk(&ui, "unblock").await;
    ui.wait_path("/ui/users").await;
    let error = ui.text(".error[role=alert]").await;
    assert!(
        error.contains("ann") && error.to_lowercase().contains("limit"),
        "{error}"
    );
    let state = ui.find(&row("ann")).await.attr("data-state").await.unwrap();
    assert_eq!(state.as_deref(), Some("blocked"));
    ui.shot("users-area-limit").await;
    ui.finish().await;
}

/// I2: users and groups an identity provider created over SCIM are marked so on the Users
/// and Roles pages and on their own pages; users created here are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_i2_scim_users_and_groups_show_their_source() {
    let Some(ui) = Ui::start("ui_i2_scim_users_and_groups_show_their_source").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["hand"]).await;
    let token = ui
        .api
        .post(
            "/api/v1/tokens",
            json!({"name": "idp", "scope": "provisioning"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let scim = |path: &str, body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!("{}/scim/v2{path}", ui.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let user: serde_json::Value = scim(
        "/Users",
        json!({"userName": "pat", "displayName": "Pat Lee"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let group: serde_json::Value = scim(
        "/Groups",
        json!({"displayName": "Field sales", "members": [{"value": user["id"]}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();

    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/users").await;
    ui.wait(&row("pat")).await;
    assert_eq!(
        ui.text(&format!("{} [data-source]", row("pat"))).await,
        "SCIM"
    );
    assert!(!ui.exists(&format!("{} [data-source]", row("hand"))).await);
    ui.shot("users-source").await;
    ui.goto("/ui/users/pat").await;
    assert_eq!(ui.text("#user-source").await, "SCIM provisioning");

    let id = group["id"].as_str().unwrap();
    ui.goto("/ui/roles").await;
    assert_eq!(
        ui.text(&format!("li[data-role='{id}'] > [data-source]"))
            .await,
        "SCIM"
    );
    ui.goto(&format!("/ui/roles/{id}")).await;
    assert_eq!(ui.text("#role-source").await, "SCIM provisioning");
    ui.finish().await;
}
