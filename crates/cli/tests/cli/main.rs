//! End-to-end tests of the `seatkeeper` binary: real processes on a real SQLite file and a
//! real PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sqlx::Connection as _;

mod server;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seatkeeper"));
    c.env_remove("SEATKEEPER_DATABASE")
        .env_remove("SEATKEEPER_VENDOR_KEYS")
        .env("SEATKEEPER_ACTOR", "tester");
    c
}

fn run(db: &str, dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .arg("--database")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn ok(db: &str, dir: &Path, args: &[&str]) -> String {
    let o = run(db, dir, args);
    assert!(
        o.status.success(),
        "seatkeeper {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(db: &str, dir: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(db, dir, &a)).unwrap()
}

/// The vendor issues `lic.json` for `req.json` and `order` with the key `v.key.pem`.
fn issue_license(db: &str, dir: &Path, order: &Value) {
    std::fs::write(dir.join("order.json"), order.to_string()).unwrap();
    ok(
        db,
        dir,
        &[
            "vendor",
            "issue",
            "--key",
            "v.key.pem",
            "--request",
            "req.json",
            "--order",
            "order.json",
            "-o",
            "lic.json",
        ],
    );
}

/// Vendor keys, a request, an order with `seats` named crm seats, issued and imported.
fn licensed(db: &str, dir: &Path, seats: u32) {
    ok(db, dir, &["vendor", "keygen", "--out", "v"]);
    ok(
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
        "packages": [{"serial": "S-1", "product": "crm", "kind": "named", "area": "employee", "seats": seats}],
        "area_limits": [{"area": "employee", "max_users": 100}]
    });
    issue_license(db, dir, &order);
    ok(
        db,
        dir,
        &["--vendor-key", "v.pub.pem", "license", "import", "lic.json"],
    );
}

async fn pg_database() -> Option<(String, PgGuard)> {
    let admin = std::env::var("SEATKEEPER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL at {admin} is required in CI: {e}"
            );
            eprintln!("NOTICE: PostgreSQL unreachable ({e}); skipping the PostgreSQL run");
            return None;
        }
    };
    let name = format!("sk_cli_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Some((format!("{base}/{name}"), PgGuard { admin, name }))
}

struct PgGuard {
    admin: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            })
        })
        .join()
        .ok();
    }
}

/// Many OS processes race `seatkeeper grant` for the last seats: exactly the seats that exist
/// are granted, every other process is refused with `no_seat_free`.
fn race(db: &str, dir: &Path) {
    const SEATS: u32 = 4;
    const PROCESSES: usize = 16;
    licensed(db, dir, SEATS);
    let csv: String = std::iter::once("login".to_string())
        .chain((0..PROCESSES).map(|i| format!("racer{i}")))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    ok(db, dir, &["user", "import", "users.csv"]);
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            bin()
                .current_dir(dir)
                .args([
                    "--database",
                    db,
                    "--json",
                    "grant",
                    "--user",
                    &format!("racer{i}"),
                    "--product",
                    "crm",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut granted = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        if o.status.success() {
            granted += v["granted"].as_array().map_or(0, Vec::len);
        } else {
            assert_eq!(
                v["error"]["code"],
                "no_seat_free",
                "unexpected failure: {v} {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    assert_eq!(granted, SEATS as usize);
    let summary = json(db, dir, &["summary"]);
    let crm = &summary["products"][0];
    assert_eq!(
        (crm["used"].as_u64(), crm["total"].as_u64()),
        (Some(u64::from(SEATS)), Some(u64::from(SEATS)))
    );
    let holders = json(db, dir, &["user", "list", "--product", "crm"]);
    assert_eq!(holders.as_array().unwrap().len(), SEATS as usize);
}

#[test]
fn d1_race_of_processes_for_the_last_seats_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    race("race.db", dir.path());
}

#[tokio::test]
async fn d1_race_of_processes_for_the_last_seats_on_postgres() {
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || race(&url, &path))
        .await
        .unwrap();
}

#[test]
fn tour_runs_end_to_end_and_leaves_a_usable_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok("tour.db", dir.path(), &["tour", "--reset"]);
    assert!(out.contains("a tampered copy is refused"), "{out}");
    assert!(out.contains("3 needed, 1 free"), "{out}");
    let ann = json("tour.db", dir.path(), &["user", "show", "ann"]);
    let products: Vec<&str> = ann["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["product"].as_str().unwrap())
        .collect();
    assert_eq!(products, vec!["analytics", "crm"]);
    // Running it again needs --reset, and with it starts over cleanly.
    let again = run("tour.db", dir.path(), &["tour"]);
    assert_eq!(again.status.code(), Some(2));
    ok("tour.db", dir.path(), &["tour", "--reset"]);
    let inspect = ok(
        "tour.db",
        dir.path(),
        &[
            "vendor",
            "inspect",
            "tour.db.tour/license.json",
            "--vendor-key",
            "tour.db.tour/vendor.pub.pem",
        ],
    );
    assert!(inspect.contains("signature: valid"), "{inspect}");
}

#[test]
fn refusals_exit_2_with_a_machine_readable_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    licensed("x.db", d, 1);
    ok("x.db", d, &["user", "create", "ann"]);
    let o = run(
        "x.db",
        d,
        &["--json", "grant", "--user", "ann", "--product", "nope"],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "unknown_product");
    let o = run(
        "x.db",
        d,
        &[
            "--vendor-key",
            "v.pub.pem",
            "license",
            "import",
            "order.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a Seatkeeper license file"));
    let o = run("x.db", d, &["user", "import", "order.json"]);
    assert_eq!(o.status.code(), Some(2));
    // Re-import is a no-op; the CSV export lists account state and licenses.
    assert!(
        ok(
            "x.db",
            d,
            &["--vendor-key", "v.pub.pem", "license", "import", "lic.json"]
        )
        .contains("already imported")
    );
    ok("x.db", d, &["grant", "--user", "ann", "--product", "crm"]);
    let csv = ok("x.db", d, &["user", "export"]);
    assert!(csv.contains("ann,ann,,employee,,active,Yes,,crm"), "{csv}");
}
