//! Roles (D2–D6): the organizational and functional trees, a role's members and its
//! Licenses tab, and redistribution — for a role or for all roles — always previewed first.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::{ManageAccess, ManageLicenses, ViewLicenses};
use seatkeeper_store::{ManualGrants, PlanItem, RedistributionReport, RoleSummary, Scope};

use super::users::urlenc;
use super::view::{self, n};
use super::{Form, Ui, UiResult, done, outcome};
use crate::AppState;

fn tree(
    roles: &[RoleSummary],
    kind: &str,
    parent: Option<i64>,
    bound: &HashMap<i64, Vec<String>>,
) -> Markup {
    let children: Vec<&RoleSummary> = roles
        .iter()
        .filter(|r| r.kind == kind && r.parent_id == parent)
        .collect();
    html! {
        @if !children.is_empty() {
            ul.tree {
                @for r in children {
                    li data-role=(r.id) {
                        a href=(format!("/ui/roles/{}", r.id)) { (r.name) }
                        (view::source_tag(&r.source))
                        span.muted { " · " (n(r.members)) " member(s)" }
                        @if let Some(p) = bound.get(&r.id) { " " @for c in p { span.tag { (c) } " " } }
                        (tree(roles, kind, Some(r.id), bound))
                    }
                }
            }
        }
    }
}

pub async fn list(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let roles = state.ledger.role_tree().await?;
    let bound = state.ledger.role_products().await?;
    let settings = state.ledger.distribution_settings().await?;
    Ok(view::page(
        &ui,
        "/ui/roles",
        "Roles",
        html! {
            @if !settings.role_based_distribution {
                p.notice { "Role-based distribution is turned off (Settings): roles do not give licenses until it is turned on." }
            }
            div.grid2 {
                section aria-labelledby="org-h" {
                    h2 #org-h { "Organizational roles" }
                    div #org-tree { (tree(&roles, "organizational", None, &bound)) }
                }
                section aria-labelledby="fun-h" {
                    h2 #fun-h { "Functional roles" }
                    div #fun-tree { (tree(&roles, "functional", None, &bound)) }
                }
            }
            @if ui.may(ManageLicenses) {
                section aria-labelledby="all-h" {
                    h2 #all-h { "Redistribute licenses for all roles" }
                    (redistribute_form(&ui, None))
                }
            }
        },
    )
    .into_response())
}

