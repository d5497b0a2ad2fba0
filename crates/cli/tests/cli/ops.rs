//! Issue 13 items 5 and 8, with real processes: recovery of a SQLite server after writes
//! failed for want of space, and backup and restore.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::server::{
    Api, IDLE_SECS, T0, World, create_user, import_employees, prepare, set_clock, start,
    start_with, world,
};
use super::{ok, run};
use sqlx::Connection as _;

/// Sets the largest file a process may write (`RLIMIT_FSIZE`, bytes) while it runs: the
/// closest thing to a full disk a test can make without privileges.
#[cfg(target_os = "linux")]
fn limit_file_size(pid: u32, bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: prlimit(2) reads `limit` and writes nothing back (null old limit).
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

async fn sign_in(api: &Api) -> (StatusCode, Value) {
    api.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"login": "admin", "password": "correct horse battery staple"})),
    )
    .await
}

async fn sessions_of(api: &Api, w: &World, login: &str) -> usize {
    api.ok(
        Method::GET,
        &format!("/api/v1/sessions?login={login}"),
        &w.admin,
        None,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .len()
}

/// Item 5: while no file of the server may grow, every write fails (and reads go on); once
/// space returns, sign-ins, grants, logins and the reaper work again without a restart.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_5_sqlite_server_recovers_by_itself_after_writes_failed_for_want_of_space() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    prepare("x.db", d);
    let server = start_with("x.db", d, |c| {
        // SAFETY: signal(2) only, between fork and exec. Ignored, SIGXFSZ does not kill the
        // server: a write past the limit fails with EFBIG, as on a full disk with ENOSPC.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let api = Api::new(&server);
    let w = world("x.db", d, &api, 2, 2).await;
    for u in ["idle", "u2", "u3"] {
        create_user(&api, &w, u, "").await;
    }
    assert_eq!(api.login(&w.app, "idle").await["outcome"], "allowed");

    limit_file_size(server.pid(), 1);
    // The idle session is due: the reaper (every second) tries to end it and cannot.
    set_clock(d, T0 + IDLE_SECS + 60);
    for _ in 0..6 {
        let (status, v) = sign_in(&api).await;
        assert!(status.is_server_error(), "a sign-in writes: {status} {v}");
        let (status, v) = api
            .call(
                Method::POST,
                "/api/v1/grants",
                Some(&w.admin),
                Some(json!({"users": ["u2"], "products": ["crm"]})),
            )
            .await;
        assert!(status.is_server_error(), "a grant writes: {status} {v}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sessions_of(&api, &w, "idle").await, 1, "reads go on");

    limit_file_size(server.pid(), libc::RLIM_INFINITY);
    // More sign-ins than the pool has connections: none may be left broken.
    for i in 0..8 {
        let (status, v) = sign_in(&api).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "sign-in {i} after space returned: {v}"
        );
    }
    api.ok(
        Method::POST,
        "/api/v1/grants",
        &w.admin,
        Some(json!({"users": ["u2"], "products": ["crm"]})),
    )
    .await;
    for _ in 0..3 {
        // Repeated: the later ones are answered from the login cache by the writer thread.
        assert_eq!(api.login(&w.app, "u3").await["outcome"], "allowed");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions_of(&api, &w, "idle").await > 0 {
        assert!(
            Instant::now() < deadline,
            "the reaper ended the idle session"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sqlite(path: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

async fn integrity(path: &Path) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut sqlite(path).await)
        .await
        .unwrap()
}

/// The `-wal` file's length (0 when absent).
fn wal_len(dir: &Path, db: &str) -> u64 {
    std::fs::metadata(dir.join(format!("{db}-wal"))).map_or(0, |m| m.len())
}

async fn floating_used(api: &Api, w: &World) -> u64 {
    let summary = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
    summary["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == "crm" && p["kind"] == "concurrent")
        .unwrap()["used"]
        .as_u64()
        .unwrap()
}

/// Item 8: after SIGTERM the `.db` file alone holds every committed change.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_8_a_clean_stop_leaves_the_whole_ledger_in_the_db_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    prepare("x.db", d);
    let server = start("x.db", d);
    let api = Api::new(&server);
    let w = world("x.db", d, &api, 2, 2).await;
    for i in 0..20 {
        create_user(&api, &w, &format!("u{i}"), "").await;
    }
    for i in 0..3 {
        // Also through the SQLite writer thread (repeated logins are answered from memory).
        api.login(&w.app, &format!("u{i}")).await;
        api.login(&w.app, &format!("u{i}")).await;
    }
    assert!(wal_len(d, "x.db") > 0, "the server writes through the log");
    assert!(server.stop().success());
    assert_eq!(wal_len(d, "x.db"), 0, "a clean stop checkpoints the log");
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(d.join("x.db"), alone.path().join("x.db")).unwrap();
    let mut c = sqlite(&alone.path().join("x.db")).await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE login LIKE 'u%'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(
        (users, sessions),
        (20, 6),
        "the .db file alone has all data"
    );
}

/// Item 8: `backup` while a server answers a few hundred logins holds every login answered
/// before it started and passes SQLite's integrity check; `restore` is refused while the
/// server runs; after a stop it replaces the ledger, ends the backup's sessions (their seats
/// are free) and is audited; an unsound backup is refused.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_8_backup_under_login_load_then_restore() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const USERS: usize = 320;
    const CLIENTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    prepare("x.db", d);
    let server = start("x.db", d);
    let api = Api::new(&server);
    let w = world("x.db", d, &api, 2, u32::try_from(USERS).unwrap()).await;
    import_employees(&api, &w, "load", USERS).await;

    // Clients log every user in; each answer is stamped with when it arrived.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (base, token, answered) = (api.base.clone(), w.app.clone(), answered.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acks = Vec::new();
            for i in (c..USERS).step_by(CLIENTS) {
                let v: Value = http
                    .post(format!("{base}/integration/v1/login"))
                    .bearer_auth(&token)
                    .json(&json!({"login": format!("load{i}")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(v["outcome"], "allowed", "{v}");
                acks.push((
                    Instant::now(),
                    v["session_id"].as_str().unwrap().to_string(),
                ));
                answered.fetch_add(1, Ordering::SeqCst);
            }
            acks
        }));
    }
    while answered.load(Ordering::SeqCst) < USERS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let backup = {
        let d = d.to_path_buf();
        tokio::task::spawn_blocking(move || {
            (
                run("x.db", &d, &["--json", "backup", "b.db"]),
                Instant::now(),
            )
        })
    };
    let mut acks = Vec::new();
    for c in clients {
        acks.extend(c.await.unwrap());
    }
    let (backup, finished) = backup.await.unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let during = answered.load(Ordering::SeqCst);
    assert_eq!(during, USERS, "every login was answered");
    assert_eq!(integrity(&d.join("b.db")).await, "ok");
    let in_backup: std::collections::BTreeSet<String> =
        sqlx::query_scalar("SELECT id FROM sessions")
            .fetch_all(&mut sqlite(&d.join("b.db")).await)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let before: Vec<&String> = acks
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, id)| id)
        .collect();
    assert!(before.len() >= USERS / 3);
    let meanwhile = acks
        .iter()
        .filter(|(at, _)| (started..finished).contains(at))
        .count();
    eprintln!(
        "backup: {:?} with {meanwhile} logins answered meanwhile, {} before, {} after; {}",
        finished - started,
        before.len(),
        USERS - before.len() - meanwhile,
        String::from_utf8_lossy(&backup.stdout).trim()
    );
    assert!(meanwhile > 0, "the backup ran while logins were answered");
    let missing: Vec<&&String> = before
        .iter()
        .filter(|id| !in_backup.contains(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup: {missing:?}"
    );
    let again = run("x.db", d, &["backup", "b.db"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing file is never overwritten"
    );

    // Refused while the server has the ledger open; the ledger is untouched.
    let refused = run("x.db", d, &["restore", "b.db"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(floating_used(&api, &w).await, USERS as u64);
    create_user(&api, &w, "after-backup", "").await;
    assert!(server.stop().success());

    // An unsound backup is refused and changes nothing.
    let mut bad = std::fs::read(d.join("b.db")).unwrap();
    let page = 4096;
    for b in &mut bad[page..page * 3] {
        *b = 0x5a;
    }
    std::fs::write(d.join("bad.db"), bad).unwrap();
    let refused = run("x.db", d, &["restore", "bad.db"]);
    eprintln!("{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let restored: Value =
        serde_json::from_str(&ok("x.db", d, &["--json", "restore", "b.db"])).unwrap();
    assert_eq!(restored["sessions_ended"], in_backup.len(), "{restored}");
    assert_eq!(integrity(&d.join("x.db")).await, "ok");
    let server = start("x.db", d);
    let api = Api::new(&server);
    let (status, _) = api
        .call(
            Method::GET,
            "/api/v1/users/after-backup",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the ledger is the backup's");
    let sessions = api
        .ok(Method::GET, "/api/v1/sessions", &w.admin, None)
        .await;
    assert_eq!(sessions["items"], json!([]), "the backup's sessions ended");
    assert_eq!(floating_used(&api, &w).await, 0, "their seats are free");
    assert_eq!(api.login(&w.app, "load0").await["outcome"], "allowed");
    let audit = api
        .ok(
            Method::GET,
            "/api/v1/audit?action=ledger.restore",
            &w.admin,
            None,
        )
        .await;
    assert!(audit.to_string().contains("b.db"), "{audit}");
}

/// Item 8: PostgreSQL has its own tools; the commands say so (exit 2) and touch nothing.
#[test]
fn x13_8_postgres_backup_and_restore_point_to_pg_dump_and_pg_restore() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["backup", "restore"] {
        let o = run(
            "postgres://nobody@127.0.0.1:1/none",
            dir.path(),
            &[cmd, "x.dump"],
        );
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("pg_dump") && err.contains("pg_restore"),
            "{err}"
        );
    }
}

/// `GET /readyz` (issue 17): ready while the database answers; on PostgreSQL refusing
/// connections, 503 with the reason within seconds while `/healthz` still answers; ready again
/// once the database is back, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_readyz_follows_the_database() {
    let Some((url, _guard)) = super::pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    prepare(&url, dir.path());
    let server = start(&url, dir.path());
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();
    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ready");

    let admin = std::env::var("SEATKEEPER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    let set = |allow: bool| format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow}");
    sqlx::query(sqlx::AssertSqlSafe(set(false)))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    // The pool may hand out a connection that is already gone: the first answers can be
    // either; within a few tries every one is 503.
    let started = Instant::now();
    let answer = loop {
        let r = get("/readyz").await.unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r.json::<Value>().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("not ready"),
        "{answer}"
    );
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);

    sqlx::query(sqlx::AssertSqlSafe(set(true)))
        .execute(&mut c)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        if get("/readyz").await.unwrap().status() == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready again"
        );
    }
}

/// Issue 17's logs: every answer carries `x-request-id` (a client's own is kept), an error
/// answer carries it in its body too, and with `--log-format json` each log line is a JSON
/// object naming the request id of the request it belongs to; without a terminal, no colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_request_ids_in_answers_and_json_log_lines() {
    use std::io::{BufRead as _, BufReader};
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "text"] {
        let log = dir.path().join(format!("{format}.log"));
        let mut child = Kill(
            super::bin()
                .current_dir(dir.path())
                .args([
                    "--database",
                    &format!("{format}.db"),
                    "--log-format",
                    format,
                ])
                .args(["serve", "--listen", "127.0.0.1:0"])
                .env("SEATKEEPER_LOG", "info,tower_http=debug")
                .stdout(std::process::Stdio::piped())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let base = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("Seatkeeper listening on ")
                    .map(str::to_string)
            })
            .expect("the server says where it listens");
        let http = reqwest::Client::new();
        let r = http.get(format!("{base}/healthz")).send().await.unwrap();
        let generated = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(!generated.is_empty());
        let r = http
            .get(format!("{base}/api/v1/summary"))
            .header("x-request-id", "ticket-4711")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["x-request-id"], "ticket-4711");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], "ticket-4711", "{body}");
        assert_eq!(body["error"]["code"], "unauthenticated");
        drop(child);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains('\u{1b}'),
            "no colours without a terminal: {text}"
        );
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("ticket-4711")).collect();
        assert!(
            !lines.is_empty(),
            "the request's log lines name its id: {text}"
        );
        if format == "json" {
            for l in &lines {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
                assert_eq!(v["span"]["request_id"], "ticket-4711", "{l}");
            }
        }
    }
}
