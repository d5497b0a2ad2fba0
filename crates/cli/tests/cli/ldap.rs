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
