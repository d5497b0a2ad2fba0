//! The directory sync over the admin API and `serve`'s schedule (issue 15: I1, U2, D5),
//! against a private slapd, on SQLite and PostgreSQL.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, Server, World, prepare, start, start_flags, world};
use crate::ldap::slapd::{GROUPS, PEOPLE, READER_DN, READER_PW, Slapd, people_ldif};
use crate::pg_database;

fn settings(url: &str, password: Option<&str>) -> Value {
    let mut s = json!({
        "url": url,
        "bind_dn": READER_DN,
        "user_base": PEOPLE,
        "group_base": GROUPS,
        "connect_timeout_secs": 5,
    });
    if let Some(p) = password {
        s["bind_password"] = json!(p);
    }
    s
}

async fn directory_users(api: &Api, w: &World) -> usize {
    let page = api
        .ok(
            Method::GET,
            "/api/v1/users?q=user&limit=1000",
            &w.admin,
            None,
        )
        .await;
    page["items"].as_array().unwrap().len()
}

async fn setup(db: &str, dir: &Path) -> (Server, Api, World) {
    prepare(db, dir);
    let server = start(db, dir);
    let api = Api::new(&server);
    let w = world(db, dir, &api, 5, 5).await;
    (server, api, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_directory_api_saves_tests_previews_syncs_and_keeps_history_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    api_round_trip(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_directory_api_saves_tests_previews_syncs_and_keeps_history_on_postgres() {
    let Some((db, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    api_round_trip(&db, dir.path()).await;
}

async fn api_round_trip(db: &str, dir: &Path) {
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&people_ldif(620));
    let (_server, api, w) = setup(db, dir).await;

    let none = api
        .ok(Method::GET, "/api/v1/directory/settings", &w.admin, None)
        .await;
    assert_eq!(none["source"], Value::Null, "{none}");
    assert_eq!(none["editable"], true);

    let saved = api
        .ok(
            Method::PUT,
            "/api/v1/directory/settings",
            &w.admin,
            Some(settings(&ldap.url, Some(READER_PW))),
        )
        .await;
    assert_eq!(saved["source"], "ledger", "{saved}");
    assert_eq!(saved["bind_password_set"], true);
    assert_eq!(saved["settings"]["bind_dn"], READER_DN);
    // Write-only: no read carries the password, nor does the audit record of the save.
    for path in ["/api/v1/directory/settings", "/api/v1/audit?limit=1000"] {
        let (_, v) = api.call(Method::GET, path, Some(&w.admin), None).await;
        assert!(!v.to_string().contains(READER_PW), "{path}: {v}");
    }
    assert!(!saved.to_string().contains(READER_PW));

    let test = api
        .ok(Method::POST, "/api/v1/directory/test", &w.admin, None)
        .await;
    assert_eq!(test["users"], 620, "{test}");
    assert_eq!(test["groups"], 3);
    assert_eq!(test["examples"].as_array().unwrap().len(), 3);

    let preview = api
        .ok(
            Method::POST,
            "/api/v1/directory/preview?detail=5",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(preview["users_read"], 620, "{preview}");
    assert_eq!(preview["counts"]["create"], 620);
    assert_eq!(preview["create"].as_array().unwrap().len(), 5);
    assert_eq!(
        directory_users(&api, &w).await,
        0,
        "a preview writes nothing"
    );

    let sync = api
        .ok(Method::POST, "/api/v1/directory/sync", &w.admin, None)
        .await;
    assert_eq!(sync["changed"], true, "{sync}");
    assert_eq!(sync["counts"]["created"], preview["counts"]["create"]);
    assert_eq!(
        sync["counts"]["members_added"],
        preview["counts"]["members_added"]
    );
    assert_eq!(directory_users(&api, &w).await, 620);

    let again = api
        .ok(Method::POST, "/api/v1/directory/sync", &w.admin, None)
        .await;
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["run_id"], Value::Null);

    let runs = api
        .ok(Method::GET, "/api/v1/directory/runs", &w.admin, None)
        .await;
    let list = runs["runs"].as_array().unwrap();
    assert_eq!(list.len(), 1, "a no-change sync adds no run: {runs}");
    assert_eq!(list[0]["status"], "succeeded");
    assert_eq!(list[0]["counts"]["created"], 620);
    assert_eq!(runs["last_outcome"], "no_change");
    assert_eq!(runs["running_on"], Value::Null);

    let messages = api
        .ok(Method::GET, "/api/v1/messages", &w.admin, None)
        .await;
    let syncs = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Directory sync:")
        })
        .count();
    assert_eq!(
        syncs, 1,
        "one message per run that changed something: {messages}"
    );
}

/// Bad settings are refused with the cause and change nothing; a directory that refuses the
/// bind fails the test and the sync with 502 naming the bind DN, changes nothing, and is
/// recorded as a failed run with one message (not one per failure); no settings: 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_directory_api_refuses_bad_settings_and_records_failed_runs() {
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&people_ldif(3));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    let (_server, api, w) = setup(&db, dir.path()).await;

    for path in [
        "/api/v1/directory/sync",
        "/api/v1/directory/preview",
        "/api/v1/directory/test",
    ] {
        let (status, v) = api.call(Method::POST, path, Some(&w.admin), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {v}");
        assert_eq!(v["error"]["code"], "directory_not_configured", "{v}");
    }

    let mut bad = Vec::new();
    let mut env = settings(&ldap.url, None);
    env["bind_password_env"] = json!("PATH");
    bad.push((env, "bind_password_env"));
    let mut filter = settings(&ldap.url, Some("x"));
    filter["user_filter"] = json!("(uid=");
    bad.push((filter, "filter"));
    bad.push((settings("http://127.0.0.1:1", Some("x")), "ldap://"));
    bad.push((settings("ldap://ldap.example.com", Some("x")), "in clear"));
    let mut zero = settings(&ldap.url, Some("x"));
    zero["page_size"] = json!(0);
    bad.push((zero, "page_size"));
    let mut unknown = settings(&ldap.url, Some("x"));
    unknown["colour"] = json!("blue");
    bad.push((unknown, "colour"));
    for (body, says) in bad {
        let (status, v) = api
            .call(
                Method::PUT,
                "/api/v1/directory/settings",
                Some(&w.admin),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{says}: {v}"
        );
    }
    let still = api
        .ok(Method::GET, "/api/v1/directory/settings", &w.admin, None)
        .await;
    assert_eq!(
        still["source"],
        Value::Null,
        "refused saves change nothing: {still}"
    );

    api.ok(
        Method::PUT,
        "/api/v1/directory/settings",
        &w.admin,
        Some(settings(&ldap.url, Some("not-the-password"))),
    )
    .await;
    let (status, v) = api
        .call(Method::POST, "/api/v1/directory/test", Some(&w.admin), None)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["error"]["code"], "ldap_bad_credentials");
    for _ in 0..2 {
        let (status, v) = api
            .call(Method::POST, "/api/v1/directory/sync", Some(&w.admin), None)
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(READER_DN),
            "{v}"
        );
        assert!(!v.to_string().contains("not-the-password"));
    }
    assert_eq!(directory_users(&api, &w).await, 0);
    let runs = api
        .ok(Method::GET, "/api/v1/directory/runs", &w.admin, None)
        .await;
    let list = runs["runs"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{runs}");
    assert!(
        list.iter().all(|r| r["status"] == "failed"
            && r["error"].as_str().unwrap().contains("invalid credentials"))
    );
    assert_eq!(runs["last_outcome"], "failed");
    let messages = api
        .ok(Method::GET, "/api/v1/messages", &w.admin, None)
        .await;
    let failed = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Directory sync failed")
        })
        .count();
    assert_eq!(failed, 1, "{messages}");

    // Clearing the password: "" clears, absent keeps.
    let mut keep = settings(&ldap.url, None);
    keep["page_size"] = json!(100);
    let kept = api
        .ok(
            Method::PUT,
            "/api/v1/directory/settings",
            &w.admin,
            Some(keep),
        )
        .await;
    assert_eq!(kept["bind_password_set"], true, "{kept}");
    assert_eq!(kept["settings"]["page_size"], 100);
    let cleared = api
        .ok(
            Method::PUT,
            "/api/v1/directory/settings",
            &w.admin,
            Some(settings(&ldap.url, Some(""))),
        )
        .await;
    assert_eq!(cleared["bind_password_set"], false, "{cleared}");
    // A bind DN without a password would be an unauthenticated bind (RFC 4513), which some
    // servers take as anonymous: refused before connecting, naming the fix.
    let (status, v) = api
        .call(Method::POST, "/api/v1/directory/test", Some(&w.admin), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has no password"),
        "{v}"
    );
}

