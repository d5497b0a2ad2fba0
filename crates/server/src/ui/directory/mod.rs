//! The Directory page (issue 15: I1, U2, D5): the LDAP settings (the bind password
//! write-only), Test connection, Preview, Sync now, and the history of runs. Every action
//! calls the admin API's helpers (`crate::admin::directory`), so the page can do nothing the
//! API refuses; a directory that fails shows its message on the page, never an error page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::{ManageLicenses, ViewLicenses};

use super::view;
use super::{Form, Ui, UiResult, done};
use crate::AppState;
use crate::admin::directory as api;
use crate::directory_sync::SettingsSource;
use crate::error::ApiError;

const BACK: &str = "/ui/directory";
/// Items of each list a preview shows (the counts are whole).
const PREVIEW_ITEMS: usize = 50;
/// Runs the history shows.
const HISTORY: i64 = 50;

mod form;
mod results;

use form::{Draft, file_settings, settings_form};
use results::{history, preview_view, sync_text, test_view};

/// What a POST shows on the page besides the usual content.
#[derive(Default)]
struct Extra {
    /// The settings form as submitted (a save that was refused).
    draft: Option<Draft>,
    error: Option<String>,
    /// A test report or a preview.
    result: Option<Markup>,
}

pub async fn page(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    Ok(render(&state, &ui, Extra::default()).await?.into_response())
}

async fn render(state: &AppState, ui: &Ui, extra: Extra) -> UiResult<Markup> {
    let may = ui.may(ManageLicenses);
    let settings = if may {
        Some(api::settings_view(state).await?)
    } else {
        None
    };
    let sync_state = state.ledger.directory_sync_state().await?;
    let runs = state.ledger.directory_runs(HISTORY).await?;
    let configured = settings.as_ref().is_some_and(|s| s.source.is_some());
    Ok(view::page(
        ui,
        BACK,
        "Directory",
        html! {
            p.muted { "Users, folders and roles from an LDAP directory (OpenLDAP, Active Directory). A sync creates and updates the directory's users, blocks those whose entry is gone or disabled, and keeps role membership in line with the groups; users created here by hand are never touched." }
            @if let Some(e) = &extra.error { p #directory-error .error role="alert" { (e) } }
            @if let Some(r) = &extra.result { (r) }
            section aria-labelledby="sync-h" {
                h2 #sync-h { "Sync" }
                p #sync-state {
                    @match &sync_state.running_on {
                        Some(node) => { strong { "A sync is running on " code { (node) } "." } " " }
                        None => { "No sync is running. " }
                    }
                    @match (sync_state.last_finished_at, &sync_state.last_outcome) {
                        (Some(at), Some(o)) => { "The last one ended " (view::datetime(at)) ": " span.outcome { (outcome_text(o)) } "." }
                        _ => { "No sync has run yet." }
                    }
                }
                @if let Some(note) = view::needs(ui, ManageLicenses) { (note) }
                @if may && !configured {
                    p.notice { "Save the settings below first: Test connection, Preview and Sync now use the saved settings." }
                }
                @if may && configured {
                    p.muted { "Each uses the saved settings. Test connection and Preview write nothing; Sync now applies the changes." }
                    div.actions {
                        form #test-connection .inline method="post" action="/ui/directory/test" {
                            (ui.csrf_field())
                            button type="submit" { "Test connection" }
                        }
                        form #preview-sync .inline method="post" action="/ui/directory/preview" {
                            (ui.csrf_field())
                            button type="submit" { "Preview" }
                        }
                        form #sync-now .inline method="post" action="/ui/directory/sync" {
                            (ui.csrf_field())
                            button.primary type="submit" { "Sync now" }
                        }
                    }
                }
            }
            section aria-labelledby="history-h" {
                h2 #history-h { "History" }
                (history(&runs))
            }
            @if let Some(s) = &settings {
                section aria-labelledby="settings-h" {
                    h2 #settings-h { "Settings" }
                    @if s.source == Some(SettingsSource::File) {
                        (file_settings(s))
                    } @else {
                        (settings_form(ui, s, extra.draft.as_ref()))
                    }
                }
            }
        },
    ))
}

