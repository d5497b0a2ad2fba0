//! Seatkeeper's ledger storage.
//!
//! One SQL implementation runs on both backends through `sqlx::Any`: SQLite (the embedded
//! default, one file) and PostgreSQL (several nodes on one database). Each backend has its own
//! migrations under `migrations/<backend>/`, where the invariants that must hold whatever the
//! code does (no oversubscription, blocked users hold nothing, area limits) are written as
//! constraints and triggers. The rules themselves come from `seatkeeper-core`; this crate
//! loads state, asks the core, and applies the answer inside one transaction.

// A bad input must never bring the caller down: no `expect`, `panic!` or unchecked indexing
// outside tests (`unwrap` is denied workspace-wide). Tests may, to fail loudly.
#![deny(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod access;
mod backup;
mod clock;
pub mod consts;
mod db;
mod directory;
mod distribution;
mod error;
mod explain;
mod folders;
mod grants;
mod ledger_lock;
mod licenses;
mod loaders;
mod login_batch;
mod login_cache;
mod logins;
mod logouts;
mod messages;
mod notify;
mod outbox;
mod process;
mod provision;
mod reconcile;
mod reports;
pub use reports::{RunCount, RunTotals};
mod roles;
mod room;
mod session_rows;
mod sessions;
mod settings;
mod signin;
mod sql_value;
mod sqlite_writer;
mod transactions;
mod usage;
mod users;
mod users_import;
mod views;

pub use access::*;
pub use backup::{BackupReport, RestoreReport, backup, restore, sqlite_file};
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Backend, Ledger, database_url, redact};
pub use directory::{
    DIRECTORY_CHUNK_USERS, DirectoryRunView, DirectorySyncCounts, DirectorySyncReport,
    DirectorySyncState, Lease, PasswordChange, StoredDirectorySettings, SyncEnd,
};
pub use distribution::{
    DEFAULT_CHUNK_USERS, DEFAULT_DETAIL, NeedView, PlanItem, RedistributionReport, RunView, Scope,
};
pub use error::StoreError;
pub use explain::{ExplainView, ReasonView};
pub use login_batch::SessionBatchAnswers;
pub use messages::MessageView;
pub use notify::{
    AttemptView, Claimed, DeliveryFilter, DeliveryOutcome, DeliveryView, DigestBatch, EventView,
    NewWebhook, NotificationSettings, OutboxStats, RetryPolicy, WebhookChange, WebhookView,
};
pub use process::this_process;
pub use provision::scim::{DeleteMode, GroupChange, GroupLookup, ScimGroup, ScimUser, UserLookup};
pub use provision::{FolderRule, LimitPolicy, Provisioned, Provisioner, RoleSync, UserUpsert};
pub use roles::{RoleChange, RoleSummary, RoleView};
pub use seatkeeper_core::distribution::ManualGrants;
pub use seatkeeper_core::signin::SigninPolicy;
pub use sessions::*;
pub use settings::{DistributionSettings, MAX_IDLE_TIMEOUT_SECS, ServerSettings};
pub use signin::{MAX_SIGNIN_WINDOW_SECS, SigninCheck, SigninRefusal};
pub use usage::{USAGE_DAILY_POINT, USAGE_RETENTION};
pub use users_import::ImportProgress;
pub use views::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who does a change and from where: written into every audit record (N3). `origin` is the
/// channel (`api:signin`, `ui`, `cli`, …); `address` and `user_agent` say which client, when
/// the change came over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub origin: String,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, origin: impl Into<String>) -> Self {
        Actor {
            name: name.into(),
            origin: origin.into(),
            address: None,
            user_agent: None,
        }
    }

    /// The same actor, from this client.
    pub fn from_client(mut self, address: Option<String>, user_agent: Option<String>) -> Self {
        self.address = address;
        self.user_agent = user_agent;
        self
    }

    /// Changes Seatkeeper makes by itself, such as suspending seats when a package expires.
    pub fn system() -> Self {
        Actor::new("system", "seatkeeper")
    }
}
