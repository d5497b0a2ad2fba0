//! System messages (N2): what Seatkeeper tells the administrators by itself — a
//! redistribution's result, seats suspended or restored when capacity changes, sign-in
//! lock-outs. Posted inside the transaction of the change they report; listed and marked as
//! read here.

use seatkeeper_core::Error as DomainError;
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::{Tx, count, dt, get_i64, get_opt_i64, get_str, ts};
use crate::{Ledger, Result, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    pub read: bool,
}

pub(crate) async fn post_message(
    tx: &mut Tx,
    now: OffsetDateTime,
    kind: &str,
    title: &str,
    body: &serde_json::Value,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO system_messages (at, kind, title, body) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(ts(now))
    .bind(kind.to_string())
    .bind(title.to_string())
    .bind(body.to_string())
    .fetch_one(&mut **tx)
    .await?;
    get_i64(&row, "id")
}

impl Ledger {
    /// N2: system messages, newest first.
    pub async fn messages(&self, unread_only: bool, limit: i64) -> Result<Vec<MessageView>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, title, body, read_at FROM system_messages \
             WHERE ($1 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT $2",
        )
        .bind(i64::from(unread_only))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MessageView {
                    id: get_i64(r, "id")?,
                    at: dt(get_i64(r, "at")?)?,
                    kind: get_str(r, "kind")?,
                    title: get_str(r, "title")?,
                    body: serde_json::from_str(&get_str(r, "body")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    read: get_opt_i64(r, "read_at")?.is_some(),
                })
            })
            .collect()
    }

    pub async fn unread_messages(&self) -> Result<u64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM system_messages WHERE read_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(count(get_i64(&r, "n")?))
    }

    /// Marks one message (or, with `None`, all) as read.
    pub async fn mark_read(&self, id: Option<i64>) -> Result<u64> {
        let now = ts(self.now());
        let done = match id {
            None => sqlx::query("UPDATE system_messages SET read_at = $1 WHERE read_at IS NULL")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            Some(id) => {
                if sqlx::query("SELECT id FROM system_messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_none()
                {
                    return Err(DomainError::UnknownMessage(id).into());
                }
                sqlx::query(
                    "UPDATE system_messages SET read_at = $1 WHERE read_at IS NULL AND id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected()
            }
        };
        Ok(done)
    }
}
