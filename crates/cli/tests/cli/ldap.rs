//! `seatkeeper ldap test` against a private slapd (issue 15, I1): the harness is
//! `seatkeeper-directory`'s, included here.

use std::path::Path;

use super::bin;

#[path = "../../../directory/tests/support/slapd.rs"]
pub(crate) mod slapd;

use slapd::{GROUPS, PEOPLE, READER_DN, READER_PW, Slapd, people_ldif};

/// `serve`'s config file with a `[directory]` section; the password from the environment.
fn write_config(dir: &Path, url: &str, bind_dn: &str) -> std::path::PathBuf {
    let path = dir.join("seatkeeper.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\n\n[directory]\nurl = \"{url}\"\nbind_dn = \"{bind_dn}\"\n\
             bind_password_env = \"SK_TEST_LDAP_PASSWORD\"\nuser_base = \"{PEOPLE}\"\n\
             group_base = \"{GROUPS}\"\nconnect_timeout_secs = 5\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn i1_ldap_test_prints_counts_and_three_examples() {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(620));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let out = bin()
        .args(["ldap", "test", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", READER_PW)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("users:  620"), "{stdout}");
    assert!(stdout.contains("groups: 3"), "{stdout}");
    assert!(
        stdout.contains(&format!("bound as {READER_DN}")),
        "{stdout}"
    );
    assert_eq!(stdout.matches("    mail: ").count(), 3, "{stdout}");
    assert!(!stdout.contains(READER_PW) && !stdout.contains("userpassword"));

    // --json: the same report, machine-readable.
    let out = bin()
        .args(["--json", "ldap", "test", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", READER_PW)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["users"], 620);
    assert_eq!(report["examples"].as_array().unwrap().len(), 3);
}

#[test]
fn i1_ldap_test_refusals_exit_2_naming_the_cause() {
    let Some(server) = Slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let out = bin()
        .args(["ldap", "test", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("LDAP bind as {READER_DN} was refused")),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password"), "{stderr}");

    // The password variable not set: said so, before any connection.
    let out = bin()
        .args(["--json", "ldap", "test", "--config"])
        .arg(&config)
        .env_remove("SK_TEST_LDAP_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "directory_config");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SK_TEST_LDAP_PASSWORD")
    );

    // Nobody listening: unreachable, with the address.
    drop(server);
    let out = bin()
        .args(["--json", "ldap", "test", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", READER_PW)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "ldap_unreachable", "{err}");
}

/// `ldap sync` on a SQLite file: the preview shows the plan and writes nothing, the sync
/// then does exactly what the preview said, and a second sync finds no change (I1).
#[test]
fn i1_ldap_sync_previews_then_applies_then_finds_nothing_to_do_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    previews_then_applies_then_finds_nothing_to_do(db.to_str().unwrap());
}

/// The same on PostgreSQL.
#[tokio::test]
async fn i1_ldap_sync_previews_then_applies_then_finds_nothing_to_do_on_postgres() {
    let Some((url, _guard)) = super::pg_database().await else {
        return;
    };
    previews_then_applies_then_finds_nothing_to_do(&url);
}

fn previews_then_applies_then_finds_nothing_to_do(db: &str) {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(620));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    // Every group becomes a functional role; nesting (staff ∋ engineers, sales) the tree.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[directory.mapping.roles.create]\nkind = \"functional\"\n");
    std::fs::write(&config, text).unwrap();
    let sync = |args: &[&str]| {
        let out = bin()
            .arg("--database")
            .arg(db)
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("SK_TEST_LDAP_PASSWORD", READER_PW)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    let preview: serde_json::Value =
        serde_json::from_str(&sync(&["--json", "ldap", "sync", "--preview"])).unwrap();
    assert_eq!(preview["create"].as_array().unwrap().len(), 620);
    assert_eq!(preview["roles_create"].as_array().unwrap().len(), 3);
    // Nothing written: the same preview again.
    let again: serde_json::Value =
        serde_json::from_str(&sync(&["--json", "ldap", "sync", "--preview"])).unwrap();
    assert_eq!(preview, again);

    let report: serde_json::Value =
        serde_json::from_str(&sync(&["--json", "ldap", "sync"])).unwrap();
    let counts = &report["counts"];
    assert_eq!(counts["created"], 620, "{report}");
    assert_eq!(counts["roles_created"], 3, "{report}");
    assert_eq!(
        counts["members_added"].as_u64().unwrap(),
        preview["add_members"].as_array().unwrap().len() as u64
    );
    assert!(report["run_id"].is_i64(), "{report}");

    let human = sync(&["ldap", "sync"]);
    assert!(
        human.starts_with("no change: 620 users and 3 groups read"),
        "{human}"
    );
}

/// A sync that cannot read the directory changes nothing, exits 2 naming the cause, and is
/// recorded as a failed run.
#[test]
fn i1_ldap_sync_that_cannot_bind_changes_nothing() {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(5));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let db = dir.path().join("ledger.db");
    let out = bin()
        .arg("--database")
        .arg(&db)
        .args(["ldap", "sync", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("was refused"), "{stderr}");
    assert!(!stderr.contains("wrong-password"), "{stderr}");
}

/// The database URL a test reads a ledger through, for `--database` = `db`.
fn read_url(db: &str) -> String {
    if db.starts_with("postgres") {
        db.to_string()
    } else {
        format!("sqlite://{db}?mode=ro")
    }
}

pub(crate) async fn connect(db: &str) -> Option<sqlx::AnyConnection> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&read_url(db)).await.ok()
}

pub(crate) async fn rows(c: &mut sqlx::AnyConnection, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row as _;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(c)
        .await
        .unwrap()
        .iter()
        .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
        .collect()
}

/// What a sync decides, as stored: every user (with folder path), every role with its
/// parent, every membership — by name, so that two ledgers compare whatever their row ids.
async fn outcome(db: &str) -> Vec<Vec<Vec<String>>> {
    let mut c = connect(db).await.unwrap();
    vec![
        rows(
            &mut c,
            "SELECT u.login, u.name, u.email, u.area, u.state, COALESCE(u.block_reason, ''), \
             COALESCE(u.directory_dn, ''), f.name FROM users u JOIN folders f ON f.id = u.folder_id \
             ORDER BY u.login",
        )
        .await,
        rows(
            &mut c,
            "SELECT r.name, COALESCE(p.name, '') FROM roles r LEFT JOIN roles p ON p.id = r.parent_id \
             ORDER BY r.name",
        )
        .await,
        rows(
            &mut c,
            "SELECT r.name, u.login FROM role_members m JOIN roles r ON r.id = m.role_id \
             JOIN users u ON u.id = m.user_id ORDER BY r.name, u.login",
        )
        .await,
    ]
}

/// The invariants a write keeps whatever stops it: the area counters equal the real counts
/// and no area is over its limit, and no active user carries a block reason.
pub(crate) async fn assert_consistent(db: &str) {
    let mut c = connect(db).await.unwrap();
    let counters = rows(
        &mut c,
        "SELECT a.area, CAST(a.active_users AS TEXT), \
         CAST((SELECT COUNT(*) FROM users u WHERE u.area = a.area AND u.state = 'active' \
          AND u.builtin = 0) AS TEXT), CAST(COALESCE(a.user_limit, -1) AS TEXT) \
         FROM area_counters a ORDER BY a.area",
    )
    .await;
    for r in &counters {
        assert_eq!(r[1], r[2], "area counter equals the real count: {r:?}");
        let limit: i64 = r[3].parse().unwrap();
        assert!(
            limit < 0 || r[1].parse::<i64>().unwrap() <= limit,
            "over its limit: {r:?}"
        );
    }
    let odd = rows(
        &mut c,
        "SELECT login FROM users WHERE state = 'active' AND block_reason IS NOT NULL",
    )
    .await;
    assert!(odd.is_empty(), "{odd:?}");
}

/// Statuses of the run history, oldest first.
async fn run_statuses(db: &str) -> Vec<String> {
    let Some(mut c) = connect(db).await else {
        return Vec::new();
    };
    rows(&mut c, "SELECT status FROM directory_runs ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Directory users written so far and whether the newest run is still `running`.
async fn progress(db: &str) -> Option<(usize, bool)> {
    let mut c = connect(db).await?;
    use sqlx::Row as _;
    let n: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE source = 'directory'")
            .fetch_one(&mut c)
            .await
            .ok()?
            .get(0);
    let status: Option<String> =
        sqlx::query("SELECT status FROM directory_runs ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut c)
            .await
            .ok()?
            .map(|r| r.get(0));
    Some((
        usize::try_from(n).unwrap_or(0),
        status.as_deref() == Some("running"),
    ))
}

const KILLED_USERS: usize = 4000;

/// A ledger with an employee limit of `max_users`, ready for `ldap sync`.
fn limited(db: &str, dir: &Path, max_users: u32) {
    if !dir.join("v.key.pem").exists() {
        super::ok(db, dir, &["vendor", "keygen", "--out", "v"]);
    }
    super::ok(
        db,
        dir,
        &[
            "license",
            "request",
            "--company-id",
            "ACME",
            "-o",
            "req.json",
        ],
    );
    let order = serde_json::json!({
        "products": [{"code": "crm", "name": "CRM", "features": ["sales"], "all_modules": true}],
        "packages": [{"serial": "S-1", "product": "crm", "kind": "named", "area": "employee", "seats": 10}],
        "area_limits": [{"area": "employee", "max_users": max_users}]
    });
    super::issue_license(db, dir, &order);
    super::ok(
        db,
        dir,
        &["--vendor-key", "v.pub.pem", "license", "import", "lic.json"],
    );
}

/// I1: `ldap sync` killed (SIGKILL) once part of its writes have committed leaves a
/// consistent ledger; the run is then closed as `interrupted`, and the next sync completes
/// the work: the ledger equals that of a sync that was never interrupted. When the kill comes
/// too late (the run already done), everything but the interruption is still checked.
async fn killed_sync_is_completed_by_the_next(expected_db: &str, killed_db: &str) {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(KILLED_USERS));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[directory.mapping]\nfolder = { by = \"ou_path\", base_dn = \"ou=people,dc=example,dc=com\" }\n\n[directory.mapping.roles.create]\nkind = \"functional\"\n");
    std::fs::write(&config, text).unwrap();
    let sync = |db: &str| {
        let mut c = bin();
        c.current_dir(dir.path())
            .arg("--database")
            .arg(db)
            .args(["--json", "ldap", "sync", "--config"])
            .arg(&config)
            .env("SK_TEST_LDAP_PASSWORD", READER_PW);
        c
    };
    let finish = |db: &str| {
        let out = sync(db).output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // 1,000 of the users are created blocked, waiting for room (U2).
    limited(expected_db, dir.path(), 3000);
    limited(killed_db, dir.path(), 3000);

    // The uninterrupted sync.
    finish(expected_db);
    let expected = outcome(expected_db).await;
    assert_eq!(
        expected[0].len(),
        KILLED_USERS + 1,
        "every user and the admin"
    );

    // The same sync, killed once some users are written but the run is not finished.
    let mut child = sync(killed_db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut killed_at = None;
    while started.elapsed() < std::time::Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if let Some((n, true)) = progress(killed_db).await
            && n > 0
        {
            child.kill().unwrap();
            killed_at = Some(n);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.wait().unwrap();
    assert_consistent(killed_db).await;
    let statuses = run_statuses(killed_db).await;
    let killed_midway =
        killed_at.is_some() && statuses.last().map(String::as_str) == Some("running");
    if killed_midway {
        eprintln!("killed after {killed_at:?} users were written");
    } else {
        eprintln!("NOTICE: the sync finished before the kill; checking the rest only");
    }

    // The next sync completes the work and closes the killed run.
    finish(killed_db);
    assert_consistent(killed_db).await;
    assert_eq!(outcome(killed_db).await, expected);
    let statuses = run_statuses(killed_db).await;
    assert!(!statuses.iter().any(|s| s == "running"), "{statuses:?}");
    if killed_midway {
        assert_eq!(
            statuses.iter().filter(|s| *s == "interrupted").count(),
            1,
            "{statuses:?}"
        );
    }
    // And a third finds nothing to do.
    let out = sync(killed_db).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["run_id"].is_null(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_a_killed_ldap_sync_is_completed_by_the_next_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.db");
    let killed = dir.path().join("killed.db");
    killed_sync_is_completed_by_the_next(expected.to_str().unwrap(), killed.to_str().unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_a_killed_ldap_sync_is_completed_by_the_next_on_postgres() {
    let Some((expected, _g1)) = super::pg_database().await else {
        return;
    };
    let Some((killed, _g2)) = super::pg_database().await else {
        return;
    };
    killed_sync_is_completed_by_the_next(&expected, &killed).await;
}

/// I1, U2 from the command line: a directory entry whose login a hand-made user holds is
/// skipped (listed with its DN and why) and the rest of the sync goes on; users beyond the
/// limit wait (`license_limit`); blocking a user by hand lets the oldest of them in at once,
/// without a sync, and never the hand-blocked one.
#[test]
fn u2_a_block_from_the_command_line_activates_the_oldest_waiting_user() {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(6));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let db = "ledger.db";
    limited(db, dir.path(), 3);
    super::ok(db, dir.path(), &["user", "create", "user0004"]);
    let out = bin()
        .current_dir(dir.path())
        .args(["--database", db, "ldap", "sync", "--config"])
        .arg(&config)
        .env("SK_TEST_LDAP_PASSWORD", READER_PW)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("skipped 1"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "uid=user0004,ou=sales,{PEOPLE}: user \"user0004\" exists, not from the directory"
        )),
        "{stdout}"
    );
    let state = |login: &str| {
        let u = super::json(db, dir.path(), &["user", "show", login]);
        (
            u["state"].as_str().unwrap().to_string(),
            u["block_reason"].as_str().unwrap_or("").to_string(),
        )
    };
    let waits = || ("blocked".to_string(), "license_limit".to_string());
    let active = || ("active".to_string(), String::new());
    // Room for 3: user0004 (by hand) and the first two entries; the rest wait.
    assert_eq!(state("user0000"), active());
    assert_eq!(state("user0001"), active());
    for login in ["user0002", "user0003", "user0005"] {
        assert_eq!(state(login), waits(), "{login}");
    }
    super::ok(db, dir.path(), &["user", "block", "user0000"]);
    assert_eq!(state("user0002"), active());
    assert_eq!(state("user0003"), waits());
    super::ok(db, dir.path(), &["user", "delete", "user0004", "--yes"]);
    assert_eq!(state("user0003"), active());
    assert_eq!(
        state("user0000"),
        (
            "blocked".to_string(),
            "blocked by administrator".to_string()
        )
    );
}

/// D5 after an interrupted run: a run stopped during its redistribution leaves users created
/// without the seats their roles bring, and the next plan has nothing left for them. The
/// next sync redistributes every directory user, so the ledger ends as an uninterrupted sync
/// leaves it. (Stands for the kill: the users are written with role-based distribution off,
/// then the run is left `running` under a process that is gone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d5_the_sync_after_an_interrupted_run_redistributes_every_directory_user() {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(30));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url, READER_DN);
    let sync = |db: &str| {
        let out = bin()
            .current_dir(dir.path())
            .args(["--database", db, "--json", "ldap", "sync", "--config"])
            .arg(&config)
            .env("SK_TEST_LDAP_PASSWORD", READER_PW)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let distribution = |db: &str, on: &str| {
        super::ok(
            db,
            dir.path(),
            &["settings", "distribution", "--role-based-distribution", on],
        );
    };
    let held = |db: &str| {
        let db = dir.path().join(db);
        async move {
            let mut c = connect(db.to_str().unwrap()).await.unwrap();
            rows(
                &mut c,
                "SELECT u.login, a.product_code FROM assignments a JOIN users u ON u.id = a.user_id \
                 ORDER BY u.login, a.product_code",
            )
            .await
        }
    };
    for db in ["expected.db", "stopped.db"] {
        limited(db, dir.path(), 100);
        super::ok(db, dir.path(), &["role", "bind", "All employees", "crm"]);
    }
    distribution("expected.db", "true");
    sync("expected.db");
    let expected = held("expected.db").await;
    assert_eq!(expected.len(), 10, "crm's 10 seats, handed out by D5");

    distribution("stopped.db", "false");
    sync("stopped.db");
    distribution("stopped.db", "true");
    assert!(held("stopped.db").await.is_empty());
    let mut raw = {
        use sqlx::Connection as _;
        sqlx::SqliteConnection::connect(&format!(
            "sqlite://{}",
            dir.path().join("stopped.db").display()
        ))
        .await
        .unwrap()
    };
    sqlx::query(
        "INSERT INTO directory_runs (started_at, status, preview, owner) \
         VALUES (0, 'running', 0, 'gone-host:1:x')",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let report = sync("stopped.db");
    assert_eq!(report["counts"]["redistributed"], 30, "{report}");
    assert_eq!(held("stopped.db").await, expected);
    let statuses = run_statuses(dir.path().join("stopped.db").to_str().unwrap()).await;
    assert!(
        statuses.contains(&"interrupted".to_string()),
        "{statuses:?}"
    );
    // Once done, the next sync has nothing to do.
    assert!(sync("stopped.db")["run_id"].is_null());
}
