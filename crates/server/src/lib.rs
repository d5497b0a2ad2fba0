//! Seatkeeper's HTTP server: a thin layer over the ledger. The integration API for the
//! licensed application (login with auto-allocation, heartbeat, logout, entitlement), the
//! admin API under `/api/v1`, authentication and permissions, and the session reaper.

pub mod admin;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod gate;
pub mod integration;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use seatkeeper_store::Ledger;

pub use config::ServeConfig;

use crate::auth::PrincipalCache;
use crate::gate::Gate;

/// Settings the handlers read.
pub struct Settings {
    pub idle_timeout: Duration,
    pub signin_ttl: time::Duration,
    pub vendor_keys: Vec<VerifyingKey>,
    /// Verified against when a login is unknown, so that sign-in timing reveals nothing.
    pub dummy_hash: String,
}

#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub gate: Gate,
    pub principals: PrincipalCache,
    pub settings: Arc<Settings>,
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
            idle_timeout: config.idle_timeout,
            signin_ttl: time::Duration::hours(12),
            vendor_keys,
            dummy_hash,
        }),
    })
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
    let reaper = tokio::spawn(reap_forever(
        ledger.clone(),
        config.idle_timeout,
        config.reap_interval,
    ));
    let app = routes::router(app_state).layer(tower_http::trace::TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %seatkeeper_store::redact(&config.database), "seatkeeper listening");
    println!("Seatkeeper listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    reaper.abort();
    ledger.close().await;
    tracing::info!("seatkeeper stopped");
    Ok(())
}

/// S3: ends idle sessions every `interval`. Runs once at start, so sessions left by a crash
/// or a stop do not hold seats past their timeout.
async fn reap_forever(ledger: Ledger, idle: Duration, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        match ledger.reap_idle(idle).await {
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
