//! `seatkeeper serve` configuration: flags, then environment variables (both read by the
//! CLI), then an optional TOML file, then defaults — the first that gives a value wins.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::ServeError;

pub const DEFAULT_DATABASE: &str = "seatkeeper.db";
pub const DEFAULT_DEMO_DATABASE: &str = "seatkeeper-demo.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Values given on the command line or in the environment (`None`: not given).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub database: Option<String>,
    pub listen: Option<SocketAddr>,
    pub vendor_keys: Option<Vec<PathBuf>>,
    pub idle_timeout_secs: Option<u64>,
    pub reap_interval_secs: Option<u64>,
    pub batch_max: Option<usize>,
    pub auth_cache_ttl_secs: Option<u64>,
    /// Drop the `Secure` flag from the admin UI's cookies (plain HTTP on a non-loopback
    /// address; browsers keep `Secure` cookies over plain HTTP only for localhost).
    pub insecure_cookies: Option<bool>,
    /// How often the usage history is sampled (changes only; one point a day at least).
    pub usage_sample_secs: Option<u64>,
    /// Sign-in attempts for one login within `signin_failure_window_secs` without a success
    /// that lock it for `signin_lockout_secs`.
    pub signin_max_failures: Option<u32>,
    pub signin_failure_window_secs: Option<u64>,
    pub signin_lockout_secs: Option<u64>,
    /// Sign-in attempts one client address may make per minute, over all logins (0: no limit).
    pub signin_per_address_per_minute: Option<u32>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (exact addresses).
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// The `[directory]` section: the LDAP directory to sync from (issue 15). Only in the
    /// file; `seatkeeper ldap test --config FILE` reads the same file.
    pub directory: Option<seatkeeper_directory::Config>,
    /// The `[sso]` section: the OpenID Connect issuer whose ID tokens sign users in (I3).
    /// Only in the file.
    pub sso: Option<crate::sso::config::SsoConfig>,
    /// The `[scim]` section: how SCIM provisioning treats limits, deletes and departments
    /// (issue 16). Only in the file.
    pub scim: Option<crate::scim::config::ScimConfig>,
    /// The `[mail]` section: the SMTP server that mails the responsible person (N1). Only in
    /// the file.
    pub mail: Option<crate::notify::mail::MailConfig>,
    /// The `[notifications]` section: how deliveries leave (webhooks' targets, retries).
    pub notifications: Option<crate::notify::config::NotificationsConfig>,
    /// The `[metrics]` section: `GET /metrics` behind a token and/or on its own address
    /// (issue 17). Only in the file.
    pub metrics: Option<crate::metrics::config::MetricsConfig>,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database: String,
    pub listen: SocketAddr,
    pub vendor_keys: Vec<PathBuf>,
    /// S3: a session without heartbeat for this long ends.
    pub idle_timeout: Duration,
    /// How often the reaper looks for idle sessions.
    pub reap_interval: Duration,
    /// Most requests applied in one transaction by the login batcher.
    pub batch_max: usize,
    /// How long a resolved token stays cached (revocations reach other nodes within it).
    pub auth_cache_ttl: Duration,
    pub insecure_cookies: bool,
    pub usage_sample_interval: Duration,
    /// Password guessing: the per-login lockout (kept in the ledger, so it holds on every node).
    pub signin: seatkeeper_core::signin::SigninPolicy,
    /// Password guessing: attempts per client address per minute (0: off); per process.
    pub signin_per_address_per_minute: u32,
    pub trusted_proxies: Vec<IpAddr>,
    /// The `[directory]` section of the config file, if any (not yet run by `serve`).
    pub directory: Option<seatkeeper_directory::Config>,
    /// The `[sso]` section, checked.
    pub sso: Option<crate::sso::config::Checked>,
    /// The `[scim]` section, or its defaults.
    pub scim: crate::scim::config::ScimConfig,
    /// The `[mail]` section, checked (its password read from the environment when named).
    pub mail: Option<crate::notify::mail::MailConfig>,
    /// The `[notifications]` section, or its defaults.
    pub notifications: crate::notify::config::NotificationsConfig,
    /// The `[metrics]` section, checked; `None`: metrics off.
    pub metrics: Option<crate::metrics::config::MetricsSettings>,
    pub demo: bool,
    /// Testing only: read "now" from this file (unix seconds) instead of the system clock.
    pub clock_file: Option<PathBuf>,
}

fn read_file(path: &Path) -> Result<Overrides, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServeError::Config(format!("cannot read config file {}: {e}", path.display()))
    })?;
    toml::from_str::<Overrides>(&text)
        .map_err(|e| ServeError::Config(format!("config file {}: {e}", path.display())))
}

/// The `[directory]` section of `serve`'s config file (for `seatkeeper ldap test`).
pub fn directory_config(path: &Path) -> Result<seatkeeper_directory::Config, ServeError> {
    read_file(path)?.directory.ok_or_else(|| {
        ServeError::Config(format!(
            "config file {} has no [directory] section",
            path.display()
        ))
    })
}

