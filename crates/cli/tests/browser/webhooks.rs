//! Webhooks (issue 17: I4) through the admin UI, against a real HTTP receiver on loopback
//! that checks every signature with the secret the page showed once, and answers 500 to the
//! first requests: create, refusals, the delivery log after retries, redeliver (the same
//! `Seatkeeper-Delivery` id), the delivery's attempts, test, rotate, pause, delete.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::receiver::Receiver;

use crate::harness::{PASSWORD, T0, Ui, order};

/// Loopback receivers allowed, retries after one second, a quick dispatcher.
const CONFIG: &str = "[notifications]\nallow_private_targets = true\n\
     retry_base_secs = 1\npoll_interval_ms = 100\ntimeout_secs = 2\nclaim_lease_secs = 7\n";

/// Reloads `path` until `css`'s text satisfies `ok` (the dispatcher records an attempt just
/// after the receiver answers); answers the text.
async fn reload_until(ui: &Ui, path: &str, css: &str, ok: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        ui.goto(path).await;
        let text = ui.text(css).await;
        if ok(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{css} on {path} never showed what was expected: {}",
        ui.text(css).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_i4_webhook_create_secret_once_log_retries_redeliver_attempts() {
    let Some(ui) = Ui::start_with(
        "ui_i4_webhook_create_secret_once_log_retries_redeliver_attempts",
        Some(CONFIG),
    )
    .await
    else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["carol"]).await;
    // The server's clock runs ten times faster than the wall clock, so that backoffs pass.
    let dir = ui.dir.path().to_path_buf();
    let clock = tokio::spawn(async move {
        let mut t = T0;
        loop {
            t += 1;
            let _ = std::fs::write(dir.join("clock"), t.to_string());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let receiver = Receiver::start(2).await;

    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.submit("a#nav-webhooks").await;
    ui.wait_path("/ui/webhooks").await;
    assert_eq!(ui.text("#webhooks tbody").await, "No webhooks yet.");

    // Refusals: the URL policy (credentials in the URL) and an unknown event type show as
    // the form's error, the form as typed, and nothing is saved.
    ui.fill("#hook-url", "http://user:pw@127.0.0.1/hook").await;
    ui.click("#hook-events input[value='user.blocked']").await;
    ui.submit("form#new-webhook [type=submit]").await;
    let error = ui.text("#form-error").await;
    assert!(
        error.contains("credentials") && error.contains("Nothing was saved"),
        "{error}"
    );
    assert_eq!(
        ui.find("#hook-url").await.prop("value").await.unwrap(),
        Some("http://user:pw@127.0.0.1/hook".into())
    );
    assert!(
        ui.find("#hook-events input[value='user.blocked']")
            .await
            .is_selected()
            .await
            .unwrap()
    );
    assert!(!ui.exists("#webhooks tr[data-webhook]").await);
    let csrf = ui
        .find("form#new-webhook input[name=_csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let (status, body) = ui
        .fetch_post(
            "/ui/webhooks",
            json!({"_csrf": csrf, "url": receiver.url, "events": "user.exploded"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("unknown event type"), "{body}");
    let (status, body) = ui
        .fetch_post("/ui/webhooks", json!({"_csrf": csrf, "url": receiver.url}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("at least one event type"), "{body}");
    assert_eq!(
        ui.api
            .call(reqwest::Method::GET, "/api/v1/webhooks", None)
            .await,
        json!([])
    );

    // Created: the secret is shown once.
    ui.goto("/ui/webhooks").await;
    ui.fill("#hook-url", &receiver.url).await;
    ui.click("#hook-events input[value='user.blocked']").await;
    ui.fill("#hook-description", "CRM sync").await;
    ui.submit("form#new-webhook [type=submit]").await;
    let secret = ui.text("#new-secret #secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(
        ui.text("#new-secret")
            .await
            .contains("will not be shown again")
    );
    receiver.set_secret(&secret);
    let row = "#webhooks tr[data-webhook]";
    assert_eq!(ui.cell(row, "events").await, "user.blocked");
    assert_eq!(ui.cell(row, "state").await, "active");
    let id: i64 = ui
        .find(row)
        .await
        .attr("data-webhook")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    ui.shot("webhook-created").await;
    ui.goto("/ui/webhooks").await;
    ui.wait(row).await;
    assert!(!ui.exists("#new-secret").await);
    let html = ui.c.source().await.unwrap();
    assert!(!html.contains(&secret), "the secret is shown again");

    // A user blocked: the receiver answers 500 twice, then 200; all signed.
    ui.api
        .post("/api/v1/users/carol/block", json!({"reason": "left"}))
        .await;
    let seen = receiver
        .wait_for(60, |s| s.iter().any(|x| x.answered == 200))
        .await;
    assert!(seen.iter().all(|x| x.signature_ok), "{seen:#?}");
    assert!(
        seen.iter().all(|x| x.event_type == "user.blocked"),
        "{seen:#?}"
    );
    let delivery = seen[0].delivery.clone();
    assert!(seen.iter().all(|x| x.delivery == delivery), "{seen:#?}");
    let first_round = seen.len();
    assert!(first_round >= 3, "{seen:#?}");

    // The delivery log on the webhook's page.
    ui.click(&format!("#webhooks tr[data-webhook='{id}'] td.url a"))
        .await;
    ui.wait_path(&format!("/ui/webhooks/{id}")).await;
    let page = format!("/ui/webhooks/{id}");
    let drow = format!("#deliveries tr[data-delivery='{delivery}']");
    reload_until(&ui, &page, &format!("{drow} td.state"), |s| {
        s == "delivered"
    })
    .await;
    let attempts: u32 = ui.cell(&drow, "attempts").await.parse().unwrap();
    assert!(attempts >= 2, "{attempts}");
    assert_eq!(attempts as usize, first_round);
    assert_eq!(ui.cell(&drow, "status").await, "200");
    assert_eq!(ui.cell(&drow, "event").await, "user.blocked");
    assert!(ui.cell(&drow, "duration").await.ends_with(" ms"));
    assert!(ui.cell(&drow, "last").await.starts_with("2027-01-01"));
    ui.shot("webhook-delivery-log").await;

    // Redeliver: the receiver gets it again with the same delivery id.
    ui.submit(&format!("{drow} form.redeliver [type=submit]"))
        .await;
    ui.wait_path(&page).await;
    assert!(
        ui.text(".flash[role=status]")
            .await
            .contains("queued again")
    );
    let seen = receiver
        .wait_for(30, |s| {
            s.len() > first_round && s.last().is_some_and(|x| x.answered == 200)
        })
        .await;
    let again = seen.last().unwrap();
    assert_eq!(again.delivery, delivery);
    assert!(again.signature_ok);

    // The delivery's page lists every attempt.
    ui.submit(&format!("{drow} td.id a")).await;
    ui.wait_path(&format!("/ui/deliveries/{delivery}")).await;
    assert!(ui.text("#delivery-id").await.starts_with(&delivery));
    let detail = format!("/ui/deliveries/{delivery}");
    let rows = format!("#attempts tbody tr:nth-child({})", first_round + 1);
    for _ in 0..50 {
        if ui.exists(&rows).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        ui.goto(&detail).await;
    }
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for e in
            ui.c.find_all(Locator::Css("#attempts tbody td.status"))
                .await
                .unwrap()
        {
            v.push(e.text().await.unwrap());
        }
        v
    };
    assert_eq!(statuses.len(), first_round + 1, "{statuses:?}");
    assert_eq!(statuses[0], "500");
    assert_eq!(statuses.last().unwrap(), "200");
    assert!(ui.text("#payload").await.contains("carol"));
    ui.shot("webhook-delivery").await;

    // Send a test event: a signed `test` delivery, logged.
    ui.goto(&page).await;
    ui.submit("form#send-test [type=submit]").await;
    assert!(ui.text(".flash[role=status]").await.contains("test event"));
    receiver
        .wait_for(30, |s| {
            s.iter()
                .any(|x| x.event_type == "test" && x.answered == 200)
        })
        .await;

    // Rotate: a new secret, shown once, signs what follows.
    ui.submit("form#rotate [type=submit]").await;
    let rotated = ui.text("#new-secret #secret").await;
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    receiver.set_secret(&rotated);
    ui.goto(&page).await;
    assert!(!ui.exists("#new-secret").await);
    ui.submit("form#send-test [type=submit]").await;
    let seen = receiver
        .wait_for(30, |s| {
            s.iter().filter(|x| x.event_type == "test").count() >= 2
        })
        .await;
    assert!(seen.last().unwrap().signature_ok, "{seen:#?}");

    // Pause, then delete after the confirmation.
    ui.submit("form#toggle [type=submit]").await;
    assert!(ui.text("#hook-state").await.starts_with("paused"));
    ui.submit("form#delete [type=submit]").await;
    ui.wait("form#confirm-delete").await;
    assert!(ui.body_text().await.contains(&receiver.url));
    ui.submit("form#confirm-delete [type=submit]").await;
    ui.wait_path("/ui/webhooks").await;
    assert!(
        ui.text(".flash[role=status]")
            .await
            .contains("Deleted webhook")
    );
    assert!(!ui.exists("#webhooks tr[data-webhook]").await);

    clock.abort();
    ui.finish().await;
}
