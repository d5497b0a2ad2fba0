//! D4: a redistribution is atomic per call from the user's point of view. The process applying
//! it is killed (SIGKILL) mid-way; the next process that opens the ledger finishes the run, and
//! the result equals that of an uninterrupted run on a copy of the same ledger.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection as _;

use super::*;

pub const USERS: usize = 1200;
pub const SEATS: u32 = 900;

/// A ledger where every employee wants crm (bound to the root role) and seats run short.
pub fn prepared(dir: &Path) {
    ok("x.db", dir, &["vendor", "keygen", "--out", "v"]);
    ok(
        "x.db",
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
        "packages": [{"serial": "S-1", "product": "crm", "kind": "named", "area": "employee", "seats": SEATS}],
        "area_limits": [{"area": "employee", "max_users": 5000}]
    });
    issue_license("x.db", dir, &order);
    ok(
        "x.db",
        dir,
        &["--vendor-key", "v.pub.pem", "license", "import", "lic.json"],
    );
    let mut csv = String::from("login\n");
    for i in 0..USERS {
        csv.push_str(&format!("k{i:04}\n"));
    }
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    ok("x.db", dir, &["user", "import", "users.csv"]);
    ok("x.db", dir, &["role", "bind", "All employees", "crm"]);
}

pub async fn journal(path: &Path) -> Option<(String, i64)> {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.ok()?;
    sqlx::query_as::<_, (String, i64)>(
        "SELECT status, granted FROM redistributions ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&mut c)
    .await
    .ok()
    .flatten()
}

/// Starts `redistribute --all` on `dir/x.db` in 5-user chunks and kills it (SIGKILL) once
/// part of it has committed; the grants it had made by then.
pub async fn kill_a_run_midway(dir: &Path) -> i64 {
    let mut child = bin()
        .current_dir(dir)
        .args([
            "--database",
            "x.db",
            "redistribute",
            "--all",
            "--chunk-users",
            "5",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut mid = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some((status, granted)) = journal(&dir.join("x.db")).await
            && status == "running"
            && granted > 0
        {
            child.kill().unwrap();
            mid = Some(granted);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.wait().unwrap();
    mid.expect("the run was seen mid-way")
}

fn state(dir: &Path) -> (Value, Value) {
    let summary = json("x.db", dir, &["summary"]);
    let mut needs = json("x.db", dir, &["needs", "--limit", "10000"]);
    // When a need arose differs between the two ledgers; who needs what must not.
    for n in needs.as_array_mut().unwrap() {
        n.as_object_mut().unwrap().remove("since");
    }
    (summary["products"].clone(), needs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d4_a_killed_redistribution_is_finished_by_the_next_process() {
    let expected_dir = tempfile::tempdir().unwrap();
    let killed_dir = tempfile::tempdir().unwrap();
    prepared(expected_dir.path());
    for f in ["x.db", "x.db-wal", "x.db-shm"] {
        let from = expected_dir.path().join(f);
        if from.exists() {
            std::fs::copy(&from, killed_dir.path().join(f)).unwrap();
        }
    }
    // Trust the same vendor key in the copy's folder too (commands read it relative to it).
    for f in ["v.pub.pem", "v.key.pem"] {
        std::fs::copy(expected_dir.path().join(f), killed_dir.path().join(f)).unwrap();
    }

    // The uninterrupted run.
    ok(
        "x.db",
        expected_dir.path(),
        &["redistribute", "--all", "--chunk-users", "5"],
    );
    let expected = state(expected_dir.path());

    // The same run, killed once part of it has committed.
    let granted = kill_a_run_midway(killed_dir.path()).await;
    assert!(
        granted < i64::from(SEATS),
        "killed mid-way ({granted} granted)"
    );
    let (status, _) = journal(&killed_dir.path().join("x.db")).await.unwrap();
    assert_eq!(status, "running", "the journal shows the unfinished run");

    // Any command opens the ledger, sees the owner gone and finishes the run first.
    let after = state(killed_dir.path());
    assert_eq!(after, expected);
    let (status, granted) = journal(&killed_dir.path().join("x.db")).await.unwrap();
    assert_eq!((status.as_str(), granted), ("done", i64::from(SEATS)));
}
