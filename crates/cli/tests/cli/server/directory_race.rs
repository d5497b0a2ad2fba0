//! A directory sync racing what production mixes, on two nodes over one PostgreSQL (issue
//! 15 with 14's invariants): a first sync of 3,000 users into an area with room for 2,500
//! (500 created waiting, U2) on one node; a second sync asked on the other node meanwhile
//! (refused while the first holds the lease); logins, heartbeats and logouts of directory
//! users on both nodes; an administrator blocking, unblocking and deleting users by hand on
//! the other node. Afterwards: area counters equal the real counts and no area is over its
//! limit, every seat pool's count equals what holds it, nobody waits for room while the area
//! has some (U2), no run is left `running`, no session or floating hold is left, and a last
//! sync finds nothing to change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, prepare, start, world_limited};
use crate::ldap::slapd::{GROUPS, PEOPLE, READER_DN, READER_PW, Slapd, people_ldif, user_login};
use crate::ldap::{assert_consistent, connect, rows};
use crate::pg_database;
use crate::soak::pool_faults;

const USERS: usize = 3_000;
const LIMIT: u32 = 2_500;

fn settings(url: &str) -> Value {
    json!({
        "url": url, "bind_dn": READER_DN, "bind_password": READER_PW,
        "user_base": PEOPLE, "group_base": GROUPS, "connect_timeout_secs": 5,
        "mapping": {"roles": {"create": {"kind": "functional"}}}
    })
}

