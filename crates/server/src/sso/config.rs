//! The `[sso]` section of `serve`'s config file (I3): which OpenID Connect issuer to trust,
//! for which client, and how an ID token's claims become a user. Checked when `serve` starts,
//! so that a mistake stops the server with its reason instead of refusing every sign-in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use reqwest::Url;
use seatkeeper_core::Area;
use serde::Deserialize;

pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;
pub const DEFAULT_HTTP_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_JWKS_REFRESH_MIN_SECS: u64 = 10;
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 3600;

/// What the file says; [`SsoConfig::check`] turns it into [`Checked`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The issuer's identifier, exactly as its tokens' `iss` and its discovery document's
    /// `issuer` spell it (`https://…`; plain `http://` only on loopback).
    pub issuer: String,
    /// The client id(s) tokens must be issued to (`aud`).
    pub audience: OneOrMany,
    #[serde(default = "default_login_claim")]
    pub login_claim: String,
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Group name (as the groups claim carries it) → the role, or roles, its members get.
    #[serde(default)]
    pub group_roles: BTreeMap<String, OneOrMany>,
    /// Where users created by a sign-in go.
    #[serde(default = "default_area")]
    pub area: Area,
    /// Folder path of users created by a sign-in (empty: the root).
    #[serde(default)]
    pub folder: String,
    #[serde(default = "default_clock_skew")]
    pub clock_skew_secs: u64,
    #[serde(default = "default_algorithms")]
    pub allowed_algorithms: Vec<String>,
    /// A token naming a key the cached key set lacks makes the keys be fetched again, at
    /// most once in this many seconds (junk tokens must not make us hammer the issuer).
    #[serde(default = "default_refresh_min")]
    pub jwks_refresh_min_secs: u64,
    /// The keys are fetched again when older than this (a key the issuer withdrew stops
    /// being trusted within it).
    #[serde(default = "default_max_age")]
    pub jwks_max_age_secs: u64,
    /// For each request to the issuer (discovery document, keys).
    #[serde(default = "default_http_timeout")]
    pub http_timeout_secs: u64,
    /// PEM file of CA certificates to trust for the issuer, besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

fn default_login_claim() -> String {
    "preferred_username".into()
}
fn default_name_claim() -> String {
    "name".into()
}
fn default_email_claim() -> String {
    "email".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_area() -> Area {
    Area::Employee
}
fn default_clock_skew() -> u64 {
    DEFAULT_CLOCK_SKEW_SECS
}
fn default_refresh_min() -> u64 {
    DEFAULT_JWKS_REFRESH_MIN_SECS
}
fn default_max_age() -> u64 {
    DEFAULT_JWKS_MAX_AGE_SECS
}
fn default_http_timeout() -> u64 {
    DEFAULT_HTTP_TIMEOUT_SECS
}

/// The asymmetric algorithms identity providers sign ID tokens with. HMAC (`HS*`) is never
/// accepted: its "key" would be the client secret, which a public key set cannot hold.
pub const DEFAULT_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn default_algorithms() -> Vec<String> {
    DEFAULT_ALGORITHMS.iter().map(|s| s.to_string()).collect()
}

/// Which claims name the user's login, name, e-mail and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub login: String,
    pub name: String,
    pub email: String,
    pub groups: String,
}

/// The section, checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub issuer: String,
    pub discovery_url: Url,
    /// Plain `http://` allowed (a loopback issuer); otherwise every request is https.
    pub loopback_http: bool,
    pub audiences: Vec<String>,
    pub claims: ClaimNames,
    /// Group → roles, without duplicates.
    pub group_roles: BTreeMap<String, BTreeSet<String>>,
    pub area: Area,
    pub folder: String,
    pub clock_skew_secs: u64,
    pub algorithms: Vec<Algorithm>,
    pub jwks_refresh_min_secs: u64,
    pub jwks_max_age_secs: u64,
    pub http_timeout_secs: u64,
    pub ca_pem: Option<Vec<u8>>,
}

