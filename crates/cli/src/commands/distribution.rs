//! Role and role-based distribution commands (D2–D6, N2): the role tree and its bound
//! products, redistribution with preview, explain, pending needs, system messages and the
//! distribution settings.

use std::collections::HashMap;

use seatkeeper_store::{
    Actor, DistributionSettings, Ledger, PlanItem, RedistributionReport, RoleChange, Scope,
};

use crate::args::{MembersCmd, RedistributeArgs, RoleCmd};
use crate::error::CliError;
use crate::output::{Out, table};

/// A role named by id or by name (case-insensitive).
async fn role_id(ledger: &Ledger, role: &str) -> Result<i64, CliError> {
    if let Ok(id) = role.trim().parse::<i64>() {
        return Ok(id);
    }
    ledger
        .roles()
        .await?
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(role.trim()))
        .map(|r| r.id)
        .ok_or_else(|| seatkeeper_core::Error::UnknownRole(role.to_string()).into())
}

/// One line for what a role change's trigger redistributed, if it ran.
fn print_change(change: &RoleChange) {
    if let Some(r) = &change.redistribution {
        println!(
            "  redistributed for {} user(s): {} granted, {} recalled ({} releasing), {} need(s) unmet",
            r.users, r.granted, r.recalled, r.releasing, r.unmet
        );
    }
}

pub async fn role_cmd(
    cmd: &RoleCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        RoleCmd::List => {
            let roles = seatkeeper_server::admin::roles::role_listing(ledger).await?;
            let names: HashMap<i64, String> = roles
                .iter()
                .map(|r| (r.role.id, r.role.name.clone()))
                .collect();
            out.show(&roles, |roles| {
                println!(
                    "{}",
                    table(
                        &[
                            "id",
                            "name",
                            "kind",
                            "parent",
                            "permissions",
                            "products",
                            "members"
                        ],
                        roles.iter().map(|r| vec![
                            r.role.id.to_string(),
                            if r.role.builtin {
                                format!("{} (built-in)", r.role.name)
                            } else {
                                r.role.name.clone()
                            },
                            r.role.kind.clone(),
                            r.role
                                .parent_id
                                .map(|p| names.get(&p).cloned().unwrap_or_else(|| p.to_string()))
                                .unwrap_or_default(),
                            r.role
                                .permissions
                                .iter()
                                .map(|p| p.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            r.products.join(", "),
                            r.role.members.len().to_string(),
                        ])
                    )
                )
            })
        }
        RoleCmd::Create { name, kind, parent } => {
            let parent = match parent {
                Some(p) => Some(role_id(ledger, p).await?),
                None => None,
            };
            let r = ledger.create_role(who, name, kind, parent).await?;
            out.show(&r, |r| {
                println!("created role {} ({}, id {})", r.name, r.kind, r.id)
            })
        }
        RoleCmd::Rename { role, name } => {
            let id = role_id(ledger, role).await?;
            ledger.rename_role(who, id, name).await?;
            out.show(&serde_json::json!({"role_id": id, "name": name}), |_| {
                println!("role {id} renamed to {name}")
            })
        }
        RoleCmd::Move { role, parent, .. } => {
            let id = role_id(ledger, role).await?;
            // Without --parent, clap has made sure --top was given.
            let parent = match parent {
                Some(p) => Some(role_id(ledger, p).await?),
                None => None,
            };
            let change = ledger.move_role(who, id, parent).await?;
            // An organizational role "at the top" goes under "All employees": say where it is.
            let roles = ledger.roles().await?;
            let parent = roles.iter().find(|r| r.id == id).and_then(|r| r.parent_id);
            let parent_name = parent.and_then(|p| roles.iter().find(|r| r.id == p));
            out.show(
                &serde_json::json!({"role_id": id, "parent": parent, "redistribution": change.redistribution}),
                |_| {
                    match parent_name {
                        Some(p) => println!("role {id} moved under {} (id {})", p.name, p.id),
                        None => println!("role {id} moved to the top"),
                    }
                    print_change(&change);
                },
            )
        }
        RoleCmd::Delete { role } => {
            let id = role_id(ledger, role).await?;
            let change = ledger.delete_role(who, id).await?;
            out.show(
                &serde_json::json!({"role_id": id, "deleted": true, "redistribution": change.redistribution}),
                |_| {
                    println!("role {id} deleted");
                    print_change(&change);
                },
            )
        }
        RoleCmd::Members(cmd) => {
            let (role, logins, on) = match cmd {
                MembersCmd::Add { role, logins } => (role, logins, true),
                MembersCmd::Remove { role, logins } => (role, logins, false),
            };
            let id = role_id(ledger, role).await?;
            let change = ledger.set_role_members(who, id, logins, on).await?;
            out.show(
                &serde_json::json!({"role_id": id, "member": on, "changed": change.changed, "redistribution": change.redistribution}),
                |_| {
                    if on {
                        println!("added {} member(s) to role {id}", change.changed);
                    } else {
                        println!("removed {} member(s) from role {id}", change.changed);
                    }
                    print_change(&change);
                },
            )
        }
        RoleCmd::Bind { role, product } | RoleCmd::Unbind { role, product } => {
            let on = matches!(cmd, RoleCmd::Bind { .. });
            let id = role_id(ledger, role).await?;
            let change = ledger.set_role_product(who, id, product, on).await?;
            out.show(
                &serde_json::json!({"role_id": id, "product": product, "bound": on, "changed": change.changed, "redistribution": change.redistribution}),
                |_| {
                    match (on, change.changed) {
                        (true, 0) => println!("{product} was already bound to role {id}"),
                        (true, _) => println!("{product} bound to role {id}"),
                        (false, _) => println!("{product} unbound from role {id}"),
                    }
                    print_change(&change);
                },
            )
        }
    }
}

