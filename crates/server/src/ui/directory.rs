//! The Directory page (issue 15: I1, U2, D5): the LDAP settings (the bind password
//! write-only), Test connection, Preview, Sync now, and the history of runs. Every action
//! calls the admin API's helpers (`crate::admin::directory`), so the page can do nothing the
//! API refuses; a directory that fails shows its message on the page, never an error page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::{ManageLicenses, ViewLicenses};
use seatkeeper_core::directory::{Mapping, UserUpdate};
use seatkeeper_directory::{Config, TestReport, TlsMode};
use seatkeeper_store::DirectoryRunView;

use super::view::{self, n};
use super::{Form, Ui, UiResult, done};
use crate::AppState;
use crate::admin::directory::{self as api, PlanView, SettingsView, SyncView};
use crate::directory_sync::SettingsSource;
use crate::error::ApiError;

const BACK: &str = "/ui/directory";
/// Items of each list a preview shows (the counts are whole).
const PREVIEW_ITEMS: usize = 50;
/// Runs the history shows.
const HISTORY: i64 = 50;

/// The settings form's values as typed: a form refused for one bad field comes back with
/// everything else as it was (never the password).
#[derive(Debug, Clone, Default)]
struct Draft {
    url: String,
    starttls: bool,
    allow_plaintext: bool,
    bind_dn: String,
    user_base: String,
    user_filter: String,
    group_base: String,
    group_filter: String,
    page_size: String,
    connect_timeout_secs: String,
    operation_timeout_secs: String,
    sync_interval_minutes: String,
    ca_file: String,
    /// The `[directory.mapping]` section as TOML.
    mapping: String,
}

/// A mapping as the form's TOML (the table's body, as under `[directory.mapping]`).
fn mapping_toml(m: &Mapping) -> String {
    toml::to_string(m).unwrap_or_default()
}

impl Draft {
    fn of(c: &Config) -> Draft {
        Draft {
            url: c.url.clone(),
            starttls: c.starttls,
            allow_plaintext: c.allow_plaintext,
            bind_dn: c.bind_dn.clone(),
            user_base: c.user_base.clone(),
            user_filter: c.user_filter.clone(),
            group_base: c.group_base.clone().unwrap_or_default(),
            group_filter: c.group_filter.clone(),
            page_size: c.page_size.to_string(),
            connect_timeout_secs: c.connect_timeout_secs.to_string(),
            operation_timeout_secs: c.operation_timeout_secs.to_string(),
            sync_interval_minutes: c.sync_interval_minutes.to_string(),
            ca_file: c
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            mapping: mapping_toml(&c.mapping),
        }
    }

    /// A new form: the defaults, no URL or base yet.
    fn blank() -> Draft {
        Draft::of(&Config::new("", ""))
    }

    fn from_form(f: &Form) -> Draft {
        let text = |k: &str| f.get(k).unwrap_or_default().to_string();
        Draft {
            url: text("url"),
            starttls: f.get("starttls") == Some("true"),
            allow_plaintext: f.get("allow_plaintext") == Some("true"),
            bind_dn: text("bind_dn"),
            user_base: text("user_base"),
            user_filter: text("user_filter"),
            group_base: text("group_base"),
            group_filter: text("group_filter"),
            page_size: text("page_size"),
            connect_timeout_secs: text("connect_timeout_secs"),
            operation_timeout_secs: text("operation_timeout_secs"),
            sync_interval_minutes: text("sync_interval_minutes"),
            ca_file: text("ca_file"),
            mapping: text("mapping"),
        }
    }

    /// The settings the form describes, without the password; a field that does not parse
    /// is named. The rest is checked by the engine's `save_settings`.
    fn config(&self) -> Result<Config, String> {
        fn number<T: std::str::FromStr>(label: &str, v: &str, default: T) -> Result<T, String> {
            if v.is_empty() {
                return Ok(default);
            }
            v.parse()
                .map_err(|_| format!("{label}: {v:?} is not a whole number."))
        }
        let defaults = Config::new("", "");
        let mapping = if self.mapping.is_empty() {
            Mapping::default()
        } else {
            toml::from_str::<Mapping>(&self.mapping)
                .map_err(|e| format!("The mapping is not valid: {}", e.message()))?
        };
        let or_default = |v: &str, d: &str| {
            if v.is_empty() {
                d.to_string()
            } else {
                v.to_string()
            }
        };
        Ok(Config {
            url: self.url.clone(),
            starttls: self.starttls,
            allow_plaintext: self.allow_plaintext,
            bind_dn: self.bind_dn.clone(),
            bind_password: None,
            bind_password_env: None,
            connect_timeout_secs: number(
                "Connect timeout",
                &self.connect_timeout_secs,
                defaults.connect_timeout_secs,
            )?,
            operation_timeout_secs: number(
                "Operation timeout",
                &self.operation_timeout_secs,
                defaults.operation_timeout_secs,
            )?,
            user_base: self.user_base.clone(),
            user_filter: or_default(&self.user_filter, &defaults.user_filter),
            group_base: Some(self.group_base.clone()).filter(|g| !g.is_empty()),
            group_filter: or_default(&self.group_filter, &defaults.group_filter),
            page_size: number("Page size", &self.page_size, defaults.page_size)?,
            ca_file: Some(self.ca_file.clone())
                .filter(|c| !c.is_empty())
                .map(Into::into),
            mapping,
            sync_interval_minutes: number(
                "Sync interval",
                &self.sync_interval_minutes,
                defaults.sync_interval_minutes,
            )?,
        })
    }
}

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

