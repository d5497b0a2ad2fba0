//! End-to-end tests of the `seatkeeper` binary: real processes on a real SQLite file and a
//! real PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sqlx::Connection as _;

mod crash;
mod hardening;
mod invariants;
mod ldap;
mod mail;
mod metrics;
mod ops;
#[path = "../shared/receiver.rs"]
mod receiver;
mod scim_check;
mod server;
mod soak;
mod sso;
mod support_oidc;
mod support_smtp;
mod tour;

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

/// D2–D6 from the command line: a role tree, a product bound to the parent, `redistribute
/// --preview` changes nothing, `redistribute` applies and posts a message, `explain` names
/// the role and the ancestor, `needs` lists the shortage.
#[test]
fn d3_d6_redistribute_preview_apply_explain_needs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, d) = ("roles.db", dir.path());
    licensed(db, d, 2);
    for u in ["ann", "bob", "cat"] {
        ok(db, d, &["user", "create", u]);
    }
    ok(
        db,
        d,
        &["role", "create", "Org", "--kind", "organizational"],
    );
    let sales = json(
        db,
        d,
        &[
            "role",
            "create",
            "Sales",
            "--kind",
            "organizational",
            "--parent",
            "Org",
        ],
    );
    let sales_id = sales["id"].as_i64().unwrap().to_string();
    ok(
        db,
        d,
        &["role", "members", "add", &sales_id, "ann", "bob", "cat"],
    );
    ok(db, d, &["role", "bind", "org", "crm"]);
    let roles = json(db, d, &["role", "list"]);
    let org = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Org")
        .unwrap();
    assert_eq!(org["products"], serde_json::json!(["crm"]), "{roles}");
    let used = || {
        json(db, d, &["summary"])["products"][0]["used"]
            .as_u64()
            .unwrap()
    };

    let preview = json(db, d, &["redistribute", "--role", "Org", "--preview"]);
    assert_eq!(preview["preview"], true, "{preview}");
    assert_eq!(
        (&preview["granted"], &preview["recalled"], &preview["unmet"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(0),
            &serde_json::json!(1)
        )
    );
    assert_eq!(preview["unmet_needs"][0]["login"], "cat");
    let human = ok(db, d, &["redistribute", "--all", "--preview"]);
    assert!(human.contains("nothing was changed"), "{human}");
    assert!(human.contains("2 would be granted"), "{human}");
    assert_eq!(used(), 0, "a preview changes nothing");
    assert_eq!(
        json(db, d, &["messages"])["messages"],
        serde_json::json!([])
    );

    let applied = json(
        db,
        d,
        &["redistribute", "--role", "Org", "--manual", "keep"],
    );
    assert_eq!(applied["preview"], false, "{applied}");
    assert_eq!(applied["granted"], 2);
    assert!(applied["message_id"].as_i64().is_some(), "{applied}");
    assert_eq!(used(), 2);

    let e = json(db, d, &["explain", "ann", "crm"]);
    assert_eq!(e["holds"], true, "{e}");
    assert_eq!(e["reasons"][0]["role_name"], "Sales");
    assert_eq!(e["reasons"][0]["via_name"], "Org");
    let human = ok(db, d, &["explain", "ann", "crm"]);
    assert!(
        human.contains("ann holds crm") && human.contains("via its ancestor \"Org\""),
        "{human}"
    );
    let human = ok(db, d, &["explain", "cat", "crm"]);
    assert!(human.contains("cat does not hold crm"), "{human}");
    let needs = json(db, d, &["needs", "--user", "cat"]);
    assert_eq!(needs[0]["product"], "crm", "{needs}");
    assert_eq!(needs[0]["reason"], "no_seat_free");
    assert_eq!(
        json(db, d, &["needs", "--user", "ann"]),
        serde_json::json!([])
    );

    let m = json(db, d, &["messages", "--unread", "--mark-read"]);
    assert_eq!(m["marked_read"], 1, "{m}");
    assert_eq!(m["unread"], 0);
    assert_eq!(m["messages"][0]["kind"], "redistribution");
    assert_eq!(m["messages"][0]["body"]["unmet"], 1);

    let s = json(
        db,
        d,
        &[
            "settings",
            "distribution",
            "--role-based-distribution",
            "false",
        ],
    );
    assert_eq!(s["role_based_distribution"], false);
    assert_eq!(s["redistribute_on_role_change"], false);
    let o = run(db, d, &["--json", "redistribute", "--all"]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "distribution_off");
    // A scope is required; an unknown option for manual grants is refused.
    assert_eq!(run(db, d, &["redistribute"]).status.code(), Some(2));
    let o = run(db, d, &["redistribute", "--all", "--manual", "sometimes"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(db, d, &["--json", "role", "bind", "Nobody", "crm"]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "unknown_role");
}
