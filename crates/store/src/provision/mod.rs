//! Provisioning from an identity provider (I2 SCIM, I3 SSO just-in-time users and the
//! integration API's provision route): one write path that creates or updates a user, sets
//! their roles, applies the area limit the caller chose (U1 refuse, or U2 create blocked and
//! wait), blocks (freeing seats, ending sessions: S4) and redistributes for them (D5), all in
//! one transaction. `scim` adds what SCIM needs on top: reads by id, filters' fast paths, groups.
//!
//! Users provisioning may touch: not the built-in administrator and not the directory sync's
//! (`source = 'directory'`). Roles it may touch: those that carry no permission, are not
//! built in and were not made by the directory sync — so an identity provider's token can never
//! make anybody an administrator.

mod roles;
pub mod scim;
mod write;

use std::collections::BTreeSet;

use seatkeeper_core::Area;
use serde::Serialize;

pub(crate) use roles::provisionable_roles_sql;
pub use write::Provisioned;

/// Who provisions: recorded in `users.provisioned_by` for the users they create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provisioner {
    Scim,
    Sso,
}

impl Provisioner {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioner::Scim => "scim",
            Provisioner::Sso => "sso",
        }
    }
}

/// What a create or an activation does when the user's area is at its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitPolicy {
    /// U2: the user is created (or stays) blocked with reason `license_limit` and is
    /// activated, oldest first, when room frees.
    #[default]
    Block,
    /// U1: refused with `area_limit`; nothing is written.
    Refuse,
}

/// Block reasons provisioning sets and lifts (the system's own: a block by hand may not use
/// them).
pub mod reason {
    /// SCIM `active: false`.
    pub const DEACTIVATED: &str = seatkeeper_core::directory::reason::DEACTIVATED;
    /// SCIM `DELETE` with `delete = "block"`.
    pub const DEPROVISIONED: &str = seatkeeper_core::directory::reason::DEPROVISIONED;
}

/// The user's memberships in `managed` roles (by name; `None`: every role provisioning may
/// touch) become exactly `wanted`; other memberships are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSync {
    pub managed: Option<BTreeSet<String>>,
    pub wanted: BTreeSet<String>,
}

/// Where a user's folder comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderRule {
    /// This folder, which must exist.
    Exact(String),
    /// This folder if it exists; otherwise the user stays where they are (a new one: root).
    IfExists(String),
    /// This folder, created (with its parents) when missing.
    Create(String),
}

/// A user as the identity provider describes them. `None`: keep what the ledger has (a new
/// user: the login as name, no e-mail, active, the root folder, area `employee`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpsert {
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
    pub external_id: Option<Option<String>>,
    pub folder: Option<FolderRule>,
    pub area: Option<Area>,
    /// SCIM attributes the ledger has no column for, kept to read back as written.
    pub profile: Option<serde_json::Value>,
    pub roles: Option<RoleSync>,
}
