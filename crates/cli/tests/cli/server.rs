//! End-to-end tests of `seatkeeper serve`: real server processes, real HTTP, on a SQLite file
//! and on PostgreSQL. Time is moved through the server's clock file, never by sleeping past
//! a timeout.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use seatkeeper_core::Permission;
use seatkeeper_server::auth::Access;
use serde_json::{Value, json};

use super::{bin, issue_license, ok, pg_database};

mod directory;
mod directory_race;
mod directory_story;
mod event_schemas;
mod scim;
mod signin;
mod webhooks;

pub(crate) const T0: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z
pub(crate) const IDLE_SECS: i64 = 600;

pub(crate) struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator does (SIGTERM) and waits for it to exit.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.child.wait().unwrap()
    }
}

/// Starts `seatkeeper serve` on a free port and waits until it listens.
pub(crate) fn start(db: &str, dir: &Path) -> Server {
    start_with(db, dir, |_| {})
}

/// [`start`] with more `serve` flags.
pub(crate) fn start_flags(db: &str, dir: &Path, extra: &[&str]) -> Server {
    start_full(db, dir, extra, |_| {})
}

/// Like [`start`], with `configure` applied to the command before it is spawned.
pub(crate) fn start_with(db: &str, dir: &Path, configure: impl FnOnce(&mut Command)) -> Server {
    start_full(db, dir, &[], configure)
}

fn start_full(
    db: &str,
    dir: &Path,
    extra: &[&str],
    configure: impl FnOnce(&mut Command),
) -> Server {
    let mut command = bin();
    configure(&mut command);
    let mut child = command
        .current_dir(dir)
        .args([
            "--database",
            db,
            "--vendor-key",
            "v.pub.pem",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--clock-file",
            "clock",
            "--idle-timeout-secs",
            &IDLE_SECS.to_string(),
            "--reap-interval-secs",
            "1",
        ])
        .args(extra)
        .env("SEATKEEPER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Seatkeeper listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server did not start listening");
    Server { child, base }
}

