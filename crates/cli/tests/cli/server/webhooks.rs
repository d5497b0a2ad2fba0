//! Webhooks (issue 17: I4) end to end: a real `seatkeeper serve` posting to a real HTTP
//! receiver on loopback, which checks every signature itself (HMAC-SHA256 over
//! "<t>.<body>" with the secret the server answered once). Retries after 500s, the delivery
//! log, redelivery, no loss across SIGKILL, and two PostgreSQL nodes delivering each event once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

pub(crate) use crate::receiver::{Receiver, Seen};

use super::{Api, Server, T0, World, create_user, prepare, set_clock, start_flags, world};

/// The server's clock (a file) moves one second every 100 ms, so that backoffs pass.
pub(crate) fn fast_clock(dir: &Path) -> tokio::task::JoinHandle<()> {
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        let mut t = T0;
        loop {
            t += 1;
            set_clock(&dir, t);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

pub(crate) const CONFIG: &str = "[notifications]\nallow_private_targets = true\n\
     retry_base_secs = 1\npoll_interval_ms = 100\ntimeout_secs = 2\nclaim_lease_secs = 7\n\
     notice_interval_secs = 1\n";

pub(crate) fn start_notifying(db: &str, dir: &Path) -> Server {
    let file = dir.join("seatkeeper.toml");
    std::fs::write(&file, CONFIG).unwrap();
    start_flags(db, dir, &["--config", file.to_str().unwrap()])
}

/// Subscribes `receiver` to `events`; the receiver learns the secret from the answer.
pub(crate) async fn subscribe(api: &Api, w: &World, receiver: &Receiver, events: &[&str]) -> i64 {
    let hook = api
        .ok(
            Method::POST,
            "/api/v1/webhooks",
            &w.admin,
            Some(json!({"url": receiver.url, "events": events, "description": "e2e"})),
        )
        .await;
    receiver.set_secret(hook["secret"].as_str().unwrap());
    hook["id"].as_i64().unwrap()
}

async fn block(api: &Api, w: &World, login: &str) {
    api.ok(
        Method::POST,
        &format!("/api/v1/users/{login}/block"),
        &w.admin,
        Some(json!({"reason": "left"})),
    )
    .await;
}

async fn signed_retried_logged_redelivered(db: &str, dir: &Path) {
    prepare(db, dir);
    let server = start_notifying(db, dir);
    let api = Api::new(&server);
    let w = world(db, dir, &api, 5, 2).await;
    let _clock = fast_clock(dir);
    let receiver = Receiver::start(2).await;
    let hook = subscribe(&api, &w, &receiver, &["user.blocked"]).await;

    // The secret is never shown again.
    let listed = api
        .ok(Method::GET, "/api/v1/webhooks", &w.admin, None)
        .await;
    assert!(listed[0].get("secret").is_none(), "{listed}");

    create_user(&api, &w, "carol", "").await;
    block(&api, &w, "carol").await;
    // 500, 500, then 200: three requests for one delivery, each signed, the same bytes.
    let seen = receiver
        .wait_for(30, |s| s.iter().any(|x| x.answered == 200))
        .await;
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert!(seen.iter().all(|s| s.signature_ok), "{seen:#?}");
    assert!(seen.iter().all(|s| s.delivery == seen[0].delivery));
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    assert_eq!(seen[0].event_type, "user.blocked");
    assert_eq!(seen[0].body["type"], "user.blocked");
    assert_eq!(seen[0].body["data"]["login"], "carol");
    assert_eq!(seen[0].body["data"]["reason"], "left");

    // The delivery log says so.
    let log = api
        .ok(
            Method::GET,
            &format!("/api/v1/webhooks/{hook}/deliveries"),
            &w.admin,
            None,
        )
        .await;
    let d = &log[0];
    assert_eq!(d["state"], "delivered", "{log}");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status"], 200);
    let id = d["id"].as_i64().unwrap();
    assert_eq!(seen[0].delivery, id.to_string());
    let detail = api
        .ok(
            Method::GET,
            &format!("/api/v1/deliveries/{id}"),
            &w.admin,
            None,
        )
        .await;
    let codes: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200], "{detail}");
    assert!(
        detail["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{detail}"
    );

    // Redeliver: the same delivery id again, a fourth attempt.
    api.ok(
        Method::POST,
        &format!("/api/v1/deliveries/{id}/redeliver"),
        &w.admin,
        None,
    )
    .await;
    let seen = receiver.wait_for(20, |s| s.len() == 4).await;
    assert_eq!(seen[3].delivery, id.to_string());
    assert!(seen[3].signature_ok);

    // "Send test" reaches it even for a type it does not subscribe to.
    let test = api
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{hook}/test"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(test.0, StatusCode::ACCEPTED, "{}", test.1);
    let seen = receiver
        .wait_for(20, |s| s.iter().any(|x| x.event_type == "test"))
        .await;
    assert!(seen.iter().all(|s| s.signature_ok));

    // A paused webhook gets nothing new; a receiver that fails for good ends "failed"
    // only after the retry window (not tested here: 24 h).
    api.ok(
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook}"),
        &w.admin,
        Some(json!({"active": false})),
    )
    .await;
    let before = receiver.seen().len();
    create_user(&api, &w, "dave", "").await;
    block(&api, &w, "dave").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.seen().len(), before);
    drop(server);
}