/// "Keep or remove manually granted licenses?", then the preview.
fn redistribute_form(ui: &Ui, role: Option<i64>) -> Markup {
    html! {
        form #redistribute method="post" action="/ui/redistribute/preview" {
            (ui.csrf_field())
            @match role {
                Some(id) => { input type="hidden" name="scope" value="role"; input type="hidden" name="role" value=(id); }
                None => { input type="hidden" name="scope" value="all"; }
            }
            fieldset {
                legend { "Licenses granted by hand that no role asks for" }
                label.check { input type="radio" name="manual" value="keep" checked; " Keep them" }
                label.check { input type="radio" name="manual" value="remove"; " Remove them" }
            }
            button #preview-redistribution type="submit" {
                @if role.is_some() { "Preview: redistribute licenses for the role" } @else { "Preview: redistribute licenses for all roles" }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let roles = state.ledger.role_tree().await?;
    let Some(role) = roles.iter().find(|r| r.id == id) else {
        return Err(super::UiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("there is no role {id}"),
        ));
    };
    let bound = state.ledger.role_products().await?;
    let products = state.ledger.products().await?;
    let names: HashMap<i64, &str> = roles.iter().map(|r| (r.id, r.name.as_str())).collect();
    // Bound here, and inherited from ancestors (members of descendants get them too).
    let mut inherited = Vec::new();
    let mut cur = role.parent_id;
    while let Some(p) = cur {
        for c in bound.get(&p).into_iter().flatten() {
            inherited.push((c.clone(), names.get(&p).copied().unwrap_or("?")));
        }
        cur = roles.iter().find(|r| r.id == p).and_then(|r| r.parent_id);
    }
    let own = bound.get(&id).cloned().unwrap_or_default();
    let unbound: Vec<_> = products.iter().filter(|p| !own.contains(&p.code)).collect();
    let members_shown: u64 = 200;
    let members = state.ledger.role_members(id, members_shown).await?;
    Ok(view::page(
        &ui,
        "/ui/roles",
        &format!("Role {}", role.name),
        html! {
            dl.facts {
                dt { "Kind" } dd { (role.kind) }
                dt { "Source" } dd #role-source { (view::source_name(&role.source)) }
                dt { "Parent" } dd { @match role.parent_id { Some(p) => a href=(format!("/ui/roles/{p}")) { (names.get(&p).copied().unwrap_or("?")) }, None => "—" } }
                dt { "Permissions" } dd { @if role.permissions.is_empty() { "none" } @else { (role.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) } }
            }
            section #licenses-tab aria-labelledby="rl-h" {
                h2 #rl-h { "Licenses to distribute with the role" }
                table #role-licenses {
                    thead { tr { th scope="col" { "Product" } th scope="col" { "Given by" } @if ui.may(ManageLicenses) { th scope="col" { "Action" } } } }
                    tbody {
                        @for c in &own {
                            tr data-product=(c) {
                                td { (c) } td { "this role" }
                                @if ui.may(ManageLicenses) {
                                    td { form.inline method="post" action=(format!("/ui/roles/{id}/products")) {
                                        (ui.csrf_field())
                                        input type="hidden" name="product" value=(c);
                                        button type="submit" name="on" value="false" { "Remove" }
                                    } }
                                }
                            }
                        }
                        @for (c, from) in &inherited {
                            tr data-product=(c) data-inherited="true" { td { (c) } td { "ancestor " (from) } @if ui.may(ManageLicenses) { td {} } }
                        }
                        @if own.is_empty() && inherited.is_empty() { tr { td colspan="3" .muted { "No licenses are bound to this role." } } }
                    }
                }
                @if ui.may(ManageLicenses) && !unbound.is_empty() {
                    form #bind-product method="post" action=(format!("/ui/roles/{id}/products")) {
                        (ui.csrf_field())
                        label for="bind" { "Add a product" }
                        select #bind name="product" { @for p in &unbound { option value=(p.code) { (p.name) " (" (p.code) ")" } } }
                        button type="submit" name="on" value="true" { "Add" }
                    }
                }
                @if ui.may(ManageLicenses) {
                    h3 { "Redistribute licenses for the role" }
                    p.muted { "Applies to the members of this role and of the roles below it." }
                    (redistribute_form(&ui, Some(id)))
                }
            }
            section aria-labelledby="mem-h" {
                h2 #mem-h { "Members" }
                p { (n(role.members)) " direct member(s). "
                    a href=(format!("/ui/users?role={id}")) { "See them in the user list" } }
                ul.plain.columns #members {
                    @for m in &members {
                        li { a href=(format!("/ui/users/{}", urlenc(m))) { (m) } }
                    }
                }
                @if role.members > members_shown { p.muted { "… and " (n(role.members - members_shown)) " more." } }
                @if ui.may(ManageAccess) {
                    form #members-form method="post" action=(format!("/ui/roles/{id}/members")) {
                        (ui.csrf_field())
                        label for="member-logins" { "Logins (separated by spaces, commas or lines)" }
                        textarea #member-logins name="logins" rows="2" {}
                        button type="submit" name="on" value="true" { "Add to role" }
                        button type="submit" name="on" value="false" { "Remove from role" }
                    }
                }
            }
        },
    )
    .into_response())
}

fn change_text(r: &seatkeeper_store::RoleChange, what: &str) -> String {
    match &r.redistribution {
        Some(d) => format!(
            "{what} Redistributed at once (setting): {} granted, {} recalled, {} unmet.",
            d.granted, d.recalled, d.unmet
        ),
        None => what.to_string(),
    }
}

pub async fn bind(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let back = format!("/ui/roles/{id}");
    let product = form.get("product").unwrap_or_default().to_string();
    let on = form.get("on") != Some("false");
    let r = state
        .ledger
        .set_role_product(&ui.actor(), id, &product, on)
        .await;
    Ok(outcome(&ui, &back, r, |r| {
        change_text(
            &r,
            &if on {
                format!(
                    "{product} is now distributed with the role. Redistribute to apply it to the members."
                )
            } else {
                format!("{product} is no longer distributed with the role.")
            },
        )
    }))
}

pub async fn members(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    form: Form,
) -> UiResult<Response> {
    ui.require(ManageAccess)?;
    let back = format!("/ui/roles/{id}");
    let logins: Vec<String> = form
        .get("logins")
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let on = form.get("on") != Some("false");
    let r = state
        .ledger
        .set_role_members(&ui.actor(), id, &logins, on)
        .await;
    state.principals.clear();
    Ok(outcome(&ui, &back, r, |r| {
        change_text(
            &r,
            &format!(
                "{} membership(s) {}.",
                r.changed,
                if on { "added" } else { "removed" }
            ),
        )
    }))
}

