//! The Directory page's results: a connection test, a preview, a sync's notice, the history.

use maud::{Markup, html};
use seatkeeper_core::directory::UserUpdate;
use seatkeeper_directory::{TestReport, TlsMode};
use seatkeeper_store::DirectoryRunView;

use super::super::view::{self, n};
use crate::admin::directory::{PlanView, SyncView};

fn tls_text(t: TlsMode) -> &'static str {
    match t {
        TlsMode::Plain => "plain LDAP (no TLS)",
        TlsMode::StartTls => "StartTLS",
        TlsMode::Ldaps => "LDAPS (TLS)",
    }
}

pub(super) fn test_view(r: &TestReport) -> Markup {
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

fn more(shown: usize, total: usize) -> Markup {
    html! {
        @if total > shown { p.muted { "The first " (shown) " of " (n(total as u64)) "." } }
    }
}

pub(super) fn preview_view(p: &PlanView) -> Markup {
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

pub(super) fn sync_text(v: &SyncView) -> String {
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

pub(super) fn history(runs: &[DirectoryRunView]) -> Markup {
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
