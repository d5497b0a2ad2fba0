//! The license manager (L1–L5, U4): seats per product and area, area user limits, the
//! license request, upload with a preview of what the file adds or replaces, delete all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::{ManageLicenses, ViewLicenses};
use seatkeeper_core::license::{self, VerifiedLicense};
use seatkeeper_store::{ImportReport, PackageStatus};

use super::view::{self, n};
use super::{Form, Ui, UiError, UiResult, Upload, done, outcome};
use crate::AppState;
use crate::error::ApiError;

pub async fn page(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    Ok(render(&state, &ui, None).await?.into_response())
}

async fn render(state: &AppState, ui: &Ui, error: Option<&str>) -> UiResult<Markup> {
    let summary = state.ledger.summary(time::Duration::days(30)).await?;
    let packages = state.ledger.packages().await?;
    let files = state.ledger.license_files().await?;
    let instance = state.ledger.instance().await?;
    let may = ui.may(ManageLicenses);
    Ok(view::page(
        ui,
        "/ui/licenses",
        "License manager",
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            @if !summary.licenses_loaded {
                p.notice { "No license is loaded: Seatkeeper runs in demo mode, where only administrators can sign in to the application." }
            } @else if !summary.products.iter().any(|p| p.total > 0) {
                p.notice { "Every license has expired: users keep their assignments (suspended) until a renewal is uploaded." }
            }
            section aria-labelledby="seats-h" {
                h2 #seats-h { "Seats" }
                div.scroll {
                table #products {
                    thead { tr {
                        th scope="col" { "Product" } th scope="col" { "Area" } th scope="col" { "Kind" }
                        th.num scope="col" { "Total" } th.num scope="col" { "Used" } th.num scope="col" { "Free" }
                        th.num scope="col" { "Suspended" } th scope="col" { "Next expiry" } th scope="col" { "Use" }
                    } }
                    tbody {
                        @if summary.products.is_empty() {
                            tr { td colspan="9" .muted { "No products yet." } }
                        }
                        // Pools left at zero by deleted licenses are not products any more.
                        @for p in summary.products.iter().filter(|p| p.total > 0 || p.used > 0 || p.suspended > 0) {
                            tr data-product=(p.product) data-area=(p.area.as_str()) data-kind=(p.kind.as_str()) {
                                th scope="row" { (p.name) " " span.code { (p.product) } }
                                td.area { (p.area.as_str()) }
                                td.kind { (p.kind.as_str()) }
                                td.num.total { (n(p.total)) }
                                td.num.used { (n(p.used)) }
                                td.num.free { (n(p.free)) }
                                td.num.suspended { (n(p.suspended)) }
                                td.next-expiry {
                                    @match p.next_expiry {
                                        Some(t) => { (view::date(t)) @if p.expiring_soon > 0 { " " span.warn { "(" (n(p.expiring_soon)) " within 30 days)" } } }
                                        None => { "—" }
                                    }
                                }
                                td { (view::meter(p.used, p.total)) }
                            }
                        }
                    }
                }
                }
            }
            section aria-labelledby="areas-h" {
                h2 #areas-h { "Active users per area" }
                table #areas {
                    thead { tr { th scope="col" { "Area" } th.num scope="col" { "Active" } th.num scope="col" { "Limit" } th.num scope="col" { "Blocked" } th scope="col" { "Use" } } }
                    tbody {
                        @for a in &summary.areas {
                            tr data-area=(a.area.as_str()) {
                                th scope="row" { (a.area.as_str()) }
                                td.num.active { (n(a.active_users)) }
                                td.num.limit { @match a.limit { Some(l) => (n(l)), None => "no limit" } }
                                td.num.blocked { (n(a.blocked_users)) }
                                td { @if let Some(l) = a.limit { (view::meter(a.active_users, l)) } }
                            }
                        }
                    }
                }
            }
            div.grid2 {
                section aria-labelledby="request-h" {
                    h2 #request-h { "License request" }
                    p { "Send the request to your vendor; it names this installation (" code { (instance.instance_id) } ") and its current use." }
                    @if let Some(note) = view::needs(ui, ManageLicenses) { (note) }
                    @if may {
                        form #license-request method="post" action="/ui/licenses/request" {
                            (ui.csrf_field())
                            label for="company_id" { "Company id" }
                            input #company_id name="company_id" type="text" value=[instance.company_id.as_deref()] placeholder="as agreed with the vendor";
                            button type="submit" { "Download license request" }
                        }
                    }
                }
                section aria-labelledby="upload-h" {
                    h2 #upload-h { "Upload a license file" }
                    p { "You will see what the file adds or replaces before anything changes." }
                    @if may {
                        form #upload-license method="post" action="/ui/licenses/upload" enctype="multipart/form-data" {
                            (ui.csrf_field())
                            label for="file" { "License file" }
                            input #file name="file" type="file" accept=".json,.lic,application/json" required;
                            button.primary type="submit" { "Check file" }
                        }
                    }
                }
            }
            section aria-labelledby="packages-h" {
                h2 #packages-h { "Packages" }
                div.scroll {
                table #packages {
                    thead { tr {
                        th scope="col" { "Serial" } th scope="col" { "Product" } th scope="col" { "Area" } th scope="col" { "Kind" }
                        th.num scope="col" { "Seats" } th scope="col" { "Valid from" } th scope="col" { "Expires" } th scope="col" { "Status" } th scope="col" { "License" }
                    } }
                    tbody {
                        @if packages.is_empty() { tr { td colspan="9" .muted { "No packages." } } }
                        @for p in &packages {
                            tr data-serial=(p.serial) {
                                td { code { (p.serial) } }
                                td { (p.product) } td { (p.area.as_str()) } td { (p.kind.as_str()) }
                                td.num { (n(p.seats)) }
                                td { (view::date(p.valid_from)) }
                                td { @match p.expires { Some(t) => (view::date(t)), None => "never" } }
                                td { (status(p.status)) }
                                td { code { (p.license_id) } }
                            }
                        }
                    }
                }
                }
            }
            section aria-labelledby="files-h" {
                h2 #files-h { "License files" }
                ul.plain {
                    @for f in &files {
                        li { code { (f.license_id) } " for " (f.company_id) ", " (n(f.packages)) " packages, imported " (view::datetime(f.imported_at)) " by " (f.imported_by) }
                    }
                    @if files.is_empty() { li.muted { "None." } }
                }
                @if may && !files.is_empty() {
                    p { a #delete-all .danger href="/ui/licenses/delete" { "Delete all licenses…" } }
                }
            }
        },
    ))
}

