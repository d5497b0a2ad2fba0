//! What a sync plan holds: the planner's output, read by the store that applies it and by
//! `ledger::apply`, which gives its meaning in memory. A leaf: it imports no other module
//! of the planner.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::mapping::RoleKind;
use crate::Area;

/// The block reasons the sync writes. Any other reason is an administrator's (or another
/// feature's), and the sync never lifts or rewrites it.
pub mod reason {
    pub const LICENSE_LIMIT: &str = "license_limit";
    pub const DIRECTORY_DISABLED: &str = "directory_disabled";
    pub const DIRECTORY_REMOVED: &str = "directory_removed";

    /// Whether the sync owns a block with this reason (and may lift or rewrite it).
    pub fn is_sync_owned(reason: Option<&str>) -> bool {
        matches!(
            reason,
            Some(LICENSE_LIMIT | DIRECTORY_DISABLED | DIRECTORY_REMOVED)
        )
    }

    /// An identity provider set the user inactive (SCIM `active: false`).
    pub const DEACTIVATED: &str = "deactivated";
    /// An identity provider removed the user (SCIM `DELETE`, kept blocked).
    pub const DEPROVISIONED: &str = "deprovisioned";

    /// Whether the system sets and lifts blocks with this reason (the directory sync,
    /// provisioning, U2's waiting): a block by hand may not use it.
    pub fn is_system(reason: Option<&str>) -> bool {
        is_sync_owned(reason) || matches!(reason, Some(DEACTIVATED | DEPROVISIONED))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Sorted by login.
    pub create: Vec<NewUser>,
    /// Only the fields that changed are `Some`. Sorted by login.
    pub update: Vec<UserUpdate>,
    /// Active users to block, and sync-blocked users whose reason changes. Sorted by login.
    pub block: Vec<Block>,
    /// Logins, only with `removed = "delete"`. Sorted.
    pub delete: Vec<String>,
    /// Logins, oldest first (the order room was handed out in).
    pub activate: Vec<String>,
    /// Parents before children.
    pub roles_create: Vec<NewRole>,
    /// Sorted by role name.
    pub roles_reparent: Vec<Reparent>,
    /// Sorted by (role, login).
    pub add_members: Vec<Membership>,
    pub remove_members: Vec<Membership>,
    /// Entries left out, with why; sorted by DN. Not a change: `is_empty` ignores them.
    pub skipped: Vec<Skipped>,
    /// Logins whose state or roles change, for the redistribution after the sync (D5).
    pub touched: BTreeSet<String>,
}

impl SyncPlan {
    /// Nothing to write (skipped entries are reported, not written).
    pub fn is_empty(&self) -> bool {
        self.create.is_empty()
            && self.update.is_empty()
            && self.block.is_empty()
            && self.delete.is_empty()
            && self.activate.is_empty()
            && self.roles_create.is_empty()
            && self.roles_reparent.is_empty()
            && self.add_members.is_empty()
            && self.remove_members.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    pub folder: String,
    pub dn: String,
    /// `Some(reason)`: created blocked (`license_limit` when the area is full, U2;
    /// `directory_disabled` for a disabled entry).
    pub blocked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdate {
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub folder: Option<String>,
    /// The entry moved (new DN): recorded so that the next sync still knows it.
    pub dn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub login: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRole {
    pub name: String,
    pub parent: Option<String>,
    pub kind: RoleKind,
    pub dn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reparent {
    pub role: String,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Membership {
    pub role: String,
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub dn: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    /// The entry has no value for the login attribute.
    NoLogin,
    InvalidLogin(String),
    /// Two or more entries carry this login (compared case-insensitively): all are skipped.
    DuplicateLogin(String),
    InvalidName(String),
    InvalidEmail(String),
    InvalidFolder(String),
    /// A user with this login exists and was not created by the directory sync.
    NotFromDirectory(String),
    /// The explicit mapping names a role that does not exist.
    MappedRoleMissing(String),
    /// The group's role name is held by another role.
    RoleNameTaken(String),
    InvalidRoleName(String),
    /// The same group DN twice in the snapshot; the first (in DN order) is used.
    DuplicateGroup,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NoLogin => write!(f, "no login attribute"),
            SkipReason::InvalidLogin(m) => write!(f, "invalid login: {m}"),
            SkipReason::DuplicateLogin(l) => write!(f, "duplicate login {l:?} in the directory"),
            SkipReason::InvalidName(m) => write!(f, "invalid name: {m}"),
            SkipReason::InvalidEmail(m) => write!(f, "invalid e-mail: {m}"),
            SkipReason::InvalidFolder(m) => write!(f, "invalid folder: {m}"),
            SkipReason::NotFromDirectory(l) => {
                write!(f, "user {l:?} exists, not from the directory")
            }
            SkipReason::MappedRoleMissing(r) => write!(f, "mapped role {r:?} does not exist"),
            SkipReason::RoleNameTaken(r) => write!(f, "role name {r:?} is taken"),
            SkipReason::InvalidRoleName(m) => write!(f, "invalid role name: {m}"),
            SkipReason::DuplicateGroup => write!(f, "the same group DN twice"),
        }
    }
}
