//! Webhook deliveries (I4): the URL policy, the signature, the request.
//!
//! A receiver verifies `Seatkeeper-Signature: t=<unix seconds>,v1=<hex>` where `v1` is
//! HMAC-SHA256 with the webhook's secret over `"<t>.<body>"` (docs/NOTIFICATIONS.md has the
//! snippet). `Seatkeeper-Delivery` stays the same across retries and redeliveries, so a
//! receiver can drop a duplicate.
//!
//! Only `http(s)` URLs. Unless `[notifications] allow_private_targets` is set, a URL whose
//! host is, or resolves to, a loopback, private, link-local, shared or otherwise internal
//! address is refused — when it is saved, and again when each request connects (through this
//! client's resolver, so a name that changes its address later is still caught). No proxy
//! from the environment and no redirects: the request goes where the policy looked.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use seatkeeper_store::{Claimed, DeliveryOutcome};
use sha2::Sha256;

/// Longest receiver answer kept in the delivery log.
const ANSWER_CHARS: usize = 300;

/// Whether `ip` is an address a webhook may not reach without `allow_private_targets`.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10 (carrier-grade NAT), 0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15, 240/4
                || (a == 100 && (64..128).contains(&b))
                || a == 0
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// Checks a webhook URL before it is saved: `http(s)`, a host, no credentials in it, and
/// (unless allowed) not an internal address; a name is resolved to see where it points.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        format!(
            "url: {} is not a URL ({e})",
            seatkeeper_core::error::quoted(url)
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "url: only http and https URLs can receive webhooks, not {}:",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "url: credentials in the URL are not accepted; the receiver checks the signature"
                .into(),
        );
    }
    let Some(host) = parsed.host() else {
        return Err("url: the URL names no host".into());
    };
    if allow_private {
        return Ok(());
    }
    let refused = |ip: IpAddr| {
        format!(
            "url: {ip} is an internal address (loopback, private, link-local…); webhooks may \
             only call public addresses unless the server's configuration allows internal \
             ones ([notifications] allow_private_targets = true)"
        )
    };
    match host {
        url::Host::Ipv4(ip) => check_ip(IpAddr::V4(ip)).map_err(|_| refused(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => check_ip(IpAddr::V6(ip)).map_err(|_| refused(IpAddr::V6(ip))),
        url::Host::Domain(name) => {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addrs = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| format!("url: the host {name} cannot be resolved ({e})"))?;
            for a in addrs {
                check_ip(a.ip()).map_err(|_| refused(a.ip()))?;
            }
            Ok(())
        }
    }
}

fn check_ip(ip: IpAddr) -> Result<(), ()> {
    if internal(ip) { Err(()) } else { Ok(()) }
}

/// The client's resolver: the system's, with internal addresses removed unless allowed.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !internal(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} resolves only to internal addresses, which webhooks may not call"
                )
                .into());
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client that sends webhooks.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(timeout: std::time::Duration, allow_private: bool) -> Result<Sender, String> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Seatkeeper-Webhook/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Sender {
            client: b.build().map_err(|e| format!("webhook client: {e}"))?,
            allow_private,
        })
    }

    /// Sends one delivery and says how it went (2xx = delivered).
    pub async fn deliver(&self, c: &Claimed, now: time::OffsetDateTime) -> DeliveryOutcome {
        let started = Instant::now();
        let fail = |error: String| DeliveryOutcome {
            delivered: false,
            status: None,
            error: Some(error),
            duration: started.elapsed(),
        };
        let (Some(url), Some(secret)) = (&c.url, &c.secret) else {
            return fail("the webhook was removed".into());
        };
        // An address typed as a literal never meets the resolver: checked here.
        if !self.allow_private
            && let Ok(u) = reqwest::Url::parse(url)
            && let Some(ip) = match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            }
            && internal(ip)
        {
            return fail(format!(
                "{ip} is an internal address; webhooks may not call it (allow_private_targets)"
            ));
        }
        let body = envelope(c);
        let t = now.unix_timestamp();
        let answer = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Seatkeeper-Delivery", c.id.to_string())
            .header("Seatkeeper-Event", c.event.event_type.clone())
            .header("Seatkeeper-Signature", signature(secret, t, &body))
            .body(body)
            .send()
            .await;
        match answer {
            Err(e) => fail(error_chain(&e)),
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                DeliveryOutcome {
                    delivered: status.is_success(),
                    status: Some(i64::from(status.as_u16())),
                    error: (!status.is_success()).then(|| {
                        let t: String = text.chars().take(ANSWER_CHARS).collect();
                        format!("the receiver answered {status}: {t}")
                    }),
                    duration: started.elapsed(),
                }
            }
        }
    }
}

/// What a receiver gets: the same bytes on every attempt.
pub fn envelope(c: &Claimed) -> String {
    serde_json::json!({
        "id": c.event.id,
        "delivery": c.id,
        "type": c.event.event_type,
        "occurred_at": c.event.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "data": c.event.data,
    })
    .to_string()
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// An error with its causes ("error sending request: connection refused"), as the delivery
/// log shows it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i4_internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn i4_signature_is_hmac_sha256_over_timestamp_and_body() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[tokio::test]
    async fn i4_only_public_http_urls_are_accepted() {
        assert!(check_url("ftp://example.com/x", false).await.is_err());
        assert!(
            check_url("https://user:pw@example.com/x", false)
                .await
                .is_err()
        );
        assert!(
            check_url("http://127.0.0.1:9000/hook", false)
                .await
                .is_err()
        );
        assert!(check_url("http://[::1]/hook", false).await.is_err());
        assert!(check_url("http://10.0.0.5/hook", false).await.is_err());
        assert!(
            check_url("http://localhost:9000/hook", false)
                .await
                .is_err()
        );
        assert!(check_url("http://127.0.0.1:9000/hook", true).await.is_ok());
        assert!(check_url("not a url", true).await.is_err());
    }
}
