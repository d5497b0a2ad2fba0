//! The value bound into dynamically built statements, on either driver: `db` binds it into
//! `sqlx` queries, the SQLite writer thread (through `session_rows`) into `rusqlite` ones.
//! A leaf: it imports nothing of this crate, so both sides can use it without importing
//! each other.

/// A value bound into dynamically built statements.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}
