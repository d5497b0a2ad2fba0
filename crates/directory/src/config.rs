//! The `[directory]` section of the config file (the one `seatkeeper serve --config` reads).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use seatkeeper_core::directory::Mapping;
use serde::{Deserialize, Serialize};

use crate::DirectoryError;

pub const DEFAULT_USER_FILTER: &str = "(objectClass=inetOrgPerson)";
pub const DEFAULT_GROUP_FILTER: &str =
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))";
pub const DEFAULT_PAGE_SIZE: u32 = 500;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_OPERATION_TIMEOUT_SECS: u64 = 60;
/// An hour: a directory that needs longer for one page or one connect is down.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// A week: a longer interval is more likely a unit mistake than a wish.
pub const MAX_SYNC_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

/// How to reach the directory. Defaults are the `DEFAULT_*` constants; `user_base` and `url`
/// are required, `group_base` defaults to `user_base`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `ldap://host[:389]` or `ldaps://host[:636]`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// Allow plain `ldap://` (no TLS) to a host that is not loopback: the password and every
    /// entry then cross the network in clear.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Empty: anonymous (no bind).
    #[serde(default)]
    pub bind_dn: String,
    /// The bind password in the file; prefer `bind_password_env`. Never serialized: the
    /// settings the ledger keeps hold it in a column of its own, and no answer carries it.
    #[serde(default, skip_serializing)]
    pub bind_password: Option<String>,
    /// The name of an environment variable holding the bind password.
    #[serde(default)]
    pub bind_password_env: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// For each operation: the bind, and each page of a search.
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_secs: u64,
    pub user_base: String,
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    #[serde(default)]
    pub group_base: Option<String>,
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    /// Entries per page of the paged-results control.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// PEM file of the CA(s) to trust for TLS; without it, the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How entries become users, folders and roles (`[directory.mapping]`; OpenLDAP's
    /// defaults). Read here so that one section holds the whole directory configuration.
    #[serde(default)]
    pub mapping: Mapping,
    /// `serve` syncs on its own every this many minutes (one node at a time); 0: only when
    /// asked (`seatkeeper ldap sync`, the API, the Directory page).
    #[serde(default)]
    pub sync_interval_minutes: u32,
}

fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_SECS
}
fn default_operation_timeout() -> u64 {
    DEFAULT_OPERATION_TIMEOUT_SECS
}
fn default_user_filter() -> String {
    DEFAULT_USER_FILTER.to_string()
}
fn default_group_filter() -> String {
    DEFAULT_GROUP_FILTER.to_string()
}
fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}

/// The transport the URL and `starttls` select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// `ldap://` without StartTLS.
    Plain,
    StartTls,
    /// `ldaps://`.
    Ldaps,
}

impl TlsMode {
    pub fn uses_tls(self) -> bool {
        !matches!(self, TlsMode::Plain)
    }
}

// The password stays out of every log line, even through `{:?}`.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("allow_plaintext", &self.allow_plaintext)
            .field("bind_dn", &self.bind_dn)
            .field(
                "bind_password",
                &self.bind_password.as_ref().map(|_| "<redacted>"),
            )
            .field("bind_password_env", &self.bind_password_env)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("operation_timeout_secs", &self.operation_timeout_secs)
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("group_base", &self.group_base)
            .field("group_filter", &self.group_filter)
            .field("page_size", &self.page_size)
            .field("ca_file", &self.ca_file)
            .field("mapping", &self.mapping)
            .field("sync_interval_minutes", &self.sync_interval_minutes)
            .finish()
    }
}

impl Config {
    /// A config with the defaults, for `url` and `user_base` (tests, programmatic use).
    pub fn new(url: impl Into<String>, user_base: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            starttls: false,
            allow_plaintext: false,
            bind_dn: String::new(),
            bind_password: None,
            bind_password_env: None,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            operation_timeout_secs: DEFAULT_OPERATION_TIMEOUT_SECS,
            user_base: user_base.into(),
            user_filter: DEFAULT_USER_FILTER.to_string(),
            group_base: None,
            group_filter: DEFAULT_GROUP_FILTER.to_string(),
            page_size: DEFAULT_PAGE_SIZE,
            ca_file: None,
            mapping: Mapping::default(),
            sync_interval_minutes: 0,
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }

    pub fn group_base(&self) -> &str {
        self.group_base.as_deref().unwrap_or(&self.user_base)
    }

    /// The password to bind with: from `bind_password_env` or `bind_password` (one of them).
    pub fn password(&self) -> Result<String, DirectoryError> {
        match (&self.bind_password_env, &self.bind_password) {
            (Some(_), Some(_)) => Err(DirectoryError::Config(
                "give bind_password or bind_password_env, not both".to_string(),
            )),
            (Some(var), None) => std::env::var(var)
                .map_err(|_| DirectoryError::PasswordEnvMissing { var: var.clone() }),
            (None, Some(password)) => Ok(password.clone()),
            (None, None) => Ok(String::new()),
        }
    }

    /// `host:port` as the messages name it (default ports filled in).
    pub fn address(&self) -> String {
        match split_url(&self.url) {
            Ok((mode, host, port)) => {
                let port = port.unwrap_or(if mode == Scheme::Ldaps { 636 } else { 389 });
                format!("{host}:{port}")
            }
            Err(_) => self.url.clone(),
        }
    }

