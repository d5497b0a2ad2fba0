//! Mail to the responsible person (issue 17, N1) end to end: a real `seatkeeper serve` with a
//! `[mail]` section pointing at a real SMTP server on loopback (aiosmtpd, `support_smtp`),
//! changes driven through the admin and integration APIs, and the messages the SMTP server
//! received read back: each event once per crossing, with its numbers and the admin UI link,
//! on SQLite and on PostgreSQL. Plus the test mail, the daily digest, and an SMTP server that
//! refuses or is down (recorded, retried, delivered once it is back).

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::issue_license;
use crate::server::{Api, Server, T0, World, create_user, prepare, set_clock, start_flags};
use crate::support_smtp::{Mail, Sink};

const TO: &str = "licensing@example.com";
const ADMIN_URL: &str = "https://seats.example.com";
const DAY: i64 = 86_400;

fn config(port: u16, extra: &str) -> String {
    format!(
        "[mail]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"Seatkeeper <seats@example.com>\"\nadmin_url = \"{ADMIN_URL}/\"\n{extra}\n\
         [notifications]\nretry_base_secs = 1\npoll_interval_ms = 100\ntimeout_secs = 2\n\
         claim_lease_secs = 7\n"
    )
}

fn serve(db: &str, dir: &Path, port: u16, extra: &str) -> Server {
    let file = dir.join("seatkeeper.toml");
    std::fs::write(&file, config(port, extra)).unwrap();
    start_flags(db, dir, &["--config", file.to_str().unwrap()])
}

/// Signs in, imports a license (CRM: 2 named seats, 2 floating seats that expire 40 days
/// after T0; at most 3 employees), makes an application token and sets the responsible
/// address.
async fn sign_in(api: &Api) -> String {
    let signin = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "correct horse battery staple"})),
        )
        .await;
    assert_eq!(signin.0, StatusCode::OK, "{}", signin.1);
    signin.1["token"].as_str().unwrap().to_string()
}

async fn mail_world(dir: &Path, db: &str, api: &Api) -> World {
    let admin = sign_in(api).await;
    let request = api
        .ok(
            Method::POST,
            "/api/v1/license-request",
            &admin,
            Some(json!({"company_id": "ACME"})),
        )
        .await;
    std::fs::write(dir.join("req.json"), request.to_string()).unwrap();
    let expires = time::OffsetDateTime::from_unix_timestamp(T0 + 40 * DAY)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let order = json!({
        "products": [{"code": "crm", "name": "CRM", "features": ["sales"], "all_modules": true}],
        "packages": [
            {"serial": "N-1", "product": "crm", "kind": "named", "area": "employee", "seats": 2},
            {"serial": "F-1", "product": "crm", "kind": "concurrent", "area": "employee",
             "seats": 2, "expires": expires}
        ],
        "area_limits": [{"area": "employee", "max_users": 3}]
    });
    issue_license(db, dir, &order);
    let license = std::fs::read_to_string(dir.join("lic.json")).unwrap();
    let imported = api
        .http
        .post(format!("{}/api/v1/licenses", api.base))
        .bearer_auth(&admin)
        .body(license)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    let token = api
        .ok(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "the application", "scope": "integration"})),
        )
        .await;
    let settings = api
        .ok(
            Method::PUT,
            "/api/v1/notifications/settings",
            &admin,
            Some(json!({"responsible_email": TO, "threshold_percent": 50})),
        )
        .await;
    assert_eq!(settings["responsible_email"], TO, "{settings}");
    assert_eq!(settings["mail"]["limits"], true, "{settings}");
    World {
        admin,
        app: token["token"].as_str().unwrap().to_string(),
    }
}

fn with_subject<'a>(mails: &'a [Mail], start: &str) -> Vec<&'a Mail> {
    mails
        .iter()
        .filter(|m| m.subject.starts_with(start))
        .collect()
}

