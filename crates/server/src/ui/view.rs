//! The page frame and small rendering helpers shared by every page.

use maud::{DOCTYPE, Markup, html};
use seatkeeper_core::Permission;
use time::OffsetDateTime;

use super::Ui;

/// The main navigation: (path, label, id). The active entry is marked for screen readers.
const NAV: &[(&str, &str, &str)] = &[
    ("/ui/", "Overview", "nav-overview"),
    ("/ui/licenses", "Licenses", "nav-licenses"),
    ("/ui/users", "Users", "nav-users"),
    ("/ui/roles", "Roles", "nav-roles"),
    ("/ui/folders", "Folders", "nav-folders"),
    ("/ui/directory", "Directory", "nav-directory"),
    ("/ui/webhooks", "Webhooks", "nav-webhooks"),
    ("/ui/audit", "Audit log", "nav-audit"),
    ("/ui/settings", "Settings", "nav-settings"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Seatkeeper" }
            link rel="stylesheet" href="/ui/assets/app.css";
            script src="/ui/assets/app.js" defer {}
        }
    }
}

/// A page without the signed-in frame (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { (body) }
        }
    }
}

/// A signed-in page: header with navigation, unread badge and sign-out, the one-time notice,
/// then the content.
pub fn page(ui: &Ui, active: &str, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "Seatkeeper" }
                    nav #main-nav aria-label="Main" {
                        ul {
                            @for (href, label, id) in NAV {
                                li {
                                    @if *href == active {
                                        a id=(id) href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a id=(id) href=(href) { (label) }
                                    }
                                }
                            }
                            li {
                                a #nav-messages href="/ui/messages" aria-current=[(active == "/ui/messages").then_some("page")] {
                                    "Messages"
                                    @if ui.unread > 0 {
                                        " "
                                        span #unread-badge .badge aria-label=(format!("{} unread", ui.unread)) { (ui.unread) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (ui.principal.login) }
                        form #signout method="post" action="/ui/logout" {
                            (ui.csrf_field())
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #content {
                    h1 { (title) }
                    @if let Some(f) = &ui.flash {
                        @if f.ok {
                            p.flash role="status" { (f.text) }
                        } @else {
                            p.error role="alert" { (f.text) }
                        }
                    }
                    (content)
                }
            }
        }
    }
}

pub fn date(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

pub fn datetime(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]"
    ))
    .unwrap_or_default()
}

/// 12345 → "12,345": large counts are read at a glance.
pub fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A disabled-looking note instead of a form the administrator may not use.
pub fn needs(ui: &Ui, p: Permission) -> Option<Markup> {
    (!ui.may(p)).then(|| {
        html! { p.muted { "Changing this needs the permission " code { (p) } "." } }
    })
}

/// A usage bar: used of total, with the numbers written out for screen readers.
pub fn meter(used: u64, total: u64) -> Markup {
    let pct = used
        .saturating_mul(100)
        .checked_div(total)
        .unwrap_or(if used > 0 { 100 } else { 0 })
        .min(100);
    let class = if total > 0 && used >= total {
        "meter full"
    } else if pct >= 85 {
        "meter high"
    } else {
        "meter"
    };
    // The width is an SVG attribute, not a style: the page's CSP forbids inline styles.
    html! {
        svg class=(class) viewBox="0 0 100 8" preserveAspectRatio="none" role="img"
            aria-label=(format!("{used} of {total} used")) {
            rect.track x="0" y="0" width="100" height="8" {}
            rect.fill x="0" y="0" width=(pct) height="8" {}
        }
    }
}

/// A `<select>` with an empty "any" choice, for filters.
pub fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    current: Option<&str>,
) -> Markup {
    html! {
        label {
            span { (label) }
            select name=(name) {
                option value="" { "Any" }
                @for (value, text) in options {
                    option value=(value) selected[current == Some(value.as_str())] { (text) }
                }
            }
        }
    }
}

/// Where a user or role came from, in words: `local` (by hand, CSV, the admin API),
/// `directory` (the LDAP sync), `scim` or `sso` (an identity provider).
pub fn source_name(source: &str) -> &'static str {
    match source {
        "directory" => "directory sync",
        "scim" => "SCIM provisioning",
        "sso" => "single sign-on",
        _ => "created here",
    }
}

/// A tag beside a login or role name that did not come from here (none for `local`).
pub fn source_tag(source: &str) -> Markup {
    let label = match source {
        "directory" => "directory",
        "scim" => "SCIM",
        "sso" => "SSO",
        _ => return html! {},
    };
    html! { " " span.tag data-source=(source) title=(source_name(source)) { (label) } }
}