    /// Checks the settings that need no server: the URL and the transport, the filters, the
    /// page size, the password source. Returns the transport.
    pub fn check(&self) -> Result<TlsMode, DirectoryError> {
        let (scheme, host, _) = split_url(&self.url)?;
        let mode = match (scheme, self.starttls) {
            (Scheme::Ldaps, true) => {
                return Err(DirectoryError::Config(
                    "starttls applies to ldap:// URLs; ldaps:// is TLS from the start".to_string(),
                ));
            }
            (Scheme::Ldaps, false) => TlsMode::Ldaps,
            (Scheme::Ldap, true) => TlsMode::StartTls,
            (Scheme::Ldap, false) => TlsMode::Plain,
        };
        if mode == TlsMode::Plain && !self.allow_plaintext && !is_loopback(host) {
            return Err(DirectoryError::Config(format!(
                "plain ldap:// to {host} would send the password in clear: use ldaps://, \
                 starttls = true, or allow_plaintext = true"
            )));
        }
        if self.user_base.trim().is_empty() {
            return Err(DirectoryError::Config("user_base is empty".to_string()));
        }
        if self.page_size == 0 || i32::try_from(self.page_size).is_err() {
            return Err(DirectoryError::Config(format!(
                "page_size must be between 1 and {}, not {}",
                i32::MAX,
                self.page_size
            )));
        }
        for filter in [&self.user_filter, &self.group_filter] {
            if ldap3::parse_filter(filter).is_err() {
                return Err(DirectoryError::BadFilter {
                    filter: filter.clone(),
                    reason: "not a valid LDAP filter (RFC 4515)".to_string(),
                });
            }
        }
        for (name, secs) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("operation_timeout_secs", self.operation_timeout_secs),
        ] {
            if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
                return Err(DirectoryError::Config(format!(
                    "{name} must be between 1 and {MAX_TIMEOUT_SECS}, not {secs}"
                )));
            }
        }
        if self.sync_interval_minutes > MAX_SYNC_INTERVAL_MINUTES {
            return Err(DirectoryError::Config(format!(
                "sync_interval_minutes must be at most {MAX_SYNC_INTERVAL_MINUTES} (a week), not {}",
                self.sync_interval_minutes
            )));
        }
        self.password()?;
        Ok(mode)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Ldap,
    Ldaps,
}

/// `scheme://host[:port][/...]` → (scheme, host without brackets, port).
fn split_url(url: &str) -> Result<(Scheme, &str, Option<u16>), DirectoryError> {
    let bad = |why: &str| DirectoryError::Config(format!("url {url:?}: {why}"));
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("ldaps://") {
        (Scheme::Ldaps, rest)
    } else if let Some(rest) = url.strip_prefix("ldap://") {
        (Scheme::Ldap, rest)
    } else {
        return Err(bad("must start with ldap:// or ldaps://"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => None,
    };
    Ok((scheme, host, port))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        Config::new(url, "dc=example,dc=com")
    }

    #[test]
    fn i1_transport_modes_and_plaintext_only_on_loopback() {
        assert_eq!(
            config("ldap://127.0.0.1:3389").check().unwrap(),
            TlsMode::Plain
        );
        assert_eq!(config("ldap://[::1]/").check().unwrap(), TlsMode::Plain);
        assert_eq!(config("ldap://localhost").check().unwrap(), TlsMode::Plain);
        assert_eq!(
            config("ldaps://ldap.example.com").check().unwrap(),
            TlsMode::Ldaps
        );
        let mut c = config("ldap://ldap.example.com");
        let err = c.check().unwrap_err().to_string();
        assert!(
            err.contains("in clear") && err.contains("ldap.example.com"),
            "{err}"
        );
        c.starttls = true;
        assert_eq!(c.check().unwrap(), TlsMode::StartTls);
        c.starttls = false;
        c.allow_plaintext = true;
        assert_eq!(c.check().unwrap(), TlsMode::Plain);
        let mut c = config("ldaps://h");
        c.starttls = true;
        assert!(c.check().is_err());
        assert!(config("http://h").check().is_err());
        assert_eq!(config("ldaps://h").address(), "h:636");
        assert_eq!(config("ldap://h").address(), "h:389");
    }

    #[test]
    fn i1_password_is_redacted_and_read_from_the_environment() {
        let mut c = config("ldap://127.0.0.1");
        c.bind_password = Some("s3cret-pw".to_string());
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        assert_eq!(c.password().unwrap(), "s3cret-pw");
        c.bind_password = None;
        c.bind_password_env = Some("SEATKEEPER_TEST_SURELY_UNSET_VAR".to_string());
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SEATKEEPER_TEST_SURELY_UNSET_VAR"), "{err}");
        c.bind_password_env = Some("PATH".to_string());
        assert!(c.password().is_ok());
    }

    #[test]
    fn i1_defaults_from_toml() {
        let c: Config =
            toml_like(r#"{"url": "ldap://127.0.0.1", "user_base": "ou=people,dc=example,dc=com"}"#);
        assert_eq!(c.user_filter, DEFAULT_USER_FILTER);
        assert_eq!(c.group_filter, DEFAULT_GROUP_FILTER);
        assert_eq!(c.page_size, 500);
        assert_eq!(c.group_base(), "ou=people,dc=example,dc=com");
        let mut bad = c.clone();
        bad.user_filter = "(uid=".to_string();
        assert!(matches!(bad.check(), Err(DirectoryError::BadFilter { .. })));
    }

    fn toml_like(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }
}
