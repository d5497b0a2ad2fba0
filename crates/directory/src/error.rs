//! The one error type of the LDAP client. Each variant names the cause an administrator can
//! act on (which address, which bind DN, which base or filter); none carries the password.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The `[directory]` settings are inconsistent (bad URL, plaintext off loopback, ...).
    #[error("directory configuration: {0}")]
    Config(String),
    /// `bind_password_env` names a variable that is not set (or not UTF-8).
    #[error(
        "directory configuration: the environment variable {var} (bind_password_env) is not set"
    )]
    PasswordEnvMissing { var: String },
    #[error("cannot read the CA file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    /// No TCP connection: refused, no route, unknown host.
    #[error("LDAP server {address} is unreachable: {reason}")]
    Unreachable { address: String, reason: String },
    /// The TCP connection came up but TLS did not (handshake, certificate, StartTLS refused).
    #[error("TLS with LDAP server {address} failed: {reason}")]
    Tls { address: String, reason: String },
    /// Result code 49 (invalidCredentials) on the bind.
    #[error("LDAP bind as {bind_dn} was refused: invalid credentials (wrong bind DN or password)")]
    BadCredentials { bind_dn: String },
    /// Result code 87 (filterError), or a filter the client cannot parse.
    #[error("bad LDAP filter {filter}: {reason}")]
    BadFilter { filter: String, reason: String },
    /// Result code 32 (noSuchObject) on a search base.
    #[error("the base DN {base} does not exist on the LDAP server")]
    NoSuchBase { base: String },
    /// The client-side timeout (connect or operation) or result code 3 (timeLimitExceeded).
    #[error("LDAP timeout after {}s while {during}", after.as_secs_f64())]
    Timeout { during: String, after: Duration },
    /// Result code 4 (sizeLimitExceeded): the server caps this search even with paging.
    #[error(
        "the LDAP server stopped the search under {base} at its size limit after {read} entries (sizeLimitExceeded); raise the limit for the bind DN, or narrow the base or filter"
    )]
    SizeLimit { base: String, read: usize },
    /// Any other non-success result code.
    #[error("LDAP {operation} failed: result {code} ({text})")]
    Ldap {
        operation: String,
        code: u32,
        text: String,
    },
    /// The connection broke after it was established, or the server spoke nonsense.
    #[error("LDAP connection to {address} failed during {operation}: {reason}")]
    Connection {
        address: String,
        operation: String,
        reason: String,
    },
}

impl DirectoryError {
    /// A stable machine-readable name for the cause (`--json` output, the API later).
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::Config(_)
            | DirectoryError::PasswordEnvMissing { .. }
            | DirectoryError::CaFile { .. } => "directory_config",
            DirectoryError::Unreachable { .. } => "ldap_unreachable",
            DirectoryError::Tls { .. } => "ldap_tls",
            DirectoryError::BadCredentials { .. } => "ldap_bad_credentials",
            DirectoryError::BadFilter { .. } => "ldap_bad_filter",
            DirectoryError::NoSuchBase { .. } => "ldap_no_such_base",
            DirectoryError::Timeout { .. } => "ldap_timeout",
            DirectoryError::SizeLimit { .. } => "ldap_size_limit",
            DirectoryError::Ldap { .. } => "ldap_error",
            DirectoryError::Connection { .. } => "ldap_connection",
        }
    }
}
