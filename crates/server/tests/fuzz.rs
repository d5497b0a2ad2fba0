#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzzing of the request bodies (issue 13, item 10): every route of the route table that
//! takes a body gets valid bodies broken by the core fuzz tests' mutations (bytes flipped,
//! truncated, spliced, NUL and invalid UTF-8, fields of another type, huge numbers, deep
//! nesting, wrong or missing content type), sent in-process to the real router on a SQLite
//! ledger loaded with the demo, with an administrator's token. Every answer must be below
//! 500, every refusal must have the documented shape `{"error": {"code", "message"}}`, and
//! a refused request must change nothing (the audit log gains no record).
//!
//! 1000 cases by default (CI, a few seconds); `SEATKEEPER_FUZZ_CASES` sets more (see `scripts/fuzz.sh`).

#[path = "../../core/tests/fuzz/mutate.rs"]
mod mutate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use mutate::{apply_bytes, apply_json, byte_edits, cases, json_edits, nested_text, report};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use seatkeeper_server::routes::{self, Body as BodyKind};
use seatkeeper_server::{ServeConfig, auth, demo};
use seatkeeper_store::{Actor, AuditFilter, Ledger, TokenScope};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Longest refusal message accepted, except a CSV import's, which lists every bad line.
const MAX_MESSAGE: usize = 4096;

struct App {
    router: Router,
    ledger: Ledger,
    admin: String,
    integration: String,
    provisioning: String,
    license: String,
    session: String,
}

fn config(database: String) -> ServeConfig {
    ServeConfig {
        database,
        listen: "127.0.0.1:0".parse().unwrap(),
        vendor_keys: vec![],
        idle_timeout: Duration::from_secs(3600),
        reap_interval: Duration::from_secs(3600),
        batch_max: 64,
        auth_cache_ttl: Duration::from_secs(1),
        insecure_cookies: true,
        usage_sample_interval: Duration::from_secs(3600),
        signin: Default::default(),
        // The fuzz test's sign-ins come from one address, as fast as it can send them.
        signin_per_address_per_minute: 0,
        trusted_proxies: vec![],
        directory: None,
        sso: None,
        scim: Default::default(),
        mail: None,
        notifications: Default::default(),
        metrics: None,
        demo: true,
        clock_file: None,
    }
}

