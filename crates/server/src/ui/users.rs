//! Users (D1, U1–U4): the searchable, filterable, paged list with bulk grant/recall and
//! block/unblock/delete, CSV import and export, and a user's page with the Licenses tab.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use maud::html;
use seatkeeper_core::Permission::{ManageLicenses, ViewLicenses};
use seatkeeper_core::{Area, AssignmentStatus, Error as DomainError, UserState};
use seatkeeper_store::{NewUser, StoreError, UserFilter};
use serde::Deserialize;

use super::view::{self, n};
use super::{Form, Ui, UiError, UiResult, Upload, done, outcome};
use crate::AppState;
use crate::error::ApiError;

/// Rows per page: enough to act on in one go, small enough to render at once at any size.
const PAGE: u64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    area: Option<String>,
    folder: Option<String>,
    state: Option<String>,
    product: Option<String>,
    role: Option<String>,
    page: Option<u64>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ListQuery {
    fn filter(&self) -> Result<UserFilter, UiError> {
        let bad = |what: &str, v: &str| {
            UiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{v:?} is not a {what}"),
            )
        };
        Ok(UserFilter {
            area: blank(&self.area)
                .map(|a| a.parse::<Area>().map_err(|_| bad("user area", a)))
                .transpose()?,
            state: blank(&self.state)
                .map(|s| s.parse::<UserState>().map_err(|_| bad("user state", s)))
                .transpose()?,
            folder: blank(&self.folder).map(str::to_string),
            product: blank(&self.product).map(str::to_string),
            role: blank(&self.role)
                .map(|r| r.parse::<i64>().map_err(|_| bad("role id", r)))
                .transpose()?,
            search: blank(&self.q).map(str::to_string),
            limit: Some(PAGE),
            offset: self
                .page
                .unwrap_or(1)
                .saturating_sub(1)
                .saturating_mul(PAGE),
        })
    }

    /// The query string of this list, without the page, for links and the return address.
    fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("area", &self.area),
            ("folder", &self.folder),
            ("state", &self.state),
            ("product", &self.product),
            ("role", &self.role),
        ] {
            if let Some(v) = blank(v) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }
}

fn status_mark(s: AssignmentStatus) -> &'static str {
    match s {
        AssignmentStatus::Active => "",
        AssignmentStatus::Suspended => " (suspended)",
        AssignmentStatus::Releasing => " (releasing)",
    }
}

