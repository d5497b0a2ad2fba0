//! Seatkeeper's HTTP server: a thin layer over the ledger. The integration API for the
//! licensed application (login with auto-allocation, heartbeat, logout, entitlement), the
//! admin API under `/api/v1`, authentication and permissions, and the session reaper.

// A request must never bring the server down: no `expect`, `panic!` or unchecked indexing
// outside tests (`unwrap` is denied workspace-wide). Tests may, to fail loudly.
#![deny(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod admin;
pub mod auth;
pub mod client;
pub mod config;
pub mod demo;
pub mod directory_sync;
mod drain;
pub mod error;
pub mod extract;
pub mod gate;
pub mod integration;
pub mod metrics;
pub mod notify;
pub mod provision;
mod request_id;
pub mod routes;
pub mod scim;
pub mod sso;
pub mod ui;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use seatkeeper_store::Ledger;

pub use config::ServeConfig;

use crate::auth::PrincipalCache;
use crate::gate::Gate;

/// The largest upload: users CSV files (100,000 users is about 10 MB) and license files, over
/// the API and in the admin UI. Other bodies keep axum's 2 MB.
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Settings the handlers read.
pub struct Settings {
    /// S3's idle timeout in seconds: the configured value, or the one an administrator set
    /// in the ledger (admin UI, settings), which the reaper reloads on every round.
    pub idle_timeout_secs: AtomicU64,
    /// The configured idle timeout, used while the ledger sets none.
    pub configured_idle_timeout: Duration,
    /// Mark the admin UI's cookies `Secure` (off only for plain-HTTP deployments).
    pub secure_cookies: bool,
    pub signin_ttl: time::Duration,
    pub vendor_keys: Vec<VerifyingKey>,
    /// Verified against when a login is unknown, so that sign-in timing reveals nothing.
    pub dummy_hash: String,
    /// Proxies whose `X-Forwarded-For` is believed (see `client`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The config file's `[directory]` section: when set, it is the directory settings, and
    /// the ones saved in the ledger are not used (nor editable).
    pub directory: Option<seatkeeper_directory::Config>,
    /// How often `serve` checks whether a scheduled directory sync is due.
    pub directory_check_interval: Duration,
    /// The config file's `[scim]` section (defaults when absent).
    pub scim: scim::ScimConfig,
    /// The config file's `[mail]` section as a mailer (none: no mail is sent).
    pub mail: Option<notify::mail::Mailer>,
    /// The config file's `[notifications]` section (defaults when absent).
    pub notifications: notify::config::NotificationsConfig,
}

#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub gate: Gate,
    pub principals: PrincipalCache,
    pub settings: Arc<Settings>,
    /// The sign-in limits both sign-in paths share.
    pub signin: Arc<auth::signin::SigninLimits>,
    /// The `[sso]` issuer's ID token verifier, when single sign-on is configured.
    pub sso: Option<Arc<sso::Verifier>>,
    /// `/metrics`' recorder and token, when `[metrics]` turns them on (`None`: nothing is
    /// recorded and no middleware runs).
    pub metrics: Option<Arc<metrics::Metrics>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] seatkeeper_store::StoreError),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the application state and its background batching task.
pub fn state(
    ledger: Ledger,
    config: &ServeConfig,
    vendor_keys: Vec<VerifyingKey>,
) -> Result<AppState, ServeError> {
    let dummy_hash = auth::hash_password("not-a-real-password-for-timing")
        .map_err(|e| ServeError::Config(e.to_string()))?;
    Ok(AppState {
        gate: Gate::start(ledger.clone(), config.batch_max),
        ledger,
        principals: PrincipalCache::new(config.auth_cache_ttl),
        settings: Arc::new(Settings {
            idle_timeout_secs: AtomicU64::new(config.idle_timeout.as_secs()),
            configured_idle_timeout: config.idle_timeout,
            secure_cookies: !config.insecure_cookies,
            signin_ttl: time::Duration::hours(12),
            vendor_keys,
            dummy_hash,
            trusted_proxies: config.trusted_proxies.clone(),
            directory: config.directory.clone(),
            scim: config.scim.clone(),
            mail: config
                .mail
                .as_ref()
                .map(notify::mail::Mailer::new)
                .transpose()
                .map_err(ServeError::Config)?,
            notifications: config.notifications.clone(),
            // At most a minute, sooner where the reaper runs sooner (tests).
            directory_check_interval: config.reap_interval.min(Duration::from_secs(60)),
        }),
        signin: Arc::new(auth::signin::SigninLimits::new(
            config.signin,
            config.signin_per_address_per_minute,
        )),
        sso: config
            .sso
            .clone()
            .map(sso::Verifier::new)
            .transpose()
            .map_err(ServeError::Config)?
            .map(Arc::new),
        metrics: config
            .metrics
            .clone()
            .map(metrics::Metrics::new)
            .transpose()
            .map_err(ServeError::Config)?
            .map(Arc::new),
    })
}

