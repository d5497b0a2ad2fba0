use seatkeeper_core::{Area, Error as DomainError, SeatKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A refusal the administrator can act on; nothing was changed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("cannot open the database {url}: {message}")]
    Open { url: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// From the SQLite writer thread (`sqlite_writer`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    /// A backup or restore refused (the ledger in use, an unsound backup file); nothing was
    /// changed.
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl StoreError {
    /// The domain refusal, if this is one.
    pub fn domain(&self) -> Option<&DomainError> {
        match self {
            StoreError::Domain(e) => Some(e),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Domain(e) => e.code(),
            StoreError::Open { .. } => "database_open",
            StoreError::Migrate(_) => "database_migration",
            StoreError::Database(_) | StoreError::Sqlite(_) => "database",
            StoreError::Corrupt(_) => "database_corrupt",
            StoreError::Refused(_) => "refused",
            StoreError::Io { .. } => "io",
        }
    }
}

/// The database's own constraints are the last line of defence: when one fires (a race the
/// code's checks did not see), the caller still gets the domain refusal, not a SQL message.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message();
            let constraint = db.constraint().unwrap_or("");
            if msg.contains("seats_within_capacity") || constraint == "seats_within_capacity" {
                return StoreError::Domain(DomainError::NoSeatFree {
                    product: "?".into(),
                    area: Area::Employee,
                    kind: SeatKind::Named,
                    needed: 1,
                    free: 0,
                    where_: " (the last seats were taken concurrently)".into(),
                });
            }
            if msg.contains("assignment_for_blocked_user") {
                return StoreError::Domain(DomainError::UserBlocked { login: "?".into() });
            }
            if msg.contains("users_login") || constraint == "users_login" {
                return StoreError::Domain(DomainError::DuplicateLogin("?".into()));
            }
        }
        StoreError::Database(e)
    }
}
