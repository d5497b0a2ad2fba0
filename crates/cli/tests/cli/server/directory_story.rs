//! A directory's life, end to end against a real slapd through `serve` and the admin API,
//! on SQLite and PostgreSQL (issue 15): bad entries skipped with their DN, groups to nested
//! roles, users beyond the area's limit created blocked (U2) and activated oldest first when
//! room frees, disabled and removed accounts blocked, a hand block never lifted by a sync, a
//! group change moving a role-bound product (D5), and a last sync that finds nothing to do.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, World, prepare, start, world_limited};
use crate::ldap::slapd::{GROUPS, PEOPLE, READER_DN, READER_PW, Slapd};
use crate::pg_database;

fn person(uid: &str, extra: &str) -> String {
    format!(
        "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Person {uid}\n\
         sn: {uid}\nmail: {uid}@example.com\n{extra}\n"
    )
}

fn directory() -> String {
    let mut ldif = String::new();
    for i in 1..=10 {
        let extra = if i == 10 {
            "employeeType: disabled\n"
        } else {
            ""
        };
        ldif.push_str(&person(&format!("u{i:02}"), extra));
    }
    // Entries a sync must skip, naming their DN: no login, a login twice, a bad e-mail.
    ldif.push_str(&format!(
        "dn: cn=No Login,{PEOPLE}\nobjectClass: inetOrgPerson\ncn: No Login\nsn: x\n\n\
         dn: cn=Dup One,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: dup\ncn: Dup One\nsn: x\n\n\
         dn: cn=Dup Two,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: dup\ncn: Dup Two\nsn: x\n\n\
         dn: uid=badmail,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: badmail\ncn: Bad Mail\n\
         sn: x\nmail: not-an-e-mail\n\n"
    ));
    // staff ∋ sales (nesting), u03.
    ldif.push_str(&format!(
        "dn: cn=sales,{GROUPS}\nobjectClass: groupOfNames\ncn: sales\n\
         member: uid=u01,{PEOPLE}\nmember: uid=u02,{PEOPLE}\n\n\
         dn: cn=staff,{GROUPS}\nobjectClass: groupOfNames\ncn: staff\n\
         member: cn=sales,{GROUPS}\nmember: uid=u03,{PEOPLE}\n\n"
    ));
    ldif
}

fn config(url: &str) -> Value {
    json!({
        "url": url,
        "bind_dn": READER_DN,
        "bind_password": READER_PW,
        "user_base": PEOPLE,
        "group_base": GROUPS,
        "connect_timeout_secs": 5,
        "mapping": {
            "disabled": {"by": "attribute", "attr": "employeeType", "value": "disabled"},
            "roles": {"create": {"kind": "functional"}}
        }
    })
}

struct Ctx {
    api: Api,
    w: World,
}

impl Ctx {
    async fn sync(&self) -> Value {
        self.api
            .ok(Method::POST, "/api/v1/directory/sync", &self.w.admin, None)
            .await
    }

    async fn user(&self, login: &str) -> Value {
        self.api
            .ok(
                Method::GET,
                &format!("/api/v1/users/{login}"),
                &self.w.admin,
                None,
            )
            .await
    }

    /// (state, block reason).
    async fn state(&self, login: &str) -> (String, Option<String>) {
        let u = self.user(login).await;
        (
            u["state"].as_str().unwrap().to_string(),
            u["block_reason"].as_str().map(str::to_string),
        )
    }

