//! Mail to the responsible person (N1): the `[mail]` section of the config file, and the
//! [`Mailer`] that turns an outbox delivery (or a day's digest) into one SMTP message with a
//! plain-text and an HTML body, sent with `lettre` over STARTTLS, implicit TLS, or plain
//! SMTP to a loopback relay.
//!
//! A leaf: the dispatcher claims the deliveries and records the outcomes; this only builds
//! and sends. Credentials never appear in logs or in `Debug` output.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use lettre::message::header::{self, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use seatkeeper_store::{Claimed, DeliveryOutcome, DigestBatch};
use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465 by default).
    Tls,
    /// No encryption at all: only to a relay on this machine (port 25 by default).
    None,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Starttls => "starttls",
            TlsMode::Tls => "tls",
            TlsMode::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        }
    }
}

/// The `[mail]` section of the config file.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server (relay or submission server).
    pub host: String,
    /// Default: 587 (starttls), 465 (tls), 25 (none).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    /// SMTP AUTH user name (none: no authentication).
    #[serde(default)]
    pub username: Option<String>,
    /// The password, in the file. Prefer `password_env`.
    #[serde(default)]
    password: Option<String>,
    /// The name of the environment variable that holds the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The sender, `seats@example.com` or `Seatkeeper <seats@example.com>`.
    pub from: String,
    /// The admin UI's public address (`https://seats.example.com`): the links in the mails.
    #[serde(default)]
    pub admin_url: Option<String>,
    /// How long one SMTP conversation may take (default 30 s).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// With the daily digest on: the hour (0–23, UTC) after which the day's digest is sent
    /// (default 7).
    #[serde(default)]
    pub digest_hour: Option<u8>,
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port())
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("from", &self.from)
            .field("admin_url", &self.admin_url)
            .finish()
    }
}

/// Where mail goes, as the admin API and UI show it (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailState {
    pub configured: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub from: Option<String>,
    pub authenticated: bool,
    pub admin_url: Option<String>,
}

impl MailState {
    pub fn unconfigured() -> MailState {
        MailState {
            configured: false,
            host: None,
            port: None,
            tls: None,
            from: None,
            authenticated: false,
            admin_url: None,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl MailConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.tls.default_port())
    }

    /// Checks the section and reads the password from the environment when it is named
    /// there; the answer is ready for [`Mailer::new`]. Errors name the field and the fix.
    pub fn resolve(mut self) -> Result<MailConfig, String> {
        self.host = self.host.trim().to_string();
        let bad_colon = self.host.contains(':')
            && self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::Ipv6Addr>()
                .is_err();
        if self.host.is_empty() || self.host.contains(['/', ' ']) || bad_colon {
            return Err(format!(
                "[mail] host {:?} is not a host name or address (no scheme, no port: use `port`)",
                self.host
            ));
        }
        if self.port == Some(0) {
            return Err("[mail] port must be between 1 and 65535".into());
        }
        if self.tls == TlsMode::None && !is_loopback(&self.host) {
            return Err(format!(
                "[mail] tls = \"none\" sends mail and credentials unencrypted, so it is only \
                 allowed to a relay on this machine (localhost, 127.0.0.1, ::1), not to {:?}; \
                 use tls = \"starttls\" (port 587) or tls = \"tls\" (port 465)",
                self.host
            ));
        }
        if let Some(var) = &self.password_env {
            if self.password.is_some() {
                return Err(
                    "[mail] give either password or password_env, not both (password_env, the \
                     name of an environment variable, keeps the secret out of the file)"
                        .into(),
                );
            }
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => self.password = Some(v),
                _ => {
                    return Err(format!(
                        "[mail] password_env names the environment variable {var:?}, which is \
                         not set (or empty)"
                    ));
                }
            }
        }
        match (&self.username, &self.password) {
            (Some(u), _) if u.trim().is_empty() => {
                return Err("[mail] username is empty: remove it for no authentication".into());
            }
            (Some(_), None) => {
                return Err(
                    "[mail] username is set but no password: add password_env (or password)".into(),
                );
            }
            (None, Some(_)) => {
                return Err("[mail] a password is set but no username".into());
            }
            _ => {}
        }
        self.from
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| format!("[mail] from {:?} is not a mail address: {e}", self.from))?;
        if let Some(u) = &self.admin_url {
            let u = u.trim().trim_end_matches('/');
            if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() < 9 {
                return Err(format!(
                    "[mail] admin_url {u:?} must be the admin UI's http(s) address, e.g. \
                     \"https://seats.example.com\""
                ));
            }
            self.admin_url = Some(u.to_string());
        }
        if self.digest_hour.is_some_and(|h| h > 23) {
            return Err("[mail] digest_hour must be an hour from 0 to 23 (UTC)".into());
        }
        if self.timeout_secs == Some(0) {
            return Err("[mail] timeout_secs must be at least 1".into());
        }
        Ok(self)
    }

    pub fn state(&self) -> MailState {
        MailState {
            configured: true,
            host: Some(self.host.clone()),
            port: Some(self.port()),
            tls: Some(self.tls),
            from: Some(self.from.trim().to_string()),
            authenticated: self.username.is_some(),
            admin_url: self.admin_url.clone(),
        }
    }
}

