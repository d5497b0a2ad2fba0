//! Webhooks (I4): subscriptions, their signing secret (shown once), pause/resume, rotate,
//! test, delete, and the delivery log with *Redeliver* and each delivery's attempts.
//!
//! Every action calls the ledger method the admin API calls, after the same URL policy
//! (`notify::webhook::check_url`), so the page can do nothing the API refuses. Viewing needs
//! `view_licenses`; changing needs `manage_access`, like the API.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::{ManageAccess, ViewLicenses};
use seatkeeper_core::events::EventType;
use seatkeeper_store::{DeliveryFilter, DeliveryView, NewWebhook, WebhookChange, WebhookView};
use time::OffsetDateTime;

use super::view::{self, n};
use super::{Form, Ui, UiResult, done, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::notify::webhook::check_url;

/// Deliveries shown per page of a webhook's log.
const LOG_PAGE: i64 = 50;

/// The create form as typed, shown again with a refusal.
#[derive(Default)]
struct Draft {
    url: String,
    events: Vec<String>,
    description: String,
}

impl Draft {
    fn from_form(form: &Form) -> Draft {
        Draft {
            url: form.get("url").unwrap_or_default().to_string(),
            events: form.all("events"),
            description: form.get("description").unwrap_or_default().to_string(),
        }
    }

    /// The event types to subscribe: "all events" wins over single types.
    fn events(&self) -> Vec<String> {
        if self.events.iter().any(|e| e == "*") {
            vec!["*".into()]
        } else {
            self.events.clone()
        }
    }
}

fn seconds(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

fn events_text(events: &[String]) -> String {
    if events.iter().any(|e| e == "*") {
        "all events".into()
    } else {
        events.join(", ")
    }
}

fn hook_path(id: i64) -> String {
    format!("/ui/webhooks/{id}")
}

/// The signing secret, once: after creating a webhook or rotating its secret.
fn secret_box(secret: &str, rotated: bool) -> Markup {
    html! {
        section #new-secret .notice role="status" aria-labelledby="secret-h" {
            h2 #secret-h {
                @if rotated { "The new signing secret" } @else { "The signing secret" }
            }
            p { code #secret { (secret) } }
            p { strong { "Copy it now: it will not be shown again." }
                " The receiver checks each request's " code { "Seatkeeper-Signature" }
                " header with it (HMAC-SHA256 over the timestamp and the body)."
                @if rotated { " Requests are signed with the new secret from now on, including retries." }
            }
        }
    }
}

fn create_form(ui: &Ui, draft: &Draft, error: Option<&str>) -> Markup {
    let checked = |e: &str| draft.events.iter().any(|x| x == e);
    html! {
        section aria-labelledby="new-h" {
            h2 #new-h { "Subscribe a receiver" }
            @if let Some(e) = error { p.error #form-error role="alert" { (e) } }
            form #new-webhook method="post" action="/ui/webhooks" {
                (ui.csrf_field())
                label for="hook-url" { "URL (http or https)" }
                input #hook-url type="url" name="url" required size="60" value=(draft.url)
                    placeholder="https://hooks.example.com/seatkeeper";
                fieldset #hook-events {
                    legend { "Events" }
                    label.check { input type="checkbox" name="events" value="*" checked[checked("*")];
                        " All events (also those added in later versions)" }
                    @for t in EventType::ALL {
                        label.check { input type="checkbox" name="events" value=(t.as_str()) checked[checked(t.as_str())];
                            " " code { (t.as_str()) } }
                    }
                }
                label for="hook-description" { "Description (optional)" }
                input #hook-description type="text" name="description" size="60" value=(draft.description);
                p { button.primary type="submit" { "Create webhook" } }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    ui: &Ui,
    draft: &Draft,
    error: Option<&str>,
    created: Option<&WebhookView>,
) -> UiResult<Markup> {
    let hooks = state.ledger.webhooks().await?;
    Ok(view::page(
        ui,
        "/ui/webhooks",
        "Webhooks",
        html! {
            @if let Some(h) = created {
                p.flash role="status" { "Webhook " (h.id) " created for " (h.url) "." }
                @if let Some(s) = &h.secret { (secret_box(s, false)) }
            }
            p.muted { "Each subscribed event is posted as JSON to the receiver's URL, signed, with retries and a delivery log." }
            table #webhooks {
                thead { tr {
                    th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "State" }
                    th scope="col" { "Created" } th scope="col" { "Description" }
                } }
                tbody {
                    @for h in &hooks {
                        tr data-webhook=(h.id) {
                            td.url { a href=(hook_path(h.id)) { (h.url) } }
                            td.events { (events_text(&h.events)) }
                            td.state { @if h.active { "active" } @else { "paused" } }
                            td.created { (view::datetime(h.created_at)) }
                            td.description { (h.description) }
                        }
                    }
                    @if hooks.is_empty() { tr { td colspan="5" .muted { "No webhooks yet." } } }
                }
            }
            @match view::needs(ui, ManageAccess) {
                Some(note) => { (note) }
                None => { (create_form(ui, draft, error)) }
            }
        },
    ))
}

pub async fn list(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    Ok(list_page(&state, &ui, &Draft::default(), None, None)
        .await?
        .into_response())
}

/// Creates a webhook and shows its secret on the answer (never in a redirect or a cookie).
/// A refusal (the URL policy, an unknown event type, no event) shows the form again, as
/// typed, with the message; nothing is saved.
pub async fn create(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageAccess)?;
    let draft = Draft::from_form(&form);
    let checked = match check_url(
        &draft.url,
        state.settings.notifications.allow_private_targets,
    )
    .await
    {
        Ok(()) => {
            state
                .ledger
                .create_webhook(
                    &ui.actor(),
                    &NewWebhook {
                        url: draft.url.clone(),
                        events: draft.events(),
                        description: draft.description.clone(),
                        active: true,
                        secret: None,
                    },
                )
                .await
        }
        Err(msg) => Err(seatkeeper_core::Error::Invalid(msg).into()),
    };
    match checked {
        Ok(hook) => Ok(list_page(&state, &ui, &Draft::default(), None, Some(&hook))
            .await?
            .into_response()),
        Err(e) => {
            let e = ApiError::from(e);
            let msg = format!("{} Nothing was saved.", e.message);
            let status = if e.status.is_client_error() {
                e.status
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((
                status,
                list_page(&state, &ui, &draft, Some(&msg), None).await?,
            )
                .into_response())
        }
    }
}

#[derive(Default)]
struct Shown<'a> {
    /// A secret just made (rotated).
    secret: Option<&'a str>,
    /// The log's page: deliveries with a smaller id.
    before: Option<i64>,
}

