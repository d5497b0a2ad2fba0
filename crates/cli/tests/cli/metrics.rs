//! `GET /metrics` (issue 17) on a real server: scraped with the `[metrics]` token and read with
//! a Prometheus text-format parser. The seat and user gauges equal the admin API's summary,
//! the login counters count the logins made, the login route has its latency histogram;
//! a wrong token gets 401, and the separate `[metrics] listen` address needs none.

use std::collections::BTreeMap;
use std::path::Path;

use openmetrics_parser::PrometheusValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::pg_database;
use crate::server::{Api, import_employees, prepare, start_flags, world};

const TOKEN: &str = "metrics-token-for-the-x17-test";

/// One series of a scrape, as the parser read it.
#[derive(Debug)]
struct Series {
    family: String,
    labels: BTreeMap<String, String>,
    value: Read,
}

#[derive(Debug)]
enum Read {
    Number(f64),
    /// Count and (upper bound, cumulative count) per bucket.
    Histogram(u64, Vec<(f64, f64)>),
    Other,
}

struct Scrape(Vec<Series>);

async fn scrape(http: &reqwest::Client, url: &str, token: Option<&str>) -> Scrape {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    let parsed = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not Prometheus text format ({e:?}):\n{text}"));
    let mut series = Vec::new();
    for (name, family) in &parsed.families {
        for sample in family.iter_samples() {
            let labels = sample
                .get_labelset()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let value = match &sample.value {
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => Read::Number(n.as_f64()),
                PrometheusValue::Counter(c) => Read::Number(c.value.as_f64()),
                PrometheusValue::Histogram(h) => Read::Histogram(
                    h.count.unwrap_or(0),
                    h.buckets
                        .iter()
                        .map(|b| (b.upper_bound, b.count.as_f64()))
                        .collect(),
                ),
                PrometheusValue::Summary(_) => Read::Other,
            };
            series.push(Series {
                family: name.clone(),
                labels,
                value,
            });
        }
    }
    Scrape(series)
}

impl Scrape {
    fn of<'a>(&'a self, family: &'a str) -> impl Iterator<Item = &'a Series> + 'a {
        self.0.iter().filter(move |s| s.family == family)
    }

    /// The value of the one series of `family` whose labels are exactly `labels`.
    fn one(&self, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Series> = self
            .of(family)
            .filter(|s| {
                s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{family} {labels:?} twice");
        found.first().map(|s| match s.value {
            Read::Number(v) => v,
            _ => panic!("{family} is not a number: {s:?}"),
        })
    }
}

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("metrics.toml"), text).unwrap();
}

/// The seat and area gauges equal the summary's numbers, one for one.
fn assert_equals_summary(m: &Scrape, summary: &Value) {
    let products = summary["products"].as_array().unwrap();
    assert!(!products.is_empty());
    for p in products {
        let labels = [
            ("product", p["product"].as_str().unwrap()),
            ("area", p["area"].as_str().unwrap()),
            ("kind", p["kind"].as_str().unwrap()),
        ];
        for (metric, field) in [
            ("seatkeeper_seats_capacity", "total"),
            ("seatkeeper_seats_used", "used"),
            ("seatkeeper_seats_free", "free"),
            ("seatkeeper_seats_suspended", "suspended"),
            ("seatkeeper_seats_expiring_soon", "expiring_soon"),
        ] {
            assert_eq!(
                m.one(metric, &labels),
                p[field].as_f64(),
                "{metric} {labels:?} against the summary's {field}: {p}"
            );
        }
    }
    let gauges = m.of("seatkeeper_seats_capacity").count();
    assert_eq!(gauges, products.len(), "no series beyond the summary's");
    for a in summary["areas"].as_array().unwrap() {
        let area = [("area", a["area"].as_str().unwrap())];
        assert_eq!(
            m.one("seatkeeper_area_active_users", &area),
            a["active_users"].as_f64()
        );
        assert_eq!(
            m.one("seatkeeper_area_blocked_users", &area),
            a["blocked_users"].as_f64()
        );
        assert_eq!(
            m.one("seatkeeper_area_user_limit", &area),
            a["limit"].as_f64()
        );
    }
}