fn err(message: impl Into<String>) -> String {
    format!("[sso] {}", message.into())
}

/// `https`, or `http` to a loopback address.
pub(crate) fn loopback_http(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    url.scheme() == "http"
        && (host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

impl SsoConfig {
    /// Checks the section: every refusal names the key and what is expected.
    pub fn check(&self) -> Result<Checked, String> {
        let issuer = self.issuer.trim();
        if issuer != self.issuer || issuer.is_empty() {
            return Err(err(format!(
                "issuer {:?} must be a URL without surrounding spaces",
                self.issuer
            )));
        }
        let url =
            Url::parse(issuer).map_err(|e| err(format!("issuer {issuer:?} is not a URL: {e}")))?;
        let loopback = loopback_http(&url);
        if url.scheme() != "https" && !loopback {
            return Err(err(format!(
                "issuer {issuer:?} must be https:// (plain http:// only on a loopback address)"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(err(format!(
                "issuer {issuer:?} must have no query, fragment or user name (OpenID Connect \
                 Discovery §2)"
            )));
        }
        let discovery_url = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .map_err(|e| err(format!("issuer {issuer:?}: {e}")))?;

        let audiences = self.audience.to_vec();
        if audiences.is_empty() || audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(err("audience must name the client id (one, or a list)"));
        }
        for (key, value) in [
            ("login_claim", &self.login_claim),
            ("name_claim", &self.name_claim),
            ("email_claim", &self.email_claim),
            ("groups_claim", &self.groups_claim),
        ] {
            if value.trim().is_empty() {
                return Err(err(format!("{key} is empty")));
            }
        }
        let mut group_roles = BTreeMap::new();
        for (group, roles) in &self.group_roles {
            let roles: BTreeSet<String> = roles.to_vec().into_iter().collect();
            if roles.is_empty() || roles.iter().any(|r| r.trim().is_empty()) {
                return Err(err(format!(
                    "group_roles: group {group:?} must map to a role name or a list of role names"
                )));
            }
            group_roles.insert(group.clone(), roles);
        }
        seatkeeper_core::validate::folder_path(&self.folder)
            .map_err(|e| err(format!("folder {:?}: {e}", self.folder)))?;
        if self.clock_skew_secs > 600 {
            return Err(err(format!(
                "clock_skew_secs is {}; at most 600 (ten minutes)",
                self.clock_skew_secs
            )));
        }
        let algorithms = algorithms(&self.allowed_algorithms)?;
        for (key, value, max) in [
            ("http_timeout_secs", self.http_timeout_secs, 120),
            ("jwks_refresh_min_secs", self.jwks_refresh_min_secs, 3600),
            ("jwks_max_age_secs", self.jwks_max_age_secs, 7 * 24 * 3600),
        ] {
            if !(1..=max).contains(&value) {
                return Err(err(format!(
                    "{key} must be between 1 and {max}, not {value}"
                )));
            }
        }
        let ca_pem = match &self.ca_file {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| err(format!("cannot read ca_file {}: {e}", path.display())))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| err(format!("ca_file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(err(format!(
                        "ca_file {} holds no PEM certificate",
                        path.display()
                    )));
                }
                Some(pem)
            }
        };
        Ok(Checked {
            issuer: issuer.to_string(),
            discovery_url,
            loopback_http: loopback,
            audiences,
            claims: ClaimNames {
                login: self.login_claim.clone(),
                name: self.name_claim.clone(),
                email: self.email_claim.clone(),
                groups: self.groups_claim.clone(),
            },
            group_roles,
            area: self.area,
            folder: self.folder.trim().trim_matches('/').to_string(),
            clock_skew_secs: self.clock_skew_secs,
            algorithms,
            jwks_refresh_min_secs: self.jwks_refresh_min_secs,
            jwks_max_age_secs: self.jwks_max_age_secs,
            http_timeout_secs: self.http_timeout_secs,
            ca_pem,
        })
    }
}

