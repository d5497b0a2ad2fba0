//! Scale benchmark of role-based redistribution (issue 4); see docs/PERFORMANCE.md.
//!
//! For each backend: a fresh ledger with a signed license for 20 products (named employee
//! seats, about 85% of the users who want each), an organisation bulk-loaded with plain SQL
//! (users, a 6-level tree of roles, memberships) and product bindings made through the
//! ledger; then (1) a full redistribution from empty while another connection issues manual
//! grants, the floor (the same rows bulk-inserted again), (2) a redistribution after 1% of
//! the memberships moved, and the process's peak memory.

mod breakdown;
mod load;
mod model;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use seatkeeper_core::license::{self, Order, OrderAreaLimit, OrderPackage};
use seatkeeper_core::{Area, Product, SeatKind};
use seatkeeper_store::{Actor, Ledger, ManualGrants, RedistributionReport, Scope};

use crate::load::{BoxError, Floor, LoadTimes, Target};
use crate::model::{Model, Params, product_code, role_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ChangeVia {
    /// `Ledger::set_role_members`, one call per role and direction.
    Members,
    /// Plain SQL on a connection of the benchmark's own.
    Sql,
}

/// Scale benchmark of role-based redistribution (issue 4).
#[derive(Debug, Parser)]
#[command(name = "seatkeeper-bench-distribution", version)]
struct Args {
    /// Users in all (the last --grantees of them have no roles).
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// Organizational roles below "All employees", in 6 levels.
    #[arg(long, default_value_t = 5_000)]
    roles: usize,
    #[arg(long, default_value_t = 20)]
    products: usize,
    /// Users without roles that the concurrent manual grants go to.
    #[arg(long, default_value_t = 50)]
    grantees: usize,
    #[arg(long, value_enum, default_value = "both")]
    backend: BackendArg,
    /// PostgreSQL server; the benchmark creates and drops its own database
    /// (seatkeeper_bench_dist) there and leaves the named one untouched.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// The database the benchmark creates (dropped first if it exists) and drops.
    #[arg(long, default_value = "seatkeeper_bench_dist")]
    pg_database: String,
    /// Folder of the SQLite file (default: the system's temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of the memberships moved to another role before (2), in percent.
    #[arg(long, default_value_t = 1.0)]
    change_percent: f64,
    #[arg(long, value_enum, default_value = "members")]
    change_via: ChangeVia,
    /// Pause between two manual grant/recall pairs (0: back to back).
    #[arg(long, default_value_t = 0)]
    grant_pause_ms: u64,
    /// No concurrent manual grants during (1).
    #[arg(long)]
    no_grants: bool,
    /// PostgreSQL: VACUUM the tables a run churns (seat_pools, pending_needs,
    /// distribution_dirty) every this many seconds from (1) to the end of (2), as autovacuum
    /// would where it is on (0: never).
    #[arg(long, default_value_t = 0)]
    vacuum_every: u64,
    /// Add up the time of every SQL statement per phase and print where it goes (implies
    /// --no-grants, so that (1)'s statements are its own).
    #[arg(long)]
    breakdown: bool,
    /// Rows per INSERT statement of the floor's variants on SQLite; the floor is the fastest
    /// (500 is the statement size the ledger writes assignments with).
    #[arg(long, value_delimiter = ',', default_values_t = [500usize, 100, 25])]
    floor_rows_sqlite: Vec<usize>,
    /// The same on PostgreSQL.
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 500])]
    floor_rows_postgres: Vec<usize>,
    /// Keep the database afterwards (SQLite file, PostgreSQL database).
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Default, Clone)]
struct Latencies {
    /// Calls that started while (1) ran: (when, from the start of (1); how long).
    calls: Vec<(Duration, Duration)>,
    errors: u64,
    last_error: Option<String>,
}

/// The interval at which the coordinated-omission correction assumes grants were due.
const GRANT_INTERVAL: Duration = Duration::from_millis(10);

impl Latencies {
    fn len(&self) -> usize {
        self.calls.len()
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.calls.iter().map(|c| c.1).collect();
        v.sort_unstable();
        v
    }

    /// Nearest-rank percentile of the calls as made (one at a time, the next after the last
    /// answer: a long wait hides the grants that would have been issued meanwhile).
    fn pct(&self, q: f64) -> Option<Duration> {
        nearest_rank(&self.sorted(), q)
    }

