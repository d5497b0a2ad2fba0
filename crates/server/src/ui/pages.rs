//! Folders with seat placement (X1), settings (D5, S3, N1), system messages and the audit
//! log (N3).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use seatkeeper_core::Permission::{ManageLicenses, ViewLicenses};
use seatkeeper_core::events::EventClass;
use seatkeeper_store::{AuditFilter, DistributionSettings, PackageStatus, ServerSettings};
use serde::Deserialize;

use super::view::{self, n};
use super::{Form, Ui, UiResult, done, outcome};
use crate::AppState;

pub async fn folders(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let folders = state.ledger.folders().await?;
    let packages = state.ledger.packages().await?;
    let placeable: Vec<_> = packages
        .iter()
        .filter(|p| matches!(p.status, PackageStatus::Valid | PackageStatus::NotYetValid))
        .collect();
    let may = ui.may(ManageLicenses);
    Ok(view::page(
        &ui,
        "/ui/folders",
        "Folders",
        html! {
            p.muted { "Seats placed in a folder serve that folder's users (and its sub-folders') first; the rest stay in the root for everyone." }
            div.scroll {
            table #folders {
                thead { tr { th scope="col" { "Folder" } th.num scope="col" { "Users" } th scope="col" { "Seats placed here" } @if may { th scope="col" { "Action" } } } }
                tbody {
                    @for f in &folders {
                        tr data-folder=(f.path) {
                            th scope="row" { (f.path) }
                            td.num { a href=(format!("/ui/users?folder={}", super::users::urlenc(&f.path))) { (n(f.users)) } }
                            td {
                                @for p in &packages {
                                    @for pl in p.placements.iter().filter(|pl| pl.folder == f.path) {
                                        span.tag { (p.product) " " (p.area.as_str()) " " (p.kind.as_str()) ": " (n(pl.seats)) " (" (p.serial) ")" } " "
                                    }
                                }
                            }
                            @if may {
                                td { @if f.parent_id.is_some() {
                                    form.inline method="post" action="/ui/folders" {
                                        (ui.csrf_field())
                                        input type="hidden" name="path" value=(f.path);
                                        button.link type="submit" name="action" value="delete" { "Delete" }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
            }
            @if may {
                div.grid2 {
                    section aria-labelledby="nf-h" {
                        h2 #nf-h { "New folder" }
                        form #new-folder method="post" action="/ui/folders" {
                            (ui.csrf_field())
                            label for="nf-path" { "Path (e.g. Sales/North)" }
                            input #nf-path name="path" required;
                            button type="submit" name="action" value="create" { "Create" }
                        }
                    }
                    section aria-labelledby="pl-h" {
                        h2 #pl-h { "Place seats" }
                        form #place-seats method="post" action="/ui/folders" {
                            (ui.csrf_field())
                            label for="pl-serial" { "Package" }
                            select #pl-serial name="serial" required {
                                @for p in &placeable { option value=(p.serial) { (p.serial) " — " (p.product) " " (p.area.as_str()) " " (p.kind.as_str()) ", " (n(p.seats)) " seats" } }
                            }
                            label for="pl-folder" { "Folder" }
                            select #pl-folder name="folder" { @for f in folders.iter().filter(|f| f.parent_id.is_some()) { option value=(f.path) { (f.path) } } }
                            label for="pl-seats" { "Seats (0 gives them back to the root)" }
                            input #pl-seats name="seats" type="number" min="0" required;
                            button type="submit" name="action" value="place" { "Place" }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

pub async fn folder_action(
    State(state): State<AppState>,
    ui: Ui,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let actor = ui.actor();
    let back = "/ui/folders";
    let path = form.get("path").unwrap_or_default().to_string();
    Ok(match form.get("action").unwrap_or_default() {
        "create" => outcome(
            &ui,
            back,
            state.ledger.create_folder(&actor, &path).await,
            |f| format!("Created folder {}.", f.path),
        ),
        "delete" => outcome(
            &ui,
            back,
            state.ledger.delete_folder(&actor, &path).await,
            |()| format!("Deleted folder {path}."),
        ),
        "place" => {
            let serial = form.get("serial").unwrap_or_default().to_string();
            let folder = form.get("folder").unwrap_or_default().to_string();
            let Some(seats) = form.get("seats").and_then(|s| s.parse::<u32>().ok()) else {
                return Ok(done(
                    &ui,
                    back,
                    false,
                    "Seats must be a whole number, 0 or more.",
                ));
            };
            outcome(
                &ui,
                back,
                state
                    .ledger
                    .place_seats(&actor, &serial, &folder, seats)
                    .await,
                |()| format!("Placed {seats} seat(s) of {serial} in {folder}."),
            )
        }
        other => done(&ui, back, false, format!("Unknown action {other:?}.")),
    })
}

pub async fn settings(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let d = state.ledger.distribution_settings().await?;
    let s = state.ledger.server_settings().await?;
    let configured = state.settings.configured_idle_timeout.as_secs();
    let may = ui.may(ManageLicenses);
    Ok(view::page(
        &ui,
        "/ui/settings",
        "Settings",
        html! {
            form #settings method="post" action="/ui/settings" {
                (ui.csrf_field())
                fieldset disabled[!may] {
                    legend { "Role-based distribution" }
                    label.check { input type="checkbox" name="role_based_distribution" value="true" checked[d.role_based_distribution]; " Give licenses by role (role-based distribution)" }
                    label.check { input type="checkbox" name="redistribute_on_role_change" value="true" checked[d.redistribute_on_role_change]; " Redistribute at once when a user's roles change" }
                }
                fieldset disabled[!may] {
                    legend { "Sessions" }
                    label for="idle" { "Idle timeout in seconds: a session without heartbeat for this long ends and frees its floating seat (empty: the server's configured " (configured) " s)" }
                    input #idle name="idle_timeout_secs" type="number" min="60" max=(seatkeeper_store::MAX_IDLE_TIMEOUT_SECS) value=[s.idle_timeout_secs];
                }
                fieldset disabled[!may] {
                    legend { "Notifications" }
                    label for="email" { "Responsible person's e-mail (license events and limits)" }
                    input #email name="responsible_email" type="email" value=[s.responsible_email.as_deref()];
                }
                @if may { button.primary type="submit" { "Save settings" } }
            }
            (notifications(&state, &ui, may).await?)
            @if let Some(note) = view::needs(&ui, ManageLicenses) { (note) }
        },
    )
    .into_response())
}

pub async fn save_settings(
    State(state): State<AppState>,
    ui: Ui,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = "/ui/settings";
    let idle = match form.get("idle_timeout_secs") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(s) => Some(s),
            Err(_) => {
                return Ok(done(
                    &ui,
                    back,
                    false,
                    format!("{v:?} is not a number of seconds."),
                ));
            }
        },
    };
    let server = ServerSettings {
        idle_timeout_secs: idle,
        responsible_email: form.get("responsible_email").map(str::to_string),
    };
    // Checked before anything is written, so a bad value changes neither group.
    if let Err(e) = server.validate() {
        return Ok(done(
            &ui,
            back,
            false,
            crate::error::ApiError::from(e).message,
        ));
    }
    let dist = DistributionSettings {
        role_based_distribution: form.get("role_based_distribution") == Some("true"),
        redistribute_on_role_change: form.get("redistribute_on_role_change") == Some("true"),
    };
    let actor = ui.actor();
    if let Err(e) = state.ledger.set_distribution_settings(&actor, dist).await {
        return Ok(done(
            &ui,
            back,
            false,
            crate::error::ApiError::from(e).message,
        ));
    }
    let r = state.ledger.set_server_settings(&actor, server).await;
    if let Ok(s) = &r {
        state.settings.apply(s);
    }
    Ok(outcome(&ui, back, r, |_| "Settings saved.".to_string()))
}

/// The settings page's mail part (N1): where mail goes, who is told what, the test mail,
/// and the mail that failed.
async fn notifications(state: &AppState, ui: &Ui, may: bool) -> UiResult<maud::Markup> {
    let n = state.ledger.notification_settings().await?;
    let mail = crate::admin::notifications::overview(state).await?;
    let mut products: Vec<String> = state
        .ledger
        .products()
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    for p in n.product_thresholds.keys() {
        if !products.contains(p) {
            products.push(p.clone());
        }
    }
    let days = n
        .expiry_notice_days
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let class_label = |c: EventClass| match c {
        EventClass::Limits => "Area user limit reached or exceeded",
        EventClass::Seats => "Seats at the threshold or exhausted",
        EventClass::Licenses => "Licenses expiring, expired, imported",
        EventClass::Distribution => "Redistribution done, needs unmet",
        EventClass::Users => "Users blocked or activated",
        EventClass::Directory => "Directory sync done or failed",
        EventClass::Test => "Test",
    };
    let configured = mail.mail.configured;
    Ok(html! {
        section #mail {
            h2 { "E-mail" }
            @if configured {
                p #mail-state .mail-configured {
                    "Mail is sent through "
                    strong { (mail.mail.host.as_deref().unwrap_or_default()) ":" (mail.mail.port.unwrap_or_default()) }
                    " (tls = " (mail.mail.tls.map(|t| t.as_str()).unwrap_or_default()) ") from "
                    strong { (mail.mail.from.as_deref().unwrap_or_default()) }
                    @if mail.mail.authenticated { ", with authentication" }
                    "."
                }
            } @else {
                p #mail-state .mail-unconfigured .warn {
                    "No SMTP server is configured: no mail is sent. Add a [mail] section to the server's config file (see the configuration guide) and restart it."
                }
            }
            @match &mail.responsible_email {
                Some(e) => p { "Mail goes to the responsible address " strong #responsible { (e) } " (set above)." },
                None => p.warn { "No responsible address is set above: no mail is sent." },
            }
            p.muted {
                "Outbox: " (mail.outbox.pending) " pending, " (mail.outbox.digest) " waiting for the digest, "
                (mail.outbox.failed_mail) " failed mail."
            }
            @if may {
                form #test-mail .inline method="post" action="/ui/settings/test-mail" {
                    (ui.csrf_field())
                    label for="test-recipient" { "Send a test mail to " }
                    input #test-recipient name="recipient" type="email" placeholder=(mail.responsible_email.as_deref().unwrap_or("name@example.com"));
                    " "
                    button type="submit" disabled[!configured] { "Send test mail" }
                }
            }
        }
        form #notifications method="post" action="/ui/settings/notifications" {
            (ui.csrf_field())
            fieldset disabled[!may] {
                legend { "Mail to the responsible person" }
                @for c in EventClass::ALL {
                    label.check {
                        input type="checkbox" name={"mail." (c.as_str())} value="on" checked[n.mail.get(&c).copied().unwrap_or(false)];
                        " " (class_label(c))
                    }
                }
                label.check { input type="checkbox" name="digest" value="on" checked[n.digest]; " One daily digest instead of one mail per event" }
            }
            fieldset disabled[!may] {
                legend { "Alerts" }
                label for="threshold" { "Seat alert: when this percentage of a product's seats is in use (0: off)" }
                input #threshold name="threshold_percent" type="number" min="0" max="100" value=(n.threshold_percent);
                @if !products.is_empty() {
                    table #product-thresholds {
                        thead { tr { th { "Product" } th { "Its own percentage (empty: the default)" } } }
                        tbody {
                            @for p in &products {
                                tr {
                                    td { (p) }
                                    td { input name={"threshold." (p)} type="number" min="0" max="100" value=[n.product_thresholds.get(p)]; }
                                }
                            }
                        }
                    }
                }
                label for="expiry-days" { "License expiry notices, in days ahead (comma-separated)" }
                input #expiry-days name="expiry_notice_days" type="text" value=(days);
            }
            @if may { button.primary type="submit" { "Save notification settings" } }
        }
        section #failed-mail {
            h2 { "Failed mail" }
            @if mail.failed.is_empty() && mail.retrying.is_empty() {
                p.muted { "No mail failed." }
            } @else {
                table #failed-mail-list {
                    thead { tr { th { "Delivery" } th { "Event" } th { "To" } th { "State" } th { "Attempts" } th { "Last error" } th {} } }
                    tbody {
                        @for d in mail.failed.iter().chain(mail.retrying.iter()) {
                            tr data-id=(d.id) {
                                td { a href={"/ui/deliveries/" (d.id)} { (d.id) } }
                                td { (d.event.event_type) " · " (view::datetime(d.event.at)) }
                                td { (d.recipient.as_deref().unwrap_or_default()) }
                                td { (if d.state == "failed" { "failed" } else { "retrying" }) }
                                td { (d.attempts) }
                                td.error-text { (d.last_error.as_deref().unwrap_or_default()) @if let Some(code) = d.last_status { " (" (code) ")" } }
                                td {
                                    @if may {
                                        form.inline method="post" action="/ui/settings/redeliver" {
                                            (ui.csrf_field())
                                            input type="hidden" name="id" value=(d.id);
                                            button.link type="submit" { "Retry" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Saves the notification settings form.
pub async fn save_notifications(
    State(state): State<AppState>,
    ui: Ui,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = "/ui/settings";
    let mut s = state.ledger.notification_settings().await?;
    for c in EventClass::ALL {
        s.mail
            .insert(c, form.get(&format!("mail.{}", c.as_str())) == Some("on"));
    }
    s.digest = form.get("digest") == Some("on");
    let pct = |v: &str, what: &str| {
        v.trim()
            .parse::<u8>()
            .map_err(|_| format!("{what}: {v:?} is not a percentage from 0 to 100."))
    };
    if let Some(v) = form.get("threshold_percent") {
        match pct(v, "Seat alert") {
            Ok(p) => s.threshold_percent = p,
            Err(e) => return Ok(done(&ui, back, false, e)),
        }
    }
    s.product_thresholds.clear();
    for (key, v) in &form.0 {
        if let Some(product) = key.strip_prefix("threshold.")
            && !v.trim().is_empty()
        {
            match pct(v, product) {
                Ok(p) => {
                    s.product_thresholds.insert(product.to_string(), p);
                }
                Err(e) => return Ok(done(&ui, back, false, e)),
            }
        }
    }
    if let Some(v) = form.get("expiry_notice_days") {
        let mut days = Vec::new();
        for d in v.split([',', ' ']).filter(|d| !d.trim().is_empty()) {
            match d.trim().parse::<u32>() {
                Ok(d) => days.push(d),
                Err(_) => {
                    return Ok(done(
                        &ui,
                        back,
                        false,
                        format!("Expiry notices: {d:?} is not a number of days."),
                    ));
                }
            }
        }
        s.expiry_notice_days = days;
    }
    let r = state
        .ledger
        .set_notification_settings(&ui.actor(), &s)
        .await;
    Ok(outcome(&ui, back, r, |_| {
        "Notification settings saved.".to_string()
    }))
}

/// "Send test mail".
pub async fn test_mail(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = "/ui/settings";
    if state.settings.mail.is_none() {
        return Ok(done(
            &ui,
            back,
            false,
            crate::admin::notifications::no_smtp().message,
        ));
    }
    let to = form.get("recipient").filter(|r| !r.trim().is_empty());
    let r = state.ledger.queue_test_mail(&ui.actor(), to).await;
    Ok(outcome(&ui, back, r, |id| {
        format!(
            "Test mail queued (delivery {id}); it is sent within seconds. A failure shows below."
        )
    }))
}

/// "Retry" on a failed mail.
pub async fn redeliver(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = "/ui/settings";
    let Some(id) = form.get("id").and_then(|v| v.parse::<i64>().ok()) else {
        return Ok(done(&ui, back, false, "No delivery to retry."));
    };
    let r = state.ledger.redeliver(&ui.actor(), id).await;
    Ok(outcome(&ui, back, r, |d| {
        format!("Delivery {} is sent again now.", d.id)
    }))
}

pub async fn messages(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let list = state.ledger.messages(false, 200).await?;
    Ok(view::page(
        &ui,
        "/ui/messages",
        "Messages",
        html! {
            @if ui.unread > 0 {
                form #mark-all method="post" action="/ui/messages" {
                    (ui.csrf_field())
                    button type="submit" name="all" value="true" { "Mark all as read" }
                }
            }
            @if list.is_empty() { p.muted { "No messages." } }
            ul #messages .messages {
                @for m in &list {
                    li data-id=(m.id) data-kind=(m.kind) .unread[!m.read] {
                        div.msg-head {
                            @if !m.read { span.badge { "new" } " " }
                            strong.title { (m.title) }
                            span.muted { " · " (view::datetime(m.at)) " · " (m.kind) }
                        }
                        (body(&m.body))
                        @if !m.read {
                            form.inline method="post" action="/ui/messages" {
                                (ui.csrf_field())
                                input type="hidden" name="id" value=(m.id);
                                button.link type="submit" { "Mark as read" }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

/// A message's details: its counts and short lists, as a definition list.
fn body(v: &serde_json::Value) -> maud::Markup {
    let Some(map) = v.as_object() else {
        return html! {};
    };
    html! {
        dl.msg-body {
            @for (k, val) in map {
                @let shown = plain(val);
                dt { (k.replace('_', " ")) } dd { (shown) }
            }
        }
    }
}

/// A JSON value as a person reads it: text as is, lists joined, objects as their values
/// ("cid · analytics · no_seat_free"), long lists counted.
fn plain(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.replace('_', " "),
        Value::Null => "—".into(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => {
            let mut items: Vec<String> = a.iter().take(10).map(plain).collect();
            if a.len() > 10 {
                items.push(format!("… {} in all", a.len()));
            }
            items.join("; ")
        }
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Number(_) | Value::Bool(_) => {
                    format!("{}: {}", k.replace('_', " "), plain(v))
                }
                _ => plain(v),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}

pub async fn mark_read(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let id = if form.get("all").is_some() {
        None
    } else {
        match form.get("id").and_then(|i| i.parse().ok()) {
            Some(i) => Some(i),
            None => return Ok(done(&ui, "/ui/messages", false, "No message was named.")),
        }
    };
    let r = state.ledger.mark_read(id).await;
    Ok(outcome(&ui, "/ui/messages", r, |k| {
        format!("{k} message(s) marked as read.")
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    target: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
}

const AUDIT_PAGE: u64 = 100;

pub async fn audit(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<AuditQuery>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let some = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let filter = AuditFilter {
        action: some(&q.action),
        target: some(&q.target),
        actor: some(&q.actor),
        before_id: q.before,
        limit: Some(AUDIT_PAGE),
    };
    let entries = state.ledger.audit_log(&filter).await?;
    let mut next = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("action", &filter.action),
        ("target", &filter.target),
        ("actor", &filter.actor),
    ] {
        if let Some(v) = v {
            next.append_pair(k, v);
        }
    }
    if let Some(last) = entries.last() {
        next.append_pair("before", &last.id.to_string());
    }
    let next = next.finish();
    Ok(view::page(
        &ui,
        "/ui/audit",
        "Audit log",
        html! {
            form #audit-filter .filters method="get" action="/ui/audit" role="search" {
                label { span { "Action" } input name="action" value=[filter.action.as_deref()] placeholder="e.g. license.grant"; }
                label { span { "Target" } input name="target" value=[filter.target.as_deref()]; }
                label { span { "Who" } input name="actor" value=[filter.actor.as_deref()]; }
                button type="submit" { "Filter" }
                a href="/ui/audit" { "Clear" }
            }
            div.scroll {
            table #audit {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "From" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Details" } } }
                tbody {
                    @if entries.is_empty() { tr { td colspan="6" .muted { "No record matches." } } }
                    @for e in &entries {
                        tr data-action=(e.action) {
                            td { (view::datetime(e.at)) } td { (e.actor) }
                            td title=[e.user_agent.as_deref()] { (e.origin) @if let Some(a) = &e.address { br; span.muted { (a) } } }
                            td { code { (e.action) } } td { (e.target) }
                            td.details { code { (truncate(&e.details.to_string(), 300)) } }
                        }
                    }
                }
            }
            }
            @if entries.len() as u64 == AUDIT_PAGE {
                nav.pager aria-label="Pages" { a rel="next" href=(format!("/ui/audit?{next}")) { "Older →" } }
            }
            p.muted { (n(entries.len() as u64)) " record(s) shown, newest first." }
        },
    )
    .into_response())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}
