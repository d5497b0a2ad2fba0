//! Roles: bind a product to a role (D2), preview and apply a redistribution (D3, D4), and the
//! system message it posts (N2) with the unread badge.

use serde_json::json;

use crate::harness::{PASSWORD, Ui, order};

/// The analytics module is bound to a role of three members with two seats: the preview
/// shows two grants and one unmet need and changes nothing; applying grants them, posts a
/// system message, and the header's badge counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_d2_d4_bind_preview_apply_message_badge() {
    let Some(ui) = Ui::start("ui_d2_d4_bind_preview_apply_message_badge").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["ann", "bob", "cid"]).await;
    let role = ui
        .api
        .post(
            "/api/v1/roles",
            json!({"name": "Sales", "kind": "organizational"}),
        )
        .await;
    let id = role["id"].as_i64().expect("role id");
    ui.api
        .post(
            &format!("/api/v1/roles/{id}/members"),
            json!({"logins": ["ann", "bob", "cid"]}),
        )
        .await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    assert!(!ui.exists("#unread-badge").await);

    ui.goto("/ui/roles").await;
    ui.wait(&format!("a[href='/ui/roles/{id}']")).await;
    ui.shot("roles").await;
    ui.submit(&format!("a[href='/ui/roles/{id}']")).await;
    ui.wait_path(&format!("/ui/roles/{id}")).await;
    ui.wait("form#bind-product select[name=product]")
        .await
        .select_by_value("analytics")
        .await
        .expect("choose analytics");
    ui.submit("form#bind-product [type=submit]").await;
    ui.wait_path(&format!("/ui/roles/{id}")).await;
    ui.wait(".flash[role=status]").await;
    let bound = ui.text("#role-licenses").await;
    assert!(bound.contains("analytics"), "{bound}");
    ui.shot("role").await;

    ui.click("form#redistribute input[name=manual][value=keep]")
        .await;
    ui.submit("form#redistribute [type=submit]").await;
    ui.wait("#preview").await;
    let grants = ui.text("#grants").await;
    assert!(grants.contains("ann") && grants.contains("bob"), "{grants}");
    assert!(!grants.contains("cid"), "{grants}");
    let unmet = ui.text("#unmet").await;
    assert!(unmet.contains("cid"), "{unmet}");
    ui.wait("#recalls").await;
    ui.shot("redistribution-preview").await;
    assert_eq!(ui.api.product("analytics").await["used"], 0);

    ui.submit("form#apply [type=submit]").await;
    ui.wait(".flash[role=status]").await;
    assert_eq!(ui.api.product("analytics").await["used"], 2);
    assert_eq!(ui.text("#unread-badge").await, "1");
    ui.submit("a#nav-messages").await;
    ui.wait_path("/ui/messages").await;
    let message = ui.text("#messages li").await;
    assert!(message.contains("Redistribution"), "{message}");
    assert_eq!(
        ui.c.find_all(fantoccini::Locator::Css("#messages li"))
            .await
            .unwrap()
            .len(),
        1
    );
    ui.shot("messages").await;
    // Marking it read clears the badge.
    ui.submit("form#mark-all [type=submit]").await;
    ui.wait(".flash[role=status]").await;
    assert!(!ui.exists("#unread-badge").await);
    ui.finish().await;
}
