//! Provisioning over SCIM as Entra ID does it (issue 16, I2); run by scripts/bench-scim.sh,
//! see docs/PERFORMANCE.md.
//!
//! Against a running `seatkeeper serve` (`--base` = its `/scim/v2`, `--token` a provisioning
//! token), with `--concurrency` requests in flight:
//!   users    for each user `GET /Users?filter=userName eq "…"` (nothing found), then
//!            `POST /Users` (userName, name, displayName, a primary work e-mail, active,
//!            externalId: what Entra's default attribute mapping sends);
//!   groups   for each group `GET /Groups?excludedAttributes=members&filter=displayName eq
//!            "…"`, then `POST /Groups` without members;
//!   members  `PATCH /Groups/{id}` with `{"op":"Add","path":"members","value":[…]}`, `--batch`
//!            members per request, the batches of the groups interleaved (each user in 1–3
//!            groups, 1.83 on average).
//! Then every group is read back and its members compared with what was sent (not timed).
//! Prints a markdown table (requests, seconds, requests/s, p50/p99 latency) per phase; exits
//! non-zero when a request fails or a group does not hold the members it was given.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Provisioning N users into groups over SCIM, as Entra ID does (issue 16).
#[derive(Debug, Parser)]
#[command(name = "seatkeeper-bench-scim", version)]
struct Args {
    /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2.
    #[arg(long)]
    base: String,
    /// A bearer token with scope `provisioning`.
    #[arg(long, env = "SEATKEEPER_BENCH_SCIM_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Members per PATCH.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// The label of the table's rows (the backend).
    #[arg(long, default_value = "")]
    label: String,
    /// Also write every request's latency here (CSV: phase, job, ms; the job's index is the
    /// order requests were started in).
    #[arg(long)]
    latencies: Option<std::path::PathBuf>,
}

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn login(i: usize) -> String {
    format!("user{i:06}@bench.example.com")
}

fn group_name(k: usize) -> String {
    format!("Bench group {k:03}")
}

/// The groups of user `i`: `i % g` for everyone, two more for every 2nd and every 3rd user
/// (as scripts/bench-directory.sh's directory).
fn groups_of(i: usize, g: usize) -> Vec<usize> {
    let mut v = vec![i % g];
    if i.is_multiple_of(2) {
        v.push((i * 7 + 3) % g);
    }
    if i.is_multiple_of(3) {
        v.push((i * 13 + 5) % g);
    }
    v.sort_unstable();
    v.dedup();
    v
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// One request; its latency, and the answer's JSON when it had the expected status.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        expect: StatusCode,
    ) -> (Duration, Result<Value, String>) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let t = Instant::now();
        let out = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(bytes) if status == expect => {
                        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path}: {e}"))
                    }
                    Ok(bytes) => Err(format!(
                        "{method} {path}: {status} {}",
                        String::from_utf8_lossy(&bytes)
                    )),
                    Err(e) => Err(format!("{method} {path}: {e}")),
                }
            }
            Err(e) => Err(format!("{method} {path}: {e}")),
        };
        (t.elapsed(), out)
    }
}

/// The latencies of one kind of request (with the job that made it), and the failures.
#[derive(Default)]
struct Timings {
    took: Vec<(usize, Duration)>,
    errors: usize,
    first_error: Option<String>,
}

impl Timings {
    fn record<T>(&mut self, job: usize, took: Duration, out: &Result<T, String>) {
        self.took.push((job, took));
        if let Err(e) = out {
            self.errors += 1;
            self.first_error.get_or_insert_with(|| e.clone());
        }
    }

