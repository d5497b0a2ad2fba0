//! The settings page's mail part (issue 17, N1): the mail configuration's state, "Send test
//! mail" reaching a real SMTP server on loopback (aiosmtpd, the CLI tests' `support_smtp`),
//! a failed mail listed with its error, and Retry delivering it once the server is back.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::harness::{PASSWORD, Ui, order};

#[path = "../cli/support_smtp.rs"]
mod support_smtp;

use support_smtp::Sink;

const TO: &str = "licensing@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_settings_page_sends_a_test_mail_and_retries_a_failed_one() {
    let Some(mut sink) = Sink::start() else {
        return;
    };
    let config = format!(
        "[mail]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"seats@example.com\"\n\
         admin_url = \"https://seats.example.com\"\n\
         [notifications]\npoll_interval_ms = 100\ntimeout_secs = 2\nclaim_lease_secs = 7\n",
        sink.port
    );
    // The harness wants the config for the test's whole life: leaked, once per test.
    let config: &'static str = Box::leak(config.into_boxed_str());
    let Some(ui) = Ui::start_with(
        "n1_settings_page_sends_a_test_mail_and_retries_a_failed_one",
        Some(config),
    )
    .await
    else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api
        .call(
            Method::PUT,
            "/api/v1/notifications/settings",
            Some(json!({"responsible_email": TO})),
        )
        .await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/settings").await;
    let state = ui.text("#mail-state").await;
    assert!(
        state.contains(&format!("127.0.0.1:{}", sink.port)) && state.contains("(tls = none)"),
        "{state}"
    );
    assert_eq!(ui.text("#responsible").await, TO);
    ui.shot("settings-mail").await;

    // Send test mail: the flash says it is queued, the SMTP server gets it.
    ui.submit("form#test-mail [type=submit]").await;
    ui.wait_path("/ui/settings").await;
    assert!(
        ui.text(".flash[role=status]")
            .await
            .starts_with("Test mail queued"),
    );
    let mails = sink.wait_for(20, |m| m.len() == 1).await;
    assert_eq!(
        mails[0].subject,
        "[Seatkeeper] Test mail: mail delivery works"
    );
    assert_eq!(mails[0].rcpt_to, [TO]);

    // The SMTP server is down: the next test mail fails and is listed with its error.
    sink.stop();
    ui.fill("#test-recipient", "other@example.com").await;
    ui.submit("form#test-mail [type=submit]").await;
    let mut listed = false;
    for _ in 0..100 {
        ui.goto("/ui/settings").await;
        if ui.exists("#failed-mail-list tbody tr").await {
            listed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(listed, "the failed mail is listed");
    let row = ui.text("#failed-mail-list tbody tr").await;
    assert!(row.contains("other@example.com"), "{row}");
    assert!(row.contains(&format!("127.0.0.1:{}", sink.port)), "{row}");
    ui.shot("settings-failed-mail").await;

    // Back up; Retry delivers it.
    sink.listen(None);
    ui.submit("#failed-mail-list tbody tr form [type=submit]")
        .await;
    ui.wait_path("/ui/settings").await;
    assert!(
        ui.text(".flash[role=status]")
            .await
            .contains("is sent again now"),
    );
    let mails = sink.wait_for(20, |m| m.len() == 2).await;
    assert_eq!(mails[1].rcpt_to, ["other@example.com"]);

    // The class switches save.
    ui.click("input[name='mail.users']").await;
    ui.submit("form#notifications [type=submit]").await;
    assert_eq!(
        ui.text(".flash[role=status]").await,
        "Notification settings saved."
    );
    let saved = ui
        .api
        .call(Method::GET, "/api/v1/notifications/settings", None)
        .await;
    assert_eq!(saved["mail"]["users"], true, "{saved}");
    assert_eq!(saved["mail"]["limits"], true, "{saved}");
    ui.finish().await;
}
