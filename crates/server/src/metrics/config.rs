//! The `[metrics]` section of `serve`'s config file: a leaf, so that the server's
//! configuration can name it without depending on the metrics themselves.

use std::net::SocketAddr;

use serde::Deserialize;

/// The `[metrics]` section of the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// On or off; by default on exactly when `token` or `listen` is given.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Bearer token `GET /metrics` needs (on the main listener, and on `listen` too when set).
    #[serde(default)]
    pub token: Option<String>,
    /// A separate address serving only `/metrics` (e.g. `127.0.0.1:9464`).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// The shortest token accepted (a guessable one would defeat the point).
pub const MIN_TOKEN_CHARS: usize = 16;

/// Checked `[metrics]`: `None` when metrics are off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub token: Option<String>,
    pub listen: Option<SocketAddr>,
}

impl MetricsConfig {
    pub fn check(self) -> Result<Option<MetricsSettings>, String> {
        let token = self.token.map(|t| t.trim().to_string());
        let enabled = self
            .enabled
            .unwrap_or(token.is_some() || self.listen.is_some());
        if !enabled {
            return Ok(None);
        }
        if let Some(t) = &token
            && t.chars().count() < MIN_TOKEN_CHARS
        {
            return Err(format!(
                "[metrics] token must be at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        if token.is_none() && self.listen.is_none() {
            return Err(
                "[metrics] enabled = true needs a `token` (for /metrics on the main listener) \
                 or a `listen` address (a separate one serving only /metrics)"
                    .into(),
            );
        }
        Ok(Some(MetricsSettings {
            token,
            listen: self.listen,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn x17_metrics_are_off_unless_a_token_or_an_address_is_given() {
        assert_eq!(MetricsConfig::default().check().unwrap(), None);
        let on = MetricsConfig {
            enabled: Some(true),
            ..MetricsConfig::default()
        };
        assert!(on.check().unwrap_err().contains("needs a `token`"));
        let short = MetricsConfig {
            token: Some("short".into()),
            ..MetricsConfig::default()
        };
        assert!(short.check().unwrap_err().contains("at least 16"));
        let token = MetricsConfig {
            token: Some("a-long-enough-metrics-token".into()),
            ..MetricsConfig::default()
        };
        assert!(token.clone().check().unwrap().is_some());
        let off = MetricsConfig {
            enabled: Some(false),
            ..token
        };
        assert_eq!(off.check().unwrap(), None);
    }
}
