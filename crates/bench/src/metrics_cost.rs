//! What `/metrics` adds to one login, without the noise of a whole server (issue 17): the
//! login counter and the latency middleware's work (two clock reads, the histogram's record,
//! their label sets), 7 × 100,000 rounds after a warm-up. Prints a table; see
//! docs/PERFORMANCE.md, "Performance: metrics on vs off".
//!
//! `cargo run --release -p seatkeeper-bench --bin seatkeeper-bench-metrics-cost`

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use seatkeeper_core::login::{Refusal, RefusedLogin};
use seatkeeper_server::error::ApiResult;
use seatkeeper_server::metrics::{Metrics, MetricsSettings};
use seatkeeper_store::LoginAnswer;

fn main() -> Result<(), String> {
    let m = Metrics::new(MetricsSettings {
        token: None,
        listen: "127.0.0.1:0".parse().ok(),
    })?;
    let answer: ApiResult<axum::Json<LoginAnswer>> = Ok(axum::Json(LoginAnswer::Refused(
        RefusedLogin::new("emp1", Refusal::NoLicense),
    )));
    let round = |n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            m.login("login", &answer);
            m.request(
                &Method::POST,
                "/integration/v1/login",
                StatusCode::OK,
                t.elapsed(),
            );
        }
        start.elapsed() / n
    };
    round(10_000);
    let mut per: Vec<Duration> = (0..7).map(|_| round(100_000)).collect();
    per.sort();
    m.upkeep();
    println!("| metrics work per login | median | min | max |");
    println!("|---|---:|---:|---:|");
    let at = |i: usize| per.get(i).copied().unwrap_or_default();
    println!(
        "| counter + histogram record | {:?} | {:?} | {:?} |",
        at(3),
        at(0),
        at(6)
    );
    Ok(())
}