async fn with_token(db: &str, dir: &Path) {
    prepare(db, dir);
    write_config(dir, &format!("[metrics]\ntoken = \"{TOKEN}\"\n"));
    let server = start_flags(db, dir, &["--config", "metrics.toml"]);
    let api = Api::new(&server);
    let w = world(db, dir, &api, 2, 1).await;
    import_employees(&api, &w, "emp", 5).await;
    api.ok(
        Method::POST,
        "/api/v1/users/emp4/block",
        &w.admin,
        Some(serde_json::json!({"reason": "left"})),
    )
    .await;

    // Logins: seats for three (one floating, two named), then none; a blocked user; someone
    // unknown. Whatever the answers are, the counters must count them.
    let mut made: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut sessions = Vec::new();
    for login in ["emp0", "emp1", "emp2", "emp3", "emp4", "ghost", "emp3"] {
        let a = api.login(&w.app, login).await;
        let outcome = a["outcome"].as_str().unwrap().to_string();
        let reason = a["reason"].as_str().unwrap_or("none").to_string();
        *made.entry((outcome, reason)).or_default() += 1.0;
        if let Some(id) = a["session_id"].as_str() {
            sessions.push(id.to_string());
        }
    }
    assert!(
        made.contains_key(&("allowed".into(), "none".into())),
        "{made:?}"
    );
    assert!(
        made.contains_key(&("refused".into(), "no_license".into())),
        "{made:?}"
    );
    assert!(
        made.contains_key(&("refused".into(), "unknown_user".into())),
        "{made:?}"
    );
    assert!(
        made.contains_key(&("refused".into(), "blocked".into())),
        "{made:?}"
    );
    api.ok(Method::GET, "/api/v1/users/emp0", &w.admin, None)
        .await;

    let url = format!("{}/metrics", api.base);
    // Without the token, with a wrong one, with an API token: 401 in the usual shape.
    for token in [
        None,
        Some("metrics-token-for-the-x17-tesT"),
        Some(w.admin.as_str()),
    ] {
        let (s, v) = api.call(Method::GET, "/metrics", token, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token:?}: {v}");
        assert_eq!(v["error"]["code"], "unauthenticated", "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }

    // A redistribution run (nothing to grant: no role binds a product), recorded by the ledger.
    api.ok(
        Method::POST,
        "/api/v1/redistributions",
        &w.admin,
        Some(serde_json::json!({"scope": {"kind": "all"}})),
    )
    .await;

    let summary = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
    let m = scrape(&api.http, &url, Some(TOKEN)).await;
    assert_equals_summary(&m, &summary);
    assert_eq!(m.one("seatkeeper_licenses_loaded", &[]), Some(1.0));
    let floating = [
        ("product", "crm"),
        ("area", "employee"),
        ("kind", "concurrent"),
    ];
    assert_eq!(m.one("seatkeeper_seats_used", &floating), Some(1.0));
    assert_eq!(m.one("seatkeeper_seats_free", &floating), Some(0.0));

    // The outbox gauges equal the counts the notifications API shows.
    let mail = api
        .ok(Method::GET, "/api/v1/notifications/mail", &w.admin, None)
        .await;
    let outbox = &mail["outbox"];
    for state in ["pending", "digest", "failed", "delivered"] {
        assert_eq!(
            m.one("seatkeeper_outbox_deliveries", &[("state", state)]),
            outbox[state].as_f64(),
            "{state}: {outbox}"
        );
    }
    for (channel, field) in [("webhook", "failed_webhook"), ("mail", "failed_mail")] {
        assert_eq!(
            m.one(
                "seatkeeper_outbox_failed_deliveries",
                &[("channel", channel)]
            ),
            outbox[field].as_f64()
        );
    }

    // Logins by outcome and reason: exactly the ones made.
    let counted: BTreeMap<(String, String), f64> = m
        .of("seatkeeper_logins_total")
        .map(|s| {
            assert_eq!(s.labels["via"], "login");
            let key = (s.labels["outcome"].clone(), s.labels["reason"].clone());
            let Read::Number(v) = s.value else {
                panic!("{s:?}")
            };
            (key, v)
        })
        .collect();
    assert_eq!(counted, made);

    // The login route's latency histogram: every login, labelled by template, never by path.
    let login_hist = m
        .of("seatkeeper_http_request_duration_seconds")
        .find(|s| {
            s.labels.get("route").map(String::as_str) == Some("/integration/v1/login")
                && s.labels["method"] == "POST"
                && s.labels["status"] == "2xx"
        })
        .unwrap_or_else(|| panic!("no login histogram in {:?}", m.0));
    let Read::Histogram(count, buckets) = &login_hist.value else {
        panic!("not a histogram: {login_hist:?}");
    };
    assert_eq!(*count, 7, "seven logins");
    let inf = buckets.iter().find(|(le, _)| le.is_infinite()).unwrap().1;
    assert_eq!(inf, 7.0, "seven logins in the +Inf bucket: {buckets:?}");
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative buckets: {buckets:?}"
    );
    let routes: Vec<&str> = m
        .of("seatkeeper_http_request_duration_seconds")
        .map(|s| s.labels["route"].as_str())
        .collect();
    assert!(routes.contains(&"/api/v1/users/{login}"), "{routes:?}");
    assert!(
        routes.contains(&"/api/v1/users/{login}/block"),
        "{routes:?}"
    );
    assert!(routes.iter().all(|r| !r.contains("emp")), "{routes:?}");
    // The refused scrapes are timed too, as 4xx of /metrics.
    assert!(
        m.of("seatkeeper_http_request_duration_seconds")
            .any(|s| s.labels["route"] == "/metrics" && s.labels["status"] == "4xx"),
        "{routes:?}"
    );

    // Runs: the ledger's redistributions, as the API lists them.
    let runs = api
        .ok(Method::GET, "/api/v1/redistributions", &w.admin, None)
        .await;
    let done = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "done")
        .count();
    assert_eq!(done, 1, "{runs}");
    assert!(
        m.one(
            "seatkeeper_redistribution_run_seconds_total",
            &[("status", "done")]
        )
        .is_some()
    );
    let finished = m
        .one(
            "seatkeeper_redistribution_last_finished_timestamp_seconds",
            &[],
        )
        .unwrap();
    assert!(finished >= crate::server::T0 as f64, "{finished}");
    assert_eq!(
        m.one(
            "seatkeeper_redistribution_runs_total",
            &[("status", "done")]
        )
        .unwrap_or(0.0),
        done as f64
    );
    assert_eq!(m.one("seatkeeper_redistribution_running", &[]), Some(0.0));
    assert_eq!(m.one("seatkeeper_directory_sync_running", &[]), Some(0.0));

    // The gauges follow the ledger at once: logouts free the floating seat.
    for session in &sessions {
        api.ok(
            Method::POST,
            "/integration/v1/logout",
            &w.app,
            Some(serde_json::json!({"session_id": session})),
        )
        .await;
    }
    let summary = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
    let m = scrape(&api.http, &url, Some(TOKEN)).await;
    assert_equals_summary(&m, &summary);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_metrics_scraped_with_the_token_equal_the_summary_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    with_token("ledger.db", dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_metrics_scraped_with_the_token_equal_the_summary_on_postgres() {
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    with_token(&url, dir.path()).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_metrics_on_their_own_address_need_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let (db, dir) = ("ledger.db", dir.path());
    prepare(db, dir);
    let port = free_port();
    write_config(dir, &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    let server = start_flags(db, dir, &["--config", "metrics.toml"]);
    let api = Api::new(&server);
    let w = world(db, dir, &api, 2, 1).await;
    import_employees(&api, &w, "emp", 2).await;
    api.login(&w.app, "emp0").await;

    let metrics_base = format!("http://127.0.0.1:{port}");
    let m = scrape(&api.http, &format!("{metrics_base}/metrics"), None).await;
    let summary = api.ok(Method::GET, "/api/v1/summary", &w.admin, None).await;
    assert_equals_summary(&m, &summary);
    assert_eq!(
        m.one(
            "seatkeeper_logins_total",
            &[("via", "login"), ("outcome", "allowed"), ("reason", "none")]
        ),
        Some(1.0)
    );
    // That address serves nothing else, and the main listener has no /metrics without a token.
    let other = api
        .http
        .get(format!("{metrics_base}/api/v1/summary"))
        .bearer_auth(&w.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let (s, v) = api
        .call(Method::GET, "/metrics", Some(&w.admin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "not_found");
    server.stop();
}