fn scope_of(form: &Form) -> Result<Scope, String> {
    match form.get("scope") {
        Some("all") => Ok(Scope::All),
        Some("role") => form
            .get("role")
            .and_then(|r| r.parse().ok())
            .map(|role| Scope::Role { role })
            .ok_or_else(|| "no role was named".to_string()),
        _ => Err("choose a role or all roles".into()),
    }
}

fn manual_of(form: &Form) -> Result<ManualGrants, String> {
    match form.get("manual") {
        Some("keep") => Ok(ManualGrants::Keep),
        Some("remove") => Ok(ManualGrants::Remove),
        _ => Err("choose whether to keep or remove manually granted licenses".into()),
    }
}

/// The scope, the page to go back to, and the keep/remove choice of a redistribution form;
/// or the page that says what is wrong with it.
fn request_of(ui: &Ui, form: &Form) -> Result<(Scope, String, ManualGrants), Box<Response>> {
    let scope = scope_of(form).map_err(|e| Box::new(done(ui, "/ui/roles", false, e)))?;
    let back = back_of(&scope);
    let manual = manual_of(form).map_err(|e| Box::new(done(ui, &back, false, e)))?;
    Ok((scope, back, manual))
}

fn back_of(scope: &Scope) -> String {
    match scope {
        Scope::Role { role } => format!("/ui/roles/{role}"),
        _ => "/ui/roles".into(),
    }
}

fn items(id: &str, title: &str, total: u64, list: &[PlanItem]) -> Markup {
    html! {
        section aria-labelledby=(format!("{id}-h")) {
            h2 id=(format!("{id}-h")) { (title) ": " span.count { (n(total)) } }
            @if list.is_empty() {
                p.muted id=(id) { "None." }
            } @else {
                table id=(id) {
                    thead { tr { th scope="col" { "User" } th scope="col" { "Product" } th scope="col" { "Note" } } }
                    tbody {
                        @for i in list {
                            tr data-login=(i.login) data-product=(i.product) {
                                td { a href=(format!("/ui/users/{}", urlenc(&i.login))) { (i.login) } }
                                td { (i.product) }
                                td { (i.detail.as_deref().unwrap_or_default().replace('_', " ")) }
                            }
                        }
                    }
                }
                @if (list.len() as u64) < total { p.muted { "The first " (list.len()) " are listed." } }
            }
        }
    }
}

/// D4: what a redistribution would do — grants, recalls, unmet needs — with nothing changed.
pub async fn preview(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let (scope, back, manual) = match request_of(&ui, &form) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let report = match state
        .ledger
        .preview_redistribution(&scope, manual, 100)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Ok(done(
                &ui,
                &back,
                false,
                crate::error::ApiError::from(e).message,
            ));
        }
    };
    Ok(preview_page(&ui, &scope, manual, &report, &back).into_response())
}

fn preview_page(
    ui: &Ui,
    scope: &Scope,
    manual: ManualGrants,
    r: &RedistributionReport,
    back: &str,
) -> Markup {
    view::page(
        ui,
        "/ui/roles",
        "Preview the redistribution",
        html! {
            div #preview {
                p { "For " strong { (r.scope) } " (" (n(r.users)) " user(s)), keeping manually granted licenses: "
                    strong { @if manual == ManualGrants::Keep { "yes" } @else { "no" } } ". Nothing has changed yet." }
                @if r.releasing > 0 { p.notice { (n(r.releasing)) " recalled seat(s) are in use by a session and will be freed when it ends." } }
                (items("grants", "Grants", r.granted, &r.grants))
                (items("recalls", "Recalls", r.recalled, &r.recalls))
                (items("unmet", "Unmet needs (no seat free)", r.unmet, &r.unmet_needs))
                form #apply method="post" action="/ui/redistribute/apply" {
                    (ui.csrf_field())
                    @match scope {
                        Scope::Role { role } => { input type="hidden" name="scope" value="role"; input type="hidden" name="role" value=(role); }
                        _ => { input type="hidden" name="scope" value="all"; }
                    }
                    input type="hidden" name="manual" value=(if manual == ManualGrants::Keep { "keep" } else { "remove" });
                    button.primary type="submit" { "Apply" }
                    " " a href=(back) { "Cancel" }
                }
            }
        },
    )
}

pub async fn apply(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let (scope, back, manual) = match request_of(&ui, &form) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let r = state.ledger.redistribute(&ui.actor(), &scope, manual).await;
    Ok(outcome(&ui, &back, r, |r| {
        format!(
            "Redistribution done: {} granted, {} recalled, {} unmet. The result is in Messages.",
            r.granted, r.recalled, r.unmet
        )
    }))
}