fn delivery_rows(ui: &Ui, back: &str, list: &[DeliveryView]) -> Markup {
    html! {
        @for d in list {
            tr data-delivery=(d.id) data-state=(d.state) {
                td.id { a href=(format!("/ui/deliveries/{}", d.id)) { (d.id) } }
                td.event { code { (d.event.event_type) } }
                td.state { (d.state)
                    @if let Some(next) = d.next_attempt_at { br; span.muted { "next try " (seconds(next)) } } }
                td.attempts.num { (d.attempts) }
                td.status.num { @if let Some(s) = d.last_status { (s) } @else { "—" } }
                td.failure { (d.last_error.as_deref().unwrap_or("")) }
                td.duration.num { @if let Some(ms) = d.last_duration_ms { (n(u64::try_from(ms).unwrap_or(0))) " ms" } @else { "—" } }
                td.last { @if let Some(t) = d.last_attempt_at { (seconds(t)) } @else { "—" } }
                @if ui.may(ManageAccess) && d.state != "digest" {
                    td.action { form.inline.redeliver method="post" action=(format!("/ui/deliveries/{}/redeliver", d.id)) {
                        (ui.csrf_field())
                        input type="hidden" name="back" value=(back);
                        button type="submit" { "Redeliver" }
                    } }
                } @else { td.action {} }
            }
        }
    }
}