fn status(s: PackageStatus) -> &'static str {
    match s {
        PackageStatus::Valid => "in force",
        PackageStatus::NotYetValid => "not yet valid",
        PackageStatus::Expired => "expired",
        PackageStatus::Replaced => "replaced",
    }
}

/// L1: the request, downloaded as a file to send to the vendor.
pub async fn request(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let req = state
        .ledger
        .license_request(
            &ui.actor(),
            form.get("company_id"),
            env!("CARGO_PKG_VERSION"),
        )
        .await;
    let req = match req {
        Ok(r) => r,
        Err(e) => return Ok(done(&ui, "/ui/licenses", false, ApiError::from(e).message)),
    };
    let body = serde_json::to_string_pretty(&req)
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_string()),
            (
                CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"seatkeeper-license-request-{}.json\"",
                    view::date(req.generated_at)
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// L2: checks the uploaded file (signature, binding, serials) and shows what importing it
/// would do — nothing is changed until the administrator confirms.
pub async fn upload(State(state): State<AppState>, ui: Ui, upload: Upload) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let refuse = |state: AppState, ui: Ui, msg: String| async move {
        let page = render(&state, &ui, Some(&msg)).await?;
        Ok::<_, UiError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    if state.settings.vendor_keys.is_empty() {
        return refuse(state, ui, crate::config::NO_VENDOR_KEY.into()).await;
    }
    let Some(text) = upload.text("file").filter(|t| !t.trim().is_empty()) else {
        return refuse(state, ui, "Choose a license file to upload.".into()).await;
    };
    let verified = match license::verify(&text, &state.settings.vendor_keys) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                state,
                ui,
                format!("The file was refused: {e}. Nothing was changed."),
            )
            .await;
        }
    };
    let report = match state
        .ledger
        .preview_license_import(&ui.actor(), &text, &state.settings.vendor_keys)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let msg = ApiError::from(e).message;
            return refuse(
                state,
                ui,
                format!("The file was refused: {msg}. Nothing was changed."),
            )
            .await;
        }
    };
    Ok(preview(&ui, &text, &verified, &report).into_response())
}

