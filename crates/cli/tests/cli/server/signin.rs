//! Issue 13, item 7 (password guessing), over HTTP against a real server: the per-login
//! lockout shared by the API's and the UI's sign-in, 429 with `Retry-After`, the lock ending by
//! time or by `seatkeeper admin unlock`, the per-address limit, and the audit records with the
//! client's address and user agent.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{T0, ok, pg_database, prepare, set_clock, start_flags};

const PASSWORD: &str = "correct horse battery staple";
const UA: &str = "x13-guesser/1.0";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(UA)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn retry_after(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// `POST /api/v1/auth/login`: status, `Retry-After`, body.
async fn api_signin(
    http: &reqwest::Client,
    base: &str,
    login: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    let (status, after) = (r.status(), retry_after(&r));
    (status, after, r.json().await.unwrap())
}

/// The admin UI's sign-in form: status, `Retry-After`, page.
async fn ui_signin(
    http: &reqwest::Client,
    base: &str,
    login: &str,
    password: &str,
) -> (StatusCode, Option<u64>, String) {
    let page = http.get(format!("{base}/ui/login")).send().await.unwrap();
    let pre_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("sk_pre="))
        .unwrap();
    let token = super::csrf_of(&page.text().await.unwrap());
    let r = http
        .post(format!("{base}/ui/login"))
        .header("cookie", &pre_cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("login", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let (status, after) = (r.status(), retry_after(&r));
    (status, after, r.text().await.unwrap())
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let r = http
        .request(Method::GET, format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn audit(http: &reqwest::Client, base: &str, token: &str, action: &str) -> Vec<Value> {
    get(
        http,
        base,
        token,
        &format!("/api/v1/audit?action={action}&limit=1000"),
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn from_here(e: &Value) {
    assert_eq!(e["address"], "127.0.0.1", "{e}");
    assert_eq!(e["user_agent"], UA, "{e}");
}

async fn guessing(db: &str, dir: &Path) {
    prepare(db, dir);
    let server = start_flags(db, dir, &["--signin-per-address-per-minute", "1000"]);
    let (http, base) = (http(), server.base.clone());

    let (status, _, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let admin = v["token"].as_str().unwrap().to_string();

    // Five wrong passwords: four are 401, the fifth locks the login (429, 15 minutes).
    for i in 1..=4 {
        let (status, _, v) = api_signin(&http, &base, "admin", "wrong password!!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}: {v}");
    }
    let (status, after, v) = api_signin(&http, &base, "Admin", "wrong password!!").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_attempts");
    assert_eq!(after, Some(900));
    // While locked even the right password is refused, on the API and in the UI.
    let (status, after, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_attempts");
    assert_eq!(after, Some(900));
    let (status, after, html) = ui_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(after, Some(900));
    assert!(html.contains("Too many sign-in attempts"), "{html}");

    // Audited with the client's address and user agent; one message to the administrators.
    let failed = audit(&http, &base, &admin, "auth.signin_failed").await;
    assert_eq!(failed.len(), 7, "{failed:?}");
    failed.iter().for_each(from_here);
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "wrong_password").count(),
        5
    );
    assert_eq!(reasons.iter().filter(|r| **r == "locked").count(), 2);
    assert!(failed.iter().any(|e| e["origin"] == "ui:signin"));
    assert!(failed.iter().all(|e| e["target"] == "admin"));
    let locked = audit(&http, &base, &admin, "auth.locked").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    from_here(&locked[0]);
    let signins = audit(&http, &base, &admin, "auth.signin").await;
    assert_eq!(signins.len(), 1);
    from_here(&signins[0]);
    assert_eq!(signins[0]["origin"], "api:signin");
    let messages = get(&http, &base, &admin, "/api/v1/messages").await;
    let lock_messages: Vec<&Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "signin_locked")
        .collect();
    assert_eq!(lock_messages.len(), 1, "{messages}");
    assert_eq!(lock_messages[0]["body"]["login"], "admin");
    assert_eq!(lock_messages[0]["body"]["address"], "127.0.0.1");

    // Every other audited action carries where it came from too.
    let r = http
        .post(format!("{base}/api/v1/folders"))
        .bearer_auth(&admin)
        .json(&json!({"path": "X13"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let created = audit(&http, &base, &admin, "folder.create").await;
    from_here(&created[0]);
    assert_eq!(created[0]["origin"], "api:signin");

    // The lock ends by time.
    set_clock(dir, T0 + 901);
    let (status, _, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // The UI's form spends the same count: five wrong there lock the API's sign-in too.
    for i in 1..=4 {
        let (status, _, _) = ui_signin(&http, &base, "admin", "wrong password!!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "UI attempt {i}");
    }
    let (status, _, html) = ui_signin(&http, &base, "admin", "wrong password!!").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("Too many sign-in attempts"));
    let (status, _, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");

    // An operator ends it sooner.
    let out = ok(db, dir, &["admin", "unlock", "admin"]);
    assert!(out.contains("unlocked"), "{out}");
    let (status, _, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(audit(&http, &base, &admin, "auth.unlock").await.len(), 1);

    // A login without an account locks the same way (the answer tells nothing), but posts no
    // message: invented logins must not flood the inbox.
    for _ in 1..=4 {
        let (status, _, _) = api_signin(&http, &base, "ghost", "wrong password!!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, after, _) = api_signin(&http, &base, "ghost", "wrong password!!").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(after.is_some());
    let ghost = audit(&http, &base, &admin, "auth.signin_failed").await;
    assert_eq!(ghost[0]["details"]["reason"], "unknown_login");
    let messages = get(&http, &base, &admin, "/api/v1/messages").await;
    let n = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "signin_locked")
        .count();
    assert_eq!(n, 2, "two locks of admin, none for ghost: {messages}");

    // Guesses sent all at once cannot overtake the count: each is counted before its password
    // is checked, so only four are answered "wrong" and the rest are refused unchecked.
    let answers = futures_join(
        (0..20)
            .map(|_| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    api_signin(&http, &base, "admin", "wrong password!!")
                        .await
                        .0
                })
            })
            .collect(),
    )
    .await;
    let wrong = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, limited), (4, 16), "{answers:?}");
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<StatusCode>>) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_password_guessing_locks_the_login_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db").display().to_string();
    guessing(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_password_guessing_locks_the_login_on_postgres() {
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    guessing(&url, dir.path()).await;
}

/// Many logins guessed from one address: the per-address bucket answers 429 before any
/// login's own count would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_one_address_is_limited_across_logins() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db").display().to_string();
    prepare(&db, dir.path());
    let server = start_flags(&db, dir.path(), &["--signin-per-address-per-minute", "3"]);
    let (http, base) = (http(), server.base.clone());
    for login in ["a1", "a2", "a3"] {
        let (status, _, _) = api_signin(&http, &base, login, "wrong password!!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, after, v) = api_signin(&http, &base, "admin", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_attempts");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("from this address")
    );
    assert!(after.is_some_and(|s| (1..=60).contains(&s)), "{after:?}");
    let (status, _, _) = ui_signin(&http, &base, "a4", "wrong password!!").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the UI shares the bucket"
    );
}