/// Sends the outbox's mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The admin UI's base, without a trailing slash ("" when not configured: links are
    /// then relative paths, shown as such).
    admin_url: String,
    /// The right-hand side of Message-IDs.
    domain: String,
    digest_hour: u8,
    state: MailState,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("state", &self.state)
            .finish()
    }
}

/// A header of our own (`X-Seatkeeper-…`).
macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Debug, Clone)]
        struct $ty(String);
        impl header::Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}
text_header!(EventIdHeader, "X-Seatkeeper-Event-Id");
text_header!(EventTypeHeader, "X-Seatkeeper-Event-Type");
text_header!(DeliveryIdHeader, "X-Seatkeeper-Delivery-Id");

impl Mailer {
    /// A mailer for a [`MailConfig::resolve`]d section.
    pub fn new(config: &MailConfig) -> Result<Mailer, String> {
        let builder = match config.tls {
            TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host),
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host),
            TlsMode::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                config.host.clone(),
            )),
        }
        .map_err(|e| format!("[mail] {}: {e}", config.host))?;
        let mut builder = builder
            .port(config.port())
            .timeout(Some(Duration::from_secs(config.timeout_secs.unwrap_or(30))));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from: Mailbox = config
            .from
            .trim()
            .parse()
            .map_err(|e| format!("[mail] from {:?}: {e}", config.from))?;
        let domain = from.email.domain().to_string();
        Ok(Mailer {
            transport: builder.build(),
            from,
            admin_url: config.admin_url.clone().unwrap_or_default(),
            domain,
            digest_hour: config.digest_hour.unwrap_or(7),
            state: config.state(),
        })
    }

    pub fn state(&self) -> &MailState {
        &self.state
    }

    /// The hour (UTC) after which the daily digest is sent.
    pub fn digest_hour(&self) -> u8 {
        self.digest_hour
    }

    /// Sends one delivery's mail. The outcome carries the SMTP reply code when the server
    /// answered, the error otherwise.
    pub async fn deliver(&self, delivery: &Claimed) -> DeliveryOutcome {
        let started = Instant::now();
        let rendered = render(
            &delivery.event.event_type,
            &delivery.event.data,
            &self.admin_url,
        );
        let message = self.message(
            delivery.recipient.as_deref(),
            &rendered.subject,
            plain_body(&rendered, &self.admin_url),
            html_body(&rendered, &self.admin_url).into_string(),
            &format!(
                "seatkeeper.event-{}.delivery-{}",
                delivery.event.id, delivery.id
            ),
            |b| {
                b.header(EventIdHeader(delivery.event.id.to_string()))
                    .header(EventTypeHeader(delivery.event.event_type.clone()))
                    .header(DeliveryIdHeader(delivery.id.to_string()))
            },
        );
        self.send(message, started).await
    }

    /// Sends a day's digest: one mail with every event of the batch.
    pub async fn deliver_digest(&self, batch: &DigestBatch) -> DeliveryOutcome {
        let started = Instant::now();
        let items: Vec<(i64, Rendered)> = batch
            .deliveries
            .iter()
            .map(|d| {
                (
                    d.event.id,
                    render(&d.event.event_type, &d.event.data, &self.admin_url),
                )
            })
            .collect();
        let n = items.len();
        let subject = format!(
            "[Seatkeeper] Daily digest: {n} {}",
            if n == 1 { "event" } else { "events" }
        );
        let first = batch.deliveries.first().map(|d| d.id).unwrap_or_default();
        let last = batch.deliveries.last().map(|d| d.id).unwrap_or_default();
        let ids = batch
            .deliveries
            .iter()
            .map(|d| d.event.id.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let message = self.message(
            Some(&batch.recipient),
            &subject,
            digest_plain(&items, &self.admin_url),
            digest_html(&items, &self.admin_url).into_string(),
            &format!("seatkeeper.digest-{first}-{last}"),
            |b| {
                b.header(EventIdHeader(ids.clone()))
                    .header(EventTypeHeader("digest".into()))
            },
        );
        self.send(message, started).await
    }

    fn message(
        &self,
        to: Option<&str>,
        subject: &str,
        plain: String,
        html: String,
        id: &str,
        extra: impl FnOnce(lettre::message::MessageBuilder) -> lettre::message::MessageBuilder,
    ) -> Result<Message, String> {
        let to = to.ok_or("the delivery has no recipient")?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("recipient {to:?} is not a mail address: {e}"))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .header(header::MIME_VERSION_1_0);
        extra(builder)
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|e| format!("cannot build the mail: {e}"))
    }

    async fn send(&self, message: Result<Message, String>, started: Instant) -> DeliveryOutcome {
        let outcome = |delivered, status: Option<u16>, error| DeliveryOutcome {
            delivered,
            status: status.map(i64::from),
            error,
            duration: started.elapsed(),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => return outcome(false, None, Some(e)),
        };
        match self.transport.send(message).await {
            Ok(response) => outcome(true, Some(u16::from(response.code())), None),
            Err(e) => {
                let status = e.status().map(u16::from);
                outcome(false, status, Some(smtp_error(&e, &self.state)))
            }
        }
    }
}