fn outcome_text(o: &str) -> &str {
    match o {
        "changed" => "changes applied",
        "no_change" => "nothing to change",
        "failed" => "failed",
        other => other,
    }
}

/// Saves the settings (the password: a typed one replaces, the box clears, else kept).
pub async fn save(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let draft = Draft::from_form(&form);
    // The password as typed: `Form::get` trims, and spaces may belong to a password.
    let typed = form
        .0
        .iter()
        .find(|(k, _)| k == "bind_password")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    let clear = form.get("clear_password") == Some("true");
    let refuse = |state: AppState, ui: Ui, draft: Draft, status: StatusCode, msg: String| async move {
        let extra = Extra {
            draft: Some(draft),
            error: Some(format!("{msg} Nothing was saved.")),
            result: None,
        };
        Ok::<_, super::UiError>((status, render(&state, &ui, extra).await?).into_response())
    };
    if clear && typed.is_some() {
        let msg = "Type a new password or tick \u{201c}Clear the saved password\u{201d}, not both.";
        return refuse(
            state,
            ui,
            draft,
            StatusCode::UNPROCESSABLE_ENTITY,
            msg.into(),
        )
        .await;
    }
    let mut config = match draft.config() {
        Ok(c) => c,
        Err(msg) => {
            return refuse(state, ui, draft, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
        }
    };
    config.bind_password = match (clear, typed) {
        (true, _) => Some(String::new()),
        (false, typed) => typed,
    };
    match api::save(&state, &ui.actor(), config).await {
        Ok(()) => Ok(done(&ui, BACK, true, "Directory settings saved.")),
        Err(e) => {
            let status = page_status(&e);
            refuse(state, ui, draft, status, e.message).await
        }
    }
}

/// The status of a page that shows a refusal: the API's when it is the caller's to fix (4xx);
/// a directory that fails (502, 504) is shown as a page that worked, since proxies in front
/// of the server may replace a 5xx answer with a page of their own and hide the message.
fn page_status(e: &ApiError) -> StatusCode {
    if e.status.is_client_error() {
        e.status
    } else {
        StatusCode::OK
    }
}

/// Shows the page with a directory error in place of a result.
async fn failed(state: &AppState, ui: &Ui, what: &str, e: ApiError) -> UiResult<Response> {
    let status = page_status(&e);
    let extra = Extra {
        error: Some(format!(
            "{what} failed: {} Nothing was changed.",
            sentence(&e.message)
        )),
        ..Extra::default()
    };
    Ok((status, render(state, ui, extra).await?).into_response())
}

/// A message as a sentence: capitalized, ending with a full stop.
fn sentence(msg: &str) -> String {
    let mut chars = msg.trim().chars();
    let mut s = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// Test connection: connect, bind, count users and groups, three examples.
pub async fn test(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    match api::test_report(&state).await {
        Ok(r) => {
            let extra = Extra {
                result: Some(test_view(&r)),
                ..Extra::default()
            };
            Ok(render(&state, &ui, extra).await?.into_response())
        }
        Err(e) => failed(&state, &ui, "The connection test", e).await,
    }
}

/// Preview: what a sync would do now; nothing written.
pub async fn preview(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    match api::preview_view(&state, &ui.actor(), PREVIEW_ITEMS).await {
        Ok(p) => {
            let extra = Extra {
                result: Some(preview_view(&p)),
                ..Extra::default()
            };
            Ok(render(&state, &ui, extra).await?.into_response())
        }
        Err(e) => failed(&state, &ui, "The preview", e).await,
    }
}

/// Sync now: apply the plan; the notice says what happened (or why nothing did).
pub async fn sync(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    Ok(
        match api::run_detached(&state, ui.actor(), PREVIEW_ITEMS).await {
            Ok(v) => done(&ui, BACK, true, sync_text(&v)),
            Err(e) => done(
                &ui,
                BACK,
                false,
                format!(
                    "The sync failed: {} Nothing was changed.",
                    sentence(&e.message)
                ),
            ),
        },
    )
}
