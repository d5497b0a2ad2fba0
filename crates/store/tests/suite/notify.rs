//! Issue 17: events written into the outbox in the transaction of their change (N1, X6, I4).

use seatkeeper_core::{Area, SeatKind};
use seatkeeper_store::{NewUser, NewWebhook};
use time::Duration;

use crate::support::*;

async fn types(db: &TestDb) -> Vec<String> {
    let mut e: Vec<String> = db
        .ledger
        .events(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    e.reverse();
    e
}

fn count(types: &[String], t: &str) -> usize {
    types.iter().filter(|x| *x == t).count()
}

pub async fn n1_x6_level_events_fire_once_per_crossing_and_re_arm(db: &TestDb) {
    let mut o = order(
        vec![product("crm", true)],
        vec![package("C1", "crm", SeatKind::Named, Area::Employee, 2)],
    );
    o.area_limits = vec![limit(Area::Employee, 3)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["a", "b", "c"]).await;
    let t = types(db).await;
    assert_eq!(count(&t, "license.imported"), 1, "{t:?}");
    assert_eq!(count(&t, "limit.reached"), 1, "{t:?}");
    // Refused users while the area is full raise nothing more.
    for l in ["d", "e"] {
        assert!(
            db.ledger
                .create_user(&admin(), NewUser::active(l, Area::Employee))
                .await
                .is_err()
        );
    }
    assert_eq!(count(&types(db).await, "limit.reached"), 1);

    // Seats: 1 of 2 is 50%, 2 of 2 passes the 90% threshold and exhausts the pool.
    db.ledger
        .grant(&admin(), &s(&["a"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(count(&types(db).await, "seats.threshold"), 0);
    db.ledger
        .grant(&admin(), &s(&["b"]), &s(&["crm"]))
        .await
        .unwrap();
    let t = types(db).await;
    assert_eq!(count(&t, "seats.threshold"), 1, "{t:?}");
    assert_eq!(count(&t, "seats.exhausted"), 1, "{t:?}");

    // Blocking c: user.blocked, and the area falls below its limit (re-armed).
    db.ledger.block_user(&admin(), "c", "left").await.unwrap();
    db.ledger.activate_user(&admin(), "c").await.unwrap();
    let t = types(db).await;
    assert_eq!(count(&t, "user.blocked"), 1, "{t:?}");
    assert_eq!(count(&t, "user.activated"), 1, "{t:?}");
    assert_eq!(count(&t, "limit.reached"), 2, "a second crossing: {t:?}");
    let blocked = db
        .ledger
        .events(Some("user.blocked"), None, 10)
        .await
        .unwrap();
    assert_eq!(blocked[0].data["login"], "c");
    assert_eq!(blocked[0].data["reason"], "left");
}

pub async fn i4_each_event_gets_a_delivery_per_matching_webhook(db: &TestDb) {
    let all = db
        .ledger
        .create_webhook(
            &admin(),
            &NewWebhook {
                url: "https://example.com/all".into(),
                events: s(&["*"]),
                description: String::new(),
                active: true,
                secret: None,
            },
        )
        .await
        .unwrap();
    assert!(all.secret.as_deref().unwrap().starts_with("whsec_"));
    let only = db
        .ledger
        .create_webhook(
            &admin(),
            &NewWebhook {
                url: "https://example.com/users".into(),
                events: s(&["user.blocked"]),
                description: String::new(),
                active: true,
                secret: None,
            },
        )
        .await
        .unwrap();
    assert!(
        db.ledger
            .create_webhook(
                &admin(),
                &NewWebhook {
                    url: "https://example.com/x".into(),
                    events: s(&["user.nonsense"]),
                    description: String::new(),
                    active: true,
                    secret: None,
                },
            )
            .await
            .is_err()
    );
    users(db, &["a"]).await;
    db.ledger.block_user(&admin(), "a", "left").await.unwrap();
    let claimed = db
        .ledger
        .claim_deliveries("node-1", Duration::minutes(1), false, 100)
        .await
        .unwrap();
    let to_only: Vec<_> = claimed
        .iter()
        .filter(|c| c.webhook_id == Some(only.id))
        .collect();
    assert_eq!(to_only.len(), 1);
    assert_eq!(to_only[0].event.event_type, "user.blocked");
    assert!(claimed.iter().all(|c| c.channel == "webhook"));
    // A second node claims nothing while the lease holds.
    let other = db.reopen().await;
    assert!(
        other
            .claim_deliveries("node-2", Duration::minutes(1), false, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// X6 under the login paths production mixes: two nodes, logins answered from memory (the
/// SQLite writer thread, PostgreSQL's unlocked path) and in full, at the same time. Each
/// crossing of the threshold and of exhaustion is raised once, however the logins interleave.
pub async fn x6_racing_logins_on_two_nodes_raise_each_crossing_once(db: &TestDb) {
    use seatkeeper_store::{LoginAnswer, LoginRequest};
    let o = order(
        vec![product("crm", true)],
        vec![package(
            "F-1",
            "crm",
            SeatKind::Concurrent,
            Area::Employee,
            10,
        )],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    let logins: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    users(db, &refs).await;
    let other = db.reopen().await;
    let nodes = [db.ledger.clone(), other];
    let req = |l: &str| LoginRequest {
        login: l.into(),
        client: "test".into(),
    };
    // Each node answers each user once in full, so that the next logins come from memory.
    for node in &nodes {
        for l in &logins {
            if let LoginAnswer::Allowed(a) = node.login_many(&[req(l)]).await.unwrap().remove(0) {
                node.logout_many(&[a.session_id]).await.unwrap();
            }
        }
    }
    for round in 1..=2 {
        let first: Vec<_> = logins[..6].iter().map(|l| req(l)).collect();
        let second: Vec<_> = logins[6..].iter().map(|l| req(l)).collect();
        let (a, b) = tokio::join!(nodes[0].login_many(&first), nodes[1].login_many(&second));
        let mut sessions = [Vec::new(), Vec::new()];
        for (i, answers) in [a.unwrap(), b.unwrap()].into_iter().enumerate() {
            for answer in answers {
                if let LoginAnswer::Allowed(x) = answer {
                    sessions[i].push(x.session_id);
                }
            }
        }
        assert_eq!(sessions[0].len() + sessions[1].len(), 10, "round {round}");
        let t = types(db).await;
        assert_eq!(count(&t, "seats.threshold"), round, "round {round}: {t:?}");
        assert_eq!(count(&t, "seats.exhausted"), round, "round {round}: {t:?}");
        // Everyone logs out on their node: the pool empties and the alerts re-arm.
        for (node, ids) in nodes.iter().zip(sessions) {
            node.logout_many(&ids).await.unwrap();
        }
        // A write transaction settles; the logouts alone may have gone through a path that
        // re-arms at the next one.
        db.ledger
            .create_user(
                &admin(),
                NewUser::active(&format!("r{round}"), Area::Employee),
            )
            .await
            .unwrap();
    }
}