    async fn holds(&self, login: &str, product: &str) -> bool {
        self.user(login).await["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["product"] == product)
    }

    async fn role(&self, name: &str) -> Value {
        let roles = self
            .api
            .ok(Method::GET, "/api/v1/roles", &self.w.admin, None)
            .await;
        let list = roles
            .get("items")
            .unwrap_or(&roles)
            .as_array()
            .unwrap()
            .clone();
        list.into_iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no role {name}: {roles}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_u2_d5_a_directory_story_against_slapd_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    story(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i1_u2_d5_a_directory_story_against_slapd_on_postgres() {
    let Some((db, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    story(&db, dir.path()).await;
}

async fn story(db: &str, dir: &Path) {
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&directory());
    prepare(db, dir);
    let _server = start(db, dir);
    let api = Api::new(&_server);
    // Room for 7 employees: u01–u07 fit, u08 and u09 do not, u10 is disabled.
    let w = world_limited(db, dir, &api, 5, 5, 7).await;
    let c = Ctx { api, w };
    c.api
        .ok(
            Method::PUT,
            "/api/v1/directory/settings",
            &c.w.admin,
            Some(config(&ldap.url)),
        )
        .await;

    // 1. The first sync.
    let first = c.sync().await;
    let counts = &first["counts"];
    assert_eq!(first["users_read"], 14, "{first}");
    assert_eq!(counts["created"], 10, "{first}");
    assert_eq!(
        counts["created_blocked"], 3,
        "u08, u09 (license_limit), u10 (disabled): {first}"
    );
    assert_eq!(counts["roles_created"], 2, "{first}");
    assert_eq!(counts["skipped"], 4, "{first}");
    let skipped: Vec<String> = first["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["dn"].as_str().unwrap().to_string())
        .collect();
    for dn in ["cn=No Login", "cn=Dup One", "cn=Dup Two", "uid=badmail"] {
        assert!(
            skipped.iter().any(|s| s.starts_with(dn)),
            "{dn} not listed: {skipped:?}"
        );
    }
    for u in ["u01", "u07"] {
        assert_eq!(c.state(u).await, ("active".into(), None), "{u}");
    }
    for u in ["u08", "u09"] {
        assert_eq!(
            c.state(u).await,
            ("blocked".into(), Some("license_limit".into())),
            "{u}"
        );
    }
    assert_eq!(
        c.state("u10").await,
        ("blocked".into(), Some("directory_disabled".into()))
    );
    // Nested groups became the role tree: sales under staff.
    let staff = c.role("staff").await;
    let sales = c.role("sales").await;
    assert_eq!(sales["parent_id"], staff["id"], "{sales}");

    // 2. D5: a product bound to "sales" follows the group's membership.
    let sales_id = sales["id"].as_i64().unwrap();
    c.api
        .ok(
            Method::PUT,
            &format!("/api/v1/roles/{sales_id}/products/reports"),
            &c.w.admin,
            None,
        )
        .await;
    c.api
        .ok(
            Method::POST,
            "/api/v1/redistributions",
            &c.w.admin,
            Some(json!({"scope": {"kind": "role", "role": sales_id}, "manual": "keep"})),
        )
        .await;
    assert!(c.holds("u01", "reports").await && c.holds("u02", "reports").await);
    assert!(!c.holds("u04", "reports").await);
    ldap.add_ldif(&format!(
        "dn: cn=sales,{GROUPS}\nchangetype: modify\nadd: member\nmember: uid=u04,{PEOPLE}\n-\n\
         delete: member\nmember: uid=u01,{PEOPLE}\n-\n\n"
    ));
    let moved = c.sync().await;
    assert_eq!(moved["counts"]["members_added"], 1, "{moved}");
    assert_eq!(moved["counts"]["members_removed"], 1, "{moved}");
    assert!(
        c.holds("u04", "reports").await,
        "D5 gave u04 the role's product"
    );
    assert!(!c.holds("u01", "reports").await, "D5 took it back from u01");

    // 3. A hand block is the administrator's: no sync lifts it, even with room; it may not
    //    borrow the sync's reasons.
    let (status, v) = c
        .api
        .call(
            Method::POST,
            "/api/v1/users/u05/block",
            Some(&c.w.admin),
            Some(json!({"reason": "license_limit"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(c.state("u05").await.0, "active");
    c.api
        .ok(
            Method::POST,
            "/api/v1/users/u05/block",
            &c.w.admin,
            Some(json!({})),
        )
        .await;
    // Blocking u05 by hand freed room: the oldest license_limit user (u08, created first)
    // takes it on that event, without waiting for a sync (U2).
    assert_eq!(c.state("u08").await, ("active".into(), None));
    c.sync().await;
    assert_eq!(c.state("u08").await, ("active".into(), None));
    assert_eq!(
        c.state("u09").await,
        ("blocked".into(), Some("license_limit".into()))
    );
    assert_eq!(c.state("u05").await.0, "blocked");
    assert_ne!(c.state("u05").await.1.as_deref(), Some("license_limit"));

    // 4. Disabled and removed accounts are blocked with their reasons; the room they free
    //    goes to u09 in the same sync.
    ldap.add_ldif(&format!(
        "dn: uid=u03,{PEOPLE}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n-\n\n\
         dn: uid=u02,{PEOPLE}\nchangetype: delete\n\n"
    ));
    let gone = c.sync().await;
    assert_eq!(gone["counts"]["blocked"], 2, "{gone}");
    assert_eq!(
        c.state("u03").await,
        ("blocked".into(), Some("directory_disabled".into()))
    );
    assert_eq!(
        c.state("u02").await,
        ("blocked".into(), Some("directory_removed".into()))
    );
    assert!(
        !c.holds("u02", "reports").await,
        "a blocked user's seats are freed"
    );
    assert_eq!(c.state("u09").await, ("active".into(), None));
    assert_eq!(c.state("u05").await.0, "blocked", "still blocked by hand");

    // 5. Nothing changed in the directory: nothing is written.
    let runs_before = c
        .api
        .ok(Method::GET, "/api/v1/directory/runs", &c.w.admin, None)
        .await["runs"]
        .as_array()
        .unwrap()
        .len();
    let audit_before = c
        .api
        .ok(Method::GET, "/api/v1/audit?limit=1000", &c.w.admin, None)
        .await
        .to_string()
        .len();
    let last = c.sync().await;
    assert_eq!(last["changed"], false, "{last}");
    let runs_after = c
        .api
        .ok(Method::GET, "/api/v1/directory/runs", &c.w.admin, None)
        .await["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(runs_before, runs_after);
    let audit_after = c
        .api
        .ok(Method::GET, "/api/v1/audit?limit=1000", &c.w.admin, None)
        .await
        .to_string()
        .len();
    assert_eq!(
        audit_before, audit_after,
        "a no-change sync writes no audit record"
    );
}
