//! The SCIM 2.0 service provider (issue 16: I2, U1/U2 on SCIM, D5) end to end: a real
//! `seatkeeper serve` with a `[scim]` config section, driven over HTTP as an identity provider
//! drives it, on a SQLite file and on PostgreSQL. Each scenario is one async fn run by two
//! `#[tokio::test]` wrappers (`on_both!`).
//!
//! The vendor flows are in `scim/flows.rs`, every error type in `scim/errors.rs`, limits /
//! D5 / deprovisioning / tokens in `scim/lifecycle.rs`; here: the client, the set-up,
//! filters, paging, projection and ETags.

use std::path::Path;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, Server, T0, World, prepare, set_clock, start_flags, world_limited};

mod errors;
mod flows;
mod lifecycle;
mod race;

pub(crate) const SCIM_TYPE: &str = "application/scim+json";
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// One scenario on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($scenario:path, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("l.db").to_string_lossy().into_owned();
            $scenario(&db, dir.path()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some((db, _guard)) = $crate::pg_database().await else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            $scenario(&db, dir.path()).await;
        }
    };
}
pub(crate) use on_both;

/// An answer from the SCIM endpoints, with the headers an identity provider reads.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Value,
}

impl Answer {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }

    /// An RFC 7644 §3.12 error: the status, the `scimType` (or none), a detail, in SCIM's
    /// content type.
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.content_type.as_deref(),
            Some(SCIM_TYPE),
            "{}",
            self.body
        );
        assert_eq!(self.body["schemas"], json!([ERROR_SCHEMA]), "{}", self.body);
        assert_eq!(
            self.body["status"],
            json!(status.to_string()),
            "{}",
            self.body
        );
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.body
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "an error says why: {}",
            self.body
        );
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap().to_string()
    }

    pub fn version(&self) -> String {
        self.body["meta"]["version"].as_str().unwrap().to_string()
    }
}

/// A small SCIM client, as an identity provider is one.
#[derive(Clone)]
pub(crate) struct Scim {
    http: reqwest::Client,
    base: String,
    pub token: String,
}

impl Scim {
    pub fn new(base: &str, token: &str) -> Scim {
        Scim {
            http: reqwest::Client::new(),
            base: format!("{base}/scim/v2"),
            token: token.to_string(),
        }
    }

    /// The server's address (without `/scim/v2`).
    pub fn base_url(&self) -> String {
        self.base.trim_end_matches("/scim/v2").to_string()
    }

    /// Any request: `body` is sent as is with `content_type`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(c) = content_type {
            req = req.header(CONTENT_TYPE, c);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        if let Some(m) = if_match {
            req = req.header(IF_MATCH, m);
        }
        let resp = req.send().await.unwrap();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, location) = (header(ETAG), header(LOCATION));
        let content_type = header(CONTENT_TYPE);
        let status = resp.status();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            etag,
            content_type,
            location,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let content = body.map(Value::to_string);
        let ctype = body.map(|_| SCIM_TYPE);
        self.raw(method, path, ctype, content, if_match).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body), None).await
    }

    pub async fn put(&self, path: &str, body: &Value, if_match: Option<&str>) -> Answer {
        self.send(Method::PUT, path, Some(body), if_match).await
    }

    /// A PATCH with the PatchOp schema around `ops`.
    pub async fn patch(&self, path: &str, ops: Value, if_match: Option<&str>) -> Answer {
        let body = json!({"schemas": [PATCH_OP], "Operations": ops});
        self.send(Method::PATCH, path, Some(&body), if_match).await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Answer {
        self.send(Method::DELETE, path, None, if_match).await
    }

    /// `GET /{resource}?k=v&…`, the values URL-encoded (filters carry spaces and quotes).
    pub async fn list(&self, resource: &str, query: &[(&str, &str)]) -> Answer {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        self.get(&format!("/{resource}?{q}")).await
    }

    /// The `userName`s a user filter finds, in the server's order.
    pub async fn user_names(&self, filter: &str) -> Vec<String> {
        let a = self.list("Users", &[("filter", filter)]).await;
        let body = a.expect(200);
        assert_eq!(body["schemas"], json!([LIST_SCHEMA]), "{body}");
        let names: Vec<String> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(body["totalResults"], json!(names.len()), "{filter}: {body}");
        names
    }

    /// Creates a user from a minimal body; the answer must be 201.
    pub async fn create_user(&self, user_name: &str) -> Answer {
        let a = self
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": user_name}),
            )
            .await;
        a.expect(201);
        a
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> Answer {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let a = self
            .post(
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
            )
            .await;
        a.expect(201);
        a
    }
}