impl Settings {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.load(Ordering::Relaxed))
    }

    /// Takes the ledger's setting (or the configured value when the ledger has none).
    pub fn apply(&self, stored: &seatkeeper_store::ServerSettings) {
        let secs = stored
            .idle_timeout_secs
            .unwrap_or(self.configured_idle_timeout.as_secs());
        self.idle_timeout_secs.store(secs, Ordering::Relaxed);
    }
}

/// Runs the server until SIGINT or SIGTERM, then stops taking connections, lets requests in
/// flight finish, and closes the database.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let clock: Arc<dyn seatkeeper_store::Clock> = match &config.clock_file {
        Some(path) => Arc::new(config::FileClock::new(path.clone())),
        None => Arc::new(seatkeeper_store::SystemClock),
    };
    let ledger = Ledger::open_with_clock(&config.database, clock).await?;
    let mut vendor_keys = config::read_vendor_keys(&config.vendor_keys)?;
    if config.demo {
        let loaded = demo::load(&ledger, &config).await?;
        vendor_keys.push(loaded.vendor_key);
    } else if !ledger.admin_password_set().await? {
        println!(
            "No administrator password is set yet. Set one (it is never printed or stored in \
             clear) with:\n\n    seatkeeper --database {} admin password admin --generate\n\n\
             then sign in with POST /api/v1/auth/login and create an integration token for \
             your application with POST /api/v1/tokens (or `seatkeeper token create`).",
            seatkeeper_store::redact(&config.database)
        );
    }
    let app_state = state(ledger.clone(), &config, vendor_keys)?;
    app_state
        .settings
        .apply(&app_state.ledger.server_settings().await?);
    if let Some(sso) = app_state.sso.clone() {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            sso::warn_of_unusable_roles(&ledger, sso.config()).await;
            sso.prefetch().await;
        });
    }
    let reaper = tokio::spawn(reap_forever(
        ledger.clone(),
        app_state.settings.clone(),
        config.reap_interval,
    ));
    // A run left by a node that died is finished by a live one once its lease runs out (or at
    // once when its process is certainly gone), not only when a process next opens the ledger.
    let resumer = tokio::spawn(resume_runs_forever(
        ledger.clone(),
        config.reap_interval.min(Duration::from_secs(5)),
    ));
    let sampler = tokio::spawn(sample_usage_forever(
        ledger.clone(),
        config.usage_sample_interval,
    ));
    let scheduler = tokio::spawn(sync_directory_forever(
        ledger.clone(),
        app_state.settings.clone(),
    ));
    let dispatcher = tokio::spawn(
        notify::Dispatcher::new(ledger.clone(), config.notifications.clone())
            .map_err(ServeError::Config)?
            .with_mail(app_state.settings.mail.clone())
            .run_forever(),
    );
    let metrics = app_state.metrics.clone();
    let metrics_server = match &metrics {
        Some(m) => Some(serve_metrics(m, app_state.clone()).await?),
        None => None,
    };
    let mut app = routes::router(app_state.clone()).merge(ui::router(app_state));
    // Only when metrics are on: off, the request path has no extra layer at all.
    if let Some(m) = metrics {
        app = app.layer(axum::middleware::from_fn_with_state(m, metrics::track));
    }
    let app = app
        .layer(axum::middleware::from_fn(drain::drain_unread_body))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        // Every request gets an id (a client's own `x-request-id` is kept): on each of its log
        // lines (the span above) and on its answer, errors included, so that a complaint can
        // be matched with the log.
        .layer(axum::middleware::from_fn(request_id::in_error_answers))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %seatkeeper_store::redact(&config.database), "seatkeeper listening");
    println!("Seatkeeper listening on http://{addr}");
    // The TCP peer's address reaches the handlers (sign-in limits, audit records).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    if let Some(tasks) = metrics_server {
        for t in tasks {
            t.abort();
        }
    }
    reaper.abort();
    resumer.abort();
    sampler.abort();
    // Deliveries in flight are cut short; their claims run out and they are sent again.
    dispatcher.abort();
    // A scheduled sync in progress is cut short here; the ledger stays consistent after
    // every chunk and the next sync completes it (docs/DIRECTORY.md).
    scheduler.abort();
    ledger.close().await;
    tracing::info!("seatkeeper stopped");
    Ok(())
}