super::scim::on_both!(
    signed_retried_logged_redelivered,
    i4_webhooks_are_signed_retried_logged_and_redelivered_on_sqlite,
    i4_webhooks_are_signed_retried_logged_and_redelivered_on_postgres
);

/// Without `allow_private_targets`, loopback and private targets are refused with the reason;
/// bad event types and non-http URLs too, and nothing is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i4_webhook_targets_are_checked_when_saved() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir.path());
    let server = start_flags(&db, dir.path(), &[]);
    let api = Api::new(&server);
    let w = world(&db, dir.path(), &api, 5, 2).await;
    for (url, events, says) in [
        ("http://127.0.0.1:9/hook", json!(["*"]), "internal address"),
        ("http://10.1.2.3/hook", json!(["*"]), "internal address"),
        ("http://localhost:9/hook", json!(["*"]), "internal address"),
        ("ftp://example.com/x", json!(["*"]), "only http and https"),
        (
            "https://93.184.216.34/x",
            json!(["user.nonsense"]),
            "unknown event type",
        ),
        (
            "https://no-such-host.invalid/x",
            json!(["*"]),
            "cannot be resolved",
        ),
        (
            "https://93.184.216.34/x",
            json!([]),
            "at least one event type",
        ),
    ] {
        let (status, v) = api
            .call(
                Method::POST,
                "/api/v1/webhooks",
                Some(&w.admin),
                Some(json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{url}: {v}"
        );
    }
    let listed = api
        .ok(Method::GET, "/api/v1/webhooks", &w.admin, None)
        .await;
    assert_eq!(listed, json!([]));
    // Wrong credentials: no token, an integration token.
    let (status, _) = api.call(Method::GET, "/api/v1/webhooks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .call(Method::GET, "/api/v1/webhooks", Some(&w.app), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// SIGKILL right after the changes: after a restart every event reaches the receiver (at
/// least once; the delivery id lets it drop a repeat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i4_no_event_is_lost_when_the_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir);
    let server = start_notifying(&db, dir);
    let api = Api::new(&server);
    let w = world(&db, dir, &api, 5, 2).await;
    // The receiver answers nothing for now: deliveries fail and wait for their retry.
    let receiver = Receiver::start(usize::MAX).await;
    subscribe(&api, &w, &receiver, &["user.blocked", "user.activated"]).await;
    for i in 0..6 {
        create_user(&api, &w, &format!("u{i}"), "").await;
        block(&api, &w, &format!("u{i}")).await;
    }
    let events = api
        .ok(
            Method::GET,
            "/api/v1/events?type=user.blocked",
            &w.admin,
            None,
        )
        .await;
    let expected: BTreeSet<i64> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(expected.len(), 6);
    // SIGKILL (Drop kills the child): no clean stop, deliveries half done.
    drop(server);

    receiver.fail_next(0);
    let _clock = fast_clock(dir);
    let server = start_notifying(&db, dir);
    let seen = receiver
        .wait_for(40, |s| {
            let got: BTreeSet<i64> = s
                .iter()
                .filter(|x| x.answered == 200)
                .map(|x| x.body["id"].as_i64().unwrap())
                .collect();
            expected.is_subset(&got)
        })
        .await;
    assert!(seen.iter().all(|s| s.signature_ok));
    drop(server);
}

/// Two nodes on one PostgreSQL database, changes made on both: every event is delivered
/// exactly once (no failures, so no retries to blur the count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i4_two_nodes_on_postgres_deliver_each_event_once() {
    let Some((db, _guard)) = crate::pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepare(&db, dir);
    let a = start_notifying(&db, dir);
    let b = start_notifying(&db, dir);
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let w = world(&db, dir, &api_a, 5, 2).await;
    let receiver = Receiver::start(0).await;
    subscribe(&api_a, &w, &receiver, &["*"]).await;
    let n = 20;
    for i in 0..n {
        let api = if i % 2 == 0 { &api_a } else { &api_b };
        create_user(api, &w, &format!("p{i}"), "").await;
        block(api, &w, &format!("p{i}")).await;
    }
    let blocked = |s: &[Seen]| s.iter().filter(|x| x.event_type == "user.blocked").count();
    receiver.wait_for(30, |s| blocked(s) >= n).await;
    // Give a duplicate the time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = receiver.seen();
    let mut per_delivery: BTreeMap<String, usize> = BTreeMap::new();
    for s in &seen {
        *per_delivery.entry(s.delivery.clone()).or_default() += 1;
    }
    assert!(
        per_delivery.values().all(|c| *c == 1),
        "a delivery arrived twice: {per_delivery:?}"
    );
    assert_eq!(blocked(&seen), n);
    let nodes: BTreeSet<String> = {
        let all = api_a
            .ok(Method::GET, "/api/v1/deliveries?limit=1000", &w.admin, None)
            .await;
        let mut nodes = BTreeSet::new();
        for d in all.as_array().unwrap() {
            let id = d["id"].as_i64().unwrap();
            let detail = api_b
                .ok(
                    Method::GET,
                    &format!("/api/v1/deliveries/{id}"),
                    &w.admin,
                    None,
                )
                .await;
            for a in detail["attempts"].as_array().unwrap() {
                nodes.insert(a["node"].as_str().unwrap().to_string());
            }
        }
        nodes
    };
    assert!(!nodes.is_empty());
    drop((a, b));
}
