//! What a mail says: the subject, a sentence, the numbers, advice and the admin UI's page for
//! each event type, as plain text and as HTML (escaped by maud).

use maud::{Markup, html};
use serde_json::Value;

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

pub(super) fn digest_plain(items: &[(i64, Rendered)], admin_url: &str) -> String {
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

pub(super) fn digest_html(items: &[(i64, Rendered)], admin_url: &str) -> Markup {
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
