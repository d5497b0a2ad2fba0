//! `GET /metrics` (issue 17): Seatkeeper's state and traffic in the Prometheus text format,
//! through the `metrics` facade and `metrics-exporter-prometheus`'s recorder (rendered by our
//! own route; the exporter runs no listener of its own).
//!
//! Two kinds of metric:
//! - **events**, counted as they happen in this process: logins by outcome and refusal
//!   reason (`count_login`), and the HTTP latency of every request per route template
//!   (`track`, a middleware layered only when metrics are on). They live in one recorder held
//!   by [`Metrics`], never in a global one, so that "metrics off" installs nothing and the
//!   login path pays nothing.
//! - **state**, read from the ledger at scrape time by [`scrape`]: seats and users from the
//!   same `Ledger::summary` call the admin API's `GET /api/v1/summary` makes (so the numbers
//!   are equal), and the redistribution and directory sync runs the ledger keeps (the same on
//!   every node, whichever node ran them). They go into a fresh recorder on each scrape, so a
//!   product or area that disappears leaves no stale series. Adding one is a line in `scrape`.
//!
//! Access: `[metrics] token` (a bearer token, compared in constant time) on the main
//! listener, and/or `[metrics] listen`, a separate address serving only `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram, with_local_recorder,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use seatkeeper_store::{Ledger, LoginAnswer, StoreError};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub mod config;
pub use config::{MIN_TOKEN_CHARS, MetricsConfig, MetricsSettings};

/// Latency buckets of the HTTP histogram, in seconds (a login takes about a millisecond).
const HTTP_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HTTP_DURATION: &str = "seatkeeper_http_request_duration_seconds";
const LOGINS: &str = "seatkeeper_logins_total";

/// The event metrics of this process and who may read them.
/// One route's latency histograms by (method, status class).
type ByMethodAndStatus = HashMap<(&'static str, &'static str), Histogram>;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The histogram of each (route template, method, status class) and the counter of each
    /// login outcome, registered once: a request then takes a read lock and a hash lookup,
    /// not the registry's key building and allocation.
    requests: RwLock<HashMap<String, ByMethodAndStatus>>,
    logins: RwLock<HashMap<(&'static str, &'static str, &'static str), Counter>>,
    /// SHA-256 of the token: compared digest to digest, in constant time.
    token_digest: Option<[u8; 32]>,
    settings: MetricsSettings,
}

impl Metrics {
    pub fn new(settings: MetricsSettings) -> Result<Metrics, String> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &HTTP_BUCKETS)
            .map_err(|e| format!("metrics: {e}"))?
            .build_recorder();
        let handle = recorder.handle();
        with_local_recorder(&recorder, || {
            describe_histogram!(
                HTTP_DURATION,
                Unit::Seconds,
                "HTTP requests by route template, method and status class, and how long they took"
            );
            describe_counter!(
                LOGINS,
                "Integration logins (login and sso-login) by outcome and refusal reason"
            );
        });
        Ok(Metrics {
            recorder,
            handle,
            requests: RwLock::default(),
            logins: RwLock::default(),
            token_digest: settings
                .token
                .as_deref()
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            settings,
        })
    }

    pub fn settings(&self) -> &MetricsSettings {
        &self.settings
    }

    /// Whether `given` is the configured token (false when none is configured).
    pub fn token_matches(&self, given: &str) -> bool {
        let Some(expected) = &self.token_digest else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        // Every byte is looked at whatever differs: no early exit for timing to reveal.
        expected
            .iter()
            .zip(got.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Counts one integration login by its outcome (`via`: `login` or `sso`).
    pub fn login(&self, via: &'static str, result: &ApiResult<axum::Json<LoginAnswer>>) {
        // Every series has the same labels (`reason="none"` when allowed), as parsers expect.
        let (outcome, reason) = match result {
            Ok(axum::Json(LoginAnswer::Allowed(_))) => ("allowed", "none"),
            Ok(axum::Json(LoginAnswer::Refused(r))) => ("refused", r.reason.code()),
            Err(e) => ("error", e.code),
        };
        let key = (via, outcome, reason);
        if let Some(c) = read(&self.logins).get(&key) {
            c.increment(1);
            return;
        }
        let c = with_local_recorder(
            &self.recorder,
            || counter!(LOGINS, "via" => via, "outcome" => outcome, "reason" => reason),
        );
        c.increment(1);
        write(&self.logins).insert(key, c);
    }

    pub fn request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        let class = match status.as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let secs = took.as_secs_f64();
        if let Some(h) = read(&self.requests)
            .get(route)
            .and_then(|by| by.get(&(method, class)))
        {
            h.record(secs);
            return;
        }
        let h = with_local_recorder(
            &self.recorder,
            || histogram!(HTTP_DURATION, "route" => route.to_string(), "method" => method, "status" => class),
        );
        h.record(secs);
        write(&self.requests)
            .entry(route.to_string())
            .or_default()
            .insert((method, class), h);
    }

    /// Whether `/metrics` needs the configured token.
    pub fn has_token(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Drains the histograms' samples into their buckets, so that memory stays bounded
    /// between scrapes (`serve` calls it every few seconds).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// A poisoned lock only means a panic elsewhere mid-insert; the map is still usable.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts an integration login when metrics are on (nothing at all when they are off).
pub fn count_login(
    state: &AppState,
    via: &'static str,
    result: &ApiResult<axum::Json<LoginAnswer>>,
) {
    if let Some(m) = &state.metrics {
        m.login(via, result);
    }
}

/// The middleware timing every request, labelled with the route's template (`MatchedPath`:
/// `/api/v1/users/{login}`, never the raw path, so the series stay bounded), its method and
/// its status class. Requests no route matched are `route="unmatched"`.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    m.request(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status(),
        start.elapsed(),
    );
    response
}

