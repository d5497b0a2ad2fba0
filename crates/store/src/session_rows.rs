//! The rows a login or logout writes, and the logout rule of the paths without the write lock,
//! written once for all three write paths: the full path (`logins`, `login_batch`), the
//! PostgreSQL statements that repeat remembered logins (`login_batch`), and the SQLite writer
//! thread (`sqlite_writer`).

use seatkeeper_core::PoolKey;
use time::OffsetDateTime;

use crate::sql_value::Val;

/// `INSERT INTO sessions (…)`, followed by `VALUES` or a `SELECT` of [`SessionRow::values`].
macro_rules! session_insert {
    () => {
        "INSERT INTO sessions (id, user_id, started_at, last_seen, client)"
    };
}

/// `INSERT INTO floating_holds (…)`, followed by `VALUES` of [`HoldRow::values`].
macro_rules! hold_insert {
    () => {
        "INSERT INTO floating_holds (session_id, product_code, area, kind, folder_id, acquired_at)"
    };
}

/// The logout rule where the write lock is not taken (S4): a session ends there only if its
/// user has no seat releasing. Releasing a seat is a change of capacity that only the full
/// path makes (`logouts::end_sessions`), so such a logout is left to it. A condition on
/// `sessions`.
macro_rules! nothing_releasing {
    () => {
        "NOT EXISTS (SELECT 1 FROM assignments a \
         WHERE a.user_id = sessions.user_id AND a.release_pending = 1)"
    };
}

pub(crate) use {hold_insert, nothing_releasing, session_insert};

pub(crate) const SESSION_INSERT: &str = session_insert!();
pub(crate) const HOLD_INSERT: &str = hold_insert!();
/// Values per session row and per hold row.
pub(crate) const SESSION_WIDTH: usize = 5;
pub(crate) const HOLD_WIDTH: usize = 6;

/// The condition, on PostgreSQL, that the ledger's generation is still `$n`: the generation
/// row is read `FOR SHARE`, so a writer that has moved it makes the statement wait and then see
/// the new value, and one that comes later waits for the statement to commit.
pub(crate) fn generation_is(n: usize) -> String {
    format!("(SELECT value FROM meta WHERE key = 'generation' FOR SHARE) = ${n}")
}

/// A new session's id: 122 random bits, as it is the application's bearer for heartbeat and
/// logout. The millisecond prefix orders ids by time, so a new session lands at the end of the
/// primary key's index instead of on a random page of it: with many live sessions that is the
/// difference between a few pages written per batch of logins and one per login.
pub(crate) fn new_session_id(now: OffsetDateTime) -> String {
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{ms:012x}{}", uuid::Uuid::new_v4().simple())
}

/// A new session: id (the application's bearer), user, when, and what the client said.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub at: i64,
    pub client: String,
}

impl SessionRow {
    /// In the column order of [`SESSION_INSERT`]; a new session was last seen when it began.
    pub fn values(&self) -> [Val; SESSION_WIDTH] {
        [
            Val::Text(self.id.clone()),
            Val::Int(self.user_id),
            Val::Int(self.at),
            Val::Int(self.at),
            Val::Text(self.client.clone()),
        ]
    }
}

/// A floating seat a session takes: a hold on its pool.
#[derive(Debug, Clone)]
pub(crate) struct HoldRow {
    pub session_id: String,
    pub pool: PoolKey,
    pub at: i64,
}

impl HoldRow {
    /// In the column order of [`HOLD_INSERT`].
    pub fn values(&self) -> [Val; HOLD_WIDTH] {
        [
            Val::Text(self.session_id.clone()),
            Val::Text(self.pool.product.clone()),
            Val::Text(self.pool.area.as_str().into()),
            Val::Text(self.pool.kind.as_str().into()),
            Val::Int(self.pool.folder.0),
            Val::Int(self.at),
        ]
    }
}

/// A value for the SQLite writer's `rusqlite` statements.
pub(crate) fn sqlite_value(v: Val) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        Val::Int(i) => Value::Integer(i),
        Val::OptInt(i) => i.map_or(Value::Null, Value::Integer),
        Val::Text(s) => Value::Text(s),
        Val::OptText(s) => s.map_or(Value::Null, Value::Text),
    }
}