/// Settings in the config file win and cannot be changed over the API; the file's password
/// is never shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_directory_settings_from_the_config_file_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    prepare(&db, dir.path());
    let file = dir.path().join("seatkeeper.toml");
    std::fs::write(
        &file,
        format!(
            "[directory]\nurl = \"ldap://127.0.0.1:1\"\nbind_dn = \"{READER_DN}\"\n\
             bind_password = \"file-secret-pw\"\nuser_base = \"{PEOPLE}\"\n"
        ),
    )
    .unwrap();
    let server = start_flags(&db, dir.path(), &["--config", file.to_str().unwrap()]);
    let api = Api::new(&server);
    let w = world(&db, dir.path(), &api, 5, 5).await;
    let v = api
        .ok(Method::GET, "/api/v1/directory/settings", &w.admin, None)
        .await;
    assert_eq!(v["source"], "file", "{v}");
    assert_eq!(v["editable"], false);
    assert_eq!(v["bind_password_set"], true);
    assert!(!v.to_string().contains("file-secret-pw"), "{v}");
    let (status, v) = api
        .call(
            Method::PUT,
            "/api/v1/directory/settings",
            Some(&w.admin),
            Some(settings("ldap://127.0.0.1:2", Some("x"))),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "directory_settings_in_file");
    // Nothing listens on port 1: the sync names the address and fails cleanly.
    let (status, v) = api
        .call(Method::POST, "/api/v1/directory/sync", Some(&w.admin), None)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["error"]["code"], "ldap_unreachable");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{v}"
    );
}

