//! Issue 13 item 9: the smaller defects a fault-and-abuse run found, each tested through the
//! real binary (a real server process where HTTP is involved).

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::server::{Api, Server, World, prepare, start, world};
use super::{ok, run};

/// A SQLite ledger with the usual licensed world, served.
async fn served(dir: &Path) -> (Server, Api, World) {
    prepare("ledger.db", dir);
    let server = start("ledger.db", dir);
    let api = Api::new(&server);
    let w = world("ledger.db", dir, &api, 2, 2).await;
    (server, api, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_9_a_license_request_never_changes_the_company_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api, w) = served(dir.path()).await;
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/license-request",
            Some(&w.admin),
            Some(json!({"company_id": "GLOBEX"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "company_id_change");
    // The explicit change is refused while the ACME license is loaded.
    let (status, v) = api
        .call(
            Method::PUT,
            "/api/v1/license/company-id",
            Some(&w.admin),
            Some(json!({"company_id": "GLOBEX"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "company_id_locked");
    let info = api
        .ok(Method::GET, "/api/v1/instance", &w.admin, None)
        .await;
    assert_eq!(info["company_id"], "ACME");
}

#[test]
fn x13_9_the_company_id_changes_only_by_its_own_confirmed_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok("x.db", d, &["license", "request", "--company-id", "ACME"]);
    let refused = run("x.db", d, &["license", "request", "--company-id", "GLOBEX"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("license company-id GLOBEX --confirm"), "{err}");
    let unconfirmed = run("x.db", d, &["license", "company-id", "GLOBEX"]);
    assert_eq!(unconfirmed.status.code(), Some(2));
    ok("x.db", d, &["license", "company-id", "GLOBEX", "--confirm"]);
    let req: Value = serde_json::from_str(&ok("x.db", d, &["license", "request"])).unwrap();
    assert_eq!(req["company_id"], "GLOBEX");
}

/// Signs `login` in through the admin API and answers the bearer token.
async fn sign_in(api: &Api, login: &str, password: &str) -> String {
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": login, "password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_9_a_blocked_administrators_signin_stays_dead_after_unblock() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api, w) = served(dir.path()).await;
    super::server::create_user(&api, &w, "boss", "").await;
    api.ok(
        Method::PUT,
        "/api/v1/users/boss/password",
        &w.admin,
        Some(json!({"password": "a long enough password"})),
    )
    .await;
    let boss = sign_in(&api, "boss", "a long enough password").await;
    api.ok(Method::GET, "/api/v1/auth/me", &boss, None).await;
    api.ok(
        Method::POST,
        "/api/v1/users/boss/block",
        &w.admin,
        Some(json!({})),
    )
    .await;
    api.ok(Method::POST, "/api/v1/users/boss/activate", &w.admin, None)
        .await;
    let (status, v) = api
        .call(Method::GET, "/api/v1/auth/me", Some(&boss), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    // A new sign-in works.
    let again = sign_in(&api, "boss", "a long enough password").await;
    api.ok(Method::GET, "/api/v1/auth/me", &again, None).await;
}