/// The settings of the config file's `[directory]` section: shown, not editable.
fn file_settings(s: &SettingsView) -> Markup {
    let c: Option<Config> = s
        .settings
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    html! {
        p.notice #settings-from-file { "These settings come from the config file's " code { "[directory]" } " section, which wins over settings saved here: change them in the file and restart the server." }
        @if let Some(c) = c {
            dl.facts #directory-settings-read-only {
                dt { "URL" } dd { code { (c.url) } }
                dt { "StartTLS" } dd { (yes_no(c.starttls)) }
                dt { "Plain LDAP to another host" } dd { (yes_no(c.allow_plaintext)) }
                dt { "Bind DN" } dd { @if c.bind_dn.is_empty() { "anonymous" } @else { code { (c.bind_dn) } } }
                dt { "Bind password" } dd {
                    @match (&c.bind_password_env, s.bind_password_set) {
                        (Some(var), _) => { "from the environment variable " code { (var) } }
                        (None, true) => { "set in the file" }
                        (None, false) => { "none" }
                    }
                }
                dt { "User base" } dd { code { (c.user_base) } }
                dt { "User filter" } dd { code { (c.user_filter) } }
                dt { "Group base" } dd { code { (c.group_base()) } }
                dt { "Group filter" } dd { code { (c.group_filter) } }
                dt { "Page size" } dd { (c.page_size) }
                dt { "Timeouts" } dd { "connect " (c.connect_timeout_secs) " s, each operation " (c.operation_timeout_secs) " s" }
                dt { "CA file" } dd { @match &c.ca_file { Some(p) => code { (p.display()) }, None => "the system's roots" } }
                dt { "Sync interval" } dd { (interval_text(c.sync_interval_minutes)) }
                dt { "Mapping" } dd { pre.mapping { (mapping_toml(&c.mapping)) } }
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn interval_text(minutes: u32) -> String {
    if minutes == 0 {
        "only when asked (Sync now, the API, the command line)".to_string()
    } else {
        format!("every {minutes} minute(s)")
    }
}

fn settings_form(ui: &Ui, s: &SettingsView, draft: Option<&Draft>) -> Markup {
    let saved = s
        .settings
        .clone()
        .and_then(|v| serde_json::from_value::<Config>(v).ok());
    let d = match (draft, &saved) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => Draft::of(c),
        (None, None) => Draft::blank(),
    };
    let defaults = Config::new("", "");
    let placeholder = if s.bind_password_set {
        "set — leave empty to keep"
    } else {
        "not set"
    };
    html! {
        @if let (Some(at), Some(by)) = (s.updated_at, &s.updated_by) {
            p.muted { "Saved " (view::datetime(at)) " by " (by) "." }
        }
        form #directory-settings method="post" action="/ui/directory/settings" {
            (ui.csrf_field())
            fieldset {
                legend { "Connection" }
                label for="d-url" { "URL (ldaps://host, or ldap://host with StartTLS)" }
                input #d-url name="url" type="text" required value=(d.url) placeholder="ldaps://ldap.example.com" size="50";
                label.check { input type="checkbox" name="starttls" value="true" checked[d.starttls]; " Upgrade ldap:// with StartTLS" }
                label.check { input type="checkbox" name="allow_plaintext" value="true" checked[d.allow_plaintext]; " Allow plain ldap:// to a host other than this one (the password and every entry cross the network in clear)" }
                label for="d-ca" { "CA file on the server (PEM; empty: the system's roots)" }
                input #d-ca name="ca_file" type="text" value=(d.ca_file) size="50";
                label for="d-bind-dn" { "Bind DN (empty: anonymous)" }
                input #d-bind-dn name="bind_dn" type="text" value=(d.bind_dn) size="50" autocomplete="off";
                label for="d-bind-password" { "Bind password (write-only: never shown)" }
                // Never rendered back: the placeholder only says whether one is saved.
                input #d-bind-password name="bind_password" type="password" value="" placeholder=(placeholder) autocomplete="new-password";
                @if s.bind_password_set {
                    label.check { input #d-clear-password type="checkbox" name="clear_password" value="true"; " Clear the saved password (bind without one)" }
                }
                label for="d-connect" { "Connect timeout (seconds)" }
                input #d-connect name="connect_timeout_secs" type="number" min="1" max=(seatkeeper_directory::MAX_TIMEOUT_SECS) value=(d.connect_timeout_secs);
                label for="d-operation" { "Operation timeout (seconds, for the bind and each page of a search)" }
                input #d-operation name="operation_timeout_secs" type="number" min="1" max=(seatkeeper_directory::MAX_TIMEOUT_SECS) value=(d.operation_timeout_secs);
            }
            fieldset {
                legend { "What to read" }
                label for="d-user-base" { "User base DN" }
                input #d-user-base name="user_base" type="text" required value=(d.user_base) placeholder="ou=people,dc=example,dc=com" size="50";
                label for="d-user-filter" { "User filter" }
                input #d-user-filter name="user_filter" type="text" value=(d.user_filter) placeholder=(defaults.user_filter) size="50";
                label for="d-group-base" { "Group base DN (empty: the user base)" }
                input #d-group-base name="group_base" type="text" value=(d.group_base) size="50";
                label for="d-group-filter" { "Group filter" }
                input #d-group-filter name="group_filter" type="text" value=(d.group_filter) placeholder=(defaults.group_filter) size="50";
                label for="d-page-size" { "Page size (entries per page of a search)" }
                input #d-page-size name="page_size" type="number" min="1" value=(d.page_size);
                label for="d-interval" { "Sync on its own every this many minutes (0: only when asked)" }
                input #d-interval name="sync_interval_minutes" type="number" min="0" max=(seatkeeper_directory::MAX_SYNC_INTERVAL_MINUTES) value=(d.sync_interval_minutes);
            }
            fieldset {
                legend { "Mapping" }
                label for="d-mapping" { "How entries become users, folders and roles: the " code { "[directory.mapping]" } " section as TOML (empty: the OpenLDAP defaults)" }
                textarea #d-mapping name="mapping" rows="14" cols="70" spellcheck="false" { (d.mapping) }
                details {
                    summary { "Defaults and examples" }
                    p { "OpenLDAP (the default):" }
                    pre.mapping { (mapping_toml(&Mapping::openldap())) }
                    p { "Active Directory:" }
                    pre.mapping { (mapping_toml(&Mapping::active_directory())) }
                    p { "Folders from the OU chain: " code { "folder = { by = \"ou_path\", base_dn = \"ou=people,dc=example,dc=com\" }" } "; every group as a role: " code { "roles.create = { kind = \"functional\" }" } "; delete users whose entry is gone instead of blocking them: " code { "removed = \"delete\"" } ". See docs/DIRECTORY.md." }
                }
            }
            button.primary type="submit" { "Save settings" }
        }
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

fn tls_text(t: TlsMode) -> &'static str {
    match t {
        TlsMode::Plain => "plain LDAP (no TLS)",
        TlsMode::StartTls => "StartTLS",
        TlsMode::Ldaps => "LDAPS (TLS)",
    }
}

fn test_view(r: &TestReport) -> Markup {
    html! {
        section #test-report aria-labelledby="test-h" {
            h2 #test-h { "Connection test" }
            p.flash role="status" { "Connected to " (r.address) " and read the directory. Nothing was written." }
            dl.facts {
                dt { "Address" } dd.address { code { (r.address) } }
                dt { "Transport" } dd.transport { (tls_text(r.tls)) }
                dt { "Bound as" } dd.bound { @if r.bind_dn.is_empty() { "anonymous" } @else { code { (r.bind_dn) } } }
                dt { "Users" } dd.users { (n(r.users as u64)) }
                dt { "Groups" } dd.groups { (n(r.groups as u64)) }
            }
            @if !r.examples.is_empty() {
                h3 { "Examples" }
                ul.plain #test-examples {
                    @for e in &r.examples {
                        li {
                            code { (e.dn) }
                            dl.msg-body {
                                // Whatever a server returns, a password attribute is not shown.
                                @for (k, vs) in e.attrs.iter().filter(|(k, _)| !k.to_ascii_lowercase().contains("password")) {
                                    dt { (k) } dd { (vs.join("; ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
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

fn more(shown: usize, total: usize) -> Markup {
    html! {
        @if total > shown { p.muted { "The first " (shown) " of " (n(total as u64)) "." } }
    }
}

fn preview_view(p: &PlanView) -> Markup {
    let c = &p.counts;
    let rows: [(&str, &str, usize); 11] = [
        ("create", "Users to create", c.create),
        (
            "create-blocked",
            "… of them created blocked",
            c.create_blocked,
        ),
        ("update", "Users to update", c.update),
        ("block", "Users to block", c.block),
        ("delete", "Users to delete", c.delete),
        ("activate", "Users to activate", c.activate),
        ("roles-create", "Roles to create", c.roles_create),
        ("roles-reparent", "Roles to move", c.roles_reparent),
        ("members-added", "Role memberships to add", c.members_added),
        (
            "members-removed",
            "Role memberships to remove",
            c.members_removed,
        ),
        ("skipped", "Entries skipped", c.skipped),
    ];
    let nothing = rows.iter().all(|(_, _, v)| *v == 0);
    html! {
        section #preview aria-labelledby="preview-h" {
            h2 #preview-h { "Preview" }
            p.flash role="status" {
                "Read " (n(p.users_read as u64)) " user(s) and " (n(p.groups_read as u64)) " group(s). "
                @if nothing { "Nothing to change. " }
                "Nothing has been written: Sync now applies this."
            }
            table #preview-counts {
                thead { tr { th scope="col" { "Change" } th.num scope="col" { "Count" } } }
                tbody {
                    @for (id, label, v) in rows {
                        tr data-count=(id) { th scope="row" { (label) } td.num { (n(v as u64)) } }
                    }
                }
            }
            @if !p.create.is_empty() {
                h3 { "To create" }
                div.scroll {
                    table #preview-create {
                        thead { tr { th scope="col" { "Login" } th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Area" } th scope="col" { "Folder" } th scope="col" { "Blocked" } } }
                        tbody {
                            @for u in &p.create {
                                tr data-login=(u.login) {
                                    td { (u.login) } td { (u.name) } td { (u.email) } td { (u.area.as_str()) }
                                    td { @if u.folder.is_empty() { "/" } @else { (u.folder) } }
                                    td { @if let Some(b) = &u.blocked { span.warn { (b.replace('_', " ")) } } @else { "—" } }
                                }
                            }
                        }
                    }
                }
                (more(p.create.len(), c.create))
            }
            @if !p.update.is_empty() {
                h3 { "To update" }
                ul.plain #preview-update {
                    @for u in &p.update {
                        li { strong { (u.login) } ": " (update_text(u)) }
                    }
                }
                (more(p.update.len(), c.update))
            }
            @if !p.block.is_empty() {
                h3 { "To block" }
                ul.plain #preview-block { @for b in &p.block { li { strong { (b.login) } " (" (b.reason.replace('_', " ")) ")" } } }
                (more(p.block.len(), c.block))
            }
            @if !p.delete.is_empty() {
                h3 { "To delete" }
                ul.plain #preview-delete { @for l in &p.delete { li { (l) } } }
                (more(p.delete.len(), c.delete))
            }
            @if !p.activate.is_empty() {
                h3 { "To activate" }
                ul.plain #preview-activate { @for l in &p.activate { li { (l) } } }
                (more(p.activate.len(), c.activate))
            }
            @if !p.roles_create.is_empty() {
                h3 { "Roles to create" }
                ul.plain #preview-roles {
                    @for r in &p.roles_create {
                        li { strong { (r.name) } " (" (r.kind.as_str()) @if let Some(parent) = &r.parent { ", under " (parent) } ") " code { (r.dn) } }
                    }
                }
                (more(p.roles_create.len(), c.roles_create))
            }
            @if !p.skipped.is_empty() {
                h3 { "Skipped entries" }
                div.scroll {
                    table #preview-skipped {
                        thead { tr { th scope="col" { "DN" } th scope="col" { "Why" } } }
                        tbody { @for s in &p.skipped { tr { td { code { (s.dn) } } td { (s.reason.to_string()) } } } }
                    }
                }
                (more(p.skipped.len(), c.skipped))
            }
        }
    }
}

/// An update's changed fields, as "name → Ann Lee, folder → Sales".
fn update_text(u: &UserUpdate) -> String {
    [
        ("name", u.name.as_deref()),
        ("e-mail", u.email.as_deref()),
        (
            "folder",
            u.folder
                .as_deref()
                .map(|f| if f.is_empty() { "/" } else { f }),
        ),
        ("DN", u.dn.as_deref()),
    ]
    .into_iter()
    .filter_map(|(label, v)| v.map(|v| format!("{label} \u{2192} {v}")))
    .collect::<Vec<_>>()
    .join(", ")
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

/// The counts of a sync as the history and the notice name them, by their field name.
const COUNT_LABELS: &[(&str, &str)] = &[
    ("created", "created"),
    ("created_blocked", "of them created blocked"),
    ("updated", "updated"),
    ("blocked", "blocked"),
    ("deleted", "deleted"),
    ("activated", "activated"),
    ("not_activated", "left blocked for want of room"),
    ("roles_created", "role(s) created"),
    ("roles_reparented", "role(s) moved"),
    ("members_added", "membership(s) added"),
    ("members_removed", "membership(s) removed"),
    ("skipped", "entries skipped"),
    ("granted", "license(s) granted"),
    ("recalled", "license(s) recalled"),
];

/// The counts that are not zero, as "3 created, 1 blocked" (counts as the history stores
/// them: a JSON object by field name).
fn counts_text(v: &serde_json::Value) -> Vec<String> {
    COUNT_LABELS
        .iter()
        .filter_map(|(key, what)| {
            v.get(key)
                .and_then(serde_json::Value::as_u64)
                .filter(|c| *c > 0)
                .map(|c| format!("{} {what}", n(c)))
        })
        .collect()
}

fn sync_text(v: &SyncView) -> String {
    let read = format!(
        "{} user(s) and {} group(s) read",
        n(v.users_read as u64),
        n(v.groups_read as u64)
    );
    let mut s = if v.changed {
        format!(
            "Sync done ({read}): {}.",
            counts_text(&serde_json::to_value(&v.counts).unwrap_or_default()).join(", ")
        )
    } else {
        format!("Sync done ({read}): nothing to change.")
    };
    if v.counts.skipped > 0 && !v.changed {
        s += &format!(" {} entries skipped.", n(v.counts.skipped));
    }
    if v.counts.skipped > 0 {
        s += " Preview lists the skipped entries with their DN and why.";
    }
    s
}

fn history(runs: &[DirectoryRunView]) -> Markup {
    html! {
        div.scroll {
            table #directory-runs {
                thead { tr {
                    th scope="col" { "Started" } th scope="col" { "Finished" } th scope="col" { "Status" }
                    th scope="col" { "Counts" } th scope="col" { "Error" }
                } }
                tbody {
                    @if runs.is_empty() { tr { td colspan="5" .muted { "No sync has changed anything or failed yet (a sync that finds nothing to change leaves no row)." } } }
                    @for r in runs {
                        tr data-run=(r.id) data-status=(r.status) {
                            td.started { (view::datetime(r.started_at)) }
                            td.finished { @match r.finished_at { Some(t) => (view::datetime(t)), None => "—" } }
                            td.status {
                                @match r.status.as_str() {
                                    "failed" => span.warn { "failed" },
                                    "succeeded" => "succeeded",
                                    other => (other),
                                }
                                @if r.preview { " (preview)" }
                            }
                            td.counts { (run_counts(&r.counts)) }
                            td.run-error { @if let Some(e) = &r.error { span.warn { (e) } } }
                        }
                    }
                }
            }
        }
    }
}

/// A run's counts: the ones that are not zero.
fn run_counts(v: &serde_json::Value) -> String {
    let parts = counts_text(v);
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i1_mapping_round_trips_through_the_forms_toml() {
        for m in [Mapping::openldap(), Mapping::active_directory()] {
            let text = mapping_toml(&m);
            assert!(!text.is_empty());
            assert_eq!(toml::from_str::<Mapping>(&text).ok(), Some(m));
        }
        let mut c = Config::new("ldap://127.0.0.1:3389", "ou=people,dc=example,dc=com");
        c.mapping = toml::from_str(
            "login_attr = \"mail\"\nremoved = \"delete\"\n\
             folder = { by = \"ou_path\", base_dn = \"dc=example,dc=com\" }\n\
             [roles.create]\nkind = \"organizational\"\n",
        )
        .unwrap_or_default();
        assert_eq!(c.mapping.login_attr, "mail");
        let back = Draft::of(&c).config();
        assert_eq!(back.ok(), Some(c));
    }

    #[test]
    fn i1_a_bad_field_is_named() {
        let mut d = Draft::blank();
        d.page_size = "many".into();
        assert!(d.config().is_err_and(|e| e.contains("Page size")));
        let mut d = Draft::blank();
        d.mapping = "login_attr = 3".into();
        assert!(d.config().is_err_and(|e| e.contains("mapping")));
    }
}
