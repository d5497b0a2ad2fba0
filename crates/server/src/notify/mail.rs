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
use maud::{Markup, html};
use seatkeeper_store::{Claimed, DeliveryOutcome, DigestBatch};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    /// One sentence: what happened.
    pub headline: String,
    /// The numbers, as label and value.
    pub facts: Vec<(String, String)>,
    /// What to do about it.
    pub advice: String,
    /// Extra lines (e.g. the unmet needs).
    pub details: Vec<String>,
    /// The admin UI page that deals with it: (label, path).
    pub link: (String, String),
}

fn s<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("?")
}

fn n(data: &Value, key: &str) -> String {
    match data.get(key) {
        Some(Value::Number(x)) => x.to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => "?".into(),
    }
}

fn list(data: &Value, key: &str) -> String {
    match data.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "?".into(),
    }
}

fn area_name(data: &Value) -> String {
    match s(data, "area") {
        "employee" => "Employee area".into(),
        "portal" => "Portal area".into(),
        other => format!("{other} area"),
    }
}

fn date(data: &Value, key: &str) -> String {
    let raw = s(data, key);
    // "2026-12-31T00:00:00Z" → "2026-12-31 00:00 UTC"
    match (raw.get(..10), raw.get(11..16)) {
        (Some(d), Some(t)) if raw.ends_with('Z') => format!("{d} {t} UTC"),
        _ => raw.to_string(),
    }
}

fn fact(label: &str, value: impl Into<String>) -> (String, String) {
    (label.to_string(), value.into())
}

