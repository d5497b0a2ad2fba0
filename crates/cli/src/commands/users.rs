//! Users (U1–U4), the folders they are kept in, and manual grants and recalls (D1).

use seatkeeper_core::UserState;
use seatkeeper_store::{Actor, ImportProgress, Ledger, NewUser, UserFilter};

use crate::args::{FolderCmd, Pairs, UserCmd};
use crate::error::CliError;
use crate::files::write_file;
use crate::output::{Out, date, table, yes_no};

/// Rows between two progress lines of `user import`.
const IMPORT_PROGRESS_ROWS: u64 = 50_000;

pub async fn user_cmd(
    cmd: &UserCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        UserCmd::Create {
            login,
            name,
            email,
            area,
            folder,
            blocked,
        } => {
            let u = ledger
                .create_user(
                    who,
                    NewUser {
                        login: login.clone(),
                        name: name.clone().unwrap_or_else(|| login.clone()),
                        email: email.clone(),
                        area: *area,
                        folder: folder.clone(),
                        state: if *blocked {
                            UserState::Blocked
                        } else {
                            UserState::Active
                        },
                    },
                )
                .await?;
            out.show(&u, |u| {
                println!(
                    "created {} ({}, {}, folder {})",
                    u.login,
                    u.area,
                    u.state.as_str(),
                    u.folder
                )
            })
        }
        UserCmd::List {
            area,
            state,
            folder,
            product,
            search,
            limit,
            offset,
        } => {
            let users = ledger
                .users(&UserFilter {
                    area: *area,
                    state: *state,
                    folder: folder.clone(),
                    product: product.clone(),
                    role: None,
                    search: search.clone(),
                    limit: *limit,
                    offset: *offset,
                })
                .await?;
            out.show(&users, |us| {
                println!(
                    "{}",
                    table(
                        &[
                            "login", "name", "e-mail", "area", "folder", "state", "licenses"
                        ],
                        us.iter().map(|u| vec![
                            if u.builtin {
                                format!("{} (built-in)", u.login)
                            } else {
                                u.login.clone()
                            },
                            u.name.clone(),
                            u.email.clone(),
                            u.area.to_string(),
                            u.folder.clone(),
                            match &u.block_reason {
                                Some(r) if u.state == UserState::Blocked => format!("blocked: {r}"),
                                _ => u.state.as_str().to_string(),
                            },
                            licenses(u),
                        ])
                    )
                )
            })
        }
        UserCmd::Show { login } => {
            let u = ledger.user(login).await?;
            out.show(&u, |u| {
                println!(
                    "login:   {}{}",
                    u.login,
                    if u.builtin {
                        " (built-in administrator)"
                    } else {
                        ""
                    }
                );
                println!("name:    {}", u.name);
                println!("e-mail:  {}", u.email);
                println!("area:    {}", u.area);
                println!("folder:  {}", u.folder);
                println!(
                    "state:   {}{}",
                    u.state.as_str(),
                    u.block_reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                println!("created: {}", date(u.created_at));
                println!(
                    "{}",
                    table(
                        &["product", "status", "manual", "seat from folder", "granted"],
                        u.licenses.iter().map(|l| vec![
                            l.product.clone(),
                            l.status.as_str().into(),
                            yes_no(l.manual),
                            l.seat_folder.clone(),
                            date(l.granted_at)
                        ])
                    )
                );
            })
        }
        UserCmd::Block { login, reason } => {
            let r = ledger.block_user(who, login, reason).await?;
            out.show(&r, |r| {
                println!(
                    "blocked {login}; freed: {}",
                    if r.freed.is_empty() {
                        "nothing".into()
                    } else {
                        r.freed.join(", ")
                    }
                )
            })
        }
        UserCmd::Activate { login } => {
            ledger.activate_user(who, login).await?;
            out.show(&serde_json::json!({"activated": login}), |_| {
                println!("activated {login}")
            })
        }
        UserCmd::Delete { login, yes } => {
            if !yes {
                return Err(CliError::Usage(format!(
                    "deleting {login} removes the user for good; confirm with --yes"
                )));
            }
            let r = ledger.delete_user(who, login).await?;
            out.show(&r, |_| println!("deleted {login}"))
        }
        UserCmd::Move { login, folder } => {
            ledger.move_user(who, login, folder).await?;
            out.show(
                &serde_json::json!({"login": login, "folder": folder}),
                |_| println!("moved {login} to {folder}"),
            )
        }
        UserCmd::Import { file } => {
            // Read as it goes (bounded memory for any size of file), with progress on stderr
            // for files large enough to take a while.
            let input = std::fs::File::open(file)
                .map_err(|e| CliError::Io(file.display().to_string(), e))?;
            let mut shown = 0u64;
            let r = ledger
                .import_users_csv_from(who, std::io::BufReader::new(input), |p| match p {
                    ImportProgress::Read { rows } if rows >= shown + IMPORT_PROGRESS_ROWS => {
                        shown = rows;
                        eprintln!("read {rows} rows");
                    }
                    ImportProgress::Applying { rows } if rows >= IMPORT_PROGRESS_ROWS => {
                        eprintln!("checking and applying {rows} rows");
                    }
                    _ => {}
                })
                .await?;
            out.show(&r, |r| {
                println!(
                    "created {}, updated {}, unchanged {}",
                    r.created, r.updated, r.unchanged
                )
            })
        }
        UserCmd::Export { output } => {
            let csv = ledger.export_users_csv().await?;
            match output {
                Some(p) => {
                    write_file(p, csv.as_bytes())?;
                    eprintln!("wrote {}", p.display());
                    Ok(())
                }
                None => {
                    print!("{csv}");
                    Ok(())
                }
            }
        }
    }
}

