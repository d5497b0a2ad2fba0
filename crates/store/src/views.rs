//! What the ledger answers: plain data, serialisable for `--json` and the API.

use seatkeeper_core::{Area, AssignmentStatus, SeatKind, UserState};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    pub instance_id: String,
    pub company_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub license_id: String,
    /// The same file was imported before: nothing changed.
    pub already_imported: bool,
    pub products: Vec<String>,
    pub packages: Vec<String>,
    /// Serials this file renews, whose assignments it now carries (L3).
    pub replaced: Vec<String>,
    /// Serials the file says it replaces but that were never imported here.
    pub replaced_unknown: Vec<String>,
    pub changes: SeatChanges,
}

/// Assignments suspended or brought back by a change of capacity (L4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeatChanges {
    pub suspended: Vec<HeldSeat>,
    pub restored: Vec<HeldSeat>,
}

impl SeatChanges {
    pub fn extend(&mut self, other: SeatChanges) {
        self.suspended.extend(other.suspended);
        self.restored.extend(other.restored);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HeldSeat {
    pub login: String,
    pub product: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    pub code: String,
    pub name: String,
    pub features: Vec<String>,
    pub all_modules: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    Valid,
    NotYetValid,
    Expired,
    Replaced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageView {
    pub serial: String,
    pub license_id: String,
    pub product: String,
    pub kind: SeatKind,
    pub area: Area,
    pub seats: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    pub replaces: Vec<String>,
    pub status: PackageStatus,
    pub placements: Vec<Placement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub folder: String,
    pub seats: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseFileView {
    pub license_id: String,
    pub company_id: String,
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub imported_at: OffsetDateTime,
    pub imported_by: String,
    pub packages: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteLicensesReport {
    pub license_files: u64,
    pub packages: u64,
    pub changes: SeatChanges,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderView {
    pub id: i64,
    /// "Sales/North"; "/" for the root.
    pub path: String,
    pub parent_id: Option<i64>,
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    pub folder: String,
    pub state: UserState,
    pub block_reason: Option<String>,
    pub builtin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Where the user came from: `local` (by hand, CSV, the admin API), `directory` (the LDAP
    /// sync), `scim` or `sso` (an identity provider).
    pub source: String,
    pub licenses: Vec<UserLicense>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserLicense {
    pub product: String,
    pub status: AssignmentStatus,
    /// Granted by hand or taken at login.
    pub manual: bool,
    /// Given by role-based distribution (a seat may have both reasons; it is one seat).
    pub by_role: bool,
    /// The folder whose seats it uses.
    pub seat_folder: String,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    /// Folder path; empty for the root.
    pub folder: String,
    pub state: UserState,
}

impl NewUser {
    pub fn active(login: &str, area: Area) -> Self {
        NewUser {
            login: login.to_string(),
            name: login.to_string(),
            email: String::new(),
            area,
            folder: String::new(),
            state: UserState::Active,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub area: Option<Area>,
    pub state: Option<UserState>,
    pub folder: Option<String>,
    pub product: Option<String>,
    /// Direct members of this role (id); an unknown role matches nobody.
    pub role: Option<i64>,
    /// Matches login, name or e-mail, case-insensitively.
    pub search: Option<String>,
    /// Page size; `Ledger::count_users` ignores it and `offset`.
    pub limit: Option<u64>,
    pub offset: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GrantReport {
    pub granted: Vec<HeldSeat>,
    /// Pairs the user already held: nothing to do.
    pub already_held: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecallReport {
    pub recalled: Vec<HeldSeat>,
    /// Recalled seats still in use by a session (S4): freed when that user's last session ends.
    pub releasing: Vec<HeldSeat>,
    pub not_held: u64,
    pub changes: SeatChanges,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockReport {
    pub freed: Vec<String>,
    pub changes: SeatChanges,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CsvImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub licenses_loaded: bool,
    pub areas: Vec<AreaSummary>,
    pub products: Vec<ProductSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaSummary {
    pub area: Area,
    /// Active users, the built-in administrator excluded.
    pub active_users: u64,
    pub blocked_users: u64,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSummary {
    pub product: String,
    pub name: String,
    pub area: Area,
    pub kind: SeatKind,
    pub total: u64,
    pub used: u64,
    pub free: u64,
    pub suspended: u64,
    /// Seats of packages in force that expire within the summary's horizon.
    pub expiring_soon: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_expiry: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub origin: String,
    /// The client's address and user agent, for changes made over HTTP.
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target: Option<String>,
    pub actor: Option<String>,
    /// Keyset pagination: only records older than this id.
    pub before_id: Option<i64>,
    pub limit: Option<u64>,
}

/// What one [`crate::Ledger::record_usage`] call wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageRecorded {
    /// Samples written: subjects whose numbers changed, whose last sample is 24 h old, or
    /// that had none.
    pub written: u64,
    /// Samples deleted for being older than the retention (400 days).
    pub pruned: u64,
}

/// Usage over time, for charts: per product seats used against total, per area active users
/// against the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageHistory {
    /// The start asked for; each series may begin with one point before it.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the history was read.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// One series per product code, by code.
    pub products: Vec<UsageSeries>,
    /// One series per area, by name.
    pub areas: Vec<UsageSeries>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageSeries {
    /// The product code or the area name.
    pub subject: String,
    /// Oldest first. The first is the last sample before `since` when there is one, so a
    /// chart can start at its left edge; each value holds until the next point.
    pub points: Vec<UsagePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsagePoint {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Seats in use (named and floating, every area and folder), or active users of an area
    /// (the built-in administrator excluded).
    pub used: u64,
    /// Seats in force, or the area's user limit (`None`: no limit).
    pub total: Option<u64>,
    /// Suspended assignments of a product; `None` for an area.
    pub suspended: Option<u64>,
}