    /// The same corrected for coordinated omission, as HdrHistogram does: as if a grant were
    /// due every [`GRANT_INTERVAL`], a call that took L also stands for the grants due while
    /// it ran, which would have waited L − 10 ms, L − 20 ms, … (down to 10 ms).
    fn pct_corrected(&self, q: f64) -> Option<Duration> {
        let mut v = Vec::new();
        for (_, l) in &self.calls {
            v.push(*l);
            let mut missing = l.saturating_sub(GRANT_INTERVAL);
            while missing >= GRANT_INTERVAL {
                v.push(missing);
                missing -= GRANT_INTERVAL;
            }
        }
        v.sort_unstable();
        nearest_rank(&v, q)
    }

    /// The slowest calls, slowest first.
    fn slowest(&self, k: usize) -> Vec<(Duration, Duration)> {
        let mut v = self.calls.clone();
        v.sort_by_key(|c| std::cmp::Reverse(c.1));
        v.truncate(k);
        v
    }

    /// How many calls took < 1 ms, 1–10 ms, 10–100 ms, 100 ms–1 s, ≥ 1 s.
    fn buckets(&self) -> [usize; 5] {
        let mut b = [0; 5];
        for (_, d) in &self.calls {
            let ms = d.as_secs_f64() * 1000.0;
            let i = match ms {
                x if x < 1.0 => 0,
                x if x < 10.0 => 1,
                x if x < 100.0 => 2,
                x if x < 1000.0 => 3,
                _ => 4,
            };
            b[i] += 1;
        }
        b
    }

    fn max(&self) -> Option<Duration> {
        self.calls.iter().map(|c| c.1).max()
    }
}

#[derive(Debug)]
struct Outcome {
    label: &'static str,
    load: LoadTimes,
    bindings: Duration,
    run1: Duration,
    report1: RedistributionReport,
    /// Grants, the recalls between them, and both (the manual writes of the connection).
    grants: Option<(Latencies, Latencies, Latencies)>,
    floor: Floor,
    moves: usize,
    change: Duration,
    change_calls: usize,
    run2: Duration,
    report2: RedistributionReport,
    rss_before_kib: u64,
    rss_before2_kib: u64,
    /// PostgreSQL's autovacuum setting, and the benchmark's own VACUUMs (count, time).
    autovacuum: Option<String>,
    vacuums: Option<(u32, Duration)>,
    peak_load_kib: u64,
    peak1_kib: u64,
    peak2_kib: u64,
}

fn nearest_rank(v: &[Duration], q: f64) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: "5" > /proc/self/clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.2} s")
    }
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m >= 100.0 {
        format!("{m:.0} ms")
    } else {
        format!("{m:.1} ms")
    }
}

fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn order(m: &Model) -> Result<Order, BoxError> {
    let products = (0..m.params.products)
        .map(|p| Product {
            code: product_code(p),
            name: format!("Bench product {:02}", p + 1),
            features: vec![],
            all_modules: false,
        })
        .collect();
    let packages = (0..m.params.products)
        .map(|p| {
            Ok(OrderPackage {
                serial: format!("BENCH-{}", product_code(p).to_uppercase()),
                product: product_code(p),
                kind: SeatKind::Named,
                area: Area::Employee,
                seats: u32::try_from(m.seats[p])?,
                valid_from: None,
                expires: None,
                replaces: vec![],
            })
        })
        .collect::<Result<Vec<_>, BoxError>>()?;
    Ok(Order {
        valid_from: None,
        products,
        packages,
        area_limits: vec![OrderAreaLimit {
            area: Area::Employee,
            max_users: u32::try_from(m.params.users + 10)?,
            valid_from: None,
            expires: None,
        }],
    })
}