fn algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Err(err("allowed_algorithms is empty"));
    }
    let mut out = Vec::new();
    for name in names {
        let alg = Algorithm::from_str(name).map_err(|_| {
            err(format!(
                "allowed_algorithms: {name:?} is not a JWS algorithm this server verifies \
                 (one of {})",
                DEFAULT_ALGORITHMS.join(", ")
            ))
        })?;
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(err(format!(
                "allowed_algorithms: {name} is refused: HMAC tokens are signed with a shared \
                 secret, not a key the issuer publishes"
            )));
        }
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Checked, String> {
        toml::from_str::<SsoConfig>(text)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn i3_defaults_fill_every_optional_key() {
        let c = parse("issuer = \"https://login.example.com/realms/acme\"\naudience = \"sk\"\n")
            .unwrap();
        assert_eq!(c.audiences, vec!["sk"]);
        assert_eq!(
            c.discovery_url.as_str(),
            "https://login.example.com/realms/acme/.well-known/openid-configuration"
        );
        assert!(!c.loopback_http);
        assert_eq!(c.claims.login, "preferred_username");
        assert_eq!(c.claims.name, "name");
        assert_eq!(c.claims.email, "email");
        assert_eq!(c.claims.groups, "groups");
        assert_eq!(c.area, Area::Employee);
        assert_eq!(c.folder, "");
        assert_eq!(c.clock_skew_secs, 60);
        assert!(c.algorithms.contains(&Algorithm::RS256));
        assert!(c.algorithms.contains(&Algorithm::ES256));
        assert!(c.algorithms.contains(&Algorithm::PS256));
        assert!(!c.algorithms.iter().any(|a| matches!(a, Algorithm::HS256)));
        assert!(c.group_roles.is_empty());
    }

    #[test]
    fn i3_group_roles_take_a_name_or_a_list_and_audience_a_list() {
        let c = parse(
            "issuer = \"http://127.0.0.1:9400\"\naudience = [\"web\", \"desktop\"]\n\
             area = \"portal\"\nfolder = \"/Sales/North/\"\n\
             [group_roles]\nsales = \"Sales\"\nadmins = [\"Admins\", \"Sales\", \"Admins\"]\n",
        )
        .unwrap();
        assert!(c.loopback_http);
        assert_eq!(c.audiences, vec!["web", "desktop"]);
        assert_eq!(c.area, Area::Portal);
        assert_eq!(c.folder, "Sales/North");
        assert_eq!(
            c.group_roles["admins"].iter().collect::<Vec<_>>(),
            ["Admins", "Sales"]
        );
        assert_eq!(c.group_roles["sales"].len(), 1);
    }

    #[test]
    fn i3_a_bad_section_is_refused_with_its_reason() {
        let cases = [
            (
                "issuer = \"http://login.example.com\"\naudience = \"a\"",
                "must be https://",
            ),
            ("issuer = \"not a url\"\naudience = \"a\"", "is not a URL"),
            (
                "issuer = \"https://x.example.com?a=1\"\naudience = \"a\"",
                "no query",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = []",
                "audience must name",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"\"",
                "audience must name",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nallowed_algorithms = [\"HS256\"]",
                "HMAC",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nallowed_algorithms = [\"none\"]",
                "not a JWS algorithm",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nclock_skew_secs = 3600",
                "at most 600",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nhttp_timeout_secs = 0",
                "http_timeout_secs must be between",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nlogin_claim = \" \"",
                "login_claim is empty",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\n[group_roles]\nsales = []",
                "must map to a role",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nfolder = \"a/../b\"",
                "folder",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\narea = \"partners\"",
                "unknown variant",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nloginclaim = \"x\"",
                "unknown field `loginclaim`",
            ),
            (
                "issuer = \"https://x.example.com\"\naudience = \"a\"\nca_file = \"/nonexistent/ca.pem\"",
                "cannot read ca_file",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
