//! CSV import benchmark (issue 13 item 3); see docs/PERFORMANCE.md.
//!
//! For each backend and size: a fresh ledger, then one import of that many new users (the
//! time it takes); for the largest size, integration logins of users that existed before are
//! sent on another ledger handle every 20 ms while the import runs, each timed from sent to
//! answered (each is logged out again, so every login takes the full path).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use seatkeeper_store::{Actor, Ledger, LoginAnswer, LoginRequest};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Executor as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

/// CSV import benchmark (issue 13 item 3).
#[derive(Debug, Parser)]
#[command(name = "seatkeeper-bench-import", version)]
struct Args {
    /// Import sizes, in rows.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10000,20000,40000,100000"
    )]
    sizes: Vec<usize>,
    /// The size during whose import logins are timed (0: none).
    #[arg(long, default_value_t = 100_000)]
    probe_size: usize,
    #[arg(long, value_enum, default_value = "both")]
    backend: BackendArg,
    /// Where CREATE/DROP DATABASE is issued; the benchmark uses database `sk_bench_import`.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Directory of the SQLite file.
    #[arg(long, default_value = "/tmp")]
    dir: std::path::PathBuf,
}

const PROBES: usize = 200;

fn csv(n: usize, prefix: &str) -> String {
    let mut s = String::from("login,name,email,area,folder,state\n");
    for i in 0..n {
        let folder = ["", "Sales", "Sales/North", "Support"][i % 4];
        s += &format!("{prefix}{i:07},User {i},{prefix}{i}@example.org,employee,{folder},active\n");
    }
    s
}

async fn fresh(args: &Args, postgres: bool) -> Result<String, BoxError> {
    if postgres {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&args.postgres)
            .await?;
        pool.execute("DROP DATABASE IF EXISTS sk_bench_import WITH (FORCE)")
            .await?;
        pool.execute("CREATE DATABASE sk_bench_import").await?;
        pool.close().await;
        let base = args
            .postgres
            .rsplit_once('/')
            .map_or(args.postgres.as_str(), |(b, _)| b);
        Ok(format!("{base}/sk_bench_import"))
    } else {
        let path = args.dir.join("sk-bench-import.db");
        for s in ["", "-wal", "-shm"] {
            let f = format!("{}{s}", path.display());
            if std::path::Path::new(&f).exists() {
                std::fs::remove_file(&f)?;
            }
        }
        Ok(path.display().to_string())
    }
}

struct Run {
    import: Duration,
    logins: Vec<Duration>,
}

async fn run_one(spec: &str, n: usize, probe: bool) -> Result<Run, BoxError> {
    let actor = Actor::new("bench", "seatkeeper-bench-import");
    let ledger = Ledger::open(spec).await?;
    for f in ["Sales", "Sales/North", "Support"] {
        ledger.create_folder(&actor, f).await?;
    }
    ledger
        .import_users_csv(&actor, &csv(PROBES, "probe"))
        .await?;
    let text = csv(n, "u");
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let prober = if probe {
        // Another handle on the same database, as an integration server would have.
        let other = Ledger::open(spec).await?;
        Some(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut i = 0usize;
            // Let the import start first.
            tokio::time::sleep(Duration::from_millis(200)).await;
            while !*done_rx.borrow() {
                let req = LoginRequest {
                    login: format!("probe{:07}", i % PROBES),
                    client: "bench".into(),
                };
                i += 1;
                let t = Instant::now();
                let answer = other.login_many(std::slice::from_ref(&req)).await;
                times.push(t.elapsed());
                if let Ok(answers) = answer {
                    for a in answers {
                        if let LoginAnswer::Allowed(a) = a {
                            let _ = other.logout_many(&[a.session_id]).await;
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = done_rx.changed() => {}
                }
            }
            times
        }))
    } else {
        None
    };
    let t = Instant::now();
    let report = ledger.import_users_csv(&actor, &text).await?;
    let import = t.elapsed();
    let _ = done_tx.send(true);
    if report.created as usize != n {
        return Err(format!("created {} of {n}", report.created).into());
    }
    let logins = match prober {
        Some(p) => p.await?,
        None => Vec::new(),
    };
    ledger.close().await;
    Ok(Run { import, logins })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn run(args: Args) -> Result<(), BoxError> {
    let backends: Vec<bool> = match args.backend {
        BackendArg::Sqlite => vec![false],
        BackendArg::Postgres => vec![true],
        BackendArg::Both => vec![false, true],
    };
    println!(
        "| backend | rows | import | µs/row | logins sent during it | login p50 | login p99 | login max |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for pg in backends {
        for &n in &args.sizes {
            let spec = fresh(&args, pg).await?;
            let r = run_one(&spec, n, n == args.probe_size).await?;
            let mut l = r.logins.clone();
            l.sort();
            let pct = |q: f64| {
                l.get(((l.len() as f64 * q).ceil() as usize).saturating_sub(1))
                    .map_or("–".to_string(), |d| ms(*d))
            };
            println!(
                "| {} | {n} | {:.2} s | {:.0} | {} | {} | {} | {} |",
                if pg { "postgres" } else { "sqlite" },
                r.import.as_secs_f64(),
                r.import.as_secs_f64() * 1e6 / n as f64,
                if l.is_empty() {
                    "–".to_string()
                } else {
                    l.len().to_string()
                },
                pct(0.5),
                pct(0.99),
                pct(1.0),
            );
        }
    }
    if args.backend != BackendArg::Sqlite {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&args.postgres)
            .await?;
        pool.execute(AssertSqlSafe(
            "DROP DATABASE IF EXISTS sk_bench_import WITH (FORCE)".to_string(),
        ))
        .await?;
    }
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
            eprintln!("seatkeeper-bench-import: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seatkeeper-bench-import: {e}");
            ExitCode::FAILURE
        }
    }
}