/// The error of a failed send, with its causes (lettre's top level alone says little).
fn smtp_error(e: &lettre::transport::smtp::Error, state: &MailState) -> String {
    let mut text = format!(
        "SMTP {}:{}: {e}",
        state.host.as_deref().unwrap_or_default(),
        state.port.unwrap_or_default()
    );
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// What a mail says about one event.
mod render;
pub use render::{Rendered, html_body, plain_body, render};
use render::{digest_html, digest_plain};

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<MailConfig, String> {
        #[derive(Deserialize)]
        struct File {
            mail: MailConfig,
        }
        toml::from_str::<File>(text)
            .map_err(|e| e.to_string())?
            .mail
            .resolve()
    }

    #[test]
    fn n1_plain_smtp_only_to_loopback() {
        let ok = section(
            "[mail]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"s@example.com\"",
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert!(
            section("[mail]\nhost = \"localhost\"\ntls = \"none\"\nfrom = \"s@example.com\"")
                .is_ok()
        );
        let err = section(
            "[mail]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"s@example.com\"",
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.contains("only allowed to a relay on this machine"),
            "{err}"
        );
    }

    #[test]
    fn n1_mail_section_errors_name_the_field() {
        let e = |t: &str| section(t).err().unwrap_or_default();
        assert!(e("[mail]\nhost = \"h\"\nfrom = \"nope\"").contains("from"));
        assert!(e("[mail]\nhost = \"h\"\nfrom = \"a@b.c\"\nsmtp = 1").contains("unknown field"));
        assert!(
            e("[mail]\nhost = \"h\"\nfrom = \"a@b.c\"\nusername = \"u\"").contains("no password")
        );
        assert!(e("[mail]\nhost = \"h\"\nfrom = \"a@b.c\"\nusername = \"u\"\npassword_env = \"SK_TEST_SURELY_UNSET\"")
            .contains("SK_TEST_SURELY_UNSET"));
        assert!(
            e("[mail]\nhost = \"h\"\nfrom = \"a@b.c\"\nadmin_url = \"seats\"")
                .contains("admin_url")
        );
        assert!(
            e("[mail]\nhost = \"h\"\nfrom = \"a@b.c\"\ntls = \"ssl\"").contains("unknown variant")
        );
    }

    #[test]
    fn n1_the_password_never_shows_in_debug_output() {
        let c = section(
            "[mail]\nhost = \"smtp.example.com\"\nfrom = \"a@b.c\"\nusername = \"u\"\npassword = \"hunter2-secret\"",
        );
        let c = c.unwrap_or_default();
        assert!(!format!("{c:?}").contains("hunter2"));
        let m = Mailer::new(&c);
        assert!(!format!("{m:?}").contains("hunter2"));
        assert!(
            !serde_json::to_string(&c.state())
                .unwrap_or_default()
                .contains("hunter2")
        );
    }
}