async fn hook_page(state: &AppState, ui: &Ui, id: i64, shown: Shown<'_>) -> UiResult<Markup> {
    let hook = state.ledger.webhook(id).await?;
    let log = state
        .ledger
        .deliveries(&DeliveryFilter {
            webhook_id: Some(id),
            channel: None,
            state: None,
            before: shown.before,
            limit: LOG_PAGE,
        })
        .await?;
    let back = hook_path(id);
    let manage = ui.may(ManageAccess);
    let action = format!("/ui/webhooks/{id}/action");
    Ok(view::page(
        ui,
        "/ui/webhooks",
        &format!("Webhook {id}"),
        html! {
            @if let Some(s) = shown.secret { (secret_box(s, true)) }
            dl.facts #webhook {
                dt { "URL" } dd #hook-url { (hook.url) }
                dt { "Events" } dd #hook-events { (events_text(&hook.events)) }
                dt { "State" } dd #hook-state { @if hook.active { "active" } @else { "paused: events raised while it is paused are not sent to it" } }
                dt { "Created" } dd { (view::datetime(hook.created_at)) }
                dt { "Description" } dd { @if hook.description.is_empty() { "—" } @else { (hook.description) } }
            }
            @if manage {
                div.actions #hook-actions {
                    form.inline #toggle method="post" action=(action) {
                        (ui.csrf_field())
                        @if hook.active {
                            button type="submit" name="action" value="pause" { "Pause" }
                        } @else {
                            button type="submit" name="action" value="resume" { "Resume" }
                        }
                    }
                    form.inline #send-test method="post" action=(action) {
                        (ui.csrf_field())
                        button type="submit" name="action" value="test" { "Send test event" }
                    }
                    form.inline #rotate method="post" action=(action) {
                        (ui.csrf_field())
                        button type="submit" name="action" value="rotate" { "Rotate secret" }
                    }
                    form.inline #delete method="post" action=(action) {
                        (ui.csrf_field())
                        button.danger type="submit" name="action" value="delete" { "Delete…" }
                    }
                }
            } @else {
                (view::needs(ui, ManageAccess).unwrap_or_default())
            }
            section aria-labelledby="log-h" {
                h2 #log-h { "Delivery log" }
                p.muted { "Newest first. A delivery is retried with growing pauses until the receiver answers 2xx, for up to 24 hours; then it is marked failed. "
                    "Redeliver sends it again now with the same " code { "Seatkeeper-Delivery" } " id." }
                div.scroll { table #deliveries {
                    thead { tr {
                        th scope="col" { "Delivery" } th scope="col" { "Event" } th scope="col" { "State" }
                        th scope="col" .num { "Attempts" } th scope="col" .num { "Last status" } th scope="col" { "Last error" }
                        th scope="col" .num { "Duration" } th scope="col" { "Last attempt" } th scope="col" { span.muted { "Action" } }
                    } }
                    tbody {
                        (delivery_rows(ui, &back, &log))
                        @if log.is_empty() { tr { td colspan="9" .muted { "No deliveries yet." } } }
                    }
                } }
                div.pager {
                    @if shown.before.is_some() { a href=(back) { "← Newest" } }
                    @if log.len() as i64 == LOG_PAGE && let Some(last) = log.last() {
                        a #older href=(format!("{back}?before={}", last.id)) { "Older →" }
                    }
                }
            }
        },
    ))
}

pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let before = q.get("before").and_then(|b| b.parse().ok());
    Ok(hook_page(
        &state,
        &ui,
        id,
        Shown {
            before,
            ..Shown::default()
        },
    )
    .await?
    .into_response())
}

/// One webhook's buttons: pause, resume, test, rotate (the new secret shown once on the
/// answer), delete (after a confirmation page).
pub async fn action(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageAccess)?;
    let back = hook_path(id);
    let actor = ui.actor();
    let change = |active: Option<bool>, rotate_secret: bool| WebhookChange {
        active,
        rotate_secret,
        ..WebhookChange::default()
    };
    Ok(match form.get("action").unwrap_or_default() {
        "pause" => outcome(
            &ui,
            &back,
            state
                .ledger
                .update_webhook(&actor, id, &change(Some(false), false))
                .await,
            |_| "Paused: nothing is sent to this webhook until it is resumed.".into(),
        ),
        "resume" => outcome(
            &ui,
            &back,
            state
                .ledger
                .update_webhook(&actor, id, &change(Some(true), false))
                .await,
            |_| "Resumed: new events are sent to this webhook again.".into(),
        ),
        "test" => outcome(
            &ui,
            &back,
            state.ledger.test_webhook(&actor, id).await,
            |d| {
                format!(
                    "A signed test event was queued as delivery {d}; it shows in the log below."
                )
            },
        ),
        "rotate" => match state
            .ledger
            .update_webhook(&actor, id, &change(None, true))
            .await
        {
            Ok(hook) => {
                let secret = hook.secret.unwrap_or_default();
                hook_page(
                    &state,
                    &ui,
                    id,
                    Shown {
                        secret: Some(&secret),
                        ..Shown::default()
                    },
                )
                .await?
                .into_response()
            }
            Err(e) => done(&ui, &back, false, ApiError::from(e).message),
        },
        "delete" if form.get("confirm") != Some("yes") => {
            let hook = state.ledger.webhook(id).await?;
            view::page(
                &ui,
                "/ui/webhooks",
                "Delete the webhook",
                html! {
                    p.warn { "Delete the webhook to " strong { (hook.url) } " with its delivery log? Deliveries still waiting are dropped. This cannot be undone." }
                    form #confirm-delete method="post" action=(format!("/ui/webhooks/{id}/action")) {
                        (ui.csrf_field())
                        input type="hidden" name="action" value="delete";
                        input type="hidden" name="confirm" value="yes";
                        button.danger type="submit" { "Delete" }
                        " " a href=(back) { "Cancel" }
                    }
                },
            )
            .into_response()
        }
        "delete" => outcome(
            &ui,
            "/ui/webhooks",
            state.ledger.delete_webhook(&actor, id).await,
            |()| format!("Deleted webhook {id} and its delivery log."),
        ),
        other => done(
            &ui,
            &back,
            false,
            format!("unknown action {}", seatkeeper_core::error::quoted(other)),
        ),
    })
}