fn licenses(u: &seatkeeper_store::UserView) -> String {
    u.licenses
        .iter()
        .map(|l| match l.status {
            seatkeeper_core::AssignmentStatus::Active => l.product.clone(),
            seatkeeper_core::AssignmentStatus::Suspended => format!("{} (suspended)", l.product),
            seatkeeper_core::AssignmentStatus::Releasing => format!("{} (releasing)", l.product),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn folder_cmd(
    cmd: &FolderCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        FolderCmd::Create { path } => {
            let f = ledger.create_folder(who, path).await?;
            out.show(&f, |f| println!("created folder {}", f.path))
        }
        FolderCmd::List => {
            let folders = ledger.folders().await?;
            out.show(&folders, |fs| {
                println!(
                    "{}",
                    table(
                        &["folder", "users"],
                        fs.iter().map(|f| vec![f.path.clone(), f.users.to_string()])
                    )
                )
            })
        }
        FolderCmd::Delete { path } => {
            ledger.delete_folder(who, path).await?;
            out.show(&serde_json::json!({"deleted": path}), |_| {
                println!("deleted folder {path}")
            })
        }
    }
}

pub async fn grant(p: &Pairs, ledger: &Ledger, who: &Actor, out: &Out) -> Result<(), CliError> {
    let r = ledger.grant(who, &p.users, &p.products).await?;
    out.show(&r, |r| {
        println!(
            "granted {} license(s); {} already held",
            r.granted.len(),
            r.already_held
        );
        for g in &r.granted {
            println!("  {} ← {}", g.login, g.product);
        }
    })
}

pub async fn recall(p: &Pairs, ledger: &Ledger, who: &Actor, out: &Out) -> Result<(), CliError> {
    let r = ledger.recall(who, &p.users, &p.products).await?;
    out.show(&r, |r| {
        println!(
            "recalled {} license(s); {} were not held",
            r.recalled.len(),
            r.not_held
        );
        for g in &r.recalled {
            println!("  {} → {}", g.login, g.product);
        }
        for g in &r.changes.restored {
            println!("  restored suspended seat: {} ({})", g.login, g.product);
        }
    })
}