async fn app(dir: &std::path::Path) -> App {
    let database = dir.join("fuzz.db").display().to_string();
    let config = config(database.clone());
    let ledger = Ledger::open(&database).await.unwrap();
    let loaded = demo::load(&ledger, &config).await.unwrap();
    let state = seatkeeper_server::state(ledger.clone(), &config, vec![loaded.vendor_key]).unwrap();
    let actor = Actor::new("fuzz", "test");
    let mut tokens = Vec::new();
    for scope in [
        TokenScope::Provisioning,
        TokenScope::Admin,
        TokenScope::Integration,
    ] {
        let secret = auth::new_secret(scope).unwrap();
        ledger
            .create_token(
                &actor,
                "admin",
                "fuzz",
                scope,
                &auth::secret_hash(&secret),
                None,
            )
            .await
            .unwrap();
        tokens.push(secret);
    }
    let license = std::fs::read_to_string(format!("{database}.demo/demo-license.json")).unwrap();
    let mut app = App {
        router: routes::router(state),
        ledger,
        integration: tokens.pop().unwrap(),
        admin: tokens.pop().unwrap(),
        provisioning: tokens.pop().unwrap(),
        license,
        session: String::new(),
    };
    let (status, body) = send(
        &app,
        &Method::POST,
        "/integration/v1/login",
        Some("application/json"),
        br#"{"login":"emp002","client":"fuzz"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.session = body["session_id"].as_str().unwrap().to_string();
    app
}

async fn send(
    app: &App,
    method: &Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let token = if path.starts_with("/integration/") {
        &app.integration
    } else if path.starts_with("/scim/") {
        &app.provisioning
    } else {
        &app.admin
    };
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let response = app
        .router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

async fn last_audit_id(ledger: &Ledger) -> Option<i64> {
    let filter = AuditFilter {
        limit: Some(1),
        ..Default::default()
    };
    ledger
        .audit_log(&filter)
        .await
        .unwrap()
        .first()
        .map(|e| e.id)
}

/// A route with a body, its path filled in, and a valid body to start from.
#[derive(Debug, Clone)]
struct Target {
    method: Method,
    path: String,
    kind: BodyKind,
    seed: Vec<u8>,
}

fn targets(app: &App) -> Vec<Target> {
    let mut out = Vec::new();
    for route in routes::table() {
        let spec = route.spec;
        if spec.body == BodyKind::None {
            continue;
        }
        let path = spec
            .path
            .replace("{login}", "emp050")
            .replace("{product}", "analytics")
            .replace("{permission}", "view_licenses")
            .replace("{id}", "2");
        let seed: Value = match spec.path {
            "/integration/v1/login" => json!({"login": "emp003", "client": "fuzz"}),
            "/integration/v1/heartbeat" | "/integration/v1/logout" => {
                json!({"session_id": app.session})
            }
            "/api/v1/auth/login" => json!({"login": "admin", "password": "not the password"}),
            "/api/v1/license-request" => {
                json!({"company_id": "DEMO-COMPANY", "app_version": "9.9"})
            }
            "/api/v1/placements" => {
                json!({"serial": "DEMO-CRM-NAMED", "folder": "Sales", "seats": 40})
            }
            "/api/v1/folders" => json!({"path": "Fuzz/Deep"}),
            "/api/v1/users" => json!({"login": "fuzz1", "name": "Fuzz", "email": "f@x.org",
                "area": "employee", "folder": "Sales", "state": "active"}),
            "/api/v1/users/{login}/block" => json!({"reason": "fuzz"}),
            "/api/v1/users/{login}/move" => json!({"folder": "Support"}),
            "/api/v1/users/{login}/password" => json!({"password": "correct horse battery staple"}),
            "/api/v1/grants" | "/api/v1/recalls" => {
                json!({"users": ["emp010"], "products": ["crm"]})
            }
            "/api/v1/roles" => json!({"name": "Fuzz", "kind": "functional", "parent_id": null}),
            "/api/v1/roles/{id}" => json!({"name": "Renamed", "parent": null}),
            "/api/v1/roles/{id}/members" => json!({"logins": ["emp010", "emp011"]}),
            "/api/v1/settings/distribution" => {
                json!({"redistribute_on_role_change": true, "role_based_distribution": true})
            }
            "/api/v1/redistributions/preview" => {
                json!({"scope": {"kind": "role", "role": 2}, "manual": "keep", "detail": 5})
            }
            "/api/v1/redistributions" => json!({"scope": {"kind": "user", "login": "emp020"}}),
            "/api/v1/tokens" => {
                json!({"name": "fuzz", "scope": "integration", "expires_in_days": 30})
            }
            "/scim/v2/Users" | "/scim/v2/Users/{id}" if spec.method != Method::PATCH => json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "fuzz.scim", "name": {"givenName": "Fuzz", "familyName": "Scim"},
                "emails": [{"value": "fuzz@x.org", "type": "work", "primary": true}],
                "active": true,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
            }),
            "/scim/v2/Groups" | "/scim/v2/Groups/{id}" if spec.method != Method::PATCH => json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Fuzz group", "members": [{"value": "3"}]
            }),
            "/scim/v2/Users/{id}" | "/scim/v2/Groups/{id}" => json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "active", "value": "False"},
                    {"op": "add", "path": "members", "value": [{"value": "4"}]},
                    {"op": "remove", "path": "members[value eq \"5\"]"},
                    {"op": "replace", "value": {"displayName": "Fuzzed"}}
                ]
            }),
            _ => json!({}),
        };
        let seed = match spec.body {
            BodyKind::License => app.license.clone().into_bytes(),
            BodyKind::Csv => b"login,name,email,area,folder,state\n\
                               fz1,F 1,f1@x.org,employee,Sales,active\n\
                               fz2,F 2,,portal,,blocked\n"
                .to_vec(),
            _ => serde_json::to_vec(&seed).unwrap(),
        };
        out.push(Target {
            method: spec.method,
            path,
            kind: spec.body,
            seed,
        });
    }
    out
}

/// How one case breaks its target's valid body.
#[derive(Debug, Clone)]
enum Breakage {
    /// The valid body itself (some cases must get through, so later ones meet changed state).
    None,
    Bytes(Vec<mutate::ByteEdit>),
    Json(Vec<mutate::JsonEdit>),
    /// Nesting deeper than the JSON parser follows.
    Deep(usize),
}

fn breakage() -> impl Strategy<Value = Breakage> {
    prop_oneof![
        1 => Just(Breakage::None),
        5 => byte_edits().prop_map(Breakage::Bytes),
        5 => json_edits().prop_map(Breakage::Json),
        1 => (100usize..100_000).prop_map(Breakage::Deep),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        17 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/json; charset=latin1")),
        1 => Just(Some("")),
    ]
}

fn body_of(target: &Target, breakage: &Breakage, seeds: &[Vec<u8>]) -> Vec<u8> {
    match breakage {
        Breakage::None => target.seed.clone(),
        Breakage::Bytes(edits) => apply_bytes(target.seed.clone(), edits, seeds),
        Breakage::Json(edits) => match serde_json::from_slice::<Value>(&target.seed) {
            Ok(v) => serde_json::to_vec(&apply_json(v, edits)).unwrap(),
            // A CSV body: the edits' string values as cells.
            Err(_) => {
                let v = apply_json(json!(["a", "b"]), edits);
                let mut body = target.seed.clone();
                body.extend(v.to_string().bytes());
                body.push(b'\n');
                body
            }
        },
        Breakage::Deep(depth) => nested_text(*depth),
    }
}

fn natural_type(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Csv => "text/csv",
        BodyKind::License => "application/json",
        BodyKind::Scim => "application/scim+json",
        _ => "application/json",
    }
}