pub async fn list(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<ListQuery>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let filter = q.filter()?;
    let (users, total) = match (
        state.ledger.users(&filter).await,
        state.ledger.count_users(&filter).await,
    ) {
        (Ok(u), Ok(t)) => (u, t),
        (Err(e), _) | (_, Err(e)) => match e {
            // An unknown folder or product in the filter is the administrator's typo: say so.
            StoreError::Domain(d) => {
                return Ok(done(&ui, "/ui/users", false, d.to_string()));
            }
            other => return Err(other.into()),
        },
    };
    let folders = state.ledger.folders().await?;
    let products = state.ledger.products().await?;
    let roles = state.ledger.role_tree().await?;
    let page = q.page.unwrap_or(1).max(1);
    let pages = total.div_ceil(PAGE).max(1);
    let qs = q.query();
    let back = if qs.is_empty() {
        format!("/ui/users?page={page}")
    } else {
        format!("/ui/users?{qs}&page={page}")
    };
    let may = ui.may(ManageLicenses);
    let opt = |v: Vec<(String, String)>| v;
    Ok(view::page(
        &ui,
        "/ui/users",
        "Users",
        html! {
            form #user-filter .filters method="get" action="/ui/users" role="search" {
                label { span { "Search" } input name="q" type="search" value=[blank(&q.q)] placeholder="login, name or e-mail"; }
                (view::select("area", "Area", &opt(Area::ALL.iter().map(|a| (a.as_str().to_string(), a.as_str().to_string())).collect()), blank(&q.area)))
                (view::select("state", "State", &[("active".into(), "active".into()), ("blocked".into(), "blocked".into())], blank(&q.state)))
                (view::select("folder", "Folder", &folders.iter().map(|f| (f.path.clone(), f.path.clone())).collect::<Vec<_>>(), blank(&q.folder)))
                (view::select("product", "Product", &products.iter().map(|p| (p.code.clone(), format!("{} ({})", p.name, p.code))).collect::<Vec<_>>(), blank(&q.product)))
                (view::select("role", "Role", &roles.iter().map(|r| (r.id.to_string(), r.name.clone())).collect::<Vec<_>>(), blank(&q.role)))
                button type="submit" { "Filter" }
                @if !qs.is_empty() { a href="/ui/users" { "Clear" } }
            }
            p #user-count .muted { (n(total)) " user(s)" @if pages > 1 { ", page " (page) " of " (n(pages)) } }
            form #bulk method="post" action="/ui/users/bulk" {
                (ui.csrf_field())
                input type="hidden" name="back" value=(back);
                @if may {
                    div.actions role="group" aria-label="With the selected users" {
                        span.muted { "With the selected users:" }
                        button type="submit" name="action" value="grant" { "Grant licenses…" }
                        button type="submit" name="action" value="recall" { "Recall licenses…" }
                        button type="submit" name="action" value="block" { "Block" }
                        button type="submit" name="action" value="unblock" { "Unblock" }
                        button.danger type="submit" name="action" value="delete" { "Delete…" }
                    }
                }
                div.scroll {
                table #users {
                    thead { tr {
                        th scope="col" { @if may { input #select-all type="checkbox" aria-label="Select all on this page"; } }
                        th scope="col" { "Login" } th scope="col" { "Name" } th scope="col" { "Area" }
                        th scope="col" { "Folder" } th scope="col" { "State" } th scope="col" { "Licenses" }
                    } }
                    tbody {
                        @if users.is_empty() { tr { td colspan="7" .muted { "No user matches." } } }
                        @for u in &users {
                            tr data-login=(u.login) data-state=(u.state.as_str()) {
                                td { @if may && !u.builtin { input type="checkbox" name="login" value=(u.login) aria-label=(format!("Select {}", u.login)); } }
                                th scope="row" { a href=(format!("/ui/users/{}", urlenc(&u.login))) { (u.login) } @if u.builtin { " " span.tag { "built-in" } } (view::source_tag(&u.source)) }
                                td { (u.name) }
                                td { (u.area.as_str()) }
                                td { (u.folder) }
                                td.state { (u.state.as_str()) @if let Some(r) = &u.block_reason { span.muted { " (" (r) ")" } } }
                                td.licenses { @for (i, l) in u.licenses.iter().enumerate() { @if i > 0 { ", " } (l.product) (status_mark(l.status)) } }
                            }
                        }
                    }
                }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if page > 1 { a rel="prev" href=(page_link(&qs, page - 1)) { "← Previous" } }
                    span { "Page " (page) " of " (n(pages)) }
                    @if page < pages { a rel="next" href=(page_link(&qs, page + 1)) { "Next →" } }
                }
            }
            div.grid2 {
                section aria-labelledby="csv-h" {
                    h2 #csv-h { "CSV" }
                    p { a #export-csv href="/ui/users/export.csv" download { "Export all users as CSV" } }
                    @if may {
                        form #import-csv method="post" action="/ui/users/import" enctype="multipart/form-data" {
                            (ui.csrf_field())
                            label for="csv" { "Import users from CSV (login,name,email,area,folder,state): all lines or none" }
                            input #csv name="file" type="file" accept=".csv,text/csv" required;
                            button type="submit" { "Import" }
                        }
                    }
                }
                @if may {
                    section aria-labelledby="new-h" {
                        h2 #new-h { "New user" }
                        form #new-user method="post" action="/ui/users/new" {
                            (ui.csrf_field())
                            label for="nu-login" { "Login" } input #nu-login name="login" required;
                            label for="nu-name" { "Name" } input #nu-name name="name";
                            label for="nu-email" { "E-mail" } input #nu-email name="email" type="email";
                            label for="nu-area" { "Area" }
                            select #nu-area name="area" { @for a in Area::ALL { option value=(a.as_str()) { (a.as_str()) } } }
                            label for="nu-folder" { "Folder" }
                            select #nu-folder name="folder" { @for f in &folders { option value=(f.path) { (f.path) } } }
                            button type="submit" { "Create" }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

fn page_link(qs: &str, page: u64) -> String {
    if qs.is_empty() {
        format!("/ui/users?page={page}")
    } else {
        format!("/ui/users?{qs}&page={page}")
    }
}

pub fn urlenc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Where to go back to: a users-list address from the form, or the list.
fn back(form: &Form) -> String {
    form.get("back")
        .filter(|b| b.starts_with("/ui/users") && !b.starts_with("//"))
        .unwrap_or("/ui/users")
        .to_string()
}

/// D1/U3: the selected users' bulk actions. Grant and recall first ask which products
/// ("Select: Licensed configuration"); delete asks for confirmation.
pub async fn bulk(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = back(&form);
    let logins = form.all("login");
    let action = form.get("action").unwrap_or_default().to_string();
    if logins.is_empty() {
        return Ok(done(&ui, &back, false, "Select at least one user first."));
    }
    let products = form.all("product");
    let actor = ui.actor();
    match action.as_str() {
        "grant" | "recall" if products.is_empty() => {
            Ok(product_dialog(&state, &ui, &action, &logins, &back, form.get("confirm").is_some()).await?)
        }
        "grant" => {
            let r = state.ledger.grant(&actor, &logins, &products).await;
            Ok(outcome(&ui, &back, r, |r| {
                format!(
                    "Granted {} license(s){}.",
                    r.granted.len(),
                    if r.already_held > 0 {
                        format!("; {} already held", r.already_held)
                    } else {
                        String::new()
                    }
                )
            }))
        }
        "recall" => {
            let r = state.ledger.recall(&actor, &logins, &products).await;
            Ok(outcome(&ui, &back, r, |r| {
                let mut s = format!("Recalled {} license(s)", r.recalled.len());
                if !r.releasing.is_empty() {
                    s += &format!(
                        "; {} in use by a session, freed when it ends",
                        r.releasing.len()
                    );
                }
                if r.not_held > 0 {
                    s += &format!("; {} were not held", r.not_held);
                }
                s + "."
            }))
        }
        "block" | "unblock" => {
            let mut ok = 0;
            let mut errors = Vec::new();
            for l in &logins {
                let r = if action == "block" {
                    state
                        .ledger
                        .block_user(&actor, l, "blocked by an administrator")
                        .await
                        .map(|_| ())
                } else {
                    state.ledger.activate_user(&actor, l).await
                };
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => errors.push(format!("{l}: {}", ApiError::from(e).message)),
                }
            }
            state.principals.clear();
            let verb = if action == "block" { "Blocked" } else { "Unblocked" };
            if errors.is_empty() {
                Ok(done(&ui, &back, true, format!("{verb} {ok} user(s).")))
            } else {
                Ok(done(
                    &ui,
                    &back,
                    false,
                    format!("{verb} {ok} user(s). Refused: {}", errors.join("; ")),
                ))
            }
        }
        "delete" if form.get("confirm") != Some("yes") => Ok(view::page(
            &ui,
            "/ui/users",
            "Delete users",
            html! {
                p.warn { "Delete " (logins.len()) " user(s)? Their seats are freed and their sessions end. This cannot be undone." }
                ul.plain { @for l in &logins { li { (l) } } }
                form #confirm-delete method="post" action="/ui/users/bulk" {
                    (ui.csrf_field())
                    input type="hidden" name="back" value=(back);
                    input type="hidden" name="action" value="delete";
                    input type="hidden" name="confirm" value="yes";
                    @for l in &logins { input type="hidden" name="login" value=(l); }
                    button.danger type="submit" { "Delete" }
                    " " a href=(back) { "Cancel" }
                }
            },
        )
        .into_response()),
        "delete" => {
            let mut ok = 0;
            let mut errors = Vec::new();
            for l in &logins {
                match state.ledger.delete_user(&actor, l).await {
                    Ok(_) => ok += 1,
                    Err(e) => errors.push(format!("{l}: {}", ApiError::from(e).message)),
                }
            }
            state.principals.clear();
            let text = format!("Deleted {ok} user(s).");
            if errors.is_empty() {
                Ok(done(&ui, &back, true, text))
            } else {
                Ok(done(&ui, &back, false, format!("{text} Refused: {}", errors.join("; "))))
            }
        }
        other => Ok(done(&ui, &back, false, format!("Unknown action {other:?}."))),
    }
}

/// The product dialog for a bulk grant or recall, with the free seats beside each product.
async fn product_dialog(
    state: &AppState,
    ui: &Ui,
    action: &str,
    logins: &[String],
    back: &str,
    asked: bool,
) -> UiResult<Response> {
    let products = state.ledger.products().await?;
    let summary = state.ledger.summary(time::Duration::days(30)).await?;
    let mut free: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for p in &summary.products {
        free.entry(p.product.as_str()).or_default().push(format!(
            "{} free of {} ({} {})",
            n(p.free),
            n(p.total),
            p.area.as_str(),
            p.kind.as_str()
        ));
    }
    let title = if action == "grant" {
        "Grant licenses"
    } else {
        "Recall licenses"
    };
    Ok(view::page(
        ui,
        "/ui/users",
        title,
        html! {
            @if asked { p.error role="alert" { "Choose at least one product." } }
            p { (title) " for " (logins.len()) " selected user(s): " (logins.iter().take(10).cloned().collect::<Vec<_>>().join(", ")) @if logins.len() > 10 { ", …" } }
            form #bulk-products method="post" action="/ui/users/bulk" {
                (ui.csrf_field())
                input type="hidden" name="back" value=(back);
                input type="hidden" name="action" value=(action);
                input type="hidden" name="confirm" value="asked";
                @for l in logins { input type="hidden" name="login" value=(l); }
                fieldset {
                    legend { "Select: licensed products" }
                    @for p in &products {
                        label.check {
                            input type="checkbox" name="product" value=(p.code);
                            " " (p.name) " " span.code { (p.code) }
                            @if let Some(f) = free.get(p.code.as_str()) { " " span.muted { "— " (f.join("; ")) } }
                        }
                    }
                    @if products.is_empty() { p.muted { "No products: upload a license first." } }
                }
                button #confirm-bulk .primary type="submit" { (title) }
                " " a href=(back) { "Cancel" }
            }
        },
    )
    .into_response())
}

pub async fn create(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let login = form.get("login").unwrap_or_default().to_string();
    let area = match form.get("area").unwrap_or("employee").parse::<Area>() {
        Ok(a) => a,
        Err(_) => return Ok(done(&ui, "/ui/users", false, "Unknown area.")),
    };
    let folder = form.get("folder").unwrap_or("/");
    let new = NewUser {
        login: login.clone(),
        name: form.get("name").unwrap_or(&login).to_string(),
        email: form.get("email").unwrap_or_default().to_string(),
        area,
        folder: if folder == "/" {
            String::new()
        } else {
            folder.to_string()
        },
        state: UserState::Active,
    };
    let r = state.ledger.create_user(&ui.actor(), new).await;
    Ok(outcome(&ui, "/ui/users", r, |u| {
        format!("Created user {}.", u.login)
    }))
}

/// U1: CSV import, all lines or none; a refused file lists every bad line.
pub async fn import_csv(
    State(state): State<AppState>,
    ui: Ui,
    upload: Upload,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let Some(text) = upload.text("file").filter(|t| !t.trim().is_empty()) else {
        return Ok(done(
            &ui,
            "/ui/users",
            false,
            "Choose a CSV file to import.",
        ));
    };
    let result = state.ledger.import_users_csv(&ui.actor(), &text).await;
    // A row may block a user: their cached credentials must not outlive the change.
    state.principals.clear();
    match result {
        Ok(r) => Ok(done(
            &ui,
            "/ui/users",
            true,
            format!(
                "Imported the CSV: {} created, {} updated, {} unchanged.",
                r.created, r.updated, r.unchanged
            ),
        )),
        Err(StoreError::Domain(DomainError::Csv(rows))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            view::page(
                &ui,
                "/ui/users",
                "CSV refused",
                html! {
                    p.error role="alert" { "The CSV was refused and nothing was imported: " (rows.len()) " line(s) have errors." }
                    table #csv-errors {
                        thead { tr { th.num scope="col" { "Line" } th scope="col" { "Error" } } }
                        tbody { @for r in rows.iter().take(1000) { tr { td.num { (r.line) } td { (r.message) } } } }
                    }
                    @if rows.len() > 1000 { p.muted { "… and " (rows.len() - 1000) " more." } }
                    p { a href="/ui/users" { "Back to users" } }
                },
            ),
        )
            .into_response()),
        Err(e) => Ok(done(&ui, "/ui/users", false, ApiError::from(e).message)),
    }
}

pub async fn export_csv(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let csv = state.ledger.export_users_csv().await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"seatkeeper-users.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// A user's page: details, the Licenses tab (every product with its reasons), sessions.
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Path(login): Path<String>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let user = state.ledger.user(&login).await?;
    let products = state.ledger.products().await?;
    let sessions = state.ledger.sessions(Some(&user.login), 100, 0).await?;
    let folders = state.ledger.folders().await?;
    let mut rows = Vec::new();
    for p in &products {
        let held = user.licenses.iter().find(|l| l.product == p.code);
        let explain = state.ledger.explain(&user.login, &p.code).await.ok();
        rows.push((p, held, explain));
    }
    let may = ui.may(ManageLicenses);
    let base = format!("/ui/users/{}", urlenc(&user.login));
    let action = format!("{base}/action");
    Ok(view::page(
        &ui,
        "/ui/users",
        &format!("User {}", user.login),
        html! {
            dl.facts {
                dt { "Name" } dd { (user.name) }
                dt { "E-mail" } dd { @if user.email.is_empty() { "—" } @else { (user.email) } }
                dt { "Area" } dd { (user.area.as_str()) }
                dt { "Folder" } dd { (user.folder) }
                dt { "Source" } dd #user-source { (view::source_name(&user.source)) }
                dt { "State" } dd #user-state { (user.state.as_str()) @if let Some(r) = &user.block_reason { " (" (r) ")" } }
                dt { "Since" } dd { (view::date(user.created_at)) }
            }
            @if may && !user.builtin {
                div.actions {
                    form.inline method="post" action=(action) {
                        (ui.csrf_field())
                        @if user.state == UserState::Active {
                            button type="submit" name="action" value="block" { "Block" }
                        } @else {
                            button type="submit" name="action" value="unblock" { "Unblock" }
                        }
                        button type="submit" name="action" value="redistribute" { "Redistribute licenses for this user" }
                    }
                    form.inline method="post" action=(action) {
                        (ui.csrf_field())
                        label { span { "Move to folder " } select name="folder" { @for f in &folders { option value=(f.path) selected[f.path == user.folder] { (f.path) } } } }
                        button type="submit" name="action" value="move" { "Move" }
                    }
                }
            }
            section #licenses-tab aria-labelledby="lic-h" {
                h2 #lic-h { "Licenses" }
                div.scroll {
                table #licenses {
                    thead { tr { th scope="col" { "Product" } th scope="col" { "Holds" } th scope="col" { "Seat folder" } th scope="col" { "Why" } @if may { th scope="col" { "Action" } } } }
                    tbody {
                        @for (p, held, explain) in &rows {
                            tr data-product=(p.code) data-holds=(held.is_some()) {
                                th scope="row" { (p.name) " " span.code { (p.code) } }
                                td.holds { @match held { Some(l) => { "yes" (status_mark(l.status)) }, None => "no" } }
                                td { @if let Some(l) = held { (l.seat_folder) } }
                                td.reasons {
                                    @if let Some(e) = explain {
                                        ul.plain { @for r in &e.reasons { li { (r.message) } } }
                                    }
                                }
                                @if may && !user.builtin {
                                    td {
                                        form.inline method="post" action=(action) {
                                            (ui.csrf_field())
                                            input type="hidden" name="product" value=(p.code);
                                            @if held.is_some() {
                                                button type="submit" name="action" value="recall" { "Recall" }
                                            } @else {
                                                button type="submit" name="action" value="grant" { "Grant" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if rows.is_empty() { tr { td colspan="5" .muted { "No products: upload a license first." } } }
                    }
                }
                }
            }
            section aria-labelledby="ses-h" {
                h2 #ses-h { "Sessions" }
                table #sessions {
                    thead { tr { th scope="col" { "Started" } th scope="col" { "Last seen" } th scope="col" { "Client" } th scope="col" { "Floating seats" } @if may { th scope="col" { "Action" } } } }
                    tbody {
                        @if sessions.is_empty() { tr { td colspan="5" .muted { "Not logged in." } } }
                        @for s in &sessions {
                            tr data-session=(s.id) {
                                td { (view::datetime(s.started_at)) }
                                td { (view::datetime(s.last_seen)) }
                                td { (s.client) }
                                td { (s.floating.join(", ")) }
                                @if may {
                                    td { form.inline method="post" action=(action) {
                                        (ui.csrf_field())
                                        input type="hidden" name="session" value=(s.id);
                                        button type="submit" name="action" value="end_session" { "End session" }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

/// One user's actions: grant/recall one product, block, unblock, redistribute, move, end a
/// session.
pub async fn action(
    State(state): State<AppState>,
    ui: Ui,
    Path(login): Path<String>,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = format!("/ui/users/{}", urlenc(&login));
    let actor = ui.actor();
    let product = form.get("product").map(str::to_string);
    let who = std::slice::from_ref(&login);
    let r = match form.get("action").unwrap_or_default() {
        "grant" => {
            let p = product.unwrap_or_default();
            outcome(
                &ui,
                &back,
                state
                    .ledger
                    .grant(&actor, who, std::slice::from_ref(&p))
                    .await,
                |r| {
                    if r.granted.is_empty() {
                        format!("{login} already holds {p}.")
                    } else {
                        format!("Granted {p} to {login}.")
                    }
                },
            )
        }
        "recall" => {
            let p = product.unwrap_or_default();
            outcome(
                &ui,
                &back,
                state
                    .ledger
                    .recall(&actor, who, std::slice::from_ref(&p))
                    .await,
                |r| {
                    if !r.releasing.is_empty() {
                        format!(
                            "Recalled {p} from {login}; the seat is freed when the user's session ends."
                        )
                    } else {
                        format!("Recalled {p} from {login}.")
                    }
                },
            )
        }
        "block" => {
            let r = state
                .ledger
                .block_user(&actor, &login, "blocked by an administrator")
                .await;
            state.principals.clear();
            outcome(&ui, &back, r, |r| {
                format!("Blocked {login}; {} seat(s) freed.", r.freed.len())
            })
        }
        "unblock" => outcome(
            &ui,
            &back,
            state.ledger.activate_user(&actor, &login).await,
            |()| format!("Unblocked {login}."),
        ),
        "redistribute" => outcome(
            &ui,
            &back,
            state.ledger.redistribute_user(&actor, &login).await,
            |r| {
                format!(
                    "Redistributed for {login}: {} granted, {} recalled, {} unmet.",
                    r.granted, r.recalled, r.unmet
                )
            },
        ),
        "move" => {
            let folder = form.get("folder").unwrap_or("/").to_string();
            let path = if folder == "/" {
                String::new()
            } else {
                folder.clone()
            };
            outcome(
                &ui,
                &back,
                state.ledger.move_user(&actor, &login, &path).await,
                |()| format!("Moved {login} to {folder}."),
            )
        }
        "end_session" => {
            let id = form.get("session").unwrap_or_default().to_string();
            outcome(
                &ui,
                &back,
                state.ledger.end_session(&actor, &id).await,
                |r| {
                    format!(
                        "Ended the session; {} floating seat(s) freed.",
                        r.released.len()
                    )
                },
            )
        }
        other => done(&ui, &back, false, format!("Unknown action {other:?}.")),
    };
    Ok(r)
}
