//! Issue 14.1 over HTTP: a refusal only the database saw (a race between the code's check and
//! its write) is answered as the domain refusal it is, with the real numbers — a 409, not a
//! 500.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection as _;

use super::server::{Api, create_user, prepare, start, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x14_an_activation_the_area_limit_trigger_refuses_is_a_409() {
    let dir = tempfile::tempdir().unwrap();
    prepare("ledger.db", dir.path());
    let server = start("ledger.db", dir.path());
    let api = Api::new(&server);
    let w = world("ledger.db", dir.path(), &api, 2, 2).await;
    create_user(&api, &w, "dan", "").await;
    api.ok(
        Method::POST,
        "/api/v1/users/dan/block",
        &w.admin,
        Some(json!({})),
    )
    .await;
    // Stands for another writer filling the area between the activation's check and its
    // write: the code's check passes, the database's trigger refuses.
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER squeeze BEFORE UPDATE OF state ON users BEGIN \
         UPDATE area_counters SET user_limit = active_users WHERE area = NEW.area; END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let active: i64 =
        sqlx::query_scalar("SELECT active_users FROM area_counters WHERE area = 'employee'")
            .fetch_one(&mut raw)
            .await
            .unwrap();
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/users/dan/activate",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "area_limit", "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("{active} active of {active} allowed")),
        "{message}"
    );
}