pub(crate) fn set_clock(dir: &Path, at: i64) {
    std::fs::write(dir.join("clock"), at.to_string()).unwrap();
}

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Api {
    pub(crate) fn new(server: &Server) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.base.clone(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, v) = self.call(method.clone(), path, Some(token), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    pub(crate) async fn login(&self, token: &str, user: &str) -> Value {
        self.ok(
            Method::POST,
            "/integration/v1/login",
            token,
            Some(json!({"login": user, "client": "e2e"})),
        )
        .await
    }
}

/// Vendor key, a license request and a license with named and floating all-modules seats
/// and a module product, imported through the admin API after signing in.
pub(crate) struct World {
    pub(crate) admin: String,
    pub(crate) app: String,
}

pub fn set_admin_password(db: &str, dir: &Path) {
    let mut child = bin()
        .current_dir(dir)
        .args([
            "--database",
            db,
            "admin",
            "password",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
}

pub(crate) async fn world(db: &str, dir: &Path, api: &Api, named: u32, floating: u32) -> World {
    world_limited(db, dir, api, named, floating, 1000).await
}

/// [`world`] with `max_users` employees at most (the admin is not counted).
pub(crate) async fn world_limited(
    db: &str,
    dir: &Path,
    api: &Api,
    named: u32,
    floating: u32,
    max_users: u32,
) -> World {
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "wrong password!!"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    let signin = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "correct horse battery staple"})),
        )
        .await;
    assert_eq!(signin.0, StatusCode::OK, "{}", signin.1);
    let admin = signin.1["token"].as_str().unwrap().to_string();
    let request = api
        .ok(
            Method::POST,
            "/api/v1/license-request",
            &admin,
            Some(json!({"company_id": "ACME"})),
        )
        .await;
    std::fs::write(dir.join("req.json"), request.to_string()).unwrap();
    let order = json!({
        "products": [
            {"code": "crm", "name": "CRM", "features": ["sales"], "all_modules": true},
            {"code": "reports", "name": "Reports", "features": ["dashboards"], "all_modules": false}
        ],
        "packages": [
            {"serial": "N-1", "product": "crm", "kind": "named", "area": "employee", "seats": named},
            {"serial": "F-1", "product": "crm", "kind": "concurrent", "area": "employee", "seats": floating},
            {"serial": "M-1", "product": "reports", "kind": "named", "area": "employee", "seats": 5}
        ],
        "area_limits": [{"area": "employee", "max_users": max_users}]
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
    World {
        admin,
        app: token["token"].as_str().unwrap().to_string(),
    }
}

pub(crate) fn prepare(db: &str, dir: &Path) {
    set_clock(dir, T0);
    ok(db, dir, &["vendor", "keygen", "--out", "v"]);
    set_admin_password(db, dir);
}

/// Imports `count` employees `{prefix}0`, `{prefix}1`, … through the admin API's CSV import.
pub(crate) async fn import_employees(api: &Api, w: &World, prefix: &str, count: usize) {
    let csv: String = std::iter::once("login,area".to_string())
        .chain((0..count).map(|i| format!("{prefix}{i},employee")))
        .collect::<Vec<_>>()
        .join("\n");
    let imported = api
        .http
        .post(format!("{}/api/v1/users/import", api.base))
        .bearer_auth(&w.admin)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
}

pub(crate) async fn create_user(api: &Api, w: &World, login: &str, folder: &str) {
    api.ok(
        Method::POST,
        "/api/v1/users",
        &w.admin,
        Some(json!({"login": login, "area": "employee", "folder": folder})),
    )
    .await;
}

/// S1–S4 over HTTP, the 401/403 walk of the route table, and the OpenAPI document.
async fn scenario(db: &str, dir: &Path) {
    prepare(db, dir);
    let server = start(db, dir);
    let api = Api::new(&server);
    let w = world(db, dir, &api, 2, 2).await;

    // X1 placement: one floating and one dedicated seat in Sales.
    api.ok(
        Method::POST,
        "/api/v1/folders",
        &w.admin,
        Some(json!({"path": "Sales"})),
    )
    .await;
    for serial in ["F-1", "N-1"] {
        api.ok(
            Method::POST,
            "/api/v1/placements",
            &w.admin,
            Some(json!({"serial": serial, "folder": "Sales", "seats": 1})),
        )
        .await;
    }
    for i in 1..=5 {
        create_user(&api, &w, &format!("s{i}"), "Sales").await;
    }
    create_user(&api, &w, "blocked", "").await;

    // S2: the four steps, in order; then nothing all-modules is left.
    let mut sessions = Vec::new();
    let mut steps = Vec::new();
    for i in 1..=4 {
        let a = api.login(&w.app, &format!("s{i}")).await;
        assert_eq!(a["outcome"], "allowed", "{a}");
        steps.push(format!(
            "{}@{}",
            a["auto_allocated"]["seat"].as_str().unwrap(),
            a["auto_allocated"]["folder"].as_str().unwrap()
        ));
        sessions.push(a["session_id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        steps,
        [
            "floating@Sales",
            "floating@/",
            "dedicated@Sales",
            "dedicated@/"
        ]
    );
    let refused = api.login(&w.app, "s5").await;
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["reason"], "no_license");
    // S1: unknown and blocked users are refused with their reason.
    assert_eq!(api.login(&w.app, "ghost").await["reason"], "unknown_user");
    api.ok(
        Method::POST,
        "/api/v1/users/blocked/block",
        &w.admin,
        Some(json!({"reason": "left"})),
    )
    .await;
    assert_eq!(api.login(&w.app, "blocked").await["reason"], "blocked");

    // Entitlement and heartbeat.
    let e = api
        .ok(
            Method::GET,
            &format!(
                "/integration/v1/entitlement?session_id={}&feature=sales",
                sessions[0]
            ),
            &w.app,
            None,
        )
        .await;
    assert_eq!(e["allowed"], true);
    let e = api
        .ok(
            Method::GET,
            "/integration/v1/entitlement?login=s5&feature=sales",
            &w.app,
            None,
        )
        .await;
    assert_eq!(e["allowed"], false);

    // S4: recalling s3's dedicated seat while s3 is logged in: "releasing" until logout.
    let recall = api
        .ok(
            Method::POST,
            "/api/v1/recalls",
            &w.admin,
            Some(json!({"users": ["s3"], "products": ["crm"]})),
        )
        .await;
    assert_eq!(recall["releasing"][0]["login"], "s3");
    let s3 = api
        .ok(Method::GET, "/api/v1/users/s3", &w.admin, None)
        .await;
    assert_eq!(s3["licenses"][0]["status"], "releasing");
    assert_eq!(
        api.login(&w.app, "s5").await["outcome"],
        "refused",
        "still counted"
    );
    api.ok(
        Method::POST,
        "/integration/v1/logout",
        &w.app,
        Some(json!({"session_id": sessions[2]})),
    )
    .await;
    let s3 = api
        .ok(Method::GET, "/api/v1/users/s3", &w.admin, None)
        .await;
    assert_eq!(s3["licenses"], json!([]), "freed at session end");
    let s5 = api.login(&w.app, "s5").await;
    assert_eq!(s5["auto_allocated"]["seat"], "dedicated", "{s5}");
    assert_eq!(s5["auto_allocated"]["folder"], "Sales");
    let (status, v) = api
        .call(
            Method::POST,
            "/integration/v1/logout",
            Some(&w.app),
            Some(json!({"session_id": sessions[2]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "unknown_session");

    // S3: s2 keeps heartbeating, s1 does not; after the idle timeout the reaper frees s1's
    // floating seat only.
    set_clock(dir, T0 + IDLE_SECS / 2);
    api.ok(
        Method::POST,
        "/integration/v1/heartbeat",
        &w.app,
        Some(json!({"session_id": sessions[1]})),
    )
    .await;
    set_clock(dir, T0 + IDLE_SECS + 60);
    let mut ended = false;
    for _ in 0..100 {
        // Polled through the admin API: a heartbeat would keep the session alive.
        let s1 = api
            .ok(Method::GET, "/api/v1/sessions?login=s1", &w.admin, None)
            .await;
        if s1["items"] == json!([]) {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the reaper ended the idle session");
    let (status, _) = api
        .call(
            Method::POST,
            "/integration/v1/heartbeat",
            Some(&w.app),
            Some(json!({"session_id": sessions[0]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a reaped session is gone");
    let (status, _) = api
        .call(
            Method::POST,
            "/integration/v1/heartbeat",
            Some(&w.app),
            Some(json!({"session_id": sessions[1]})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session with a heartbeat lives on"
    );
    // Every session without a heartbeat was reaped; only s2's is left. Lists paginate.
    let list = api
        .ok(Method::GET, "/api/v1/sessions", &w.admin, None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["login"], "s2");
    assert_eq!(list["items"][0]["floating"], json!(["crm"]));
    assert_eq!(api.login(&w.app, "s4").await["outcome"], "allowed");
    let list = api
        .ok(Method::GET, "/api/v1/sessions?limit=1", &w.admin, None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_offset"], 1, "{list}");

    route_walk(&api, &w).await;
    ui_walk(&api, &w).await;

    // The served OpenAPI document is the checked-in one.
    let doc = api.ok(Method::GET, "/api/v1/openapi.json", "", None).await;
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc, checked_in,
        "docs/openapi.json is stale: run `cargo run -q -- openapi > docs/openapi.json`"
    );
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                match seg {
                    "{id}" => "999999",
                    "{permission}" => "view_licenses",
                    _ => "nobody-here",
                }
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Walks every route of the table: no credential → 401; a bad one → 401; the wrong scope →
/// 403; a principal without the route's permission → 403; one with it gets past the check.
async fn route_walk(api: &Api, w: &World) {
    // A viewer (view_licenses only) and a user with no permission at all, each with an
    // admin-scope token.
    create_user(api, w, "viewer", "").await;
    create_user(api, w, "nobody", "").await;
    let role = api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &w.admin,
            Some(json!({"name": "Viewers", "kind": "functional"})),
        )
        .await;
    let id = role["id"].as_i64().unwrap();
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{id}/permissions/view_licenses"),
        &w.admin,
        None,
    )
    .await;
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{id}/members/viewer"),
        &w.admin,
        None,
    )
    .await;
    let mut tokens = Vec::new();
    for owner in ["viewer", "nobody"] {
        let t = api
            .ok(
                Method::POST,
                "/api/v1/tokens",
                &w.admin,
                Some(json!({"name": owner, "scope": "admin", "owner": owner})),
            )
            .await;
        tokens.push(t["token"].as_str().unwrap().to_string());
    }
    let (viewer, nobody) = (&tokens[0], &tokens[1]);
    // A provisioning token made while its owner held `provision_users`, which then goes.
    create_user(api, w, "prov", "").await;
    let role = api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &w.admin,
            Some(json!({"name": "Provisioners", "kind": "functional", "parent_id": null})),
        )
        .await;
    let prov_role = role["id"].as_i64().unwrap();
    for step in [
        format!("/api/v1/roles/{prov_role}/permissions/provision_users"),
        format!("/api/v1/roles/{prov_role}/members/prov"),
    ] {
        api.ok(Method::PUT, &step, &w.admin, None).await;
    }
    let lapsed = api
        .ok(
            Method::POST,
            "/api/v1/tokens",
            &w.admin,
            Some(json!({"name": "idp", "scope": "provisioning", "owner": "prov"})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = api
        .call(Method::GET, "/scim/v2/Users", Some(&lapsed), None)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the provisioning token works while it may"
    );
    api.ok(
        Method::DELETE,
        &format!("/api/v1/roles/{prov_role}/members/prov"),
        &w.admin,
        None,
    )
    .await;

    let specs = seatkeeper_server::routes::specs();
    assert!(specs.len() > 40);
    for spec in &specs {
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let path = concrete(spec.path);
        let what = format!("{} {}", spec.method, spec.path);
        if spec.access == Access::Public {
            let (s, _) = api.call(method.clone(), &path, None, Some(json!({}))).await;
            assert_ne!(s, StatusCode::UNAUTHORIZED, "{what} is public");
            continue;
        }
        if spec.access == Access::Metrics {
            // This server has no [metrics] section: the route says so, to anyone
            // (tests/cli/metrics.rs walks its token).
            for token in [None, Some(w.admin.as_str())] {
                let (s, v) = api.call(method.clone(), &path, token, None).await;
                assert_eq!(
                    s,
                    StatusCode::NOT_FOUND,
                    "{what} while metrics are off: {v}"
                );
                assert_eq!(v["error"]["code"], "not_found");
            }
            continue;
        }
        let (s, v) = api.call(method.clone(), &path, None, Some(json!({}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} without a token: {v}");
        if spec.path.starts_with("/scim/") {
            // SCIM answers in its own error shape (RFC 7644 §3.12).
            assert_eq!(v["status"], "401", "{what}: {v}");
            assert_eq!(
                v["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        } else {
            assert_eq!(v["error"]["code"], "unauthenticated", "{what}");
        }
        let (s, _) = api
            .call(
                method.clone(),
                &path,
                Some("ska_not-a-real-token"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} with a bad token");
        match spec.access {
            Access::Public | Access::Metrics => {}
            Access::Integration => {
                let (s, _) = api
                    .call(method.clone(), &path, Some(&w.admin), Some(json!({})))
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{what} with an admin token");
            }
            Access::Admin => {
                let (s, _) = api
                    .call(method.clone(), &path, Some(&w.app), Some(json!({})))
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{what} with an integration token");
                let (s, _) = api
                    .call(method.clone(), &path, Some(nobody), Some(json!({})))
                    .await;
                assert!(
                    s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN,
                    "{what}"
                );
            }
            Access::Provision => {
                // Only a `provisioning` token holding `provision_users`: not the application's,
                // not an administrator's (even the built-in one's), not one whose owner lost
                // the permission.
                for (token, whose) in [
                    (&w.app, "an integration token"),
                    (&w.admin, "an admin token"),
                    (viewer, "a view_licenses token"),
                    (
                        &lapsed,
                        "a provisioning token whose owner lost provision_users",
                    ),
                ] {
                    let (s, v) = api
                        .call(method.clone(), &path, Some(token), Some(json!({})))
                        .await;
                    assert_eq!(s, StatusCode::FORBIDDEN, "{what} with {whose}: {v}");
                }
            }
            Access::Requires(p) => {
                let (s, _) = api
                    .call(method.clone(), &path, Some(&w.app), Some(json!({})))
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{what} with an integration token");
                let (s, v) = api
                    .call(method.clone(), &path, Some(nobody), Some(json!({})))
                    .await;
                assert_eq!(s, StatusCode::FORBIDDEN, "{what} without {p}: {v}");
                assert_eq!(v["error"]["code"], "forbidden");
                let (s, v) = api
                    .call(method.clone(), &path, Some(viewer), Some(json!({})))
                    .await;
                if p == Permission::ViewLicenses {
                    assert!(
                        s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN,
                        "{what} with view_licenses: {s} {v}"
                    );
                } else {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{what} with view_licenses only");
                }
            }
        }
    }
    // Routes outside the table do not exist.
    let (s, v) = api
        .call(Method::GET, "/api/v1/nothing-here", Some(&w.admin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_s4_x2_over_http_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario("ledger.db", dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_s4_x2_over_http_on_postgres() {
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    scenario(&url, dir.path()).await;
}

/// Several `seatkeeper serve` nodes on one PostgreSQL database race logins for the last
/// floating seats: never more sessions hold seats than exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_several_nodes_race_for_the_last_floating_seats_on_postgres() {
    const SEATS: usize = 6;
    const USERS: usize = 40;
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepare(&url, dir);
    let nodes: Vec<Server> = (0..3).map(|_| start(&url, dir)).collect();
    let api = Api::new(&nodes[0]);
    // One named seat (taken below) so that only floating seats are left to race for.
    let w = world(&url, dir, &api, 1, u32::try_from(SEATS).unwrap()).await;
    create_user(&api, &w, "holder", "").await;
    api.ok(
        Method::POST,
        "/api/v1/grants",
        &w.admin,
        Some(json!({"users": ["holder"], "products": ["crm"]})),
    )
    .await;
    import_employees(&api, &w, "racer", USERS).await;

    let mut tasks = Vec::new();
    for i in 0..USERS {
        let base = nodes[i % nodes.len()].base.clone();
        let token = w.app.clone();
        tasks.push(tokio::spawn(async move {
            let v: Value = reqwest::Client::new()
                .post(format!("{base}/integration/v1/login"))
                .bearer_auth(token)
                .json(&json!({"login": format!("racer{i}")}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["outcome"] == "allowed"
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, SEATS, "exactly the floating seats that exist");
    let summary = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
    let floating = summary["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "crm" && p["kind"] == "concurrent")
        .cloned()
        .unwrap();
    assert_eq!(floating["used"], SEATS, "{floating}");
    assert_eq!(floating["free"], 0);
}

/// D2–D6 and N2 over HTTP: a role tree, a product bound to the parent role, a preview that
/// changes nothing, the applied run and its system message, explain through the ancestor,
/// pending needs for the shortage, and the settings and role-tree routes around them.
async fn distribution(db: &str, dir: &Path) {
    prepare(db, dir);
    let server = start(db, dir);
    let api = Api::new(&server);
    // Two named crm seats for three members: one need stays unmet.
    let w = world(db, dir, &api, 2, 1).await;
    for u in ["m1", "m2", "m3", "outsider"] {
        create_user(&api, &w, u, "").await;
    }
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
    let sales = api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &w.admin,
            Some(json!({"name": "Sales", "kind": "organizational", "parent_id": org})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let added = api
        .ok(
            Method::POST,
            &format!("/api/v1/roles/{sales}/members"),
            &w.admin,
            Some(json!({"logins": ["m1", "m2", "m3"]})),
        )
        .await;
    assert_eq!(added["changed"], 3, "{added}");
    assert_eq!(added["member"], true);
    assert_eq!(added["redistribution"], Value::Null, "the trigger is off");
    // Bulk membership is all or nothing.
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/roles/{sales}/members"),
            Some(&w.admin),
            Some(json!({"logins": ["outsider", "ghost"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "unknown_user");
    let bound = api
        .ok(
            Method::PUT,
            &format!("/api/v1/roles/{org}/products/crm"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(
        (bound["bound"].clone(), bound["changed"].clone()),
        (json!(true), json!(1))
    );
    let (s, v) = api
        .call(
            Method::PUT,
            &format!("/api/v1/roles/{org}/products/nope"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "unknown_product");
    let roles = api.ok(Method::GET, "/api/v1/roles", &w.admin, None).await;
    let role = |id: i64| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(role(org)["products"], json!(["crm"]));
    assert_eq!(role(sales)["products"], json!([]));
    assert_eq!(role(sales)["members"], json!(["m1", "m2", "m3"]));

    let crm_named_used = || async {
        let s = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
        s["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["product"] == "crm" && p["kind"] == "named")
            .unwrap()["used"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(crm_named_used().await, 0);

    // D4: the preview, for the parent role, changes nothing.
    let scope = json!({"kind": "role", "role": org});
    let preview = api
        .ok(
            Method::POST,
            "/api/v1/redistributions/preview",
            &w.admin,
            Some(json!({"scope": scope, "manual": "keep"})),
        )
        .await;
    assert_eq!(preview["preview"], true, "{preview}");
    assert_eq!(preview["id"], Value::Null);
    assert_eq!(preview["scope"], "role \"Org\"");
    assert_eq!(
        (
            &preview["users"],
            &preview["granted"],
            &preview["recalled"],
            &preview["unmet"]
        ),
        (&json!(3), &json!(2), &json!(0), &json!(1)),
        "{preview}"
    );
    assert_eq!(
        preview["unmet_needs"][0]["login"], "m3",
        "the youngest account waits"
    );
    assert_eq!(preview["unmet_needs"][0]["detail"], "no_seat_free");
    let limited = api
        .ok(
            Method::POST,
            "/api/v1/redistributions/preview",
            &w.admin,
            Some(json!({"scope": scope, "manual": "keep", "detail": 1})),
        )
        .await;
    assert_eq!(limited["granted"], 2, "counts are complete");
    assert_eq!(limited["grants"].as_array().unwrap().len(), 1, "{limited}");
    assert_eq!(crm_named_used().await, 0, "a preview changes nothing");
    assert_eq!(
        api.ok(Method::GET, "/api/v1/messages/unread", &w.admin, None)
            .await["unread"],
        0
    );
    assert_eq!(
        api.ok(Method::GET, "/api/v1/redistributions", &w.admin, None)
            .await,
        json!([])
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/redistributions/preview",
            Some(&w.admin),
            Some(json!({"scope": {"kind": "role", "role": 999_999}})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "unknown_role");
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/redistributions",
            Some(&w.admin),
            Some(json!({"scope": scope, "manual": "sometimes"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // D3: apply; the result is the preview's, and a system message carries the counts (N2).
    let run = api
        .ok(
            Method::POST,
            "/api/v1/redistributions",
            &w.admin,
            Some(json!({"scope": scope, "manual": "keep"})),
        )
        .await;
    assert_eq!(run["preview"], false, "{run}");
    assert_eq!(
        (&run["granted"], &run["recalled"], &run["unmet"]),
        (&json!(2), &json!(0), &json!(1)),
        "{run}"
    );
    let run_id = run["id"].as_i64().unwrap();
    let message_id = run["message_id"].as_i64().unwrap();
    assert_eq!(crm_named_used().await, 2);
    let runs = api
        .ok(
            Method::GET,
            "/api/v1/redistributions?limit=5",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(runs[0]["id"], run_id, "{runs}");
    assert_eq!(runs[0]["status"], "done");
    assert_eq!(runs[0]["scope"], scope);
    assert_eq!(runs[0]["granted"], 2);
    assert_eq!(
        api.ok(Method::GET, "/api/v1/messages/unread", &w.admin, None)
            .await["unread"],
        1
    );
    let messages = api
        .ok(Method::GET, "/api/v1/messages?unread=true", &w.admin, None)
        .await;
    let m = &messages[0];
    assert_eq!(m["id"], message_id, "{messages}");
    assert_eq!(m["kind"], "redistribution");
    assert_eq!(m["read"], false);
    assert!(m["title"].as_str().unwrap().contains("2 granted"), "{m}");
    assert_eq!(
        (
            &m["body"]["granted"],
            &m["body"]["recalled"],
            &m["body"]["unmet"]
        ),
        (&json!(2), &json!(0), &json!(1))
    );
    assert_eq!(m["body"]["unmet_needs"][0]["login"], "m3");
    let read = api
        .ok(
            Method::POST,
            &format!("/api/v1/messages/{message_id}/read"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(read["marked"], 1);
    assert_eq!(
        api.ok(Method::GET, "/api/v1/messages?unread=true", &w.admin, None)
            .await,
        json!([])
    );
    assert_eq!(
        api.ok(Method::GET, "/api/v1/messages", &w.admin, None)
            .await[0]["read"],
        true
    );
    for bad in [0, 999_999] {
        let (s, v) = api
            .call(
                Method::POST,
                &format!("/api/v1/messages/{bad}/read"),
                Some(&w.admin),
                None,
            )
            .await;
        let expected = if bad == 0 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(s, expected, "message {bad}: {v}");
    }

    // D6: m1 holds crm through Sales, bound on its ancestor Org; m3 waits for a seat.
    let e = api
        .ok(Method::GET, "/api/v1/users/m1/explain/crm", &w.admin, None)
        .await;
    assert_eq!(e["holds"], true, "{e}");
    assert_eq!(e["reasons"][0]["kind"], "role");
    assert_eq!(e["reasons"][0]["role"], sales);
    assert_eq!(e["reasons"][0]["via"], org);
    assert_eq!(e["reasons"][0]["role_name"], "Sales");
    assert_eq!(e["reasons"][0]["via_name"], "Org");
    assert!(
        e["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("via its ancestor \"Org\""),
        "{e}"
    );
    let e = api
        .ok(Method::GET, "/api/v1/users/m3/explain/crm", &w.admin, None)
        .await;
    assert_eq!(e["holds"], false, "{e}");
    assert_eq!(e["reasons"][0]["kind"], "no_seat_free");
    let e = api
        .ok(
            Method::GET,
            "/api/v1/users/outsider/explain/crm",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(e["reasons"][0]["kind"], "not_bound", "{e}");
    let needs = api.ok(Method::GET, "/api/v1/needs", &w.admin, None).await;
    assert_eq!(needs["items"].as_array().unwrap().len(), 1, "{needs}");
    assert_eq!(needs["items"][0]["login"], "m3");
    assert_eq!(needs["items"][0]["product"], "crm");
    assert_eq!(needs["items"][0]["reason"], "no_seat_free");
    assert_eq!(needs["next_offset"], Value::Null);
    let none = api
        .ok(Method::GET, "/api/v1/needs?login=m1", &w.admin, None)
        .await;
    assert_eq!(none["items"], json!([]));

    // A seat recalled by hand comes free: the pending need is fulfilled at once.
    api.ok(
        Method::POST,
        "/api/v1/recalls",
        &w.admin,
        Some(json!({"users": ["m1"], "products": ["crm"]})),
    )
    .await;
    let needs = api.ok(Method::GET, "/api/v1/needs", &w.admin, None).await;
    assert_eq!(needs["items"], json!([]), "{needs}");
    let e = api
        .ok(Method::GET, "/api/v1/users/m3/explain/crm", &w.admin, None)
        .await;
    assert_eq!(e["holds"], true, "{e}");

    // D5: the single-user entry point, and the settings.
    let one = api
        .ok(
            Method::POST,
            "/api/v1/users/m1/redistribute",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(one["scope"], "user \"m1\"", "{one}");
    assert_eq!(one["unmet"], 1, "m1 now waits: {one}");
    let settings = api
        .ok(Method::GET, "/api/v1/settings/distribution", &w.admin, None)
        .await;
    assert_eq!(
        settings,
        json!({"redistribute_on_role_change": false, "role_based_distribution": true})
    );
    let settings = api
        .ok(
            Method::PUT,
            "/api/v1/settings/distribution",
            &w.admin,
            Some(json!({"redistribute_on_role_change": true})),
        )
        .await;
    assert_eq!(
        settings,
        json!({"redistribute_on_role_change": true, "role_based_distribution": true}),
        "an omitted setting keeps its value"
    );
    // With the trigger on, removing a member recalls what the role gave.
    let removed = api
        .ok(
            Method::DELETE,
            &format!("/api/v1/roles/{sales}/members"),
            &w.admin,
            Some(json!({"logins": ["m2"]})),
        )
        .await;
    assert_eq!(removed["member"], false, "{removed}");
    assert_eq!(removed["redistribution"]["recalled"], 1, "{removed}");
    let m2 = api
        .ok(Method::GET, "/api/v1/users/m2", &w.admin, None)
        .await;
    assert_eq!(m2["licenses"], json!([]));

    // The role tree: rename and move in one PATCH, refusals, delete.
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/roles/{sales}"),
            Some(&w.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/roles/{sales}"),
            Some(&w.admin),
            Some(json!({"name": "org", "parent": null})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a taken name: {v}");
    assert_eq!(
        api.ok(Method::GET, "/api/v1/roles", &w.admin, None)
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == sales)
            .unwrap()["parent_id"],
        org,
        "a refused PATCH changes nothing"
    );
    let (s, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/roles/{org}"),
            Some(&w.admin),
            Some(json!({"parent": sales})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a cycle: {v}");
    let (s, v) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/roles/{org}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a role with children: {v}");
    let patched = api
        .ok(
            Method::PATCH,
            &format!("/api/v1/roles/{sales}"),
            &w.admin,
            Some(json!({"name": "Sales EU", "parent": null})),
        )
        .await;
    assert_eq!(patched["role"]["name"], "Sales EU", "{patched}");
    assert_eq!(
        patched["role"]["parent_id"], 1,
        "organizational: under the root"
    );
    assert_eq!(
        patched["redistribution"]["recalled"], 2,
        "m1 and m3 no longer inherit crm from Org: {patched}"
    );
    let deleted = api
        .ok(
            Method::DELETE,
            &format!("/api/v1/roles/{org}"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(deleted["deleted"], true, "{deleted}");
    assert_eq!(crm_named_used().await, 0);

    // With the trigger on, a binding runs a redistribution for the role at once: a run of
    // its own, with its system message.
    let bound = api
        .ok(
            Method::PUT,
            &format!("/api/v1/roles/{sales}/products/reports"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(
        bound["redistribution"]["granted"], 2,
        "the members m1 and m3 get reports: {bound}"
    );
    let unread = api
        .ok(Method::GET, "/api/v1/messages/unread", &w.admin, None)
        .await["unread"]
        .as_u64()
        .unwrap();
    assert!(unread >= 1, "the binding's run posted a message");
    let all = api
        .ok(Method::POST, "/api/v1/messages/read", &w.admin, None)
        .await;
    assert_eq!(all["marked"], unread, "{all}");
    assert_eq!(
        api.ok(Method::GET, "/api/v1/messages/unread", &w.admin, None)
            .await["unread"],
        0
    );

    // Distribution off: runs are refused, bindings can still be removed.
    api.ok(
        Method::PUT,
        "/api/v1/settings/distribution",
        &w.admin,
        Some(json!({"role_based_distribution": false})),
    )
    .await;
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/redistributions",
            Some(&w.admin),
            Some(json!({"scope": {"kind": "all"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "distribution_off");
    let unbound = api
        .ok(
            Method::DELETE,
            &format!("/api/v1/roles/{sales}/products/reports"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(unbound["bound"], false, "{unbound}");
    assert_eq!(unbound["redistribution"], Value::Null, "{unbound}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_d6_bind_preview_apply_message_explain_needs_over_http_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    distribution("ledger.db", dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_d6_bind_preview_apply_message_explain_needs_over_http_on_postgres() {
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    distribution(&url, dir.path()).await;
}

/// The admin UI's guard, walked over every POST route: no session → 401; a session without
/// the CSRF token, with a wrong one, or from a foreign origin → 403 and nothing done; every
/// GET page without a session → redirect to the sign-in page; a viewer cannot change.
async fn ui_walk(api: &Api, w: &World) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = &api.base;
    // Sign in through the form: the pre-session token comes with the page and its cookie.
    let page = http.get(format!("{base}/ui/login")).send().await.unwrap();
    let pre_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("sk_pre="))
        .unwrap();
    let html = page.text().await.unwrap();
    let token = csrf_of(&html);
    // Sign-in without the pre-session token is refused too (login CSRF).
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[
            ("login", "admin"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{base}/ui/login"))
        .header("cookie", &pre_cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("login", "admin"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set.iter().find(|c| c.starts_with("sk_ui=")).unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    let session = session.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{base}/ui/users"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    let csrf = csrf_of(&html);

    let audit_before = api
        .ok(Method::GET, "/api/v1/audit?limit=1", &w.admin, None)
        .await;
    for path in &seatkeeper_server::ui::post_routes() {
        let url = format!("{base}{path}");
        if *path != "/ui/login" {
            let r = http
                .post(&url)
                .form(&[("_csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "POST {path} without a session"
            );
        }
        for body in [vec![], vec![("_csrf", "forged")]] {
            let r = http
                .post(&url)
                .header("cookie", &session)
                .form(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "POST {path} with csrf {body:?}"
            );
            assert!(r.text().await.unwrap().contains("CSRF"), "{path}");
        }
        let r = http
            .post(&url)
            .header("cookie", &session)
            .header("origin", "https://evil.example")
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "POST {path} from a foreign origin"
        );
        // A script's JSON or text/plain post is not a form: refused whatever it carries.
        let r = http
            .post(&url)
            .header("cookie", &session)
            .header("content-type", "text/plain")
            .body(format!("_csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "POST {path} as text/plain"
        );
    }
    let audit_after = api
        .ok(Method::GET, "/api/v1/audit?limit=1", &w.admin, None)
        .await;
    assert_eq!(
        audit_before["items"][0]["id"], audit_after["items"][0]["id"],
        "a refused post changed something"
    );
    // I4: the Webhooks form applies the server's URL policy (internal targets refused by
    // default) and shows the refusal as the form's error; nothing is saved.
    let r = http
        .post(format!("{base}/ui/webhooks"))
        .header("cookie", &session)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("url", "http://127.0.0.1:9/hook"),
            ("events", "user.blocked"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("internal address") && page.contains("Nothing was saved"),
        "{page}"
    );
    assert!(page.contains("value=\"http://127.0.0.1:9/hook\""), "{page}");
    let hooks = api
        .ok(Method::GET, "/api/v1/webhooks", &w.admin, None)
        .await;
    assert_eq!(hooks, json!([]));
    for path in [
        "/ui/",
        "/ui/licenses",
        "/ui/users",
        "/ui/roles",
        "/ui/directory",
        "/ui/messages",
        "/ui/audit",
        "/ui/webhooks",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "GET {path} without a session"
        );
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/ui/login?next=")
        );
    }
}

/// The CSRF token a UI page's forms carry.
fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// Issue 13 (1): two `serve` nodes on one PostgreSQL database; clients log in on either
/// node, send heartbeats to the other one and log out on either, while two administrators
/// grant and recall dedicated seats. When every client has logged out every session it was
/// given, no session is left (nobody holds a seat without a client knowing its id) and no
/// logout of a session the client owned was answered 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_two_nodes_leave_no_phantom_sessions_on_postgres() {
    const CLIENTS: usize = 40;
    const USERS: usize = 60;
    const FLOATING: u32 = 10;
    const RUN: Duration = Duration::from_secs(12);
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepare(&url, dir);
    let nodes: Vec<Server> = (0..2).map(|_| start(&url, dir)).collect();
    let api = Api::new(&nodes[0]);
    let w = world(&url, dir, &api, 15, FLOATING).await;
    import_employees(&api, &w, "u", USERS).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let deadline = tokio::time::Instant::now() + RUN;

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let bases = bases.clone();
        let token = w.app.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (c as u64 + 1);
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let (mut given, mut wrong_404, mut errors) = (0u32, 0u32, 0u32);
            while tokio::time::Instant::now() < deadline {
                let user = format!("u{}", next() % USERS as u64);
                let node = (next() % 2) as usize;
                let resp = http
                    .post(format!("{}/integration/v1/login", bases[node]))
                    .bearer_auth(&token)
                    .json(&json!({"login": user}))
                    .send()
                    .await
                    .unwrap();
                if !resp.status().is_success() {
                    errors += 1;
                    continue;
                }
                let v: Value = resp.json().await.unwrap();
                let Some(sid) = v["session_id"].as_str().map(str::to_string) else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                given += 1;
                if next() % 2 == 0 {
                    let _ = http
                        .post(format!("{}/integration/v1/heartbeat", bases[1 - node]))
                        .bearer_auth(&token)
                        .json(&json!({"session_id": sid}))
                        .send()
                        .await
                        .unwrap();
                }
                // Logged out on either node; a session the client owns must end exactly
                // once. Retried on a server error (the session may or may not have ended).
                let mut tries = 0;
                loop {
                    let out = http
                        .post(format!(
                            "{}/integration/v1/logout",
                            bases[(next() % 2) as usize]
                        ))
                        .bearer_auth(&token)
                        .json(&json!({"session_id": sid}))
                        .send()
                        .await
                        .unwrap();
                    match out.status() {
                        StatusCode::OK => break,
                        StatusCode::NOT_FOUND => {
                            wrong_404 += 1;
                            break;
                        }
                        s => {
                            errors += 1;
                            tries += 1;
                            assert!(tries < 20, "logout keeps failing: {s}");
                        }
                    }
                }
            }
            (given, wrong_404, errors)
        }));
    }
    let mut admins = Vec::new();
    for (a, base) in bases.iter().enumerate() {
        let base = base.clone();
        let token = w.admin.clone();
        admins.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = a;
            let mut writes = 0u32;
            while tokio::time::Instant::now() < deadline {
                let user = format!("u{}", (i * 7) % USERS);
                i += 1;
                let path = if i % 2 == 0 { "grants" } else { "recalls" };
                let resp = http
                    .post(format!("{base}/api/v1/{path}"))
                    .bearer_auth(&token)
                    .json(&json!({"users": [user], "products": ["crm"]}))
                    .send()
                    .await
                    .unwrap();
                // A write whose connection was dropped fails as a whole (and says so).
                if resp.status().is_success() {
                    writes += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            writes
        }));
    }
    // The nodes' database connections are dropped now and then, as a failover or a network
    // fault does: a COMMIT whose answer is lost leaves the turn in doubt.
    let killer = {
        let url = url.clone();
        tokio::spawn(async move {
            let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let mut killed = 0i64;
            while tokio::time::Instant::now() + Duration::from_secs(2) < deadline {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_one(&mut db)
                .await
                .unwrap();
                killed += n;
            }
            killed
        })
    };
    let (mut given, mut wrong_404, mut errors) = (0, 0, 0);
    for c in clients {
        let (g, w4, e) = c.await.unwrap();
        given += g;
        wrong_404 += w4;
        errors += e;
    }
    let mut writes = 0;
    for a in admins {
        writes += a.await.unwrap();
    }
    let killed = killer.await.unwrap();
    // A session whose answer was lost with a connection may be ended by the reaper only; the
    // idle timeout is 10 minutes here, so none may be left now.
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM floating_holds")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let used: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(used), 0)::BIGINT FROM seat_pools WHERE kind = 'concurrent'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    eprintln!(
        "x13 race: {given} sessions given, {writes} admin writes, {killed} connections \
         dropped, {errors} errors answered, {left} sessions left, {wrong_404} wrong 404s"
    );
    assert!(given > 100, "the race ran: {given} sessions");
    assert_eq!(left, 0, "sessions left that no client knows of");
    assert_eq!(held, 0, "floating holds left");
    assert_eq!(used, 0, "floating seats counted as used");
    assert_eq!(wrong_404, 0, "logouts of live sessions answered 404");
}

/// Issue 13 (6), D4: a redistribution left running by a node that died is finished by a live
/// `serve` node once its lease runs out, without any process opening the ledger; while it
/// waits, a per-user redistribution gives the youngest account no seat ahead of the older
/// users the run has not reached (its need waits, and the run's end serves needs in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_a_live_node_finishes_a_run_whose_lease_ran_out() {
    use super::crash::{SEATS, USERS, journal, kill_a_run_midway, prepared};
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepared(dir);
    // A run killed once part of it has committed.
    kill_a_run_midway(dir).await;
    // Its owner, as far as the survivor can tell, is a node on another host whose lease
    // lasts until T0 + 60 s.
    {
        let url = format!("sqlite://{}", dir.join("x.db").display());
        let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE redistributions SET lease_owner = 'elsewhere:1:x', lease_until = $1 \
             WHERE status = 'running'",
        )
        .bind(T0 + 60)
        .execute(&mut c)
        .await
        .unwrap();
    }
    set_clock(dir, T0);
    set_admin_password("x.db", dir);
    let node = start("x.db", dir);
    let api = Api::new(&node);
    let signin = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "correct horse battery staple"})),
        )
        .await;
    let admin = signin.1["token"].as_str().unwrap().to_string();
    let youngest = format!("k{:04}", USERS - 1);
    let holds = |v: &Value| v["holds"].as_bool().unwrap();

    // The run is still the other node's; the youngest account's own run waits for it.
    let (status, _) = journal(&dir.join("x.db")).await.unwrap();
    assert_eq!(status, "running");
    api.ok(
        Method::POST,
        &format!("/api/v1/users/{youngest}/redistribute"),
        &admin,
        None,
    )
    .await;
    let explain = api
        .ok(
            Method::GET,
            &format!("/api/v1/users/{youngest}/explain/crm"),
            &admin,
            None,
        )
        .await;
    assert!(!holds(&explain), "no seat ahead of the run: {explain}");

    // The lease runs out: the live node finishes the run within a few seconds.
    set_clock(dir, T0 + 61);
    let waited = std::time::Instant::now();
    loop {
        let (status, granted) = journal(&dir.join("x.db")).await.unwrap();
        if status == "done" {
            assert_eq!(granted, i64::from(SEATS));
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the run is still {status} after the lease ran out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Oldest first: the first accounts hold seats, the youngest waits with a pending need.
    let oldest = api
        .ok(Method::GET, "/api/v1/users/k0000/explain/crm", &admin, None)
        .await;
    assert!(holds(&oldest), "{oldest}");
    let explain = api
        .ok(
            Method::GET,
            &format!("/api/v1/users/{youngest}/explain/crm"),
            &admin,
            None,
        )
        .await;
    assert!(!holds(&explain), "{explain}");
    let summary = api.ok(Method::GET, "/api/v1/summary", &admin, None).await;
    let crm = summary["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "crm")
        .cloned()
        .unwrap();
    assert_eq!(crm["used"], SEATS, "{crm}");
}