/// What a mail about an event of `event_type` with `data` says.
pub fn render(event_type: &str, data: &Value, _admin_url: &str) -> Rendered {
    let link = |label: &str, path: &str| (label.to_string(), path.to_string());
    let subject = |text: String| format!("[Seatkeeper] {text}");
    match event_type {
        "limit.reached" | "limit.exceeded" => {
            let area = area_name(data);
            let (active, limit) = (n(data, "active_users"), n(data, "user_limit"));
            let reached = event_type == "limit.reached";
            Rendered {
                subject: subject(if reached {
                    format!("{area} reached its user limit ({active}/{limit})")
                } else {
                    format!("{area} is over its user limit ({active}/{limit})")
                }),
                headline: if reached {
                    format!(
                        "The {area} has {active} active users, its limit of {limit}: \
                         further users cannot be activated and are refused or blocked."
                    )
                } else {
                    format!("The {area} has {active} active users, more than its limit of {limit}.")
                },
                facts: vec![
                    fact("Area", area.clone()),
                    fact("Active users", active),
                    fact("User limit", limit),
                ],
                advice: "Block users who no longer need access, or import a license with a \
                         higher limit."
                    .into(),
                details: vec![],
                link: link("Users", "/ui/users"),
            }
        }
        "seats.threshold" | "seats.exhausted" => {
            let (product, area) = (s(data, "product").to_string(), area_name(data));
            let (used, total, free) = (n(data, "used"), n(data, "total"), n(data, "free"));
            let kind = s(data, "kind").to_string();
            let exhausted = event_type == "seats.exhausted";
            let pct = n(data, "threshold_percent");
            Rendered {
                subject: subject(if exhausted {
                    format!("No {kind} {product} seats left in the {area} ({used}/{total})")
                } else {
                    format!(
                        "{product} {kind} seats in the {area} at {pct}% or more ({used}/{total})"
                    )
                }),
                headline: if exhausted {
                    format!(
                        "All {total} {kind} seats of {product} in the {area} are in use: the \
                         next user who needs one does not get it."
                    )
                } else {
                    format!(
                        "{used} of the {total} {kind} seats of {product} in the {area} are in \
                         use, at or above the alert threshold of {pct}%; {free} free."
                    )
                },
                facts: vec![
                    fact("Product", product),
                    fact("Area", area),
                    fact("Seat kind", kind),
                    fact("Used", used),
                    fact("Total", total),
                    fact("Free", free),
                    fact("Threshold", format!("{pct}%")),
                ],
                advice: "Recall seats from users who do not need them, or buy more seats.".into(),
                details: vec![],
                link: link("Licenses and seats", "/ui/licenses"),
            }
        }
        "license.expiring" => {
            let (license, days) = (s(data, "license_id"), n(data, "days_ahead"));
            let when = date(data, "expires_at");
            Rendered {
                subject: subject(format!(
                    "License {license} expires in {days} {} ({when})",
                    if days == "1" { "day" } else { "days" }
                )),
                headline: format!(
                    "License {license} of {} ends on {when}; its seats for {} end with it.",
                    s(data, "customer"),
                    list(data, "products")
                ),
                facts: vec![
                    fact("License", license),
                    fact("Customer", s(data, "customer")),
                    fact("Products", list(data, "products")),
                    fact("Expires", when),
                    fact("Notice", format!("{days} days ahead")),
                ],
                advice: "Request and import a renewed license before then.".into(),
                details: vec![],
                link: link("Licenses", "/ui/licenses"),
            }
        }
        "license.expired" => {
            let license = s(data, "license_id");
            let when = date(data, "expired_at");
            Rendered {
                subject: subject(format!("License {license} has expired ({when})")),
                headline: format!(
                    "License {license} of {} ended on {when}; its seats for {} are gone.",
                    s(data, "customer"),
                    list(data, "products")
                ),
                facts: vec![
                    fact("License", license),
                    fact("Customer", s(data, "customer")),
                    fact("Products", list(data, "products")),
                    fact("Expired", when),
                ],
                advice: "Import a renewed license to restore the seats.".into(),
                details: vec![],
                link: link("Licenses", "/ui/licenses"),
            }
        }
        "license.imported" => {
            let license = s(data, "license_id");
            Rendered {
                subject: subject(format!("License {license} imported")),
                headline: format!(
                    "License {license} of {} was imported: products {}.",
                    s(data, "customer"),
                    list(data, "products")
                ),
                facts: vec![
                    fact("License", license),
                    fact("Customer", s(data, "customer")),
                    fact("Products", list(data, "products")),
                    fact("Packages", n(data, "packages")),
                    fact("Seats suspended", n(data, "seats_suspended")),
                    fact("Seats restored", n(data, "seats_restored")),
                ],
                advice: "Nothing to do unless seats were suspended.".into(),
                details: vec![],
                link: link("Licenses", "/ui/licenses"),
            }
        }
        "redistribution.completed" | "needs.unmet" => {
            let run = n(data, "redistribution");
            let unmet = n(data, "unmet");
            let completed = event_type == "redistribution.completed";
            let details = data
                .get("unmet_needs")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            let reason = i.get("detail").and_then(Value::as_str);
                            format!(
                                "{} needs {}{}",
                                s(i, "login"),
                                s(i, "product"),
                                reason.map(|r| format!(" ({r})")).unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut facts = vec![
                fact("Run", format!("#{run}")),
                fact("Scope", s(data, "scope")),
            ];
            if completed {
                facts.push(fact("Users", n(data, "users")));
                facts.push(fact("Seats granted", n(data, "granted")));
                facts.push(fact("Seats recalled", n(data, "recalled")));
            }
            facts.push(fact("Unmet needs", unmet.clone()));
            Rendered {
                subject: subject(if completed {
                    format!(
                        "Redistribution #{run} done: {} granted, {} recalled, {unmet} unmet",
                        n(data, "granted"),
                        n(data, "recalled")
                    )
                } else {
                    format!(
                        "{unmet} seat {} unmet after redistribution #{run}",
                        if unmet == "1" { "need" } else { "needs" }
                    )
                }),
                headline: if completed {
                    format!(
                        "Redistribution #{run} ({}) granted {} seats and recalled {}; {unmet} \
                         needs could not be met.",
                        s(data, "scope"),
                        n(data, "granted"),
                        n(data, "recalled")
                    )
                } else {
                    format!(
                        "After redistribution #{run} ({}), {unmet} {} for a seat could not \
                         be met: there are not enough seats.",
                        s(data, "scope"),
                        if unmet == "1" {
                            "user's need"
                        } else {
                            "users' needs"
                        }
                    )
                },
                facts,
                advice: if completed {
                    "Nothing to do unless needs are unmet.".into()
                } else {
                    "Free seats (recall them from users who do not need them) or buy more; \
                     the needs are met as soon as seats are free."
                        .into()
                },
                details,
                link: link("Roles and redistribution", "/ui/roles"),
            }
        }
        "user.blocked" | "user.activated" => {
            let login = s(data, "login");
            let blocked = event_type == "user.blocked";
            let reason = if blocked {
                s(data, "reason")
            } else {
                s(data, "previous_reason")
            };
            Rendered {
                subject: subject(if blocked {
                    format!("User {login} blocked ({reason})")
                } else {
                    format!("User {login} activated")
                }),
                headline: if blocked {
                    format!("User {login} ({}) was blocked: {reason}.", area_name(data))
                } else {
                    format!("User {login} ({}) was activated.", area_name(data))
                },
                facts: vec![
                    fact("User", login),
                    fact("Area", area_name(data)),
                    fact(if blocked { "Reason" } else { "Was blocked for" }, reason),
                ],
                advice: String::new(),
                details: vec![],
                link: link(
                    "The user",
                    &format!(
                        "/ui/users/{}",
                        form_urlencoded::byte_serialize(login.as_bytes()).collect::<String>()
                    ),
                ),
            }
        }
        "directory.sync.completed" => Rendered {
            subject: subject(format!("Directory sync #{} completed", n(data, "run"))),
            headline: format!("Directory sync #{} completed.", n(data, "run")),
            facts: data
                .get("counts")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| v.is_number())
                        .map(|(k, v)| fact(&k.replace('_', " "), v.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            advice: String::new(),
            details: vec![],
            link: link("Directory", "/ui/directory"),
        },
        "directory.sync.failed" => Rendered {
            subject: subject(format!("Directory sync #{} failed", n(data, "run"))),
            headline: format!(
                "Directory sync #{} failed: {}",
                n(data, "run"),
                s(data, "error")
            ),
            facts: vec![fact("Error", s(data, "error"))],
            advice: "Check the directory settings and that the directory server answers.".into(),
            details: vec![],
            link: link("Directory", "/ui/directory"),
        },
        "test" => Rendered {
            subject: subject("Test mail: mail delivery works".into()),
            headline: "This is a test mail from Seatkeeper: mail to the responsible address \
                       is delivered."
                .into(),
            facts: vec![fact("Requested by", s(data, "requested_by"))],
            advice: String::new(),
            details: vec![],
            link: link("Notification settings", "/ui/settings"),
        },
        other => Rendered {
            subject: subject(format!("Event {other}")),
            headline: format!("Seatkeeper reported the event {other}."),
            facts: data
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| v.is_number() || v.is_string())
                        .map(|(k, v)| {
                            fact(k, v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            advice: String::new(),
            details: vec![],
            link: link("Overview", "/ui/"),
        },
    }
}

fn url(admin_url: &str, path: &str) -> String {
    format!("{admin_url}{path}")
}

fn plain_section(out: &mut String, r: &Rendered, admin_url: &str) {
    out.push_str(&r.headline);
    out.push_str("\n\n");
    let width = r.facts.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in &r.facts {
        out.push_str(&format!("  {label:<width$}  {value}\n"));
    }
    if !r.details.is_empty() {
        out.push('\n');
        for d in &r.details {
            out.push_str(&format!("  - {d}\n"));
        }
    }
    if !r.advice.is_empty() {
        out.push('\n');
        out.push_str(&r.advice);
        out.push('\n');
    }
    out.push_str(&format!("\n{}: {}\n", r.link.0, url(admin_url, &r.link.1)));
}

const FOOTER: &str = "You get this mail because this address is the responsible address in \
                      Seatkeeper's settings; the notification settings choose what is mailed.";

pub fn plain_body(r: &Rendered, admin_url: &str) -> String {
    let mut out = String::new();
    plain_section(&mut out, r, admin_url);
    out.push_str(&format!(
        "\n-- \n{FOOTER}\n{}\n",
        url(admin_url, "/ui/settings")
    ));
    out
}

fn html_section(r: &Rendered, admin_url: &str) -> Markup {
    html! {
        p { (r.headline) }
        table style="border-collapse:collapse" {
            @for (label, value) in &r.facts {
                tr {
                    th style="text-align:left;padding:2px 12px 2px 0;font-weight:600" { (label) }
                    td style="padding:2px 0" { (value) }
                }
            }
        }
        @if !r.details.is_empty() {
            ul { @for d in &r.details { li { (d) } } }
        }
        @if !r.advice.is_empty() { p { (r.advice) } }
        p { a href=(url(admin_url, &r.link.1)) { (r.link.0) } }
    }
}

fn html_page(title: &str, body: Markup, admin_url: &str) -> Markup {
    html! {
        (maud::DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (title) } }
            body style="font-family:sans-serif;font-size:14px;color:#222" {
                (body)
                hr;
                p style="color:#666;font-size:12px" {
                    (FOOTER) " "
                    a href=(url(admin_url, "/ui/settings")) { "Notification settings" }
                }
            }
        }
    }
}

pub fn html_body(r: &Rendered, admin_url: &str) -> Markup {
    html_page(&r.subject, html_section(r, admin_url), admin_url)
}

fn digest_plain(items: &[(i64, Rendered)], admin_url: &str) -> String {
    let mut out = format!(
        "Seatkeeper's daily digest: {} events since the last digest.\n",
        items.len()
    );
    for (i, (_, r)) in items.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {}\n\n",
            i + 1,
            r.subject.trim_start_matches("[Seatkeeper] ")
        ));
        plain_section(&mut out, r, admin_url);
    }
    out.push_str(&format!(
        "\n-- \n{FOOTER}\n{}\n",
        url(admin_url, "/ui/settings")
    ));
    out
}

fn digest_html(items: &[(i64, Rendered)], admin_url: &str) -> Markup {
    let body = html! {
        p { "Seatkeeper's daily digest: " (items.len()) " events since the last digest." }
        @for (_, r) in items {
            h3 { (r.subject.trim_start_matches("[Seatkeeper] ")) }
            (html_section(r, admin_url))
        }
    };
    html_page("Seatkeeper daily digest", body, admin_url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn n1_limit_mail_names_the_numbers_and_links_the_page_escaped() {
        let r = render(
            "limit.reached",
            &json!({"area": "employee", "active_users": 50, "user_limit": 50}),
            "",
        );
        assert_eq!(
            r.subject,
            "[Seatkeeper] Employee area reached its user limit (50/50)"
        );
        let plain = plain_body(&r, "https://seats.example.com");
        assert!(plain.contains("https://seats.example.com/ui/users"));
        let evil = render(
            "license.imported",
            &json!({"license_id": "<script>x</script>", "customer": "A&B", "products": []}),
            "",
        );
        let html = html_body(&evil, "https://h").into_string();
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