/// `serve` syncs on its own when the settings ask for a schedule; on PostgreSQL two nodes
/// share the ledger and the lease lets one of them run it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_two_nodes_run_the_scheduled_sync_once_on_postgres() {
    let Some((db, _guard)) = pg_database().await else {
        return;
    };
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&people_ldif(620));
    let dir = tempfile::tempdir().unwrap();
    let (node_a, api, w) = setup(&db, dir.path()).await;
    let node_b = start(&db, dir.path());
    let api_b = Api::new(&node_b);
    let mut scheduled = settings(&ldap.url, Some(READER_PW));
    scheduled["sync_interval_minutes"] = json!(60);
    api_b
        .ok(
            Method::PUT,
            "/api/v1/directory/settings",
            &w.admin,
            Some(scheduled),
        )
        .await;
    let mut synced = 0;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runs = api
            .ok(Method::GET, "/api/v1/directory/runs", &w.admin, None)
            .await;
        if runs["last_outcome"] == "changed" {
            synced = directory_users(&api, &w).await;
            break;
        }
    }
    assert_eq!(synced, 620, "the scheduled sync did not run");
    // Both nodes keep checking every second; the sync is not due again for an hour.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = api
        .ok(Method::GET, "/api/v1/directory/runs", &w.admin, None)
        .await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs["runs"][0]["status"], "succeeded");
    drop(node_b);
    drop(node_a);
}
