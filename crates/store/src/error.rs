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
    /// The ledger could not decide the request now (after retries); nothing of it remains.
    /// Trying again later may succeed.
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
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
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Refused(_) => "refused",
            StoreError::Io { .. } => "io",
        }
    }
}

/// The database's own constraints are the last line of defence: when one fires (a race the
/// code's checks did not see), the caller still gets the domain refusal, not a SQL message.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // A lost or refused connection (a failover, the server restarting, an administrator
        // ending it): the transaction did not happen (or, for a COMMIT, may have — the
        // callers that care handle that), and the same request may succeed in a moment.
        let lost = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        };
        if lost {
            return StoreError::Unavailable(e.to_string());
        }
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