pub async fn redistribute(
    args: &RedistributeArgs,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    let scope = match (&args.role, &args.user) {
        (Some(role), _) => Scope::Role {
            role: role_id(ledger, role).await?,
        },
        (None, Some(login)) => Scope::User {
            login: login.clone(),
        },
        (None, None) => Scope::All,
    };
    let report = if args.preview {
        ledger
            .preview_redistribution(&scope, args.manual, args.detail)
            .await?
    } else {
        ledger
            .redistribute_chunked(who, &scope, args.manual, args.chunk_users.max(1))
            .await?
    };
    let folders: HashMap<i64, String> = ledger
        .folders()
        .await?
        .into_iter()
        .map(|f| (f.id, f.path))
        .collect();
    out.show(&report, |r| print_report(r, &folders, args.detail))
}

fn print_report(r: &RedistributionReport, folders: &HashMap<i64, String>, detail: usize) {
    let manual = r.manual.unwrap_or_default().as_str();
    if r.preview {
        println!(
            "preview of the redistribution for {} (manual grants: {manual}); nothing was changed",
            r.scope
        );
    } else {
        println!(
            "redistribution #{} for {} (manual grants: {manual}) applied",
            r.id.map_or_else(|| "?".to_string(), |i| i.to_string()),
            r.scope
        );
    }
    let verb = if r.preview { "would be " } else { "" };
    println!(
        "  {} user(s); {} {verb}granted, {} {verb}recalled ({} releasing at session end), \
         {} kept with a changed reason, {} need(s) unmet",
        r.users, r.granted, r.recalled, r.releasing, r.reasons_changed, r.unmet
    );
    if let Some(m) = r.message_id {
        println!("  posted as system message {m} (`seatkeeper messages`)");
    }
    let shown = |items: &[PlanItem], total: u64| {
        if (items.len() as u64) < total {
            println!("  (the first {} of {total})", items.len().min(detail));
        }
    };
    if !r.grants.is_empty() {
        println!(
            "{}",
            table(
                &["grant", "product", "seat from folder"],
                r.grants.iter().map(|g| vec![
                    g.login.clone(),
                    g.product.clone(),
                    g.folder
                        .map(|f| folders.get(&f).cloned().unwrap_or_else(|| f.to_string()))
                        .unwrap_or_default(),
                ])
            )
        );
        shown(&r.grants, r.granted);
    }
    if !r.recalls.is_empty() {
        println!(
            "{}",
            table(
                &["recall", "product", "note"],
                r.recalls.iter().map(|g| vec![
                    g.login.clone(),
                    g.product.clone(),
                    g.detail.clone().unwrap_or_default(),
                ])
            )
        );
        shown(&r.recalls, r.recalled);
    }
    if !r.unmet_needs.is_empty() {
        println!(
            "{}",
            table(
                &["unmet need", "product", "reason"],
                r.unmet_needs.iter().map(|g| vec![
                    g.login.clone(),
                    g.product.clone(),
                    g.detail.clone().unwrap_or_default(),
                ])
            )
        );
        shown(&r.unmet_needs, r.unmet);
    }
}

