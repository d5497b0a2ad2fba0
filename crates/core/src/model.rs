//! The domain's nouns (products, areas, packages, folders, users, roles, assignments,
//! sessions); the features they serve are listed in `docs/FEATURES.md`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Error;
use crate::error::quoted;

/// The audience a user or a seat belongs to (Claromentis' primary area and extranet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Employee,
    Portal,
}

impl Area {
    pub const ALL: [Area; 2] = [Area::Employee, Area::Portal];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Employee => "employee",
            Area::Portal => "portal",
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Area {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "employee" => Ok(Area::Employee),
            "portal" => Ok(Area::Portal),
            other => Err(Error::Invalid(format!(
                "unknown area {}: expected \"employee\" or \"portal\"",
                quoted(other)
            ))),
        }
    }
}

/// `named` seats are dedicated to one user; `concurrent` (floating) seats are held by sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatKind {
    Named,
    Concurrent,
}

impl SeatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatKind::Named => "named",
            SeatKind::Concurrent => "concurrent",
        }
    }
}

impl fmt::Display for SeatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SeatKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "named" | "dedicated" => Ok(SeatKind::Named),
            "concurrent" | "floating" => Ok(SeatKind::Concurrent),
            other => Err(Error::Invalid(format!(
                "unknown seat kind {}: expected \"named\" or \"concurrent\"",
                quoted(other)
            ))),
        }
    }
}

/// A licensed configuration: what a license file declares and users are granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub features: Vec<String>,
    /// Covers every module; eligible for auto-allocation at login (S2).
    #[serde(default)]
    pub all_modules: bool,
}

/// One line of a license file: a block of seats of one product, kind and area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub serial: String,
    pub product: String,
    pub kind: SeatKind,
    pub area: Area,
    pub seats: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// `None` is a perpetual package.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires: Option<OffsetDateTime>,
    /// Serials this package renews or replaces (L3): once this package is valid, those stop
    /// counting and their assignments are carried by this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl Package {
    /// Whether the package's own window contains `now` (replacement is decided elsewhere).
    pub fn in_window(&self, now: OffsetDateTime) -> bool {
        in_window(self.valid_from, self.expires, now)
    }
}

/// The most active users an area may hold, as granted by one license file (U1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaLimit {
    pub area: Area,
    pub max_users: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires: Option<OffsetDateTime>,
}

impl AreaLimit {
    pub fn in_window(&self, now: OffsetDateTime) -> bool {
        in_window(self.valid_from, self.expires, now)
    }
}

/// Half-open validity window `[from, until)`.
pub fn in_window(from: OffsetDateTime, until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    from <= now && until.is_none_or(|u| now < u)
}

/// The root of the folder tree always exists and has this id.
pub const ROOT_FOLDER: FolderId = FolderId(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FolderId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// A seat pool: the unit that capacity is counted in and the database constrains.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PoolKey {
    pub product: String,
    pub area: Area,
    pub kind: SeatKind,
    pub folder: FolderId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserState {
    Active,
    Blocked,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Blocked => "blocked",
        }
    }
}

impl FromStr for UserState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" | "yes" | "true" | "1" => Ok(UserState::Active),
            "blocked" | "no" | "false" | "0" => Ok(UserState::Blocked),
            other => Err(Error::Invalid(format!(
                "unknown account state {}: expected \"active\" or \"blocked\"",
                quoted(other)
            ))),
        }
    }
}

/// An assignment is one seat whatever the number of reasons; `Suspended` ones are kept but
/// unusable because their pool shrank below its assigned count (L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssignmentStatus {
    Active,
    Suspended,
    /// Recalled while its holder is logged in (S4): still counted, freed when the holder's
    /// last session ends.
    Releasing,
}

impl AssignmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Active => "active",
            AssignmentStatus::Suspended => "suspended",
            AssignmentStatus::Releasing => "releasing",
        }
    }
}

/// Checks a product code, serial or company id (at most 128 characters); logins have their
/// own limit, `validate::login`. The rules live in `validate`.
pub fn validate_code(what: &str, value: &str) -> Result<(), Error> {
    crate::validate::code(what, value, 128)
}

/// Folder names may hold spaces but not the path separator (see `validate::folder_name`).
pub fn validate_folder_name(name: &str) -> Result<(), Error> {
    crate::validate::folder_name(name)
}

/// Splits "Sales/North" into its names; "" and "/" are the root (see `validate::folder_path`).
pub fn split_folder_path(path: &str) -> Result<Vec<&str>, Error> {
    crate::validate::folder_path(path)
}

/// What a role lets its members do in the admin API (X2). `manage_licenses` is Creatio's
/// `CanManageLicUsers`; the built-in "System administrators" role holds all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read licenses, users, sessions, summary and audit log.
    ViewLicenses,
    /// Every license-changing action: import, delete, grant, recall, users, folders, sessions.
    ManageLicenses,
    /// Administrator accounts, passwords, API tokens, roles' permissions and members.
    ManageAccess,
    /// Create, change and block users and roles over SCIM and the integration API's
    /// provision route (I2, I3): what an identity provider's token holds, and nothing else.
    ProvisionUsers,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::ViewLicenses,
        Permission::ManageLicenses,
        Permission::ManageAccess,
        Permission::ProvisionUsers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewLicenses => "view_licenses",
            Permission::ManageLicenses => "manage_licenses",
            Permission::ManageAccess => "manage_access",
            Permission::ProvisionUsers => "provision_users",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown permission {}: expected view_licenses, manage_licenses, manage_access or provision_users",
                    quoted(s)
                ))
            })
    }
}