    fn merge(&mut self, other: Timings) {
        self.took.extend(other.took);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Nearest-rank percentile, in milliseconds.
    fn pct(&self, q: f64) -> f64 {
        let mut v: Vec<Duration> = self.took.iter().map(|t| t.1).collect();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
        v.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Runs `job(i)` for i in 0..n on `concurrency` workers; the workers' timings, merged by the
/// index `job` gives each of its requests (0, 1, … for the kinds of request a job makes), and
/// the wall time.
async fn run_jobs<F, Fut>(
    n: usize,
    concurrency: usize,
    kinds: usize,
    job: F,
) -> Result<(Vec<Timings>, Duration), BoxError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<(usize, Duration, Result<(), String>)>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, job) = (next.clone(), job.clone());
        workers.push(tokio::spawn(async move {
            let mut timings: Vec<Timings> = (0..kinds).map(|_| Timings::default()).collect();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                for (kind, took, out) in job(i).await {
                    if let Some(t) = timings.get_mut(kind) {
                        t.record(i, took, &out);
                    }
                }
            }
            timings
        }));
    }
    let mut all: Vec<Timings> = (0..kinds).map(|_| Timings::default()).collect();
    for w in workers {
        for (into, from) in all.iter_mut().zip(w.await?) {
            into.merge(from);
        }
    }
    Ok((all, t.elapsed()))
}

fn total_results(v: &Value) -> Option<u64> {
    v.get("totalResults").and_then(Value::as_u64)
}

/// `GET ?filter=…` that must find nothing (a fresh ledger), then `POST` of `body`; the id.
async fn find_then_create(
    client: &Client,
    path: &str,
    query: &[(&str, &str)],
    body: Value,
) -> (Vec<(usize, Duration, Result<(), String>)>, Option<String>) {
    let (took, found) = client
        .call(Method::GET, path, query, None, StatusCode::OK)
        .await;
    let found = found.and_then(|v| match total_results(&v) {
        Some(0) => Ok(()),
        other => Err(format!(
            "GET {path} {query:?}: totalResults {other:?}, not 0"
        )),
    });
    let mut out = vec![(0, took, found)];
    let (took, created) = client
        .call(Method::POST, path, &[], Some(&body), StatusCode::CREATED)
        .await;
    let id = created
        .as_ref()
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
    out.push((1, took, created.map(|_| ())));
    (out, id)
}

struct Row {
    phase: String,
    requests: usize,
    secs: Option<f64>,
    timings: Timings,
}

fn print_table(label: &str, rows: &[Row]) {
    println!("| backend | phase | requests | seconds | requests/s | p50 ms | p99 ms |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let (secs, rate) = match r.secs {
            Some(s) => (format!("{s:.1}"), format!("{:.0}", r.requests as f64 / s)),
            None => (String::new(), String::new()),
        };
        println!(
            "| {label} | {} | {} | {secs} | {rate} | {:.1} | {:.1} |",
            r.phase,
            r.requests,
            r.timings.pct(0.5),
            r.timings.pct(0.99)
        );
    }
}

