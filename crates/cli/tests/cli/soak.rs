//! Issue 13 (11): a soak. Real `seatkeeper serve` processes — two nodes on one PostgreSQL
//! database, one process on a SQLite file — under mixed load for `SEATKEEPER_SOAK_SECS`
//! (20 s by default, 600 s from `scripts/soak.sh`): logins, heartbeats and logouts on any
//! node, manual grants and recalls, role-based redistributions, and a node killed (SIGKILL)
//! and restarted every few seconds. Checked all along and at the end:
//!
//! - at every sample, every pool's `used` equals its active assignments plus its floating
//!   holds, and never exceeds its capacity;
//! - once the clients have logged out every session they were told of, the only sessions
//!   left are those whose answer a kill lost (never more than the logins it cut off), and
//!   the idle reaper ends them;
//! - every grant an administrator was told succeeded (and did not touch again) is held.
//!
//! Loopback only, bounded in time; it prints its figures on one line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::json;
use sqlx::Connection as _;
use std::time::Duration;

use super::server::{
    Api, IDLE_SECS, Server, T0, import_employees, prepare, set_clock, start, world,
};
use super::*;

const USERS: usize = 80;
const CLIENTS: usize = 16;

fn soak_secs() -> u64 {
    std::env::var("SEATKEEPER_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// What the run counted.
#[derive(Default)]
struct Counts {
    logins: AtomicU64,
    allowed: AtomicU64,
    lost_logins: AtomicU64,
    unreachable: AtomicU64,
    heartbeats: AtomicU64,
    logouts: AtomicU64,
    wrong_404: AtomicU64,
    admin_writes: AtomicU64,
    redistributions: AtomicU64,
    samples: AtomicU64,
    kills: AtomicU64,
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// A pool whose count disagrees with what holds it, or that is over capacity.
pub(crate) async fn pool_faults(db: &mut sqlx::AnyConnection) -> Vec<String> {
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.product_code, p.kind, p.folder_id, p.capacity, p.used, \
           (SELECT COUNT(*) FROM assignments a WHERE a.status = 'active' \
              AND a.product_code = p.product_code AND a.area = p.area AND a.kind = p.kind \
              AND a.folder_id = p.folder_id) \
         + (SELECT COUNT(*) FROM floating_holds h WHERE h.product_code = p.product_code \
              AND h.area = p.area AND h.kind = p.kind AND h.folder_id = p.folder_id) \
         FROM seat_pools p",
    )
    .fetch_all(db)
    .await
    .unwrap_or_default();
    rows.into_iter()
        .filter(|(_, _, _, capacity, used, held)| used != held || used > capacity)
        .map(|(product, kind, folder, capacity, used, held)| {
            format!("{product}/{kind}/{folder}: used {used}, held {held}, capacity {capacity}")
        })
        .collect()
}

async fn scalar(db: &mut sqlx::AnyConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db)
        .await
        .unwrap()
}

fn pick(bases: &RwLock<Vec<String>>, n: u64) -> String {
    let b = bases.read().unwrap();
    b[(n as usize) % b.len()].clone()
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

async fn soak(db: &str, checker_url: &str, dir: &Path, nodes: usize) {
    let secs = soak_secs();
    prepare(db, dir);
    let mut servers: Vec<Server> = (0..nodes).map(|_| start(db, dir)).collect();
    let api = Api::new(&servers[0]);
    let w = world(db, dir, &api, 20, 8).await;
    import_employees(&api, &w, "s", USERS).await;
    // `reports` bound to the root role: redistributions have work to do.
    api.ok(
        reqwest::Method::PUT,
        "/api/v1/roles/1/products/reports",
        &w.admin,
        None,
    )
    .await;

    let bases = Arc::new(RwLock::new(
        servers.iter().map(|s| s.base.clone()).collect::<Vec<_>>(),
    ));
    let counts = Arc::new(Counts::default());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (bases, counts, http, token) =
            (bases.clone(), counts.clone(), http.clone(), w.app.clone());
        clients.push(tokio::spawn(async move {
            let mut next = xorshift(0x5EED ^ ((c as u64 + 1) * 0x9E37_79B9));
            let mut live: Vec<String> = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let roll = next() % 10;
                if roll < 5 || live.is_empty() {
                    add(&counts.logins);
                    let user = format!("s{}", next() % USERS as u64);
                    match http
                        .post(format!("{}/integration/v1/login", pick(&bases, next())))
                        .bearer_auth(&token)
                        .json(&json!({"login": user}))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => {
                            let v: Value = r.json().await.unwrap_or_default();
                            if let Some(sid) = v["session_id"].as_str() {
                                add(&counts.allowed);
                                live.push(sid.to_string());
                            }
                        }
                        // No node there (killed, not yet restarted): nothing was sent.
                        Err(e) if e.is_connect() => {
                            add(&counts.unreachable);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        // The answer was lost (a node killed): the session may exist.
                        Err(_) => add(&counts.lost_logins),
                        Ok(_) => {}
                    }
                } else if roll < 7 {
                    let sid = &live[(next() as usize) % live.len()];
                    add(&counts.heartbeats);
                    let _ = http
                        .post(format!("{}/integration/v1/heartbeat", pick(&bases, next())))
                        .bearer_auth(&token)
                        .json(&json!({"session_id": sid}))
                        .send()
                        .await;
                } else {
                    let sid = live.swap_remove((next() as usize) % live.len());
                    logout(&http, &bases, &token, &sid, &counts, &mut next).await;
                }
            }
            for sid in live {
                logout(&http, &bases, &token, &sid, &counts, &mut next).await;
            }
        }));
    }

    // Manual grants and recalls of crm; the last acknowledged operation per user.
    let last_ack: Arc<RwLock<BTreeMap<String, Option<bool>>>> = Arc::default();
    let admin_task = {
        let (bases, counts, http, token, last_ack) = (
            bases.clone(),
            counts.clone(),
            http.clone(),
            w.admin.clone(),
            last_ack.clone(),
        );
        tokio::spawn(async move {
            let mut next = xorshift(0xAD);
            while tokio::time::Instant::now() < deadline {
                let user = format!("s{}", next() % USERS as u64);
                let grant = next().is_multiple_of(2);
                // Unknown until answered: a lost answer makes the outcome unknown (None).
                last_ack.write().unwrap().insert(user.clone(), None);
                let path = if grant { "grants" } else { "recalls" };
                let answer = http
                    .post(format!("{}/api/v1/{path}", pick(&bases, next())))
                    .bearer_auth(&token)
                    .json(&json!({"users": [user], "products": ["crm"]}))
                    .send()
                    .await;
                if let Ok(r) = answer
                    && r.status().is_success()
                {
                    add(&counts.admin_writes);
                    last_ack.write().unwrap().insert(user, Some(grant));
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let redistributor = {
        let (bases, counts, http, token) =
            (bases.clone(), counts.clone(), http.clone(), w.admin.clone());
        tokio::spawn(async move {
            let mut next = xorshift(0xD1);
            while tokio::time::Instant::now() < deadline {
                let user = format!("s{}", next() % USERS as u64);
                let _ = http
                    .post(format!("{}/api/v1/recalls", pick(&bases, next())))
                    .bearer_auth(&token)
                    .json(&json!({"users": [user], "products": ["reports"]}))
                    .send()
                    .await;
                if let Ok(r) = http
                    .post(format!("{}/api/v1/redistributions", pick(&bases, next())))
                    .bearer_auth(&token)
                    .json(&json!({"scope": {"kind": "all"}, "manual": "keep"}))
                    .send()
                    .await
                    && r.status().is_success()
                {
                    add(&counts.redistributions);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let sampler = {
        let (counts, url) = (counts.clone(), checker_url.to_string());
        tokio::spawn(async move {
            let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
            let mut faults = Vec::new();
            while tokio::time::Instant::now() < deadline {
                faults.extend(pool_faults(&mut db).await);
                add(&counts.samples);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            faults
        })
    };

    // Kill a node (SIGKILL) and start it again, every few seconds.
    let every = Duration::from_secs((secs / 6).clamp(4, 60));
    let mut victim = 0;
    while tokio::time::Instant::now() + every < deadline {
        tokio::time::sleep(every).await;
        let old = servers.remove(victim % servers.len());
        drop(old); // kill -9 and reap
        add(&counts.kills);
        let new = start(db, dir);
        servers.insert(victim % (servers.len() + 1), new);
        *bases.write().unwrap() = servers.iter().map(|s| s.base.clone()).collect();
        victim += 1;
    }
    for c in clients {
        c.await.unwrap();
    }
    admin_task.await.unwrap();
    redistributor.await.unwrap();
    let faults = sampler.await.unwrap();

    let mut check = sqlx::AnyConnection::connect(checker_url).await.unwrap();
    let left = scalar(&mut check, "SELECT COUNT(*) FROM sessions").await;
    let end_faults = pool_faults(&mut check).await;
    // Acknowledged grants are held (crm named, active or releasing).
    let mut missing = Vec::new();
    let granted: Vec<String> = last_ack
        .read()
        .unwrap()
        .iter()
        .filter(|(_, op)| **op == Some(true))
        .map(|(u, _)| u.clone())
        .collect();
    for user in &granted {
        let n = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id \
             WHERE u.login = $1 AND a.product_code = 'crm'",
        )
        .bind(user.clone())
        .fetch_one(&mut check)
        .await
        .unwrap();
        if n == 0 {
            missing.push(user.clone());
        }
    }
    // Sessions whose answer a kill lost end with the idle timeout.
    set_clock(dir, T0 + IDLE_SECS + 5);
    let waited = std::time::Instant::now();
    let mut after_reap = left;
    while after_reap > 0 && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after_reap = scalar(&mut check, "SELECT COUNT(*) FROM sessions").await;
    }
    let holds = scalar(&mut check, "SELECT COUNT(*) FROM floating_holds").await;
    eprintln!(
        "soak ({nodes} node(s), {secs} s): {} logins ({} allowed, {} answers lost, {} no node), {} heartbeats, \
         {} logouts, {} wrong 404s, {} admin writes, {} redistributions, {} kills, {} samples, \
         {} pool faults, {left} sessions left (then {after_reap} after the idle timeout), \
         {}/{} acknowledged grants held",
        get(&counts.logins),
        get(&counts.allowed),
        get(&counts.lost_logins),
        get(&counts.unreachable),
        get(&counts.heartbeats),
        get(&counts.logouts),
        get(&counts.wrong_404),
        get(&counts.admin_writes),
        get(&counts.redistributions),
        get(&counts.kills),
        get(&counts.samples),
        faults.len() + end_faults.len(),
        granted.len() - missing.len(),
        granted.len(),
    );
    assert!(get(&counts.allowed) > 50, "the soak ran");
    assert!(faults.is_empty(), "pool counts went wrong: {faults:?}");
    assert!(
        end_faults.is_empty(),
        "pool counts at the end: {end_faults:?}"
    );
    assert!(
        u64::try_from(left).unwrap() <= get(&counts.lost_logins),
        "{left} sessions left that no client was told of, only {} answers lost",
        get(&counts.lost_logins)
    );
    assert_eq!(after_reap, 0, "the reaper ends what is left");
    assert_eq!(holds, 0, "no floating seat held after every session ended");
    assert_eq!(
        get(&counts.wrong_404),
        0,
        "logouts of live sessions answered 404"
    );
    assert!(missing.is_empty(), "acknowledged grants lost: {missing:?}");
}

/// Logs a session out, on any node, until an answer comes; a 404 is wrong unless an earlier
/// try's answer was lost (the session may have ended then).
async fn logout(
    http: &reqwest::Client,
    bases: &RwLock<Vec<String>>,
    token: &str,
    sid: &str,
    counts: &Counts,
    next: &mut impl FnMut() -> u64,
) {
    let mut lost = false;
    for _ in 0..50 {
        match http
            .post(format!("{}/integration/v1/logout", pick(bases, next())))
            .bearer_auth(token)
            .json(&json!({"session_id": sid}))
            .send()
            .await
        {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                add(&counts.logouts);
                return;
            }
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
                if !lost {
                    add(&counts.wrong_404);
                }
                return;
            }
            Ok(_) => {}
            Err(_) => lost = true,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("logout of {sid} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_soak_one_process_on_sqlite() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("soak.db");
    let db = db.to_str().unwrap();
    soak(db, &format!("sqlite://{db}"), dir.path(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_soak_two_nodes_on_postgres() {
    sqlx::any::install_default_drivers();
    let Some((url, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    soak(&url, &url, dir.path(), 2).await;
}