/// A running server with a license, an administrator, and a provisioning token.
pub(crate) struct Env {
    _server: Server,
    pub api: Api,
    pub w: World,
    pub scim: Scim,
}

impl Env {
    /// The user as the admin API shows them.
    pub async fn admin_user(&self, login: &str) -> (StatusCode, Value) {
        self.api
            .call(
                Method::GET,
                &format!("/api/v1/users/{login}"),
                Some(&self.w.admin),
                None,
            )
            .await
    }

    /// `(state, block_reason)` of a user, from the admin API.
    pub async fn state(&self, login: &str) -> (String, Option<String>) {
        let (s, v) = self.admin_user(login).await;
        assert_eq!(s, StatusCode::OK, "{login}: {v}");
        (
            v["state"].as_str().unwrap().to_string(),
            v["block_reason"].as_str().map(str::to_string),
        )
    }

    /// The products a user holds, from the admin API.
    pub async fn products(&self, login: &str) -> Vec<String> {
        let (s, v) = self.admin_user(login).await;
        assert_eq!(s, StatusCode::OK, "{login}: {v}");
        v["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["product"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Starts `serve` with `config` as its config file, a license for 10 named crm seats and
/// `max_users` employees, and a `provisioning` token owned by the built-in administrator.
pub(crate) async fn setup(db: &str, dir: &Path, config: &str, max_users: u32) -> Env {
    prepare(db, dir);
    let file = dir.join("seatkeeper.toml");
    std::fs::write(&file, config).unwrap();
    let server = start_flags(db, dir, &["--config", file.to_str().unwrap()]);
    let api = Api::new(&server);
    let w = world_limited(db, dir, &api, 10, 2, max_users).await;
    let t = api
        .ok(
            Method::POST,
            "/api/v1/tokens",
            &w.admin,
            Some(json!({"name": "identity provider", "scope": "provisioning", "owner": "admin"})),
        )
        .await;
    let scim = Scim::new(&server.base, t["token"].as_str().unwrap());
    Env {
        _server: server,
        api,
        w,
        scim,
    }
}

/// RFC 3339 for `T0 + secs` (T0 is 2027-01-01T00:00:00Z).
fn at(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

// ---------- filters, paging, projection ----------

/// 25 users made in three batches an hour apart (u00–u09 at T0, u10–u19 at T0+1h, u20–u24 at
/// T0+2h), even ones with an externalId; every filter operator, the logical ones and
/// parentheses, dates compared as instants; a bad filter is `invalidFilter`.
async fn filters_paging_projection(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    for i in 0..25 {
        set_clock(dir, T0 + 3600 * (i / 10));
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "userName": format!("u{i:02}"),
            "displayName": format!("User {i}"),
            "emails": [{"value": format!("u{i:02}@example.com"), "type": "work", "primary": true}],
            "active": true,
        });
        if i % 2 == 0 {
            body["externalId"] = json!(format!("x{i}"));
        }
        scim.post("/Users", &body).await.expect(201);
    }
    set_clock(dir, T0 + 3 * 3600);
    let u03 = scim.user_names("userName eq \"u03\"").await;
    assert_eq!(u03, ["u03"]);
    let id03 = scim
        .list("Users", &[("filter", "userName eq \"u03\"")])
        .await
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    scim.patch(
        &format!("/Users/{id03}"),
        json!([{"op": "replace", "path": "displayName", "value": "Changed"}]),
        None,
    )
    .await
    .expect(200);

    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let range = |from: i64, to: i64| (from..to).map(|i| format!("u{i:02}")).collect::<Vec<_>>();
    let evens = |from: i64, to: i64| {
        (from..to)
            .filter(|i| i % 2 == 0)
            .map(|i| format!("u{i:02}"))
            .collect::<Vec<_>>()
    };
    let odds = |from: i64, to: i64| {
        (from..to)
            .filter(|i| i % 2 == 1)
            .map(|i| format!("u{i:02}"))
            .collect::<Vec<_>>()
    };
    let cases: Vec<(String, Vec<String>)> = vec![
        // userName is case-insensitive (RFC 7643 §4.1.1: caseExact false).
        ("userName eq \"U07\"".into(), names(&["u07"])),
        ("userName ne \"u07\"".into(), {
            let mut all = range(0, 25);
            all.retain(|n| n != "u07");
            all
        }),
        (
            "userName co \"1\"".into(),
            [vec!["u01".to_string()], range(10, 20), names(&["u21"])].concat(),
        ),
        ("userName sw \"u2\"".into(), range(20, 25)),
        (
            "emails.value ew \"7@example.com\"".into(),
            names(&["u07", "u17"]),
        ),
        ("externalId pr".into(), evens(0, 25)),
        ("externalId eq \"x12\"".into(), names(&["u12"])),
        (format!("meta.created lt \"{}\"", at(1800)), range(0, 10)),
        (format!("meta.created ge \"{}\"", at(3600)), range(10, 25)),
        (format!("meta.created gt \"{}\"", at(3600)), range(20, 25)),
        (format!("meta.created le \"{}\"", at(3600)), range(0, 20)),
        // Another spelling of the same instant compares equal.
        (
            "meta.created eq \"2027-01-01T02:00:00+00:00\"".into(),
            range(20, 25),
        ),
        (
            format!("meta.lastModified gt \"{}\"", at(2 * 3600 + 1800)),
            names(&["u03"]),
        ),
        (format!("meta.lastModified lt \"{}\"", at(1)), {
            let mut first = range(0, 10);
            first.retain(|n| n != "u03");
            first
        }),
        ("displayName eq \"Changed\"".into(), names(&["u03"])),
        ("userName sw \"u0\" and externalId pr".into(), evens(0, 10)),
        (
            "userName eq \"u01\" or userName eq \"u22\"".into(),
            names(&["u01", "u22"]),
        ),
        ("not (userName sw \"u1\")".into(), {
            [range(0, 10), range(20, 25)].concat()
        }),
        (
            "(userName sw \"u0\" or userName sw \"u1\") and not (externalId pr)".into(),
            odds(0, 20),
        ),
        (
            "emails[type eq \"work\" and value co \"u05\"]".into(),
            names(&["u05"]),
        ),
        ("userName eq \"nobody\"".into(), vec![]),
    ];
    for (filter, want) in cases {
        assert_eq!(scim.user_names(&filter).await, want, "{filter}");
    }
    for bad in [
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\" and",
        "userName eq \"a\" )",
        "userName eq unquoted",
        "emails[value eq \"a\"",
        "meta.created gt",
    ] {
        let a = scim.list("Users", &[("filter", bad)]).await;
        a.expect_error(400, Some("invalidFilter"));
        let g = scim.list("Groups", &[("filter", bad)]).await;
        g.expect_error(400, Some("invalidFilter"));
    }

    // Paging: pages of 10 cover the 25 users once each, in a stable order.
    let mut seen = Vec::new();
    for (start, items) in [("1", 10), ("11", 10), ("21", 5)] {
        let page = scim
            .list("Users", &[("startIndex", start), ("count", "10")])
            .await;
        let b = page.expect(200);
        assert_eq!(b["totalResults"], 25, "{b}");
        assert_eq!(b["itemsPerPage"], items, "{b}");
        assert_eq!(b["startIndex"], start.parse::<u64>().unwrap(), "{b}");
        for r in b["Resources"].as_array().unwrap() {
            seen.push(r["userName"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, range(0, 25));
    let past = scim.list("Users", &[("startIndex", "26")]).await;
    assert_eq!(past.expect(200)["totalResults"], 25);
    assert_eq!(past.body["itemsPerPage"], 0, "{}", past.body);
    let counted = scim.list("Users", &[("count", "0")]).await;
    let b = counted.expect(200);
    assert_eq!(
        (&b["totalResults"], &b["itemsPerPage"]),
        (&json!(25), &json!(0))
    );
    // startIndex below 1 is read as 1 (RFC 7644 §3.4.2.4).
    let b = scim
        .list("Users", &[("startIndex", "0"), ("count", "1")])
        .await;
    assert_eq!(b.expect(200)["Resources"][0]["userName"], "u00");
    // A filter and a page: totals count the matches, not the page.
    let b = scim
        .list(
            "Users",
            &[
                ("filter", "userName sw \"u1\""),
                ("startIndex", "4"),
                ("count", "3"),
            ],
        )
        .await;
    let b = b.expect(200);
    assert_eq!(
        (&b["totalResults"], &b["itemsPerPage"]),
        (&json!(10), &json!(3))
    );
    let page: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["u13", "u14", "u15"]);
    scim.list("Users", &[("count", "ten")])
        .await
        .expect_error(400, Some("invalidValue"));

    // attributes / excludedAttributes, on lists and on one resource.
    let b = scim
        .list(
            "Users",
            &[
                ("filter", "userName eq \"u04\""),
                ("attributes", "userName,emails.value"),
            ],
        )
        .await;
    let r = &b.expect(200)["Resources"][0];
    assert_eq!(r["userName"], "u04", "{r}");
    assert_eq!(r["emails"], json!([{"value": "u04@example.com"}]), "{r}");
    assert!(r["id"].is_string(), "id is always returned: {r}");
    for absent in ["displayName", "active", "externalId"] {
        assert!(r.get(absent).is_none(), "{absent} not asked for: {r}");
    }
    let b = scim
        .list(
            "Users",
            &[
                ("filter", "userName eq \"u04\""),
                ("excludedAttributes", "emails,displayName"),
            ],
        )
        .await;
    let r = &b.expect(200)["Resources"][0];
    assert!(
        r.get("emails").is_none() && r.get("displayName").is_none(),
        "{r}"
    );
    assert_eq!(
        (&r["userName"], &r["active"]),
        (&json!("u04"), &json!(true))
    );
    let one = scim
        .get(&format!("/Users/{id03}?attributes=displayName"))
        .await;
    let r = one.expect(200);
    assert_eq!(r["displayName"], "Changed");
    assert!(r.get("emails").is_none(), "{r}");
    assert_eq!(one.etag.as_deref(), r["meta"]["version"].as_str(), "{r}");
}

on_both!(
    filters_paging_projection,
    i2_filters_paging_and_projection_on_sqlite,
    i2_filters_paging_and_projection_on_postgres
);

// ---------- ETags ----------

/// `ETag` = `meta.version`; a stale `If-Match` on PUT, PATCH or DELETE is 412 and changes
/// nothing; the current one (or `*`) goes through; every change moves the version.
async fn etags(db: &str, dir: &Path) {
    let env = setup(db, dir, "", 1000).await;
    let scim = &env.scim;
    let created = scim.create_user("etag.user").await;
    assert_eq!(created.etag.as_deref(), Some(created.version().as_str()));
    let path = format!("/Users/{}", created.id());
    let read = scim.get(&path).await;
    read.expect(200);
    let v1 = read.version();
    assert_eq!(read.etag.as_deref(), Some(v1.as_str()));
    assert!(v1.starts_with("W/\""), "a weak ETag: {v1}");
    assert_eq!(v1, created.version(), "nothing changed yet");
    let stale = "W/\"00000000000000000000000000000000\"";

    let ops = json!([{"op": "replace", "path": "displayName", "value": "Etag One"}]);
    scim.patch(&path, ops.clone(), Some(stale))
        .await
        .expect_error(412, None);
    let put = json!({"schemas": [USER_SCHEMA], "userName": "etag.user", "displayName": "Put"});
    scim.put(&path, &put, Some(stale))
        .await
        .expect_error(412, None);
    scim.delete(&path, Some(stale))
        .await
        .expect_error(412, None);
    let after = scim.get(&path).await;
    assert_eq!(after.version(), v1, "a refused write changes nothing");
    assert!(after.body.get("displayName").is_none(), "{}", after.body);
    // `active` was never sent: unassigned, left out, and the user is active.
    assert!(after.body.get("active").is_none(), "{}", after.body);

    let patched = scim.patch(&path, ops, Some(&v1)).await;
    assert_eq!(patched.expect(200)["displayName"], "Etag One");
    let v2 = patched.version();
    assert_ne!(v2, v1, "the version changes with the user");
    assert_eq!(patched.etag.as_deref(), Some(v2.as_str()));
    assert_eq!(scim.get(&path).await.version(), v2);
    // The version that was current is stale now.
    scim.put(&path, &put, Some(&v1))
        .await
        .expect_error(412, None);
    let replaced = scim.put(&path, &put, Some(&v2)).await;
    assert_eq!(replaced.expect(200)["displayName"], "Put");
    let v3 = replaced.version();
    assert_ne!(v3, v2);
    // The same representation twice: the same version (it is the content's hash).
    let again = scim.put(&path, &put, Some(&v3)).await;
    assert_eq!(again.expect(200)["meta"]["version"], json!(v3));
    let star = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "displayName", "value": "Star"}]),
            Some("*"),
        )
        .await;
    star.expect(200);
    let v4 = star.version();