fn preview(ui: &Ui, text: &str, v: &VerifiedLicense, r: &ImportReport) -> Markup {
    let p = &v.payload;
    view::page(
        ui,
        "/ui/licenses",
        "Check the license file",
        html! {
            section #license-preview {
                p { "License " code { (p.license_id) } " for " strong { (p.company_id) } ", issued " (view::date(p.issued_at)) ", signed with vendor key " code { (v.key_id) } ". The signature is valid." }
                @if r.already_imported {
                    p.notice { "This exact file is already imported: importing it again changes nothing." }
                }
                h2 { "It adds" }
                div.scroll {
                table #preview-packages {
                    thead { tr { th scope="col" { "Serial" } th scope="col" { "Product" } th scope="col" { "Area" } th scope="col" { "Kind" } th.num scope="col" { "Seats" } th scope="col" { "Valid" } th scope="col" { "Replaces" } } }
                    tbody {
                        @for k in &p.packages {
                            tr data-serial=(k.serial) {
                                td { code { (k.serial) } } td { (k.product) } td { (k.area.as_str()) } td { (k.kind.as_str()) }
                                td.num { (n(u64::from(k.seats))) }
                                td { (view::date(k.valid_from)) " – " @match k.expires { Some(t) => (view::date(t)), None => "no end" } }
                                td { @if k.replaces.is_empty() { "—" } @else { (k.replaces.join(", ")) } }
                            }
                        }
                    }
                }
                }
                @if !p.area_limits.is_empty() {
                    h2 { "User limits" }
                    ul.plain { @for l in &p.area_limits { li { (l.area.as_str()) ": at most " (n(u64::from(l.max_users))) " active users" } } }
                }
                @if !r.replaced.is_empty() {
                    p { "It replaces " strong { (r.replaced.join(", ")) } ": their assignments move to the new packages without a gap." }
                }
                @if !r.replaced_unknown.is_empty() {
                    p.warn { "It names packages to replace that were never imported here: " (r.replaced_unknown.join(", ")) "." }
                }
                @if !r.changes.restored.is_empty() {
                    p { "Suspended seats it brings back: " (r.changes.restored.len()) "." }
                }
                @if !r.changes.suspended.is_empty() {
                    p.warn { "Seats it would suspend: " (r.changes.suspended.len()) "." }
                }
                form #confirm-import method="post" action="/ui/licenses/import" {
                    (ui.csrf_field())
                    textarea.hidden name="license" aria-hidden="true" tabindex="-1" readonly { (text) }
                    button.primary type="submit" { "Import this license" }
                    " "
                    a href="/ui/licenses" { "Cancel" }
                }
            }
        },
    )
}

pub async fn import(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    if state.settings.vendor_keys.is_empty() {
        return Ok(done(
            &ui,
            "/ui/licenses",
            false,
            crate::config::NO_VENDOR_KEY,
        ));
    }
    let Some(text) = form
        .0
        .iter()
        .find(|(k, _)| k == "license")
        .map(|(_, v)| v.clone())
    else {
        return Ok(done(
            &ui,
            "/ui/licenses",
            false,
            "No license file was sent.",
        ));
    };
    let r = state
        .ledger
        .import_license(&ui.actor(), &text, &state.settings.vendor_keys)
        .await;
    Ok(outcome(&ui, "/ui/licenses", r, |r| {
        if r.already_imported {
            format!(
                "License {} was already imported: nothing changed.",
                r.license_id
            )
        } else {
            let mut s = format!(
                "Imported license {}: {} package(s).",
                r.license_id,
                r.packages.len()
            );
            if !r.replaced.is_empty() {
                s += &format!(" Replaced {}.", r.replaced.join(", "));
            }
            if !r.changes.restored.is_empty() {
                s += &format!(" {} suspended seat(s) restored.", r.changes.restored.len());
            }
            s
        }
    }))
}

pub async fn delete_page(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    let files = state.ledger.license_files().await?;
    Ok(view::page(
        &ui,
        "/ui/licenses",
        "Delete all licenses",
        html! {
            p.warn { "This removes all " (files.len()) " license file(s). Users keep their assignments, suspended, and get them back when licenses covering them are uploaded again. Until then only administrators can sign in to the application (demo mode)." }
            form #confirm-delete-all method="post" action="/ui/licenses/delete" {
                (ui.csrf_field())
                label.check { input type="checkbox" name="confirm" value="yes" required; " I understand: delete every license" }
                button.danger type="submit" { "Delete all licenses" }
                " "
                a href="/ui/licenses" { "Cancel" }
            }
        },
    )
    .into_response())
}

pub async fn delete_all(State(state): State<AppState>, ui: Ui, form: Form) -> UiResult<Response> {
    ui.require(ManageLicenses)?;
    if form.get("confirm") != Some("yes") {
        return Ok(done(
            &ui,
            "/ui/licenses/delete",
            false,
            "Tick the confirmation to delete every license.",
        ));
    }
    let r = state.ledger.delete_all_licenses(&ui.actor()).await;
    Ok(outcome(&ui, "/ui/licenses", r, |r| {
        format!(
            "Deleted {} license file(s) and {} package(s); {} assignment(s) are suspended until licenses return.",
            r.license_files,
            r.packages,
            r.changes.suspended.len()
        )
    }))
}
