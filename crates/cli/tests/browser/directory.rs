//! The Directory page (issue 15, I1): settings saved with a write-only password, Test
//! connection, Preview, Sync now and the history, against a private slapd (the harness is
//! `seatkeeper-directory`'s, included here).

use reqwest::Method;

use crate::harness::{PASSWORD, Ui, order};

#[path = "../../../directory/tests/support/slapd.rs"]
mod slapd;

use slapd::{GROUPS, PEOPLE, READER_DN, READER_PW, Slapd, people_ldif, user_login};

const USERS: usize = 8;

/// The page's HTML as the server sent it (the DOM, serialized): never the password.
async fn assert_no_password(ui: &Ui, secrets: &[&str]) {
    let html = ui.c.source().await.expect("page source");
    for s in secrets {
        assert!(!html.contains(s), "the page shows the password {s:?}");
    }
}

async fn placeholder(ui: &Ui) -> String {
    ui.wait("#d-bind-password")
        .await
        .attr("placeholder")
        .await
        .expect("placeholder")
        .unwrap_or_default()
}

/// Settings saved through the form (the password write-only), a connection test with the
/// counts, a preview that writes nothing, a sync that creates the users and a run in the
/// history; then a wrong password: the sync shows the bad-credentials message and the history
/// a failed run. The password is never in a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_directory_page_tests_previews_syncs_and_shows_history() {
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&people_ldif(USERS));
    let Some(ui) = Ui::start("i1_directory_page_tests_previews_syncs_and_shows_history").await
    else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");

    // Nothing configured yet: the page says to save the settings first, with no actions.
    ui.submit("a#nav-directory").await;
    ui.wait_path("/ui/directory").await;
    ui.wait("form#directory-settings").await;
    assert!(!ui.exists("form#sync-now").await);
    assert_eq!(placeholder(&ui).await, "not set");
    assert!(!ui.exists("#d-clear-password").await);
    ui.shot("directory-empty").await;

    ui.fill("#d-url", &ldap.url).await;
    ui.fill("#d-bind-dn", READER_DN).await;
    ui.fill("#d-bind-password", READER_PW).await;
    ui.fill("#d-user-base", PEOPLE).await;
    ui.fill("#d-group-base", GROUPS).await;
    ui.fill("#d-connect", "5").await;
    ui.submit("form#directory-settings [type=submit]").await;
    ui.wait_path("/ui/directory").await;
    assert_eq!(
        ui.text(".flash[role=status]").await,
        "Directory settings saved."
    );
    // Write-only: the field is empty, its placeholder says a password is set.
    assert_eq!(placeholder(&ui).await, "set — leave empty to keep");
    let typed = ui
        .find("#d-bind-password")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(typed.as_deref(), Some(""));
    assert_no_password(&ui, &[READER_PW]).await;
    let saved = ui
        .api
        .call(Method::GET, "/api/v1/directory/settings", None)
        .await;
    assert_eq!(saved["source"], "ledger");
    assert_eq!(saved["bind_password_set"], true);
    assert_eq!(saved["settings"]["url"], ldap.url.as_str());

    // Test connection: the transport, the bound DN, the counts, three examples.
    ui.submit("form#test-connection [type=submit]").await;
    ui.wait("#test-report").await;
    assert_eq!(ui.text("#test-report dd.users").await, USERS.to_string());
    assert_eq!(ui.text("#test-report dd.groups").await, "3");
    assert_eq!(ui.text("#test-report dd.bound").await, READER_DN);
    assert!(ui.text("#test-report dd.transport").await.contains("plain"));
    let examples =
        ui.c.find_all(fantoccini::Locator::Css("#test-examples > li"))
            .await
            .expect("examples");
    assert_eq!(examples.len(), 3);
    assert_no_password(&ui, &[READER_PW]).await;
    ui.shot("directory-test").await;

    // Preview: what a sync would do, and nothing written.
    ui.submit("form#preview-sync [type=submit]").await;
    ui.wait("#preview").await;
    assert_eq!(
        ui.text("#preview-counts tr[data-count=create] td").await,
        USERS.to_string()
    );
    assert_eq!(
        ui.text("#preview-counts tr[data-count=skipped] td").await,
        "0"
    );
    let first = user_login(0);
    assert!(
        ui.exists(&format!("#preview-create tr[data-login='{first}']"))
            .await
    );
    let users = ui.api.call(Method::GET, "/api/v1/users", None).await;
    assert!(
        !users.to_string().contains(&first),
        "the preview wrote users: {users}"
    );
    assert!(!ui.exists("#directory-runs tr[data-run]").await);
    ui.shot("directory-preview").await;

    // Sync now: the notice counts what was done; the users exist; the history has the run.
    ui.submit("form#sync-now [type=submit]").await;
    ui.wait_path("/ui/directory").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(
        flash.contains(&format!("{USERS} created")) && flash.contains("Sync done"),
        "{flash}"
    );
    let run = ui
        .text("#directory-runs tr[data-status=succeeded] td.counts")
        .await;
    assert!(run.contains(&format!("{USERS} created")), "{run}");
    assert!(
        ui.text("#sync-state").await.contains("changes applied"),
        "{}",
        ui.text("#sync-state").await
    );
    ui.shot("directory-synced").await;
    ui.api
        .call(Method::GET, &format!("/api/v1/users/{first}"), None)
        .await;
    ui.goto("/ui/users").await;
    ui.wait(&format!(
        "#users tr[data-login='{}']",
        user_login(USERS - 1)
    ))
    .await;

    // A second sync finds nothing to change.
    ui.goto("/ui/directory").await;
    ui.submit("form#sync-now [type=submit]").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("nothing to change"), "{flash}");

    // A wrong password: saved (write-only), then the test and the sync show the directory's
    // refusal as a message on the page, and the history a failed run.
    let wrong = "wrong-password-77";
    ui.fill("#d-bind-password", wrong).await;
    ui.submit("form#directory-settings [type=submit]").await;
    assert_eq!(
        ui.text(".flash[role=status]").await,
        "Directory settings saved."
    );
    assert_no_password(&ui, &[READER_PW, wrong]).await;

    ui.submit("form#test-connection [type=submit]").await;
    let error = ui.text("#directory-error").await;
    assert!(
        error.contains("refused") && error.contains("invalid credentials"),
        "{error}"
    );
    assert_no_password(&ui, &[READER_PW, wrong]).await;

    ui.submit("form#sync-now [type=submit]").await;
    ui.wait_path("/ui/directory").await;
    let error = ui.text(".error[role=alert]").await;
    assert!(
        error.contains("The sync failed")
            && error.contains(&format!("LDAP bind as {READER_DN} was refused"))
            && error.contains("invalid credentials"),
        "{error}"
    );
    let failed = ui
        .text("#directory-runs tr[data-status=failed] td.run-error")
        .await;
    assert!(failed.contains("invalid credentials"), "{failed}");
    assert!(ui.text("#sync-state").await.contains("failed"));
    assert_no_password(&ui, &[READER_PW, wrong]).await;
    ui.shot("directory-failed").await;

    // The same through the API's history: two runs, the newest failed.
    let runs = ui
        .api
        .call(Method::GET, "/api/v1/directory/runs", None)
        .await;
    assert_eq!(runs["runs"][0]["status"], "failed");
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(2));

    // Clearing the password: the placeholder says none is set.
    ui.click("#d-clear-password").await;
    ui.submit("form#directory-settings [type=submit]").await;
    assert_eq!(
        ui.text(".flash[role=status]").await,
        "Directory settings saved."
    );
    assert_eq!(placeholder(&ui).await, "not set");

    // A bad filter is refused with its reason; the form keeps what was typed; nothing saved.
    // The password typed with it is not sent back either.
    let typed = "typed-with-a-bad-filter";
    ui.fill("#d-user-filter", "(uid=").await;
    ui.fill("#d-url", "ldap://127.0.0.1:1").await;
    ui.fill("#d-bind-password", typed).await;
    ui.submit("form#directory-settings [type=submit]").await;
    let error = ui.text("#directory-error").await;
    assert!(
        error.contains("bad LDAP filter") && error.contains("Nothing was saved"),
        "{error}"
    );
    assert_no_password(&ui, &[READER_PW, wrong, typed]).await;
    assert_eq!(
        ui.find("#d-user-filter")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("(uid=")
    );
    let saved = ui
        .api
        .call(Method::GET, "/api/v1/directory/settings", None)
        .await;
    assert_eq!(saved["settings"]["url"], ldap.url.as_str());

    // Nobody listening: the test and the preview say the server is unreachable, with its
    // address, on the page.
    ui.fill("#d-user-filter", "(objectClass=inetOrgPerson)")
        .await;
    ui.fill("#d-bind-password", typed).await;
    ui.submit("form#directory-settings [type=submit]").await;
    assert_eq!(
        ui.text(".flash[role=status]").await,
        "Directory settings saved."
    );
    ui.submit("form#test-connection [type=submit]").await;
    let error = ui.text("#directory-error").await;
    assert!(
        error.contains("unreachable") && error.contains("127.0.0.1:1"),
        "{error}"
    );
    ui.submit("form#preview-sync [type=submit]").await;
    let error = ui.text("#directory-error").await;
    assert!(error.contains("The preview failed"), "{error}");
    ui.shot("directory-unreachable").await;
    ui.finish().await;
}