pub async fn explain(
    login: &str,
    product: &str,
    ledger: &Ledger,
    out: &Out,
) -> Result<(), CliError> {
    let e = ledger.explain(login, product).await?;
    out.show(&e, |e| {
        println!(
            "{} {} {}:",
            e.login,
            if e.holds { "holds" } else { "does not hold" },
            e.product
        );
        for r in &e.reasons {
            println!("  - {}", r.message);
        }
    })
}

pub async fn needs(
    user: Option<&str>,
    limit: u64,
    offset: u64,
    ledger: &Ledger,
    out: &Out,
) -> Result<(), CliError> {
    let limit = i64::try_from(limit).map_err(|_| CliError::Usage("--limit is too large".into()))?;
    let offset =
        i64::try_from(offset).map_err(|_| CliError::Usage("--offset is too large".into()))?;
    let needs = ledger.pending_needs(user, limit, offset).await?;
    out.show(&needs, |needs| {
        if needs.is_empty() {
            println!("no pending needs");
            return;
        }
        println!(
            "{}",
            table(
                &["login", "product", "area", "reason", "since"],
                needs.iter().map(|n| vec![
                    n.login.clone(),
                    n.product.clone(),
                    n.area.to_string(),
                    n.message.to_string(),
                    rfc3339(n.since),
                ])
            )
        )
    })
}

pub async fn messages(
    unread: bool,
    mark_read: bool,
    limit: u64,
    ledger: &Ledger,
    out: &Out,
) -> Result<(), CliError> {
    let limit = i64::try_from(limit).map_err(|_| CliError::Usage("--limit is too large".into()))?;
    let messages = ledger.messages(unread, limit).await?;
    let mut marked = 0;
    if mark_read {
        for m in messages.iter().filter(|m| !m.read) {
            marked += ledger.mark_read(Some(m.id)).await?;
        }
    }
    let left = ledger.unread_messages().await?;
    out.show(
        &serde_json::json!({"messages": messages, "marked_read": marked, "unread": left}),
        |_| {
            if messages.is_empty() {
                println!("no {}messages", if unread { "unread " } else { "" });
            } else {
                println!(
                    "{}",
                    table(
                        &["id", "when", "kind", "title", "read"],
                        messages.iter().map(|m| vec![
                            m.id.to_string(),
                            rfc3339(m.at),
                            m.kind.clone(),
                            m.title.clone(),
                            if m.read { "yes" } else { "no" }.to_string(),
                        ])
                    )
                );
            }
            if mark_read {
                println!("{marked} message(s) marked as read");
            }
            println!("{left} unread");
        },
    )
}

pub async fn settings(
    redistribute_on_role_change: Option<bool>,
    role_based_distribution: Option<bool>,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    let mut s = ledger.distribution_settings().await?;
    if redistribute_on_role_change.is_some() || role_based_distribution.is_some() {
        s = ledger
            .set_distribution_settings(
                who,
                DistributionSettings {
                    redistribute_on_role_change: redistribute_on_role_change
                        .unwrap_or(s.redistribute_on_role_change),
                    role_based_distribution: role_based_distribution
                        .unwrap_or(s.role_based_distribution),
                },
            )
            .await?;
    }
    let on = |b: bool| if b { "on" } else { "off" };
    out.show(&s, |s| {
        println!(
            "role_based_distribution:     {}",
            on(s.role_based_distribution)
        );
        println!(
            "redistribute_on_role_change: {}",
            on(s.redistribute_on_role_change)
        );
    })
}

/// The store's timestamps as this listing has always shown them (RFC 3339).
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
