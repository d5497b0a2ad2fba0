use time::OffsetDateTime;

use crate::{Area, SeatKind};

/// How many characters of a refused value an error message quotes: enough to recognise it,
/// never the megabytes a hostile input may hold.
pub const QUOTE_MAX_CHARS: usize = 64;

/// A value quoted in an error message: its `{:?}` form (so NUL and control characters are
/// visible), cut after [`QUOTE_MAX_CHARS`] characters with its full size noted.
pub struct Quoted<'a>(&'a str);

pub fn quoted(value: &str) -> Quoted<'_> {
    Quoted(value)
}

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(QUOTE_MAX_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// Most characters kept of a message from a parser (serde, csv), which may quote the input.
pub const MESSAGE_MAX_CHARS: usize = 400;

/// A parser's message cut in the middle when long: its start says what was wrong and its end
/// where (serde ends with "at line L column C").
pub fn brief(message: impl Into<String>) -> String {
    brief_to(message, MESSAGE_MAX_CHARS)
}

/// [`brief`] with another length: at most `max_chars` characters and the elision mark.
pub fn brief_to(message: impl Into<String>, max_chars: usize) -> String {
    let message = message.into();
    let n = message.chars().count();
    if n <= max_chars {
        return message;
    }
    let half = max_chars / 2;
    let head: String = message.chars().take(half).collect();
    let tail: String = message.chars().skip(n - half).collect();
    format!("{head} … {tail}")
}

/// Why a license file was refused (L2). Each variant names one thing an administrator or the
/// vendor can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("not a Seatkeeper license file ({0})")]
    Malformed(String),
    #[error(
        "unsupported license file format {}; this Seatkeeper reads \"seatkeeper-license/1\"", quoted(.0)
    )]
    UnsupportedFormat(String),
    #[error(
        "license file is signed by vendor key {}, which this installation does not trust \
         (configure the vendor's public key with --vendor-key or SEATKEEPER_VENDOR_KEYS)",
        quoted(key_id)
    )]
    UntrustedKey { key_id: String },
    #[error(
        "license file signature does not match its contents: the file was altered after signing"
    )]
    Tampered,
    #[error(
        "license file is for company {}, but this installation belongs to company {}",
        quoted(found),
        quoted(expected)
    )]
    WrongCompany { expected: String, found: String },
    #[error(
        "license file is for instance {}, but this installation is instance {}",
        quoted(found),
        quoted(expected)
    )]
    WrongInstance { expected: String, found: String },
    #[error(
        "no company id is set for this installation: generate a license request with --company-id first"
    )]
    NoCompany,
    #[error("license file is not valid before {valid_from}")]
    NotYetValid { valid_from: OffsetDateTime },
    #[error("license file has expired: every package in it expired (latest on {latest})")]
    Expired { latest: OffsetDateTime },
    #[error("license file content is invalid: {0}")]
    Invalid(String),
}

