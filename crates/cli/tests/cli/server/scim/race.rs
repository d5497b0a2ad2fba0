//! SCIM under concurrency, as production mixes it: two identity-provider requests for the same
//! user at once (Entra ID retries, two connectors), group PATCHes from several connections,
//! the application's logins, and an administrator blocking users, on several nodes of one
//! PostgreSQL (one node on SQLite). Whatever the interleaving: one user per `userName`, the
//! area's limit kept by the ledger, memberships as the PATCHes said, counters that match.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::super::{Api, start_flags};
use super::{Scim, USER_SCHEMA, setup};
use crate::ldap::assert_consistent;

const USERS: usize = 24;
const MAX_USERS: u32 = 16;

async fn race(db: &str, dir: &Path, nodes: usize) {
    let env = setup(db, dir, "[scim]\nlimit = \"block\"\n", MAX_USERS).await;
    let config = dir.join("seatkeeper.toml");
    let mut servers = Vec::new();
    for _ in 1..nodes {
        servers.push(start_flags(
            db,
            dir,
            &["--config", config.to_str().unwrap()],
        ));
    }
    let mut clients = vec![Scim::new(&env.scim.base_url(), &env.scim.token)];
    let mut apis = vec![&env.api];
    let extra_apis: Vec<Api> = servers.iter().map(Api::new).collect();
    for (s, a) in servers.iter().zip(&extra_apis) {
        clients.push(Scim::new(&s.base, &env.scim.token));
        apis.push(a);
    }
    let group = env.scim.create_group("Racers", &[]).await.id();

    // Every userName is sent twice at once, to two nodes (or twice to the one).
    let mut creates = Vec::new();
    for i in 0..USERS {
        for copy in 0..2 {
            let c = &clients[(i + copy) % clients.len()];
            creates.push(async move {
                let name = format!("racer{i:02}");
                let a = c
                    .post(
                        "/Users",
                        &json!({"schemas": [USER_SCHEMA], "userName": name, "active": true}),
                    )
                    .await;
                (name, a.status, a.body)
            });
        }
    }
    let answers = futures::future::join_all(creates).await;
    let mut ids = std::collections::BTreeMap::new();
    for (name, status, body) in &answers {
        match status.as_u16() {
            201 => {
                assert!(
                    ids.insert(name.clone(), body["id"].as_str().unwrap().to_string())
                        .is_none(),
                    "{name} created twice"
                );
            }
            409 => assert_eq!(body["scimType"], "uniqueness", "{name}: {body}"),
            s => panic!("{name}: unexpected {s}: {body}"),
        }
    }
    assert_eq!(ids.len(), USERS, "every userName created exactly once");

    // Group PATCHes in batches from every node, logins of the same users, and the
    // administrator blocking a few of them, all at once.
    let members: Vec<String> = ids.values().cloned().collect();
    let patches = members.chunks(4).enumerate().map(|(n, chunk)| {
        let c = &clients[n % clients.len()];
        let value: Vec<_> = chunk.iter().map(|id| json!({"value": id})).collect();
        let path = format!("/Groups/{group}");
        async move {
            c.patch(
                &path,
                json!([{"op": "Add", "path": "members", "value": value}]),
                None,
            )
            .await
            .status
        }
    });
    let logins = ids.keys().enumerate().map(|(n, name)| {
        let api = apis[n % apis.len()];
        let app = env.w.app.clone();
        async move {
            let (s, v) = api
                .call(
                    Method::POST,
                    "/integration/v1/login",
                    Some(&app),
                    Some(json!({"login": name})),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{name}: {v}");
        }
    });
    let blocks = ids.keys().take(3).map(|name| {
        let admin = env.w.admin.clone();
        let api = apis[0];
        async move {
            let (s, v) = api
                .call(
                    Method::POST,
                    &format!("/api/v1/users/{name}/block"),
                    Some(&admin),
                    Some(json!({"reason": "left"})),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{name}: {v}");
        }
    });
    let (patched, _, _) = tokio::join!(
        futures::future::join_all(patches),
        futures::future::join_all(logins),
        futures::future::join_all(blocks),
    );
    assert!(patched.iter().all(|s| s.as_u16() == 200), "{patched:?}");

    // Every member the PATCHes added is there, once; the ledger's counters hold.
    let g = env.scim.get(&format!("/Groups/{group}")).await;
    let listed = g.expect(200)["members"].as_array().unwrap().len();
    assert_eq!(listed, USERS, "{}", g.body);
    let total = env.scim.list("Users", &[("count", "0")]).await;
    assert_eq!(total.expect(200)["totalResults"], USERS);
    let active = env
        .scim
        .list("Users", &[("filter", "active eq true"), ("count", "0")])
        .await;
    let active = active.expect(200)["totalResults"].as_u64().unwrap();
    assert!(
        active <= u64::from(MAX_USERS),
        "{active} active over a limit of {MAX_USERS}"
    );
    assert_consistent(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i2_u2_concurrent_scim_logins_and_blocks_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    race(&db, dir.path(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i2_u2_concurrent_scim_on_two_nodes_on_postgres() {
    let Some((db, _guard)) = crate::pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    race(&db, dir.path(), 2).await;
}