impl ServeConfig {
    /// Merges flags/environment over the file over the defaults, and checks the result.
    pub fn resolve(
        given: Overrides,
        file: Option<&Path>,
        demo: bool,
        clock_file: Option<PathBuf>,
    ) -> Result<ServeConfig, ServeError> {
        let from_file = match file {
            Some(path) => read_file(path)?,
            None => Overrides::default(),
        };
        let default_listen: SocketAddr = DEFAULT_LISTEN
            .parse()
            .map_err(|e| ServeError::Config(format!("default listen address: {e}")))?;
        let config = ServeConfig {
            database: given.database.or(from_file.database).unwrap_or_else(|| {
                if demo {
                    DEFAULT_DEMO_DATABASE
                } else {
                    DEFAULT_DATABASE
                }
                .to_string()
            }),
            listen: given.listen.or(from_file.listen).unwrap_or(default_listen),
            vendor_keys: given
                .vendor_keys
                .filter(|v| !v.is_empty())
                .or(from_file.vendor_keys)
                .unwrap_or_default(),
            idle_timeout: Duration::from_secs(
                given
                    .idle_timeout_secs
                    .or(from_file.idle_timeout_secs)
                    .unwrap_or(30 * 60),
            ),
            reap_interval: Duration::from_secs(
                given
                    .reap_interval_secs
                    .or(from_file.reap_interval_secs)
                    .unwrap_or(15),
            ),
            batch_max: given.batch_max.or(from_file.batch_max).unwrap_or(256),
            auth_cache_ttl: Duration::from_secs(
                given
                    .auth_cache_ttl_secs
                    .or(from_file.auth_cache_ttl_secs)
                    .unwrap_or(5),
            ),
            insecure_cookies: given
                .insecure_cookies
                .or(from_file.insecure_cookies)
                .unwrap_or(false),
            usage_sample_interval: Duration::from_secs(
                given
                    .usage_sample_secs
                    .or(from_file.usage_sample_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
            signin: seatkeeper_core::signin::SigninPolicy {
                max_failures: given
                    .signin_max_failures
                    .or(from_file.signin_max_failures)
                    .unwrap_or(5),
                window_secs: secs_i64(
                    given
                        .signin_failure_window_secs
                        .or(from_file.signin_failure_window_secs)
                        .unwrap_or(15 * 60),
                ),
                lockout_secs: secs_i64(
                    given
                        .signin_lockout_secs
                        .or(from_file.signin_lockout_secs)
                        .unwrap_or(15 * 60),
                ),
            },
            signin_per_address_per_minute: given
                .signin_per_address_per_minute
                .or(from_file.signin_per_address_per_minute)
                .unwrap_or(30),
            trusted_proxies: given
                .trusted_proxies
                .filter(|v| !v.is_empty())
                .or(from_file.trusted_proxies)
                .unwrap_or_default(),
            directory: from_file.directory,
            sso: from_file
                .sso
                .map(|s| s.check())
                .transpose()
                .map_err(ServeError::Config)?,
            scim: from_file.scim.unwrap_or_default(),
            mail: from_file
                .mail
                .map(crate::notify::mail::MailConfig::resolve)
                .transpose()
                .map_err(ServeError::Config)?,
            notifications: from_file.notifications.unwrap_or_default(),
            metrics: from_file
                .metrics
                .unwrap_or_default()
                .check()
                .map_err(ServeError::Config)?,
            demo,
            clock_file,
        };
        let max = seatkeeper_store::MAX_SIGNIN_WINDOW_SECS;
        if config.signin.max_failures == 0 {
            return Err(ServeError::Config(
                "signin_max_failures must be at least 1".into(),
            ));
        }
        for (name, v) in [
            ("signin_failure_window_secs", config.signin.window_secs),
            ("signin_lockout_secs", config.signin.lockout_secs),
        ] {
            if !(1..=max).contains(&v) {
                return Err(ServeError::Config(format!(
                    "{name} must be between 1 and {max}"
                )));
            }
        }
        if config.idle_timeout.is_zero() {
            return Err(ServeError::Config(
                "idle_timeout_secs must be at least 1".into(),
            ));
        }
        if config.reap_interval.is_zero() {
            return Err(ServeError::Config(
                "reap_interval_secs must be at least 1".into(),
            ));
        }
        if !(1..=10_000).contains(&config.batch_max) {
            return Err(ServeError::Config(
                "batch_max must be between 1 and 10000".into(),
            ));
        }
        config.scim.check().map_err(ServeError::Config)?;
        config.notifications.check().map_err(ServeError::Config)?;
        Ok(config)
    }
}

/// Seconds from the configuration; a value too large for the ledger is caught by the range
/// check that follows.
fn secs_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The one refusal of a license import while no vendor key is trusted: the API's 409
/// `no_vendor_key`, the admin UI's upload and `seatkeeper license import` all say this.
pub const NO_VENDOR_KEY: &str = "no vendor key is trusted, so no license file can be checked: \
     give the vendor's public key (PEM) with --vendor-key FILE or SEATKEEPER_VENDOR_KEYS";

/// Reads trusted vendor public keys (PEM; a private key file is accepted for its public half).
pub fn read_vendor_keys(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>, ServeError> {
    paths
        .iter()
        .map(|p| {
            let pem = std::fs::read_to_string(p).map_err(|e| {
                ServeError::Config(format!("cannot read vendor key {}: {e}", p.display()))
            })?;
            VerifyingKey::from_public_key_pem(&pem)
                .or_else(|_| {
                    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map(|k| k.verifying_key())
                })
                .map_err(|e| {
                    ServeError::Config(format!(
                        "{} is not an Ed25519 public key in PEM: {e}",
                        p.display()
                    ))
                })
        })
        .collect()
}

/// A clock that tests move by writing unix seconds into a file; the system clock while the
/// file is missing or unreadable.
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    pub fn new(path: PathBuf) -> Self {
        FileClock { path }
    }
}

impl seatkeeper_store::Clock for FileClock {
    fn now(&self) -> OffsetDateTime {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .unwrap_or_else(|| seatkeeper_store::SystemClock.now())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("sk-config-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn flags_and_environment_win_over_the_file_which_wins_over_defaults() {
        let f = file("database = \"from-file.db\"\nidle_timeout_secs = 60\nbatch_max = 8\n");
        let given = Overrides {
            idle_timeout_secs: Some(90),
            ..Overrides::default()
        };
        let c = ServeConfig::resolve(given, Some(&f), false, None).unwrap();
        assert_eq!(c.database, "from-file.db");
        assert_eq!(c.idle_timeout, Duration::from_secs(90));
        assert_eq!(c.batch_max, 8);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.reap_interval, Duration::from_secs(15));
        let demo = ServeConfig::resolve(Overrides::default(), None, true, None).unwrap();
        assert_eq!(demo.database, DEFAULT_DEMO_DATABASE);
        let _ = std::fs::remove_file(f);
    }

    #[test]
    fn i1_the_directory_section_is_read_with_its_defaults_and_typos_refused() {
        let f = file(
            "batch_max = 8\n\n[directory]\nurl = \"ldaps://ldap.example.com\"\n\
             bind_dn = \"cn=sync,dc=example,dc=com\"\nbind_password_env = \"LDAP_PW\"\n\
             user_base = \"ou=people,dc=example,dc=com\"\n",
        );
        let c = ServeConfig::resolve(Overrides::default(), Some(&f), false, None).unwrap();
        let d = c.directory.unwrap();
        assert_eq!(d.page_size, seatkeeper_directory::DEFAULT_PAGE_SIZE);
        assert_eq!(d.user_filter, seatkeeper_directory::DEFAULT_USER_FILTER);
        assert_eq!(
            directory_config(&f).unwrap().url,
            "ldaps://ldap.example.com"
        );
        let _ = std::fs::remove_file(f);
        let f =
            file("[directory]\nurl = \"ldap://127.0.0.1\"\nuser_base = \"dc=x\"\npagesize = 5\n");
        let e = directory_config(&f).unwrap_err();
        assert!(e.to_string().contains("unknown field `pagesize`"), "{e}");
        let _ = std::fs::remove_file(f);
        let f = file("batch_max = 8\n");
        let e = directory_config(&f).unwrap_err();
        assert!(e.to_string().contains("no [directory] section"), "{e}");
        let _ = std::fs::remove_file(f);
    }

    #[test]
    fn i1_the_directory_mapping_is_read_from_its_own_subsection() {
        let f = file(
            "[directory]\nurl = \"ldaps://dc1.corp.example.com\"\nuser_base = \"dc=corp\"\n\n\
             [directory.mapping]\nlogin_attr = \"sAMAccountName\"\nname_attr = \"displayName\"\n\
             disabled = { by = \"user_account_control\" }\n",
        );
        let m = directory_config(&f).unwrap().mapping;
        assert_eq!(m.login_attr, "sAMAccountName");
        assert_eq!(m.name_attr, "displayName");
        assert_eq!(
            m.disabled,
            seatkeeper_core::directory::DisabledRule::UserAccountControl
        );
        // Keys not given keep OpenLDAP's defaults.
        assert_eq!(m.member_attr, "member");
        let _ = std::fs::remove_file(f);
        let f = file(
            "[directory]\nurl = \"ldap://127.0.0.1\"\nuser_base = \"dc=x\"\n\
             [directory.mapping]\nlogin = \"uid\"\n",
        );
        let e = directory_config(&f).unwrap_err();
        assert!(e.to_string().contains("unknown field `login`"), "{e}");
        let _ = std::fs::remove_file(f);
    }

    #[test]
    fn a_bad_file_or_value_is_refused_with_its_reason() {
        let f = file("idle_timeout = 60\n");
        let e = ServeConfig::resolve(Overrides::default(), Some(&f), false, None).unwrap_err();
        assert!(
            e.to_string().contains("unknown field `idle_timeout`"),
            "{e}"
        );
        let _ = std::fs::remove_file(f);
        let zero = Overrides {
            batch_max: Some(0),
            ..Overrides::default()
        };
        let e = ServeConfig::resolve(zero, None, false, None).unwrap_err();
        assert!(e.to_string().contains("batch_max"), "{e}");
    }
}