async fn run(args: Args) -> Result<bool, BoxError> {
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency.max(1))
            .timeout(Duration::from_secs(120))
            .build()?,
        base: args.base.trim_end_matches('/').to_string(),
        token: args.token.clone(),
    });
    let (n, g) = (args.users, args.groups.max(1));
    let mut rows = Vec::new();

    eprintln!(
        "users: {n} × (GET ?filter, POST), {} in flight",
        args.concurrency
    );
    let user_ids: Arc<std::sync::Mutex<Vec<Option<String>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; n]));
    let (c, ids) = (client.clone(), user_ids.clone());
    let (mut users, users_secs) = run_jobs(n, args.concurrency, 2, move |i| {
        let (c, ids) = (c.clone(), ids.clone());
        async move {
            let name = login(i);
            let filter = format!("userName eq \"{name}\"");
            let body = json!({
                "schemas": [USER_SCHEMA],
                "externalId": format!("ext-{i:06}"),
                "userName": name,
                "active": true,
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("{i:06}"),
                         "formatted": format!("User {i:06}")},
                "emails": [{"primary": true, "type": "work", "value": name}],
            });
            let (out, id) = find_then_create(&c, "/Users", &[("filter", &filter)], body).await;
            if let (Ok(mut ids), Some(id)) = (ids.lock(), id)
                && let Some(slot) = ids.get_mut(i)
            {
                *slot = Some(id);
            }
            out
        }
    })
    .await?;
    // The filtered GET at the start and at the end of the phase: a lookup that reads every
    // user would grow with the users already there.
    let decile = (n / 10).max(1);
    let posts = users.pop().unwrap_or_default();
    let gets = users.pop().unwrap_or_default();
    let early = Timings {
        took: gets.took.iter().filter(|t| t.0 < decile).copied().collect(),
        ..Timings::default()
    };
    let late = Timings {
        took: gets
            .took
            .iter()
            .filter(|t| t.0 >= n - decile)
            .copied()
            .collect(),
        ..Timings::default()
    };
    let mut both = Timings::default();
    both.took.extend(gets.took.iter().chain(&posts.took));
    both.errors = gets.errors + posts.errors;
    both.first_error = gets.first_error.clone().or(posts.first_error.clone());
    rows.push(Row {
        phase: "users: GET ?filter + POST".into(),
        requests: both.took.len(),
        secs: Some(users_secs.as_secs_f64()),
        timings: both,
    });
    rows.push(Row {
        phase: "· GET /Users?filter=userName eq".into(),
        requests: gets.took.len(),
        secs: None,
        timings: gets,
    });
    rows.push(Row {
        phase: "· POST /Users".into(),
        requests: posts.took.len(),
        secs: None,
        timings: posts,
    });

    eprintln!("groups: {g} × (GET ?filter, POST)");
    let group_ids: Arc<std::sync::Mutex<Vec<Option<String>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; g]));
    let (c, ids) = (client.clone(), group_ids.clone());
    let (mut groups, groups_secs) = run_jobs(g, args.concurrency, 2, move |k| {
        let (c, ids) = (c.clone(), ids.clone());
        async move {
            let name = group_name(k);
            let filter = format!("displayName eq \"{name}\"");
            let body = json!({
                "schemas": [GROUP_SCHEMA],
                "externalId": format!("gext-{k:03}"),
                "displayName": name,
                "members": [],
            });
            let query = [
                ("excludedAttributes", "members"),
                ("filter", filter.as_str()),
            ];
            let (out, id) = find_then_create(&c, "/Groups", &query, body).await;
            if let (Ok(mut ids), Some(id)) = (ids.lock(), id)
                && let Some(slot) = ids.get_mut(k)
            {
                *slot = Some(id);
            }
            out
        }
    })
    .await?;
    let posts = groups.pop().unwrap_or_default();
    let gets = groups.pop().unwrap_or_default();
    let mut both = Timings::default();
    both.took.extend(gets.took.iter().chain(&posts.took));
    both.errors = gets.errors + posts.errors;
    both.first_error = gets.first_error.clone().or(posts.first_error.clone());
    rows.push(Row {
        phase: "groups: GET ?filter + POST".into(),
        requests: both.took.len(),
        secs: Some(groups_secs.as_secs_f64()),
        timings: both,
    });

    // The members each group gets, by user id; users whose POST failed are left out.
    let user_ids: Vec<Option<String>> = user_ids.lock().map_err(|_| "poisoned")?.clone();
    let group_ids: Vec<Option<String>> = group_ids.lock().map_err(|_| "poisoned")?.clone();
    let mut members: Vec<Vec<String>> = vec![Vec::new(); g];
    for (i, id) in user_ids.iter().enumerate() {
        if let Some(id) = id {
            for k in groups_of(i, g) {
                if let Some(m) = members.get_mut(k) {
                    m.push(id.clone());
                }
            }
        }
    }
    // Batches interleaved across groups (group 0's first, group 1's first, …), so that the
    // requests in flight mostly touch different groups, as Entra's per-group queues do.
    let batch = args.batch.max(1);
    let mut batches: Vec<(String, Vec<String>)> = Vec::new();
    let longest = members.iter().map(Vec::len).max().unwrap_or(0);
    for b in 0..longest.div_ceil(batch) {
        for (k, m) in members.iter().enumerate() {
            if let (Some(Some(gid)), Some(chunk)) = (group_ids.get(k), m.chunks(batch).nth(b)) {
                batches.push((gid.clone(), chunk.to_vec()));
            }
        }
    }
    let memberships: usize = batches.iter().map(|b| b.1.len()).sum();
    eprintln!(
        "members: {memberships} memberships in {} PATCHes of up to {batch}",
        batches.len()
    );
    let batches = Arc::new(batches);
    let (c, bs) = (client.clone(), batches.clone());
    let (mut patches, patch_secs) = run_jobs(batches.len(), args.concurrency, 1, move |j| {
        let (c, bs) = (c.clone(), bs.clone());
        async move {
            let Some((gid, chunk)) = bs.get(j) else {
                return Vec::new();
            };
            let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
            let body = json!({
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "Add", "path": "members", "value": value}],
            });
            let path = format!("/Groups/{gid}");
            let (took, out) = c
                .call(Method::PATCH, &path, &[], Some(&body), StatusCode::OK)
                .await;
            vec![(0, took, out.map(|_| ()))]
        }
    })
    .await?;
    let patches = patches.pop().unwrap_or_default();
    rows.push(Row {
        phase: format!("members: PATCH /Groups, {batch} per request"),
        requests: patches.took.len(),
        secs: Some(patch_secs.as_secs_f64()),
        timings: patches,
    });
    let total_secs = users_secs + groups_secs + patch_secs;
    let mut all = Timings::default();
    for r in &rows {
        if r.secs.is_some() {
            all.took.extend(&r.timings.took);
            all.errors += r.timings.errors;
            if all.first_error.is_none() {
                all.first_error = r.timings.first_error.clone();
            }
        }
    }
    let requests = all.took.len();
    rows.push(Row {
        phase: "all".into(),
        requests,
        secs: Some(total_secs.as_secs_f64()),
        timings: all,
    });

    // Every group holds exactly the members it was given.
    let mut wrong = Vec::new();
    for (k, gid) in group_ids.iter().enumerate() {
        let Some(gid) = gid else { continue };
        let (_, got) = client
            .call(
                Method::GET,
                &format!("/Groups/{gid}"),
                &[("attributes", "members")],
                None,
                StatusCode::OK,
            )
            .await;
        let mut held: Vec<String> = got
            .ok()
            .and_then(|v| v.get("members").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
            .collect();
        held.sort();
        let mut want = members.get(k).cloned().unwrap_or_default();
        want.sort();
        if held != want {
            wrong.push(format!(
                "{} holds {} members, not {}",
                group_name(k),
                held.len(),
                want.len()
            ));
        }
    }

    if let Some(path) = &args.latencies {
        let mut csv = String::from("phase,job,ms\n");
        for r in &rows {
            if r.phase != "all" {
                for (job, d) in &r.timings.took {
                    csv += &format!("\"{}\",{job},{:.3}\n", r.phase, d.as_secs_f64() * 1000.0);
                }
            }
        }
        std::fs::write(path, csv)?;
    }
    print_table(&args.label, &rows);
    println!();
    println!(
        "{n} users, {g} groups, {memberships} memberships ({:.2} per user); GET /Users?filter \
         p50 {:.1} ms in the first {decile} users, {:.1} ms in the last {decile}; \
         memberships/s in PATCH: {:.0}",
        memberships as f64 / n.max(1) as f64,
        early.pct(0.5),
        late.pct(0.5),
        memberships as f64 / patch_secs.as_secs_f64()
    );
    let mut ok = true;
    for r in &rows {
        if let Some(e) = &r.timings.first_error
            && r.secs.is_some()
        {
            eprintln!(
                "{}: {} failed requests; first: {e}",
                r.phase, r.timings.errors
            );
            ok = false;
        }
    }
    for w in wrong.iter().take(10) {
        eprintln!("{w}");
        ok = false;
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seatkeeper-bench-scim: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("seatkeeper-bench-scim: {e}");
            ExitCode::FAILURE
        }
    }
}