/// One delivery: its event, where it goes, and every attempt.
pub async fn delivery(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let (d, attempts) = state.ledger.delivery(id).await?;
    let back = format!("/ui/deliveries/{id}");
    let data = serde_json::to_string_pretty(&d.event.data).unwrap_or_default();
    Ok(view::page(
        &ui,
        "/ui/webhooks",
        &format!("Delivery {id}"),
        html! {
            dl.facts #delivery {
                dt { "Delivery id" } dd #delivery-id { (d.id) span.muted { " (the " code { "Seatkeeper-Delivery" } " header)" } }
                @if let Some(w) = d.webhook_id {
                    dt { "Webhook" } dd { a #delivery-webhook href=(hook_path(w)) { "Webhook " (w) } }
                }
                @if let Some(r) = &d.recipient { dt { "Mail to" } dd { (r) } }
                dt { "Event" } dd #delivery-event { code { (d.event.event_type) } " (event " (d.event.id) ", " (seconds(d.event.at)) ")" }
                dt { "State" } dd #delivery-state { (d.state)
                    @if let Some(next) = d.next_attempt_at { " — next try " (seconds(next)) } }
                dt { "Attempts" } dd #delivery-attempts { (d.attempts) }
                dt { "Queued (or redelivered)" } dd { (seconds(d.created_at)) }
            }
            @if ui.may(ManageAccess) && d.state != "digest" {
                form #redeliver method="post" action=(format!("/ui/deliveries/{id}/redeliver")) {
                    (ui.csrf_field())
                    input type="hidden" name="back" value=(back);
                    button type="submit" { "Redeliver" }
                }
            }
            section aria-labelledby="att-h" {
                h2 #att-h { "Attempts" }
                table #attempts {
                    thead { tr {
                        th scope="col" { "Time" } th scope="col" { "Node" } th scope="col" .num { "Status" }
                        th scope="col" .num { "Duration" } th scope="col" { "Error" }
                    } }
                    tbody {
                        @for a in &attempts {
                            tr {
                                td.time { (seconds(a.at)) }
                                td.node { (a.node) }
                                td.status.num { @if let Some(s) = a.status { (s) } @else { "—" } }
                                td.duration.num { (n(u64::try_from(a.duration_ms).unwrap_or(0))) " ms" }
                                td.failure { (a.error.as_deref().unwrap_or("")) }
                            }
                        }
                        @if attempts.is_empty() { tr { td colspan="5" .muted { "Not attempted yet." } } }
                    }
                }
            }
            section aria-labelledby="payload-h" {
                h2 #payload-h { "Event data" }
                pre.code #payload { (data) }
            }
        },
    )
    .into_response())
}

/// Redeliver: the delivery is due again now (same id), then back to the page it was asked from.
pub async fn redeliver(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageAccess)?;
    let back = form
        .get("back")
        .filter(|b| {
            (b.starts_with("/ui/webhooks/") || b.starts_with("/ui/deliveries/"))
                && !b.contains("//")
        })
        .unwrap_or("/ui/webhooks")
        .to_string();
    let r = state.ledger.redeliver(&ui.actor(), id).await;
    Ok(outcome(&ui, &back, r, |d| {
        format!(
            "Delivery {} is queued again and will be sent within moments with the same Seatkeeper-Delivery id.",
            d.id
        )
    }))
}
