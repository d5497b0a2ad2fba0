//! Where a request comes from: the client's address and user agent, for the sign-in limits
//! and for the "from where" of every audit record. Built here and only here: the admin API's
//! [`crate::extract::Caller`] and the admin UI's session both take their `Actor` from it.
//!
//! The address is the TCP peer. Only when that peer is one of the configured
//! `trusted_proxies` is `X-Forwarded-For` read, from its right end (the entry the trusted
//! proxy added), skipping further trusted proxies: a client cannot choose its own address by
//! sending the header itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use seatkeeper_store::Actor;

use crate::AppState;
use crate::error::ApiError;

/// Longest user agent kept in an audit record.
const USER_AGENT_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// `None` only when the server runs without a TCP peer (in-process tests).
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Client {
    /// The client of a request whose parts are `extensions` and `headers`.
    pub fn of(
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
        trusted_proxies: &[IpAddr],
    ) -> Client {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let address = match peer {
            Some(p) if trusted_proxies.contains(&p) => {
                forwarded_for(headers, trusted_proxies).or(Some(p))
            }
            other => other,
        };
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty());
        Client {
            address,
            user_agent,
        }
    }

    /// The audit's actor: `name` acting through `channel` (`api:admin`, `ui`, …) from here.
    pub fn actor(&self, name: impl Into<String>, channel: impl Into<String>) -> Actor {
        Actor::new(name, channel)
            .from_client(self.address.map(|a| a.to_string()), self.user_agent.clone())
    }
}

/// The right-most address of `X-Forwarded-For` that is not a trusted proxy (every header
/// line, in order); `None` when there is none or one does not parse.
fn forwarded_for(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for e in entries.into_iter().rev() {
        let ip: IpAddr = e.parse().ok()?;
        if !trusted.contains(&ip) {
            return Some(ip);
        }
    }
    None
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Client::of(
            &parts.extensions,
            &parts.headers,
            &state.settings.trusted_proxies,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(peer: &str, xff: &[&str], trusted: &[&str]) -> Option<IpAddr> {
        let mut ext = axum::http::Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        Client::of(&ext, &h, &trusted).address
    }

    #[test]
    fn x13_forwarded_for_is_read_only_from_a_trusted_proxy() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // No trusted proxy: the header is the client's own claim and is ignored.
        assert_eq!(client("203.0.113.9", &["10.9.9.9"], &[]), ip("203.0.113.9"));
        // Through a trusted proxy: the entry it added (the right-most), past other proxies.
        assert_eq!(
            client(
                "10.0.0.1",
                &["1.1.1.1, 198.51.100.7", "10.0.0.2"],
                &["10.0.0.1", "10.0.0.2"]
            ),
            ip("198.51.100.7")
        );
        // A trusted proxy that sent no header (or garbage): the proxy itself.
        assert_eq!(client("10.0.0.1", &[], &["10.0.0.1"]), ip("10.0.0.1"));
        assert_eq!(
            client("10.0.0.1", &["not-an-ip"], &["10.0.0.1"]),
            ip("10.0.0.1")
        );
    }
}
