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

/// The newest audit record's id: unchanged means nothing was audited (nor changed).
async fn last_audit(api: &Api, w: &World) -> Value {
    api.ok(Method::GET, "/api/v1/audit?limit=1", &w.admin, None)
        .await["items"][0]["id"]
        .clone()
}

async fn refused(api: &Api, w: &World, method: Method, path: &str, body: Value) -> String {
    let (status, v) = api.call(method, path, Some(&w.admin), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
    assert_eq!(v["error"]["code"], "invalid", "{path}: {v}");
    v["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_9_bad_input_is_refused_at_the_edge_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api, w) = served(dir.path()).await;
    let before = last_audit(&api, &w).await;
    let megabyte = "x".repeat(1 << 20);
    let user = |name: &str| json!({"login": "eve", "area": "employee", "name": name});
    let m = refused(&api, &w, Method::POST, "/api/v1/users", user("Eve\0")).await;
    assert!(m.contains("name contains a control character"), "{m}");
    let m = refused(&api, &w, Method::POST, "/api/v1/users", user(&megabyte)).await;
    assert!(m.contains("name is too long"), "{m}");
    let m = refused(
        &api,
        &w,
        Method::POST,
        "/api/v1/users",
        json!({"login": "eve", "area": "employee", "email": format!("{megabyte}@x.org")}),
    )
    .await;
    assert!(m.contains("e-mail is too long"), "{m}");
    for path in ["Sales/../Admin".to_string(), vec!["f"; 1000].join("/")] {
        let m = refused(
            &api,
            &w,
            Method::POST,
            "/api/v1/folders",
            json!({"path": path}),
        )
        .await;
        assert!(m.contains("folder"), "{m}");
    }
    let m = refused(
        &api,
        &w,
        Method::PUT,
        "/api/v1/users/admin/password",
        json!({"password": megabyte}),
    )
    .await;
    assert!(m.contains("password is too long"), "{m}");
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": megabyte})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // The CSV import refuses the same things, line by line.
    let csv = api
        .http
        .post(format!("{}/api/v1/users/import", api.base))
        .bearer_auth(&w.admin)
        .header("content-type", "text/csv")
        .body("login,name,folder\neve,Eve\0,\nmal,Mal,a/../b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = csv.json().await.unwrap();
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("line 2") && m.contains("line 3"), "{m}");

    assert_eq!(last_audit(&api, &w).await, before, "nothing was changed");
    let users = api
        .ok(Method::GET, "/api/v1/users?q=eve", &w.admin, None)
        .await;
    assert_eq!(users["items"], json!([]), "{users}");
    let folders = api.ok(Method::GET, "/api/v1/folders", &w.admin, None).await;
    assert!(!folders.to_string().contains("Admin"), "{folders}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_9_answers_that_carry_tokens_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api, w) = served(dir.path()).await;
    super::server::create_user(&api, &w, "ann", "").await;
    let calls = [
        (
            "/api/v1/auth/login",
            None,
            json!({"login": "admin", "password": "correct horse battery staple"}),
        ),
        (
            "/api/v1/tokens",
            Some(&w.admin),
            json!({"name": "t", "scope": "admin"}),
        ),
        (
            "/integration/v1/login",
            Some(&w.app),
            json!({"login": "ann", "client": "e2e"}),
        ),
    ];
    for (path, token, body) in calls {
        let mut req = api.http.post(format!("{}{path}", api.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        assert_eq!(
            resp.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    // Errors too (a refused sign-in), and the admin lists.
    let resp = api
        .http
        .get(format!("{}/api/v1/users", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}