async fn grant_loop(
    ledger: Ledger,
    logins: Vec<String>,
    product: String,
    stop: Arc<AtomicBool>,
    pause: Duration,
) -> (
    Vec<(Instant, Duration)>,
    Vec<(Instant, Duration)>,
    Latencies,
    Latencies,
) {
    let actor = Actor::new("bench-grants", "seatkeeper-bench-distribution");
    let (mut grants, mut recalls) = (Vec::new(), Vec::new());
    let (mut gerr, mut rerr) = (Latencies::default(), Latencies::default());
    let products = [product];
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) && !logins.is_empty() {
        let who = [logins[i % logins.len()].clone()];
        i += 1;
        let t = Instant::now();
        match ledger.grant(&actor, &who, &products).await {
            Ok(_) => grants.push((t, t.elapsed())),
            Err(e) => {
                gerr.errors += 1;
                gerr.last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let t = Instant::now();
        match ledger.recall(&actor, &who, &products).await {
            Ok(_) => recalls.push((t, t.elapsed())),
            Err(e) => {
                rerr.errors += 1;
                rerr.last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    (grants, recalls, gerr, rerr)
}

async fn bench_backend(target: &Target, m: &Model, args: &Args) -> Result<Outcome, BoxError> {
    let label = target.label();
    let actor = Actor::new("bench", "seatkeeper-bench-distribution");
    breakdown::set_phase("load");
    println!(
        "[{label}] preparing {}",
        seatkeeper_store::redact(&target.spec())
    );
    target.prepare().await?;
    let ledger = Ledger::open(&target.spec()).await?;

    // The vendor's side: a fixed key, a license for this instance's request.
    let vendor = ed25519_dalek::SigningKey::from_bytes(&[0x5E; 32]);
    let request = ledger
        .license_request(&actor, Some("BENCH-COMPANY"), "bench")
        .await?;
    let file = license::issue(
        &vendor,
        &request,
        &order(m)?,
        "BENCH-DIST-1".into(),
        ledger.now(),
    )?;
    ledger
        .import_license(&actor, &file, &[vendor.verifying_key()])
        .await?;

    let now = ledger.now().unix_timestamp();
    println!("[{label}] loading the organisation");
    let load = load::load(target, m, now).await?;
    println!(
        "[{label}] loaded: roles {}, users {}, memberships {}",
        secs(load.roles),
        secs(load.users),
        secs(load.memberships)
    );
    let t = Instant::now();
    for (role, product) in &m.bindings {
        ledger
            .set_role_product(&actor, role_id(*role), &product_code(*product), true)
            .await?;
    }
    let bindings = t.elapsed();

    let autovacuum = match target {
        Target::Postgres { url, .. } => {
            let v = load::pg_autovacuum(url).await?;
            println!("[{label}] server setting autovacuum = {v}");
            Some(v)
        }
        Target::Sqlite { .. } => None,
    };
    let vacuum_stop = Arc::new(AtomicBool::new(false));
    let vacuum = match target {
        Target::Postgres { url, .. } if args.vacuum_every > 0 => Some(load::spawn_vacuum(
            url.clone(),
            Duration::from_secs(args.vacuum_every),
            vacuum_stop.clone(),
        )),
        _ => None,
    };

    // (1) with (3) alongside.
    let peak_load_kib = status_kib("VmHWM:");
    if !reset_peak() {
        eprintln!("[{label}] cannot reset VmHWM; the peak includes loading");
    }
    let rss_before_kib = status_kib("VmRSS:");
    let grants_on = !(args.no_grants || args.breakdown);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = if grants_on {
        let other = Ledger::open(&target.spec()).await?;
        let logins: Vec<String> = (m.regular..m.params.users).map(|i| m.login(i)).collect();
        Some(tokio::spawn(grant_loop(
            other,
            logins,
            product_code(m.grant_product),
            stop.clone(),
            Duration::from_millis(args.grant_pause_ms),
        )))
    } else {
        None
    };
    println!("[{label}] (1) full redistribution from empty");
    breakdown::set_phase("run1");
    let t = Instant::now();
    let report1 = ledger
        .redistribute(&actor, &Scope::All, ManualGrants::Keep)
        .await;
    let run1 = t.elapsed();
    let ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let during = |calls: &[(Instant, Duration)]| -> Vec<(Duration, Duration)> {
        calls
            .iter()
            .filter(|(at, _)| *at < ended)
            .map(|(at, d)| (at.saturating_duration_since(t), *d))
            .collect()
    };
    let grants = match handle {
        Some(h) => {
            let (g, r, mut gerr, mut rerr) = h.await?;
            gerr.calls = during(&g);
            rerr.calls = during(&r);
            let mut all = Latencies {
                calls: gerr.calls.iter().chain(&rerr.calls).copied().collect(),
                errors: gerr.errors + rerr.errors,
                last_error: gerr.last_error.clone().or(rerr.last_error.clone()),
            };
            all.calls.sort_unstable();
            Some((gerr, rerr, all))
        }
        None => None,
    };
    let report1 = report1?;
    let peak1_kib = status_kib("VmHWM:");
    println!(
        "[{label}] (1) {}: {} granted, {} unmet, {} users",
        secs(run1),
        n(report1.granted),
        n(report1.unmet),
        n(report1.users)
    );
    if report1.granted != m.grantable() {
        println!(
            "[{label}] note: the generator expected {} grants",
            n(m.grantable())
        );
    }

    println!("[{label}] floor: the same rows bulk-inserted");
    breakdown::set_phase("floor");
    let granted_by = format!(
        "{} (redistribution #{})",
        actor.name,
        report1.id.unwrap_or(0)
    );
    let sizes = match target {
        Target::Sqlite { .. } => &args.floor_rows_sqlite,
        Target::Postgres { .. } => &args.floor_rows_postgres,
    };
    let floor = load::floor(target, &granted_by, now, sizes).await?;
    for (size, d) in &floor.variants {
        println!(
            "[{label}] floor: {} rows, {size} per statement: {}",
            n(floor.rows),
            secs(*d)
        );
    }

    // (2): move 1% of the memberships, then redistribute again.
    breakdown::set_phase("change");
    let moves = m.membership_moves(args.change_percent / 100.0, args.seed);
    let t = Instant::now();
    let mut change_calls = 0;
    match args.change_via {
        ChangeVia::Members => {
            let mut gone: BTreeMap<usize, Vec<String>> = BTreeMap::new();
            let mut added: BTreeMap<usize, Vec<String>> = BTreeMap::new();
            for (u, old, new) in &moves {
                gone.entry(*old).or_default().push(m.login(*u));
                added.entry(*new).or_default().push(m.login(*u));
            }
            for (on, set) in [(false, &gone), (true, &added)] {
                for (role, logins) in set {
                    ledger
                        .set_role_members(&actor, role_id(*role), logins, on)
                        .await?;
                    change_calls += 1;
                }
            }
        }
        ChangeVia::Sql => {
            load::move_members_sql(target, &moves).await?;
        }
    }
    let change = t.elapsed();
    println!(
        "[{label}] moved {} memberships in {} ({} calls)",
        n(moves.len() as u64),
        secs(change),
        change_calls
    );

    reset_peak();
    let rss_before2_kib = status_kib("VmRSS:");
    println!("[{label}] (2) redistribution after the change");
    breakdown::set_phase("run2");
    let t = Instant::now();
    let report2 = ledger
        .redistribute(&actor, &Scope::All, ManualGrants::Keep)
        .await?;
    let run2 = t.elapsed();
    let peak2_kib = status_kib("VmHWM:");
    vacuum_stop.store(true, Ordering::Relaxed);
    let vacuums = match vacuum {
        Some(h) => Some(h.await??),
        None => None,
    };
    println!(
        "[{label}] (2) {}: {} granted, {} recalled, {} unmet",
        secs(run2),
        n(report2.granted),
        n(report2.recalled),
        n(report2.unmet)
    );
    ledger.close().await;
    breakdown::set_phase("end");
    if args.keep {
        println!(
            "[{label}] kept {}",
            seatkeeper_store::redact(&target.spec())
        );
    } else {
        target.cleanup().await?;
    }
    Ok(Outcome {
        label,
        load,
        bindings,
        run1,
        report1,
        grants,
        floor,
        moves: moves.len(),
        change,
        change_calls,
        run2,
        report2,
        rss_before_kib,
        rss_before2_kib,
        peak_load_kib,
        autovacuum,
        vacuums,
        peak1_kib,
        peak2_kib,
    })
}

fn print_outcome(o: &Outcome, m: &Model, args: &Args) {
    let (floor_size, floor_time) = o.floor.best();
    let floor = floor_time.as_secs_f64();
    let r1 = o.run1.as_secs_f64() / floor;
    let r2 = o.run2.as_secs_f64() / o.run1.as_secs_f64();
    let peak = o.peak1_kib.max(o.peak2_kib);
    println!();
    println!(
        "### {}: {} users, {} roles, {} memberships",
        o.label,
        n(m.params.users as u64),
        n(m.params.roles as u64),
        n(m.memberships() as u64)
    );
    println!();
    println!("| figure | measured | target | met? |");
    println!("|---|---|---|---|");
    println!(
        "| floor: bulk insert of the {} assignment rows (1) wrote ({floor_size} rows per INSERT) | {} | (baseline) | |",
        n(o.floor.rows),
        secs(floor_time)
    );
    println!(
        "| (1) full redistribution from empty | {} = {r1:.2}× floor | ≤ 2× floor | {} |",
        secs(o.run1),
        yes(r1 <= 2.0)
    );
    println!(
        "| (2) redistribution after {}% of memberships changed | {} = {:.1}% of (1) ({:.2}× floor) | ≤ 5% of (1) | {} |",
        args.change_percent,
        secs(o.run2),
        r2 * 100.0,
        o.run2.as_secs_f64() / floor,
        yes(r2 <= 0.05)
    );
    match &o.grants {
        Some((g, _, a)) => match (a.pct_corrected(0.99), g.pct(0.99), a.max()) {
            (Some(p99c), Some(p99), Some(max)) => println!(
                "| (3) manual grants during (1): p99 | {} corrected for coordinated omission (grants {} as issued: {} grants, p50 {}; max of grants and recalls {}) | ≤ 100 ms | {} |",
                ms(p99c),
                ms(p99),
                g.len(),
                g.pct(0.5).map(ms).unwrap_or_default(),
                ms(max),
                yes(p99c <= Duration::from_millis(100))
            ),
            _ => println!(
                "| (3) manual grants during (1): p99 | no grant completed | ≤ 100 ms | NO |"
            ),
        },
        None => println!("| (3) manual grants during (1) | not run | ≤ 100 ms | |"),
    }
    println!(
        "| (4) peak memory (VmHWM during (1) and (2)) | {} MiB | ≤ 1024 MiB | {} |",
        peak / 1024,
        yes(peak <= 1024 * 1024)
    );
    println!();
    println!(
        "- (1): {} users, {} granted, {} unmet; (2): {} granted, {} recalled, {} unmet \
         ({} memberships moved in {}{}).",
        n(o.report1.users),
        n(o.report1.granted),
        n(o.report1.unmet),
        n(o.report2.granted),
        n(o.report2.recalled),
        n(o.report2.unmet),
        n(o.moves as u64),
        secs(o.change),
        if o.change_calls > 0 {
            format!(", {} set_role_members calls", o.change_calls)
        } else {
            ", plain SQL".to_string()
        }
    );
    if let Some((g, r, a)) = &o.grants {
        let p = |l: &Latencies, q| l.pct(q).map(ms).unwrap_or_else(|| "-".into());
        println!(
            "- (3): grants p50 {} p99 {} max {}, {} errors; the recall after each grant: \
             {} calls, p50 {} p99 {} max {}, {} errors.{}",
            p(g, 0.5),
            p(g, 0.99),
            g.max().map(ms).unwrap_or_else(|| "-".into()),
            g.errors,
            r.len(),
            p(r, 0.5),
            p(r, 0.99),
            r.max().map(ms).unwrap_or_else(|| "-".into()),
            r.errors,
            g.last_error
                .as_ref()
                .or(r.last_error.as_ref())
                .map(|e| format!(" Last error: {e}"))
                .unwrap_or_default()
        );
        let b = g.buckets();
        println!(
            "- (3): grants by latency: {} under 1 ms, {} 1–10 ms, {} 10–100 ms, {} 100 ms–1 s, \
             {} over 1 s; {:.1} grant/recall pairs per second of (1).",
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            g.len() as f64 / o.run1.as_secs_f64()
        );
        println!(
            "- (3): the connection's manual writes (grants and recalls): {} calls, p50 {}, \
             p99 {} as issued, p99 {} corrected for coordinated omission at one call per {} ms.",
            a.len(),
            p(a, 0.5),
            p(a, 0.99),
            a.pct_corrected(0.99).map(ms).unwrap_or_else(|| "-".into()),
            GRANT_INTERVAL.as_millis()
        );
        let slow: Vec<String> = a
            .slowest(10)
            .iter()
            .filter(|(_, d)| *d > Duration::from_millis(100))
            .map(|(at, d)| format!("{} at {:.1} s", ms(*d), at.as_secs_f64()))
            .collect();
        if !slow.is_empty() {
            println!(
                "- (3): slowest calls (latency at start time into (1)): {}.",
                slow.join(", ")
            );
        }
    }
    println!(
        "- memory: RSS {} MiB when (1) started, peak {} MiB during (1); RSS {} MiB when (2) \
         started, peak {} MiB during (2); {} MiB while loading.",
        o.rss_before_kib / 1024,
        o.peak1_kib / 1024,
        o.rss_before2_kib / 1024,
        o.peak2_kib / 1024,
        o.peak_load_kib / 1024
    );
    if let Some(av) = &o.autovacuum {
        println!(
            "- PostgreSQL: autovacuum = {av} on the server; {}.",
            match o.vacuums {
                Some((k, d)) => format!(
                    "the benchmark ran VACUUM every {} s from (1) to (2): {k} times, {} in all",
                    args.vacuum_every,
                    secs(d)
                ),
                None => "no VACUUM during the measured phases (--vacuum-every 0)".to_string(),
            }
        );
    }
    println!(
        "- floor variants (rows per INSERT: time): {}.",
        o.floor
            .variants
            .iter()
            .map(|(s, d)| format!("{s}: {}", secs(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "- loading (not measured): roles {}, users {}, memberships {}, {} bindings {}.",
        secs(o.load.roles),
        secs(o.load.users),
        secs(o.load.memberships),
        m.bindings.len(),
        secs(o.bindings)
    );
    if args.breakdown {
        for (phase, wall) in [
            ("run1", o.run1),
            ("floor", o.floor.variants.iter().map(|v| v.1).sum()),
            ("run2", o.run2),
        ] {
            let (rows, total) = breakdown::report(phase);
            println!();
            println!(
                "SQL statements of {phase} (wall {}, in statements {:.1} s = {:.0}%):",
                secs(wall),
                total,
                100.0 * total / wall.as_secs_f64()
            );
            println!();
            println!("| statement | count | rows | total s | share of wall |");
            println!("|---|---:|---:|---:|---:|");
            for (sql, st) in rows.iter().take(14) {
                println!(
                    "| `{}` | {} | {} | {:.2} | {:.1}% |",
                    sql.replace('|', "\\|"),
                    n(st.count),
                    n(st.rows),
                    st.secs,
                    100.0 * st.secs / wall.as_secs_f64()
                );
            }
        }
    }
}

async fn run(args: Args) -> Result<bool, BoxError> {
    if args.breakdown {
        breakdown::install();
    }
    let t = Instant::now();
    let m = Model::generate(Params {
        users: args.users,
        roles: args.roles,
        products: args.products,
        grantees: args.grantees,
        seed: args.seed,
    })?;
    let sizes = m.level_sizes();
    println!(
        "organisation (seed {}, made in {}): {} users ({} with roles, {} grantees), {} roles \
         in {} levels {:?}, {} memberships ({:.2} per user), {} bindings, {} products; \
         {} (user, product) pairs wanted, {} seats, {} grantable",
        args.seed,
        secs(t.elapsed()),
        n(args.users as u64),
        n(m.regular as u64),
        args.grantees,
        n(args.roles as u64),
        sizes.len(),
        sizes,
        n(m.memberships() as u64),
        m.memberships() as f64 / m.regular as f64,
        m.bindings.len(),
        args.products,
        n(m.wanted()),
        n(m.seats.iter().sum()),
        n(m.grantable())
    );
    let mut targets = Vec::new();
    if matches!(args.backend, BackendArg::Sqlite | BackendArg::Both) {
        let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&dir)?;
        targets.push(Target::Sqlite {
            path: dir.join("seatkeeper-bench-dist.db"),
        });
    }
    if matches!(args.backend, BackendArg::Postgres | BackendArg::Both) {
        targets.push(Target::postgres(&args.postgres, &args.pg_database)?);
    }
    let mut outcomes = Vec::new();
    let mut ok = true;
    for target in &targets {
        match bench_backend(target, &m, &args).await {
            Ok(o) => {
                print_outcome(&o, &m, &args);
                outcomes.push(o);
            }
            Err(e) => {
                eprintln!("[{}] FAILED: {e}", target.label());
                if !args.keep {
                    let _ = target.cleanup().await;
                }
                ok = false;
            }
        }
    }
    if outcomes.len() > 1 {
        println!();
        println!("## Summary");
        for o in &outcomes {
            print_outcome(o, &m, &args);
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
