//! Sign-in, landing, sign-out and the CSRF check.

use serde_json::json;

use crate::harness::{PASSWORD, Ui, order};

/// A wrong password shows the error; the right one lands on the license manager while no
/// license is in force, and on the overview once one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_signin_error_and_landing() {
    let Some(ui) = Ui::start("ui_signin_error_and_landing").await else {
        return;
    };
    ui.goto("/ui/").await;
    ui.wait_path("/ui/login").await;
    assert_eq!(ui.signin("not the password").await, "/ui/login");
    let error = ui.text(".error[role=alert]").await;
    assert!(error.contains("Wrong login or password"), "{error}");
    ui.shot("signin-error").await;

    // No license loaded: the license manager, with the reason.
    assert_eq!(ui.signin(PASSWORD).await, "/ui/licenses");
    let notice = ui.text(".error[role=alert], .flash").await;
    assert!(notice.contains("No license is loaded"), "{notice}");

    // With a license in force: the overview.
    ui.licensed(&order(5, 2, 100)).await;
    ui.submit("form#signout [type=submit]").await;
    ui.wait_path("/ui/login").await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.wait("nav#main-nav").await;
    ui.shot("overview").await;
    ui.finish().await;
}

/// Signing out ends the session: the overview then sends the browser to the sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_signout_ends_session() {
    let Some(ui) = Ui::start("ui_signout_ends_session").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    // The remaining main pages, while signed in.
    for (path, name) in [
        ("/ui/audit", "audit"),
        ("/ui/folders", "folders"),
        ("/ui/settings", "settings"),
    ] {
        ui.goto(path).await;
        ui.wait_path(path).await;
        ui.wait("nav#main-nav").await;
        ui.shot(name).await;
    }
    ui.submit("form#signout [type=submit]").await;
    ui.wait_path("/ui/login").await;
    ui.goto("/ui/").await;
    ui.wait_path("/ui/login").await;
    ui.wait("form#signin").await;
    // A page asked for while signed out is where the next sign-in lands.
    ui.goto("/ui/users?q=ann").await;
    ui.wait_path("/ui/login").await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/users?q=ann");
    ui.finish().await;
}

/// A form POST without the CSRF token is refused with 403 and changes nothing; the same
/// request with the page's token goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_csrf_post_without_token_refused() {
    let Some(ui) = Ui::start("ui_csrf_post_without_token_refused").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["ann"]).await;
    ui.signin(PASSWORD).await;
    ui.goto("/ui/users").await;
    ui.wait("form#bulk input[name=_csrf]").await;
    let (status, body) = ui
        .fetch_post(
            "/ui/users/bulk",
            json!({"action": "grant", "login": "ann", "product": "crm", "back": "/ui/users"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    let (status, body) = ui
        .fetch_post(
            "/ui/users/bulk",
            json!({"action": "block", "login": "ann", "_csrf": "forged"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A file-upload form (multipart) is checked too.
    let (status, body) = ui
        .fetch_post_multipart("/ui/licenses/upload", json!({"file": "{}"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    assert_eq!(ui.api.product("crm").await["used"], 0);
    let user = ui
        .api
        .call(reqwest::Method::GET, "/api/v1/users/ann", None)
        .await;
    assert_eq!(user["state"], "active", "{user}");

    // The page's own token is accepted (the check is not refusing everything).
    let token = ui
        .find("form#bulk input[name=_csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let (status, body) = ui
        .fetch_post(
            "/ui/users/bulk",
            json!({"action": "grant", "login": "ann", "product": "crm", "back": "/ui/users", "_csrf": token}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ui.api.product("crm").await["used"], 1);
    ui.finish().await;
}