/// How far ahead the seat gauges' "expiring soon" looks: the summary route's default.
const EXPIRING_WITHIN: time::Duration = time::Duration::days(30);

/// The ledger's state as Prometheus text, read now. A new scrape-time metric is one
/// `gauge!`/`counter!` line here (and a line in docs/NOTIFICATIONS.md's list).
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub async fn scrape(ledger: &Ledger) -> Result<String, StoreError> {
    let summary = ledger.summary(EXPIRING_WITHIN).await?;
    let runs = ledger.run_totals().await?;
    let outbox = ledger.outbox_stats().await?;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    with_local_recorder(&recorder, || {
        describe_gauge!(
            "seatkeeper_licenses_loaded",
            "1 while any license is loaded, else 0"
        );
        gauge!("seatkeeper_licenses_loaded").set(if summary.licenses_loaded { 1.0 } else { 0.0 });
        describe_gauge!(
            "seatkeeper_seats_capacity",
            "Seats the valid licenses give, per product, area and kind (the summary's `total`)"
        );
        describe_gauge!(
            "seatkeeper_seats_used",
            "Seats held, per product, area and kind"
        );
        describe_gauge!(
            "seatkeeper_seats_free",
            "Seats free, per product, area and kind"
        );
        describe_gauge!(
            "seatkeeper_seats_suspended",
            "Named seats suspended after their licenses expired, per product, area and kind"
        );
        describe_gauge!(
            "seatkeeper_seats_expiring_soon",
            "Seats whose license expires within 30 days, per product, area and kind"
        );
        for p in &summary.products {
            let labels = [
                ("product", p.product.clone()),
                ("area", p.area.as_str().to_string()),
                ("kind", p.kind.as_str().to_string()),
            ];
            gauge!("seatkeeper_seats_capacity", &labels).set(p.total as f64);
            gauge!("seatkeeper_seats_used", &labels).set(p.used as f64);
            gauge!("seatkeeper_seats_free", &labels).set(p.free as f64);
            gauge!("seatkeeper_seats_suspended", &labels).set(p.suspended as f64);
            gauge!("seatkeeper_seats_expiring_soon", &labels).set(p.expiring_soon as f64);
        }
        describe_gauge!(
            "seatkeeper_area_active_users",
            "Active users per area (the built-in administrator excluded)"
        );
        describe_gauge!("seatkeeper_area_blocked_users", "Blocked users per area");
        describe_gauge!(
            "seatkeeper_area_user_limit",
            "The licenses' user limit per area (absent: no limit)"
        );
        for a in &summary.areas {
            let area = a.area.as_str();
            gauge!("seatkeeper_area_active_users", "area" => area).set(a.active_users as f64);
            gauge!("seatkeeper_area_blocked_users", "area" => area).set(a.blocked_users as f64);
            if let Some(limit) = a.limit {
                gauge!("seatkeeper_area_user_limit", "area" => area).set(limit as f64);
            }
        }

        describe_gauge!(
            "seatkeeper_outbox_deliveries",
            "Deliveries in the outbox (webhooks and mail), by state: pending (due or waiting \
             for a retry), digest (waiting for the daily digest), failed (gave up), delivered \
             (kept for the log)"
        );
        for (state, n) in [
            ("pending", outbox.pending),
            ("digest", outbox.digest),
            ("failed", outbox.failed),
            ("delivered", outbox.delivered),
        ] {
            gauge!("seatkeeper_outbox_deliveries", "state" => state).set(n as f64);
        }
        describe_gauge!(
            "seatkeeper_outbox_failed_deliveries",
            "Deliveries that gave up after the retry window, by channel (kept for keep_days)"
        );
        gauge!("seatkeeper_outbox_failed_deliveries", "channel" => "webhook")
            .set(outbox.failed_webhook as f64);
        gauge!("seatkeeper_outbox_failed_deliveries", "channel" => "mail")
            .set(outbox.failed_mail as f64);

        describe_counter!(
            "seatkeeper_redistribution_runs_total",
            "Finished redistribution runs the ledger records (all nodes)"
        );
        describe_counter!(
            "seatkeeper_redistribution_run_seconds_total",
            "Their durations added up, in whole seconds"
        );
        describe_gauge!(
            "seatkeeper_redistribution_running",
            "1 while a redistribution runs (on any node)"
        );
        describe_gauge!(
            "seatkeeper_redistribution_last_finished_timestamp_seconds",
            "When the newest finished redistribution ended (unix seconds)"
        );
        let mut running = 0;
        let mut last = 0;
        for r in &runs.redistributions {
            if r.status == "running" {
                running += r.runs;
                continue;
            }
            let status = r.status.clone();
            counter!("seatkeeper_redistribution_runs_total", "status" => status.clone())
                .absolute(r.runs);
            counter!("seatkeeper_redistribution_run_seconds_total", "status" => status)
                .absolute(r.seconds);
            last = last.max(r.last_finished_at);
        }
        gauge!("seatkeeper_redistribution_running").set(running as f64);
        if last > 0 {
            gauge!("seatkeeper_redistribution_last_finished_timestamp_seconds").set(last as f64);
        }

        describe_counter!(
            "seatkeeper_directory_sync_runs_total",
            "Finished directory syncs the ledger records (all nodes), by status"
        );
        describe_counter!(
            "seatkeeper_directory_sync_run_seconds_total",
            "Their durations added up, in whole seconds"
        );
        describe_gauge!(
            "seatkeeper_directory_sync_running",
            "1 while a directory sync runs (on any node)"
        );
        describe_gauge!(
            "seatkeeper_directory_sync_last_success_timestamp_seconds",
            "When the newest successful directory sync ended (unix seconds)"
        );
        let mut running = 0;
        for r in runs.directory_syncs.iter().filter(|r| !r.preview) {
            if r.status == "running" {
                running += r.runs;
                continue;
            }
            let status = r.status.clone();
            counter!("seatkeeper_directory_sync_runs_total", "status" => status.clone())
                .absolute(r.runs);
            counter!("seatkeeper_directory_sync_run_seconds_total", "status" => status)
                .absolute(r.seconds);
            if r.status == "succeeded" && r.last_finished_at > 0 {
                gauge!("seatkeeper_directory_sync_last_success_timestamp_seconds")
                    .set(r.last_finished_at as f64);
            }
        }
        gauge!("seatkeeper_directory_sync_running").set(running as f64);
    });
    Ok(handle.render())
}

/// `GET /metrics`: this process's events, then the ledger's state.
pub async fn metrics_route(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(m) = &state.metrics else {
        return Err(crate::auth::metrics_token::off());
    };
    let mut body = m.handle.render();
    body.push_str(&scrape(&state.ledger).await?);
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// The router of the separate `[metrics] listen` address: `/metrics` only (with the token
/// when one is configured), 404 for anything else.
pub fn listen_router(state: AppState) -> axum::Router {
    let needs_token = state.metrics.as_ref().is_some_and(|m| m.has_token());
    let mut route = axum::routing::get(metrics_route);
    if needs_token {
        route = route.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), crate::auth::Access::Metrics),
            crate::auth::enforce,
        ));
    }
    axum::Router::new()
        .route("/metrics", route)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "this address serves only GET /metrics",
            )
        })
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn x17_the_token_must_match_exactly() {
        let m = Metrics::new(MetricsSettings {
            token: Some("a-long-enough-metrics-token".into()),
            listen: None,
        })
        .unwrap();
        assert!(m.token_matches("a-long-enough-metrics-token"));
        assert!(!m.token_matches("a-long-enough-metrics-token "));
        assert!(!m.token_matches(""));
    }
}