/// The metrics' background work: histogram upkeep, and the `[metrics] listen` address when one
/// is configured (bound before the main listener, so that a wrong address stops the start).
async fn serve_metrics(
    m: &Arc<metrics::Metrics>,
    state: AppState,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ServeError> {
    let upkeep = {
        let m = m.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                m.upkeep();
            }
        })
    };
    let mut tasks = vec![upkeep];
    if let Some(addr) = m.settings().listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })?;
        let bound = listener.local_addr()?;
        tracing::info!(addr = %bound, "metrics listening");
        println!("Seatkeeper metrics on http://{bound}/metrics");
        let router = metrics::listen_router(state);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "the metrics listener stopped");
            }
        }));
    }
    Ok(tasks)
}

/// S3: ends idle sessions every `interval`. Runs once at start, so sessions left by a crash
/// or a stop do not hold seats past their timeout.
async fn reap_forever(ledger: Ledger, settings: Arc<Settings>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        // Another node (or the UI) may have changed the idle timeout.
        match ledger.server_settings().await {
            Ok(s) => settings.apply(&s),
            Err(e) => tracing::warn!(error = %e, "cannot read the server settings"),
        }
        match ledger.reap_idle(settings.idle_timeout()).await {
            Ok(r) if r.ended > 0 => {
                tracing::info!(
                    ended = r.ended,
                    released = r.released.len(),
                    "idle sessions ended"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "session reaper failed; will retry"),
        }
    }
}

/// D4: finishes redistributions whose owner has stopped renewing its lease.
async fn resume_runs_forever(ledger: Ledger, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        match ledger.resume_stale_redistributions().await {
            Ok(done) => {
                for r in done {
                    tracing::warn!(scope = %r.scope, granted = r.granted, recalled = r.recalled,
                        "finished a redistribution another process left");
                }
            }
            Err(e) => tracing::warn!(error = %e, "resuming a redistribution failed; will retry"),
        }
    }
}

/// I1: runs the directory sync when its settings ask for a schedule
/// (`sync_interval_minutes`) and it is due. Every node checks; the sync lease lets one node
/// at a time run, and the due check is made under it, so that two nodes do not sync twice.
async fn sync_directory_forever(ledger: Ledger, settings: Arc<Settings>) {
    let actor = seatkeeper_store::Actor::new("seatkeeper", "schedule");
    let mut tick = tokio::time::interval(settings.directory_check_interval);
    loop {
        tick.tick().await;
        let config = match directory_sync::settings(&ledger, settings.directory.as_ref()).await {
            Ok(Some((config, _))) if config.sync_interval_minutes > 0 => config,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the directory settings");
                continue;
            }
        };
        let every = time::Duration::minutes(i64::from(config.sync_interval_minutes));
        match directory_sync::sync_when(
            &ledger,
            &config,
            &actor,
            directory_sync::When::IfDue(every),
        )
        .await
        {
            Ok(Some(directory_sync::SyncOutcome::Applied { report, .. })) => {
                if report.run_id.is_some() {
                    tracing::info!(
                        created = report.counts.created,
                        updated = report.counts.updated,
                        blocked = report.counts.blocked,
                        activated = report.counts.activated,
                        "scheduled directory sync"
                    );
                }
            }
            Ok(_) | Err(directory_sync::SyncError::Busy { .. }) => {}
            // Recorded as a failed run (history, audit, message) by the engine.
            Err(e) => tracing::warn!(error = %e, "scheduled directory sync failed"),
        }
    }
}

/// Records the usage history for the admin UI's charts: a point per product and area when
/// its numbers changed since the last one, and at least one a day.
async fn sample_usage_forever(ledger: Ledger, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        if let Err(e) = ledger.record_usage().await {
            tracing::warn!(error = %e, "usage sampling failed; will retry");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The span of one request: method, path and the request id (query strings stay out of the
/// log: they may carry logins).
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}