async fn check(
    app: &App,
    target: &Target,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), TestCaseError> {
    let before = last_audit_id(&app.ledger).await;
    let (status, answer) = send(app, &target.method, &target.path, Some(content_type), body).await;
    tally(status, &answer);
    prop_assert!(
        status.as_u16() < 500,
        "{} {} answered {status}: {answer}",
        target.method,
        target.path
    );
    if status.is_client_error() && target.path.starts_with("/scim/") {
        // SCIM's own error shape (RFC 7644 §3.12), and nothing written.
        let detail = answer["detail"].as_str().unwrap_or("");
        prop_assert!(
            answer["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
                && answer["status"]
                    .as_str()
                    .and_then(|s| s.parse::<u16>().ok())
                    == Some(status.as_u16())
                && !detail.trim().is_empty()
                && detail.len() <= MAX_MESSAGE,
            "{} {} answered {status} without the SCIM error shape: {answer}",
            target.method,
            target.path
        );
        prop_assert_eq!(
            last_audit_id(&app.ledger).await,
            before,
            "{} {} was refused ({}) but wrote to the audit log",
            target.method,
            target.path,
            detail
        );
        return Ok(());
    }
    if status.is_client_error() {
        let code = answer["error"]["code"].as_str();
        let message = answer["error"]["message"].as_str();
        prop_assert!(
            code.is_some_and(|c| !c.is_empty()) && message.is_some_and(|m| !m.trim().is_empty()),
            "{} {} answered {status} without the error shape: {answer}",
            target.method,
            target.path
        );
        let (code, message) = (code.unwrap_or(""), message.unwrap_or(""));
        prop_assert!(
            code == "csv_invalid" || message.len() <= MAX_MESSAGE,
            "{} {} answered a {}-byte message: {}…",
            target.method,
            target.path,
            message.len(),
            &message[..message.floor_char_boundary(300)]
        );
        // A failed administrator sign-in may be recorded by design (item 7); nothing else
        // that is refused writes.
        if target.path != "/api/v1/auth/login" {
            prop_assert_eq!(
                last_audit_id(&app.ledger).await,
                before,
                "{} {} was refused ({}: {}) but wrote to the audit log",
                target.method,
                target.path,
                code,
                message
            );
        }
    }
    Ok(())
}

static ANSWERS: std::sync::Mutex<std::collections::BTreeMap<String, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Counts answers by status and error code, to show what the cases reached.
fn tally(status: StatusCode, answer: &Value) {
    let key = format!(
        "{} {}",
        status.as_u16(),
        answer["error"]["code"].as_str().unwrap_or("")
    );
    if let Ok(mut m) = ANSWERS.lock() {
        *m.entry(key).or_default() += 1;
    }
}

#[test]
fn x13_10_fuzz_request_bodies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = rt.block_on(app(dir.path()));
    let targets = targets(&app);
    assert!(targets.len() >= 20, "the route table lost its body routes?");
    let seeds: Vec<Vec<u8>> = targets.iter().map(|t| t.seed.clone()).collect();

    let started = Instant::now();
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases: cases(1000),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (any::<Index>(), breakage(), content_type());
    let result = runner.run(&strategy, |(t, breakage, ct)| {
        executions.fetch_add(1, Ordering::Relaxed);
        let target = &targets[t.index(targets.len())];
        let body = body_of(target, &breakage, &seeds);
        let ct = ct.unwrap_or(natural_type(target.kind));
        rt.block_on(check(&app, target, ct, body))
    });
    let n = executions.into_inner();
    if let Ok(m) = ANSWERS.lock() {
        println!("answers (status code: count): {m:?}");
    }
    match result {
        Ok(()) => report("HTTP request bodies", n, "0", started),
        Err(e) => {
            report("HTTP request bodies", n, "1", started);
            panic!("fuzz target HTTP request bodies found a failing input: {e}");
        }
    }
}

// ── regressions: inputs the fuzz run found ──────────────────────────────────────────────
// Each of these once answered with an error message quoting the megabyte-long input whole.

async fn refused_briefly(path: &str, body: Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let before = last_audit_id(&app.ledger).await;
    let (status, answer) = send(
        &app,
        &Method::POST,
        path,
        Some("application/json"),
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let message = answer["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.len() <= MAX_MESSAGE,
        "a {}-byte message",
        message.len()
    );
    assert_eq!(last_audit_id(&app.ledger).await, before);
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn x13_10_regression_a_json_type_error_quotes_the_value_briefly() {
    let big = "a".repeat(1_000_000);
    // A string where the object belongs: serde quotes the string whole.
    let m = refused_briefly("/integration/v1/login", json!(big)).await;
    assert!(m.contains("invalid type") && m.contains('…'), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn x13_10_regression_an_unknown_role_kind_is_quoted_briefly() {
    let big = "a".repeat(1_000_000);
    let m = refused_briefly("/api/v1/roles", json!({"name": "R", "kind": big})).await;
    assert!(
        m.contains("unknown role kind") && m.contains("(1000000 bytes)"),
        "{m}"
    );
}
