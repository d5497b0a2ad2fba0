//! Directory sync (I1, U2, D5): what a directory holds, as the sync sees it.
//!
//! The LDAP client (crate `seatkeeper-directory`) reads entries into these types; the sync
//! planner (here, pure) compares them with the ledger and says what to change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One directory entry: its DN and its attributes. Attribute names are lower-cased (LDAP
/// names are case-insensitive); values keep their order and case.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry {
    pub dn: String,
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// The first value of `attr` (any case), if any.
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of `attr` (any case).
    pub fn all(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Everything one sync read: the user entries and the group entries, each in the order the
/// directory returned them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub users: Vec<Entry>,
    pub groups: Vec<Entry>,
}

mod dn;
mod ledger;
mod mapping;
mod plan;
mod roles;
mod sync_plan;
mod waiting;

pub use dn::{normalize_dn, parse_dn};
pub use ledger::{LedgerRole, LedgerState, LedgerUser, Source, apply};
pub use mapping::{
    AreaMatch, AreaRule, CreatedRoles, DisabledRule, FolderRule, Mapping, MemberKind, ROOT_ROLE,
    RemovedAction, RoleKind, RoleRule,
};
pub use plan::plan;
pub use sync_plan::{
    Block, Membership, NewRole, NewUser, Reparent, SkipReason, Skipped, SyncPlan, UserUpdate,
    reason,
};
pub use waiting::{Waiting, waiting_to_activate};