/// Every way an operation on the ledger can be refused. Each refusal changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error("{0}")]
    Invalid(String),
    #[error("unknown product {}: no imported license declares it", quoted(.0))]
    UnknownProduct(String),
    #[error("unknown user {}", quoted(.0))]
    UnknownUser(String),
    #[error("unknown session {}: it ended (logout or idle timeout) or never existed", quoted(.0))]
    UnknownSession(String),
    #[error("unknown role {}", quoted(.0))]
    UnknownRole(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "role-based distribution is turned off (setting role_based_distribution): role bindings are kept, but nothing is redistributed"
    )]
    DistributionOff,
    #[error("redistribution #{0} is still running; wait for it to finish")]
    RedistributionRunning(i64),
    #[error("unknown system message {0}")]
    UnknownMessage(i64),
    #[error("unknown API token {0}")]
    UnknownToken(i64),
    #[error("unknown webhook {0}")]
    UnknownWebhook(i64),
    #[error("unknown delivery {0}")]
    UnknownDelivery(i64),
    #[error("unknown folder {}", quoted(.0))]
    UnknownFolder(String),
    #[error("unknown license package {}", quoted(.0))]
    UnknownPackage(String),
    #[error("a user with login {} already exists", quoted(.0))]
    DuplicateLogin(String),
    #[error("folder {} already exists", quoted(.0))]
    DuplicateFolder(String),
    #[error(
        "not enough free {kind} seats of product {} ({area}): {needed} needed, {free} free{where_}",
        quoted(product)
    )]
    NoSeatFree {
        product: String,
        area: Area,
        kind: SeatKind,
        needed: u64,
        free: u64,
        /// Where the free seats were looked for, e.g. " in folder Sales or the root".
        where_: String,
    },
    #[error(
        "area {area} is at its user limit: {active} active of {limit} allowed; block or delete \
         users, or import a license with more users"
    )]
    AreaLimit { area: Area, limit: u64, active: u64 },
    #[error("user {} is blocked and can hold no licenses", quoted(login))]
    UserBlocked { login: String },
    #[error(
        "user {} is in area {user_area}, but product {} has no seats for that area",
        quoted(login),
        quoted(product)
    )]
    WrongArea {
        login: String,
        user_area: Area,
        product: String,
    },
    #[error("the built-in administrator cannot be {0}")]
    BuiltinAdmin(&'static str),
    #[error("folder {} {reason}", quoted(folder))]
    FolderInUse { folder: String, reason: String },
    #[error("cannot place {requested} seats of package {serial}: {reason}")]
    Placement {
        serial: String,
        requested: u64,
        reason: String,
    },
    #[error("CSV import refused, nothing was changed:\n{}", render_rows(.0))]
    Csv(Vec<RowError>),
    /// A license request named a company other than the one recorded: licenses are bound to
    /// the recorded one, so it changes only on purpose, by its own command.
    #[error(
        "this installation belongs to company {installed:?}, not {requested:?}; to change it, \
         run `seatkeeper license company-id {requested} --confirm` (PUT /api/v1/license/company-id)"
    )]
    CompanyIdChange {
        installed: String,
        requested: String,
    },
    #[error(
        "the company id cannot change while {files} license file(s) are loaded for it; delete \
         the licenses first (seatkeeper license delete-all --yes)"
    )]
    CompanyIdLocked { files: u64 },
}

/// One bad line of an imported CSV file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

fn render_rows(rows: &[RowError]) -> String {
    rows.iter()
        .map(|r| format!("  line {}: {}", r.line, r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// A stable, machine-readable code for `--json` output and (later) the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            Error::License(e) => match e {
                LicenseError::Malformed(_) => "license_malformed",
                LicenseError::UnsupportedFormat(_) => "license_unsupported_format",
                LicenseError::UntrustedKey { .. } => "license_untrusted_key",
                LicenseError::Tampered => "license_tampered",
                LicenseError::WrongCompany { .. } => "license_wrong_company",
                LicenseError::WrongInstance { .. } => "license_wrong_instance",
                LicenseError::NoCompany => "license_no_company",
                LicenseError::NotYetValid { .. } => "license_not_yet_valid",
                LicenseError::Expired { .. } => "license_expired",
                LicenseError::Invalid(_) => "license_invalid",
            },
            Error::Invalid(_) => "invalid",
            Error::UnknownProduct(_) => "unknown_product",
            Error::UnknownUser(_) => "unknown_user",
            Error::UnknownFolder(_) => "unknown_folder",
            Error::UnknownSession(_) => "unknown_session",
            Error::UnknownRole(_) => "unknown_role",
            Error::UnknownToken(_) => "unknown_token",
            Error::UnknownWebhook(_) => "unknown_webhook",
            Error::UnknownDelivery(_) => "unknown_delivery",
            Error::UnknownMessage(_) => "unknown_message",
            Error::Conflict(_) => "conflict",
            Error::DistributionOff => "distribution_off",
            Error::RedistributionRunning(_) => "redistribution_running",
            Error::UnknownPackage(_) => "unknown_package",
            Error::DuplicateLogin(_) => "duplicate_login",
            Error::DuplicateFolder(_) => "duplicate_folder",
            Error::NoSeatFree { .. } => "no_seat_free",
            Error::AreaLimit { .. } => "area_limit",
            Error::UserBlocked { .. } => "user_blocked",
            Error::WrongArea { .. } => "wrong_area",
            Error::BuiltinAdmin(_) => "builtin_admin",
            Error::FolderInUse { .. } => "folder_in_use",
            Error::Placement { .. } => "placement",
            Error::Csv(_) => "csv_invalid",
            Error::CompanyIdChange { .. } => "company_id_change",
            Error::CompanyIdLocked { .. } => "company_id_locked",
        }
    }
}