#[derive(Default)]
struct Tally {
    allowed: AtomicU64,
    refused: AtomicU64,
    busy: AtomicU64,
    blocks: AtomicU64,
    unblocks: AtomicU64,
    deletes: AtomicU64,
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn u2_i1_a_sync_races_logins_and_hand_edits_on_two_nodes_on_postgres() {
    let Some((db, _guard)) = pg_database().await else {
        return;
    };
    let Some(ldap) = Slapd::start() else { return };
    ldap.add_ldif(&people_ldif(USERS));
    let dir = tempfile::tempdir().unwrap();
    prepare(&db, dir.path());
    let node_a = start(&db, dir.path());
    let node_b = start(&db, dir.path());
    let (a, b) = (Arc::new(Api::new(&node_a)), Arc::new(Api::new(&node_b)));
    let w = world_limited(&db, dir.path(), &a, 20, 10, LIMIT).await;
    let (admin, app) = (Arc::new(w.admin.clone()), Arc::new(w.app.clone()));
    a.ok(
        Method::PUT,
        "/api/v1/directory/settings",
        &admin,
        Some(settings(&ldap.url)),
    )
    .await;

    let tally = Arc::new(Tally::default());
    let syncing = Arc::new(AtomicBool::new(true));
    let first = {
        let (a, admin, syncing) = (a.clone(), admin.clone(), syncing.clone());
        tokio::spawn(async move {
            let v = a
                .ok(Method::POST, "/api/v1/directory/sync", &admin, None)
                .await;
            // Two more syncs under the same load: they bring back users deleted by hand
            // meanwhile, while blocks and logins go on.
            for _ in 0..2 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                a.ok(Method::POST, "/api/v1/directory/sync", &admin, None)
                    .await;
            }
            syncing.store(false, Ordering::Relaxed);
            v
        })
    };
    // The other node asks for a sync while the first runs: refused (the lease), or it runs
    // after the first ended.
    let second = {
        let (b, admin, tally) = (b.clone(), admin.clone(), tally.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (status, v) = b
                .call(Method::POST, "/api/v1/directory/sync", Some(&admin), None)
                .await;
            match status {
                StatusCode::CONFLICT => {
                    assert_eq!(v["error"]["code"], "directory_sync_running", "{v}");
                    add(&tally.busy);
                }
                StatusCode::OK => {}
                other => panic!("second sync: {other} {v}"),
            }
        })
    };
    let mut clients = Vec::new();
    for c in 0..4u64 {
        let (a, b, app, tally, syncing) = (
            a.clone(),
            b.clone(),
            app.clone(),
            tally.clone(),
            syncing.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = c * 7919;
            let mut rounds = 0;
            while syncing.load(Ordering::Relaxed) || rounds < 50 {
                rounds += 1;
                n = (n * 31 + 17) % USERS as u64;
                let login = user_login(usize::try_from(n).unwrap());
                let (on, other) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
                let (status, v) = on
                    .call(
                        Method::POST,
                        "/integration/v1/login",
                        Some(&app),
                        Some(json!({"login": login, "client": "race"})),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{v}");
                if v["outcome"] != "allowed" {
                    add(&tally.refused);
                    continue;
                }
                add(&tally.allowed);
                let session = json!({"session_id": v["session_id"]});
                other
                    .call(
                        Method::POST,
                        "/integration/v1/heartbeat",
                        Some(&app),
                        Some(session.clone()),
                    )
                    .await;
                // A hand block may have ended the session meanwhile (S4): 404 is fine.
                let (status, v) = on
                    .call(
                        Method::POST,
                        "/integration/v1/logout",
                        Some(&app),
                        Some(session),
                    )
                    .await;
                assert!(
                    status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                    "{v}"
                );
            }
        }));
    }
    let editor = {
        let (b, admin, tally, syncing) = (b.clone(), admin.clone(), tally.clone(), syncing.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while syncing.load(Ordering::Relaxed) || i < 10 {
                let login = user_login(i % 100);
                i += 1;
                let (status, _) = b
                    .call(
                        Method::POST,
                        &format!("/api/v1/users/{login}/block"),
                        Some(&admin),
                        Some(json!({"reason": "race"})),
                    )
                    .await;
                if status == StatusCode::OK {
                    add(&tally.blocks);
                }
                // Unblocking needs room, which the waiting users may have taken: 409 then.
                let (status, v) = b
                    .call(
                        Method::POST,
                        &format!("/api/v1/users/{login}/activate"),
                        Some(&admin),
                        None,
                    )
                    .await;
                match status {
                    StatusCode::OK => add(&tally.unblocks),
                    StatusCode::CONFLICT | StatusCode::NOT_FOUND => {}
                    other => panic!("activate {login}: {other} {v}"),
                }
                if i.is_multiple_of(5) {
                    let victim = user_login(USERS - 1 - (i / 5) % 200);
                    let (status, _) = b
                        .call(
                            Method::DELETE,
                            &format!("/api/v1/users/{victim}"),
                            Some(&admin),
                            None,
                        )
                        .await;
                    if status == StatusCode::OK {
                        add(&tally.deletes);
                    }
                }
            }
        })
    };
    let first = first.await.unwrap();
    second.await.unwrap();
    for c in clients {
        c.await.unwrap();
    }
    editor.await.unwrap();
    assert_eq!(first["counts"]["created"], USERS, "{first}");

    // A sync to bring back what the administrator deleted, then one that finds nothing.
    b.ok(Method::POST, "/api/v1/directory/sync", &admin, None)
        .await;
    let last = a
        .ok(Method::POST, "/api/v1/directory/sync", &admin, None)
        .await;
    assert_eq!(last["changed"], false, "{last}");

    assert_consistent(&db).await;
    let mut check = connect(&db).await.unwrap();
    let faults = pool_faults(&mut check).await;
    assert!(faults.is_empty(), "pool counts went wrong: {faults:?}");
    let area = rows(
        &mut check,
        "SELECT CAST(a.active_users AS TEXT), CAST(a.user_limit AS TEXT), \
         CAST((SELECT COUNT(*) FROM users u WHERE u.area = 'employee' \
               AND u.block_reason = 'license_limit') AS TEXT) \
         FROM area_counters a WHERE a.area = 'employee'",
    )
    .await;
    let (active, limit, waiting): (i64, i64, i64) = (
        area[0][0].parse().unwrap(),
        area[0][1].parse().unwrap(),
        area[0][2].parse().unwrap(),
    );
    assert!(
        waiting == 0 || active == limit,
        "U2: {waiting} wait for room while the area has {} free",
        limit - active
    );
    assert!(waiting > 0, "the area filled up and users wait: {area:?}");
    let left = rows(
        &mut check,
        "SELECT CAST((SELECT COUNT(*) FROM directory_runs WHERE status = 'running') AS TEXT), \
         CAST((SELECT COUNT(*) FROM sessions) AS TEXT), \
         CAST((SELECT COUNT(*) FROM floating_holds) AS TEXT)",
    )
    .await;
    assert_eq!(
        left[0],
        ["0", "0", "0"],
        "runs running, sessions, holds left"
    );
    eprintln!(
        "directory race: {} logins allowed, {} refused, {} second syncs refused, {} blocks, \
         {} unblocks, {} deletes by hand; {active} active of {limit}, {waiting} waiting",
        tally.allowed.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.busy.load(Ordering::Relaxed),
        tally.blocks.load(Ordering::Relaxed),
        tally.unblocks.load(Ordering::Relaxed),
        tally.deletes.load(Ordering::Relaxed),
    );
    drop(node_b);
    drop(node_a);
}
