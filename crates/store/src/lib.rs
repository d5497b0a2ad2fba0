//! Seatkeeper's ledger storage.
//!
//! One SQL implementation runs on both backends through `sqlx::Any`: SQLite (the embedded
//! default, one file) and PostgreSQL (several nodes on one database). Each backend has its own
//! migrations under `migrations/<backend>/`, where the invariants that must hold whatever the
//! code does (no oversubscription, blocked users hold nothing, area limits) are written as
//! constraints and triggers. The rules themselves come from `seatkeeper-core`; this crate
//! loads state, asks the core, and applies the answer inside one transaction.

mod access;
mod clock;
mod db;
mod distribution;
mod error;
mod folders;
mod grants;
mod licenses;
mod login_cache;
mod reconcile;
mod reports;
mod roles;
mod sessions;
mod settings;
mod sqlite_writer;
mod usage;
mod users;
mod users_import;
mod views;

pub use access::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Backend, Ledger, database_url, redact};
pub use distribution::{
    DEFAULT_CHUNK_USERS, DEFAULT_DETAIL, DistributionSettings, MessageView, NeedView, PlanItem,
    RedistributionReport, RunView, Scope,
};
pub use error::StoreError;
pub use roles::{ExplainView, ReasonView, RoleChange};
pub use seatkeeper_core::distribution::ManualGrants;
pub use sessions::*;
pub use settings::{MAX_IDLE_TIMEOUT_SECS, ServerSettings};
pub use usage::{USAGE_DAILY_POINT, USAGE_RETENTION};
pub use users_import::ImportProgress;
pub use views::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who does a change and from where: written into every audit record (N3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub origin: String,
}

impl Actor {
    pub fn new(name: impl Into<String>, origin: impl Into<String>) -> Self {
        Actor {
            name: name.into(),
            origin: origin.into(),
        }
    }

    /// Changes Seatkeeper makes by itself, such as suspending seats when a package expires.
    pub fn system() -> Self {
        Actor::new("system", "seatkeeper")
    }
}
