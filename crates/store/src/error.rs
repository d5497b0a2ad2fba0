use std::collections::HashMap;

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
    /// Whether a unique index refused the write (a login someone took meanwhile, say: the
    /// login index's refusal arrives as `DuplicateLogin`).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Domain(DomainError::DuplicateLogin(_)) => true,
            StoreError::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }

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
            if let Some(refusal) = refusal(db.message()) {
                return StoreError::Domain(refusal);
            }
            if db.message().contains("assignment_for_blocked_user") {
                // SQLite's fixed message (see sqlite_refusals.sql) does not name the user.
                return StoreError::Domain(DomainError::UserBlocked { login: "?".into() });
            }
            if db.message().contains("users_login") || db.constraint() == Some("users_login") {
                // The index does not say which login; the callers that insert users name it.
                return StoreError::Domain(DomainError::DuplicateLogin("?".into()));
            }
        }
        StoreError::Database(e)
    }
}

/// The one translation of the database's own refusals into the domain refusals the code's
/// checks give. The triggers (migrations/*/0010_refusals_name_what_tripped.sql) say what
/// tripped and the numbers at that moment, as `tag: key=value key=value …`; the failed
/// statement is gone by the time anyone could look again (on PostgreSQL its whole
/// transaction is), so the message is the one record of them.
///
/// `None` for anything else, a CHECK that names no numbers included (capacity set below the
/// seats in use is a fault, not a refusal).
pub(crate) fn refusal(message: &str) -> Option<DomainError> {
    const TAGS: [&str; 3] = [
        "seats_within_capacity: ",
        "area_user_limit: ",
        "assignment_for_blocked_user: ",
    ];
    let (tag, at) = TAGS
        .iter()
        .find_map(|t| message.find(t).map(|at| (*t, at)))?;
    let fields: HashMap<&str, &str> = message
        .get(at + tag.len()..)?
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let text = |k: &str| fields.get(k).copied();
    let number = |k: &str| text(k).and_then(|v| v.parse::<u64>().ok());
    match tag {
        "seats_within_capacity: " => {
            let capacity = number("capacity")?;
            Some(DomainError::NoSeatFree {
                product: text("product")?.to_string(),
                area: text("area")?.parse::<Area>().ok()?,
                kind: text("kind")?.parse::<SeatKind>().ok()?,
                needed: number("adding")?,
                free: capacity.saturating_sub(number("used")?),
                where_: " (the last seats were taken concurrently)".into(),
            })
        }
        "area_user_limit: " => Some(DomainError::AreaLimit {
            area: text("area")?.parse::<Area>().ok()?,
            limit: number("limit")?,
            active: number("active")?,
        }),
        _ => Some(DomainError::UserBlocked {
            login: text("login")?.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_what_tripped_them() {
        let e = refusal(
            "seats_within_capacity: product=crm area=portal kind=concurrent folder=3 \
             capacity=5 used=4 adding=2",
        );
        assert!(matches!(
            e,
            Some(DomainError::NoSeatFree { ref product, area: Area::Portal,
                kind: SeatKind::Concurrent, needed: 2, free: 1, .. }) if product == "crm"
        ));
        let e = refusal("area_user_limit: area=employee limit=3 active=3 adding=1");
        assert!(matches!(
            e,
            Some(DomainError::AreaLimit {
                area: Area::Employee,
                limit: 3,
                active: 3
            })
        ));
        let e = refusal("assignment_for_blocked_user: login=bob");
        assert!(matches!(e, Some(DomainError::UserBlocked { ref login }) if login == "bob"));
        // A bare CHECK names no pool: not a refusal the administrator can act on.
        assert!(refusal("CHECK constraint failed: seats_within_capacity").is_none());
    }
}