/// Every mail: to the responsible address, multipart/alternative with both bodies, the event
/// in its headers, the link to the admin UI page in both bodies.
fn assert_well_formed(m: &Mail, link: &str) {
    assert_eq!(m.rcpt_to, [TO], "{m:#?}");
    assert_eq!(m.content_type, "multipart/alternative", "{m:#?}");
    let event = m.header("X-Seatkeeper-Event-Id");
    assert!(event.parse::<i64>().is_ok(), "{m:#?}");
    assert!(
        m.header("Message-ID")
            .contains(&format!("seatkeeper.event-{event}.")),
        "{m:#?}"
    );
    let url = format!("{ADMIN_URL}{link}");
    assert!(m.plain.contains(&url), "{url} in {}", m.plain);
    assert!(m.html.contains(&format!("href=\"{url}\"")), "{}", m.html);
}

/// Waits until no delivery is pending: every mail sent has been recorded as such (a server
/// stopped before that would send it again after the restart — at least once, with the same
/// Message-ID — which is not what these tests look at).
async fn settled(api: &Api, w: &World) {
    for _ in 0..200 {
        let v = api
            .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
            .await;
        if v["outbox"]["pending"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries still pending");
}

async fn login(api: &Api, w: &World, user: &str) -> Value {
    let a = api.login(&w.app, user).await;
    assert_eq!(a["outcome"], "allowed", "{a}");
    a
}

async fn logout(api: &Api, w: &World, session: &Value) {
    api.ok(
        Method::POST,
        "/integration/v1/logout",
        &w.app,
        Some(json!({"session_id": session["session_id"]})),
    )
    .await;
}

async fn each_event_mailed_once(db: &str, dir: &Path) {
    let Some(sink) = Sink::start() else { return };
    prepare(db, dir);
    let server = serve(db, dir, sink.port, "");
    let api = Api::new(&server);
    let w = mail_world(dir, db, &api).await;

    // The mail configuration's state: never the password.
    let state = api
        .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
        .await;
    assert_eq!(state["mail"]["configured"], true, "{state}");
    assert_eq!(state["mail"]["tls"], "none");
    assert_eq!(state["mail"]["port"], sink.port);
    assert_eq!(state["responsible_email"], TO);

    // The area's limit (3): reached by the third user, once, however many are refused after.
    for u in ["a1", "a2", "a3"] {
        create_user(&api, &w, u, "").await;
    }
    for u in ["a4", "a5"] {
        let _ = api
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&w.admin),
                Some(json!({"login": u, "area": "employee"})),
            )
            .await;
    }
    let limit = "[Seatkeeper] Employee area reached its user limit (3/3)";
    let mails = sink
        .wait_for(20, |m| !with_subject(m, limit).is_empty())
        .await;
    let m = with_subject(&mails, limit)[0];
    assert_well_formed(m, "/ui/users");
    assert!(m.plain.contains("3 active users"), "{}", m.plain);
    assert_eq!(m.header("X-Seatkeeper-Event-Type"), "limit.reached");

    // Seats: 1 of 2 floating seats in use is the 50% threshold; once per crossing, re-armed
    // when it falls below, then again.
    let threshold = "[Seatkeeper] crm concurrent seats in the Employee area at 50% or more (1/2)";
    let s = login(&api, &w, "a1").await;
    sink.wait_for(20, |m| with_subject(m, threshold).len() == 1)
        .await;
    logout(&api, &w, &s).await;
    let s = login(&api, &w, "a1").await;
    let mails = sink
        .wait_for(20, |m| with_subject(m, threshold).len() == 2)
        .await;
    assert_well_formed(with_subject(&mails, threshold)[1], "/ui/licenses");
    logout(&api, &w, &s).await;

    // Unmet needs: a role with the three users bound to CRM (two named seats).
    let org = api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &w.admin,
            Some(json!({"name": "Org", "kind": "organizational"})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    api.ok(
        Method::POST,
        &format!("/api/v1/roles/{org}/members"),
        &w.admin,
        Some(json!({"logins": ["a1", "a2", "a3"]})),
    )
    .await;
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{org}/products/crm"),
        &w.admin,
        None,
    )
    .await;
    let run = api
        .ok(
            Method::POST,
            "/api/v1/redistributions",
            &w.admin,
            Some(json!({"scope": {"kind": "role", "role": org}, "manual": "keep"})),
        )
        .await;
    let unmet = run["unmet"].as_u64().unwrap();
    assert!(unmet >= 1, "{run}");
    let id = run["id"].as_i64().unwrap();
    let needs = format!(
        "[Seatkeeper] {unmet} seat {} unmet after redistribution #{id}",
        if unmet == 1 { "need" } else { "needs" }
    );
    let mails = sink
        .wait_for(20, |m| !with_subject(m, &needs).is_empty())
        .await;
    let m = with_subject(&mails, &needs)[0];
    assert_well_formed(m, "/ui/roles");
    let waiting = run["unmet_needs"][0]["login"].as_str().unwrap();
    assert!(
        m.plain.contains(&format!("{waiting} needs crm")),
        "{}",
        m.plain
    );

    // License expiry: 30 days before the floating seats end. Time-raised notices are looked
    // for when the server starts (and every minute): move the clock, restart.
    settled(&api, &w).await;
    drop(server);
    set_clock(dir, T0 + 10 * DAY + 60);
    let server = serve(db, dir, sink.port, "");
    let api = Api::new(&server);
    // Ten days on, the sign-in has expired.
    let w = World {
        admin: sign_in(&api).await,
        ..w
    };
    let expiring = "[Seatkeeper] License ";
    let is_expiring =
        |m: &Mail| m.subject.starts_with(expiring) && m.subject.contains("expires in 30 days");
    let mails = sink
        .wait_for(30, |m| m.iter().filter(|x| is_expiring(x)).count() == 1)
        .await;
    let m = mails.iter().find(|x| is_expiring(x)).unwrap();
    assert_well_formed(m, "/ui/licenses");
    assert!(m.plain.contains("ACME"), "{}", m.plain);
    assert!(m.subject.contains("2027-02-10"), "{}", m.subject);
    // A restart raises nothing twice.
    settled(&api, &w).await;
    drop(server);
    let server = serve(db, dir, sink.port, "");
    let api = Api::new(&server);
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Each exactly once.
    let mails = sink.mails();
    assert_eq!(with_subject(&mails, limit).len(), 1);
    assert_eq!(with_subject(&mails, threshold).len(), 2);
    assert_eq!(with_subject(&mails, &needs).len(), 1);
    assert_eq!(mails.iter().filter(|x| is_expiring(x)).count(), 1);
    // Users blocked/activated are off by default: no such mail.
    assert!(with_subject(&mails, "[Seatkeeper] User ").is_empty());

    // The test mail, to the responsible address and to another one.
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/notifications/test-mail",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert!(v["delivery"].as_i64().is_some(), "{v}");
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/notifications/test-mail",
            Some(&w.admin),
            Some(json!({"recipient": "someone.else@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let test = "[Seatkeeper] Test mail";
    let mails = sink
        .wait_for(20, |m| with_subject(m, test).len() == 2)
        .await;
    // Sent side by side: in either order.
    let tests = with_subject(&mails, test);
    let to_responsible = tests.iter().find(|m| m.rcpt_to == [TO]).unwrap();
    assert_well_formed(to_responsible, "/ui/settings");
    assert!(
        tests
            .iter()
            .any(|m| m.rcpt_to == ["someone.else@example.com"])
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_each_event_is_mailed_once_with_its_numbers_and_link_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    each_event_mailed_once(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_each_event_is_mailed_once_with_its_numbers_and_link_on_postgres() {
    let Some((db, _guard)) = crate::pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    each_event_mailed_once(&db, dir.path()).await;
}

/// Digest mode: nothing until the digest hour, then one mail with every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_the_daily_digest_sends_one_mail_with_several_events() {
    let Some(sink) = Sink::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir);
    let server = serve(&db, dir, sink.port, "digest_hour = 6");
    let api = Api::new(&server);
    let w = mail_world(dir, &db, &api).await;
    api.ok(
        Method::PUT,
        "/api/v1/notifications/settings",
        &w.admin,
        Some(json!({"digest": true})),
    )
    .await;
    for u in ["a1", "a2", "a3"] {
        create_user(&api, &w, u, "").await;
    }
    let _s = login(&api, &w, "a1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sink.mails().is_empty(), "{:#?}", sink.mails());
    let waiting = api
        .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
        .await;
    assert_eq!(waiting["outbox"]["digest"], 2, "{waiting}");

    set_clock(dir, T0 + 6 * 3600 + 1);
    let mails = sink.wait_for(20, |m| !m.is_empty()).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert_eq!(m.subject, "[Seatkeeper] Daily digest: 2 events");
    assert_eq!(m.rcpt_to, [TO]);
    assert!(
        m.plain
            .contains("Employee area reached its user limit (3/3)"),
        "{}",
        m.plain
    );
    assert!(m.plain.contains("at 50% or more (1/2)"), "{}", m.plain);
    assert!(m.html.contains(&format!("{ADMIN_URL}/ui/users")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.mails().len(), 1, "the digest is sent once");
    let after = api
        .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
        .await;
    assert_eq!(after["outbox"]["digest"], 0, "{after}");
    drop(server);
}

/// An SMTP server that refuses (451) or is down: the delivery records the reply code or the
/// error, is retried, and is delivered once the server is back; Retry sends it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_a_refusing_or_down_smtp_server_is_recorded_and_retried() {
    let Some(mut sink) = Sink::start() else {
        return;
    };
    sink.listen(Some(451));
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir);
    let server = serve(&db, dir, sink.port, "");
    let api = Api::new(&server);
    let w = mail_world(dir, &db, &api).await;
    // The ledger's clock moves a second every 100 ms, so that backoffs pass.
    let clock_dir = dir.to_path_buf();
    let clock = tokio::spawn(async move {
        let mut t = T0;
        loop {
            t += 1;
            set_clock(&clock_dir, t);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let queued = api
        .ok(
            Method::POST,
            "/api/v1/notifications/test-mail",
            &w.admin,
            None,
        )
        .await;
    let id = queued["delivery"].as_i64().unwrap();
    let status_of = |v: &Value| {
        v["retrying"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
    };
    let mut seen = None;
    for _ in 0..100 {
        let v = api
            .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
            .await;
        if let Some(d) = status_of(&v) {
            seen = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = seen.expect("the refused test mail is listed as retrying");
    assert_eq!(d["last_status"], 451, "{d}");
    assert!(d["last_error"].as_str().unwrap().contains("451"), "{d}");

    // Down: connection refused, recorded with the error text.
    sink.stop();
    let mut refused = None;
    for _ in 0..100 {
        let v = api
            .ok(
                Method::GET,
                &format!("/api/v1/deliveries/{id}"),
                &w.admin,
                None,
            )
            .await;
        let attempts = v["attempts"].as_array().unwrap().clone();
        if let Some(a) = attempts
            .iter()
            .find(|a| a["status"].is_null() && a["error"].is_string())
        {
            refused = Some(a.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = refused.expect("an attempt against the stopped server");
    assert!(
        a["error"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{}", sink.port)),
        "{a}"
    );
    assert!(sink.mails().is_empty());

    // Back: the retry delivers it, once.
    sink.listen(None);
    let mails = sink.wait_for(30, |m| !m.is_empty()).await;
    assert_eq!(
        mails[0].subject,
        "[Seatkeeper] Test mail: mail delivery works"
    );
    let d = api
        .ok(
            Method::GET,
            &format!("/api/v1/deliveries/{id}"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(d["state"], "delivered", "{d}");
    assert_eq!(d["last_status"], 250, "{d}");
    // Retry (redeliver) sends it again, with the same Message-ID for the receiver to drop.
    api.ok(
        Method::POST,
        &format!("/api/v1/deliveries/{id}/redeliver"),
        &w.admin,
        None,
    )
    .await;
    let mails = sink.wait_for(20, |m| m.len() == 2).await;
    assert_eq!(mails[0].header("Message-ID"), mails[1].header("Message-ID"));
    clock.abort();
    drop(server);
}

/// Without `[mail]`, the test mail is refused with the reason; without an address, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_test_mail_without_smtp_or_address_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir);
    let server = crate::server::start(&db, dir);
    let api = Api::new(&server);
    let w = crate::server::world(&db, dir, &api, 2, 2).await;
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/notifications/test-mail",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "mail_not_configured");
    let state = api
        .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
        .await;
    assert_eq!(state["mail"]["configured"], false, "{state}");
    drop(server);

    // Configured, but no responsible address and no recipient: 422.
    let server = serve(&db, dir, crate::support_smtp::free_port(), "");
    let api = Api::new(&server);
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/notifications/test-mail",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no responsible address"),
        "{v}"
    );
    drop(server);

    // Plain SMTP to a host that is not this machine: refused when the server starts.
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[mail]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"s@example.com\"\n",
    )
    .unwrap();
    let out = crate::bin()
        .current_dir(dir)
        .args([
            "--database",
            &db,
            "serve",
            "--config",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only allowed to a relay on this machine"),
        "{err}"
    );
}

/// `seatkeeper notify`: the settings changed and shown, a test mail queued, failed mail
/// listed, retry; straight on the ledger.
#[test]
fn n1_notify_commands_change_settings_and_queue_a_test_mail() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    let s = crate::json(
        &db,
        dir,
        &[
            "notify",
            "settings",
            "--responsible-email",
            TO,
            "--mail",
            "users=on,seats=off",
            "--threshold",
            "80",
            "--product-threshold",
            "crm=70",
            "--expiry-days",
            "14,3",
        ],
    );
    assert_eq!(s["responsible_email"], TO, "{s}");
    assert_eq!(s["mail"]["users"], true);
    assert_eq!(s["mail"]["seats"], false);
    assert_eq!(s["mail"]["limits"], true);
    assert_eq!(s["threshold_percent"], 80);
    assert_eq!(s["product_thresholds"]["crm"], 70);
    assert_eq!(s["expiry_notice_days"], json!([14, 3]));
    let shown = crate::ok(&db, dir, &["notify", "settings"]);
    assert!(
        shown.contains(TO) && shown.contains("threshold.crm: 70%"),
        "{shown}"
    );
    let bad = crate::run(&db, dir, &["notify", "settings", "--mail", "weather=on"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not an event class"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let queued = crate::json(&db, dir, &["notify", "test-mail"]);
    let id = queued["delivery"].as_i64().unwrap();
    let listed = crate::json(&db, dir, &["notify", "mail"]);
    assert_eq!(listed["outbox"]["pending"], 1, "{listed}");
    assert_eq!(listed["failed"], json!([]), "nothing failed yet");
    let retried = crate::run(&db, dir, &["notify", "retry", &id.to_string()]);
    assert!(retried.status.success());
    let cleared = crate::json(&db, dir, &["notify", "settings", "--responsible-email", ""]);
    assert_eq!(cleared["responsible_email"], Value::Null, "{cleared}");
    let refused = crate::run(&db, dir, &["notify", "test-mail"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no responsible address"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// A mail that cannot be sent for the whole retry window ends "failed", listed with its
/// error among the failed mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1_mail_that_keeps_failing_ends_failed_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = dir.join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir);
    // Nothing listens on this port: every attempt is refused.
    let port = crate::support_smtp::free_port();
    let file = dir.join("seatkeeper.toml");
    std::fs::write(
        &file,
        config(port, "").replace("timeout_secs = 2\n", "timeout_secs = 2\nretry_hours = 1\n"),
    )
    .unwrap();
    let server = start_flags(&db, dir, &["--config", file.to_str().unwrap()]);
    let api = Api::new(&server);
    let w = mail_world(dir, &db, &api).await;
    let id = api
        .ok(
            Method::POST,
            "/api/v1/notifications/test-mail",
            &w.admin,
            None,
        )
        .await["delivery"]
        .as_i64()
        .unwrap();
    // A minute of the ledger's clock every 100 ms: the hour's retries pass in seconds.
    let clock_dir = dir.to_path_buf();
    let clock = tokio::spawn(async move {
        let mut t = T0;
        loop {
            t += 60;
            set_clock(&clock_dir, t);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut failed = None;
    for _ in 0..300 {
        let v = api
            .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
            .await;
        if let Some(d) = v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
        {
            failed = Some((d.clone(), v["outbox"].clone()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    clock.abort();
    let (d, outbox) = failed.expect("the mail ends failed");
    assert_eq!(d["state"], "failed", "{d}");
    assert!(d["attempts"].as_i64().unwrap() > 1, "{d}");
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{port}")),
        "{d}"
    );
    assert_eq!(outbox["failed_mail"], 1, "{outbox}");
    drop(server);
}
