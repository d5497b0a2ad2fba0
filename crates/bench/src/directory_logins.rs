//! Logins during a directory sync (issue 15); run by scripts/bench-directory.sh, see
//! docs/PERFORMANCE.md.
//!
//! Into a fresh ledger: 200 users made by hand (CSV), then one directory sync with the
//! `[directory]` section of `--config`, the engine `serve` runs. While it runs, a login of one
//! of the hand-made users is sent every 20 ms on the same ledger handle — as in `serve`, where
//! the integration API and a sync from the API, the Directory page or the schedule share one —
//! each logged out again (so every login takes the full path with the write lock) and timed
//! from sent to answered. `--separate-handle` sends them on a second handle instead, as a
//! second process would (on SQLite: a `seatkeeper ldap sync` beside a running `serve`).
//! Prints one line of `key=value` pairs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use seatkeeper_core::license::{self, Order, OrderAreaLimit, OrderPackage};
use seatkeeper_core::{Area, Product, SeatKind};
use seatkeeper_server::directory_sync;
use seatkeeper_store::{Actor, Ledger, LoginAnswer, LoginRequest};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Logins during a directory sync (issue 15).
#[derive(Debug, Parser)]
#[command(name = "seatkeeper-bench-directory-logins", version)]
struct Args {
    /// A fresh ledger: a SQLite file or a PostgreSQL URL.
    #[arg(long)]
    database: String,
    /// The config file with the `[directory]` section.
    #[arg(long)]
    config: std::path::PathBuf,
    /// Send the logins on a second ledger handle (a second process's connections).
    #[arg(long)]
    separate_handle: bool,
}

const PROBES: usize = 200;
/// Time between two probe logins.
const EVERY: Duration = Duration::from_millis(20);

async fn run(args: Args) -> Result<(), BoxError> {
    let config = seatkeeper_server::config::directory_config(&args.config)?;
    let actor = Actor::new("bench", "seatkeeper-bench-directory-logins");
    let ledger = Ledger::open(&args.database).await?;
    // A license, so that the probes are real logins: a floating seat taken at login and
    // given back at logout (the full path, under the write lock), and room for every user.
    let vendor = ed25519_dalek::SigningKey::from_bytes(&[0x5E; 32]);
    let request = ledger
        .license_request(&actor, Some("BENCH-COMPANY"), "bench")
        .await?;
    let order = Order {
        valid_from: None,
        products: vec![Product {
            code: "app".into(),
            name: "The application".into(),
            features: vec![],
            all_modules: true,
        }],
        packages: vec![OrderPackage {
            serial: "BENCH-FLOATING".into(),
            product: "app".into(),
            kind: SeatKind::Concurrent,
            area: Area::Employee,
            seats: 50,
            valid_from: None,
            expires: None,
            replaces: vec![],
        }],
        area_limits: vec![OrderAreaLimit {
            area: Area::Employee,
            max_users: 10_000_000,
            valid_from: None,
            expires: None,
        }],
    };
    let file = license::issue(
        &vendor,
        &request,
        &order,
        "BENCH-DIR-1".into(),
        ledger.now(),
    )?;
    ledger
        .import_license(&actor, &file, &[vendor.verifying_key()])
        .await?;
    let mut csv = String::from("login,name,email,area\n");
    for i in 0..PROBES {
        csv += &format!("probe{i:04},Probe {i},probe{i}@example.org,employee\n");
    }
    ledger.import_users_csv(&actor, &csv).await?;
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let other = if args.separate_handle {
        Ledger::open(&args.database).await?
    } else {
        ledger.clone()
    };
    let separate = args.separate_handle;
    let prober = tokio::spawn(async move {
        let mut times = Vec::new();
        let mut logouts = Vec::new();
        let mut slowest = (Duration::ZERO, Duration::ZERO);
        let began = Instant::now();
        let mut refused = 0usize;
        let mut i = 0usize;
        while !*done_rx.borrow() {
            let req = LoginRequest {
                login: format!("probe{:04}", i % PROBES),
                client: "bench".into(),
            };
            i += 1;
            let t = Instant::now();
            let answer = other.login_many(std::slice::from_ref(&req)).await;
            let took = t.elapsed();
            times.push(took);
            if took > slowest.0 {
                slowest = (took, t.duration_since(began));
            }
            match answer {
                Ok(answers) => {
                    for a in answers {
                        match a {
                            LoginAnswer::Allowed(a) => {
                                let t = Instant::now();
                                let _ = other.logout_many(&[a.session_id]).await;
                                logouts.push(t.elapsed());
                            }
                            _ => refused += 1,
                        }
                    }
                }
                Err(_) => refused += 1,
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = done_rx.changed() => {}
            }
        }
        if separate {
            other.close().await;
        }
        (times, logouts, slowest, refused)
    });
    let t = Instant::now();
    let outcome = directory_sync::sync(&ledger, &config, &actor, false).await;
    let sync = t.elapsed();
    let _ = done_tx.send(true);
    let (mut times, mut logouts, slowest, refused) = prober.await?;
    let created = match outcome? {
        directory_sync::SyncOutcome::Applied { report, .. } => report.counts.created,
        directory_sync::SyncOutcome::Preview { .. } => 0,
    };
    ledger.close().await;
    if refused > 0 {
        return Err(format!("{refused} of {} probe logins were refused", times.len()).into());
    }
    times.sort();
    logouts.sort();
    let pct = |v: &[Duration], q: f64| {
        v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "sync_secs={:.2} created={created} logins={} refused={refused} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} \
         slowest_at_s={:.2} logout_p50_ms={:.1} logout_max_ms={:.1}",
        sync.as_secs_f64(),
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&times, 1.0),
        slowest.1.as_secs_f64(),
        pct(&logouts, 0.5),
        pct(&logouts, 1.0),
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seatkeeper-bench-directory-logins: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seatkeeper-bench-directory-logins: {e}");
            ExitCode::FAILURE
        }
    }
}