    // Groups: members are in the version.
    let other = scim.create_user("etag.other").await.id();
    let g = scim.create_group("Etag group", &[]).await;
    let gpath = format!("/Groups/{}", g.id());
    let g1 = scim.get(&gpath).await;
    assert_eq!(g1.etag.as_deref(), Some(g1.version().as_str()));
    let add = json!([{"op": "add", "path": "members", "value": [{"value": other}]}]);
    scim.patch(&gpath, add.clone(), Some(stale))
        .await
        .expect_error(412, None);
    let unchanged = scim.get(&gpath).await;
    assert_eq!(unchanged.version(), g1.version(), "{}", unchanged.body);
    assert!(
        unchanged.body["members"]
            .as_array()
            .is_none_or(|m| m.is_empty()),
        "{}",
        unchanged.body
    );
    let added = scim.patch(&gpath, add, Some(&g1.version())).await;
    assert_eq!(added.expect(200)["members"][0]["value"], json!(other));
    assert_ne!(added.version(), g1.version());
    let gput = json!({"schemas": [GROUP_SCHEMA], "displayName": "Etag group"});
    scim.put(&gpath, &gput, Some(&g1.version()))
        .await
        .expect_error(412, None);
    scim.delete(&gpath, Some(&g1.version()))
        .await
        .expect_error(412, None);
    scim.get(&gpath).await.expect(200);
    scim.delete(&gpath, Some(&added.version()))
        .await
        .expect(204);
    scim.get(&gpath).await.expect_error(404, None);

    scim.delete(&path, Some(&v4)).await.expect(204);
}

on_both!(
    etags,
    i2_etags_and_if_match_on_sqlite,
    i2_etags_and_if_match_on_postgres
);
