//! `seatkeeper tour`: a guided run through the ledger on real files — the vendor issues a
//! license for this installation's own request, the administrator imports it, creates users
//! and folders, grants seats, meets a refusal, blocks a user and reads the summary.

use std::path::PathBuf;

use seatkeeper_core::license::{self, Order, OrderAreaLimit, OrderPackage};
use seatkeeper_core::{Area, Product, SeatKind, UserState};
use seatkeeper_store::{Actor, Ledger, NewUser};

use super::reports::print_summary;
use crate::error::CliError;
use crate::files::write_file;
use crate::keys;
use crate::output::Out;

fn step(out: &Out, n: u32, text: &str) {
    if !out.json {
        println!("\n── {n}. {text}");
    }
}

fn demo_order() -> Order {
    let named = |serial: &str, product: &str, area, seats| OrderPackage {
        serial: serial.into(),
        product: product.into(),
        kind: SeatKind::Named,
        area,
        seats,
        valid_from: None,
        expires: None,
        replaces: vec![],
    };
    let mut floating = named("DEMO-CRM-FLOAT", "crm", Area::Employee, 3);
    floating.kind = SeatKind::Concurrent;
    let mut analytics = named("DEMO-ANALYTICS", "analytics", Area::Employee, 2);
    analytics.expires = Some(
        seatkeeper_store::Clock::now(&seatkeeper_store::SystemClock) + time::Duration::days(20),
    );
    Order {
        valid_from: None,
        products: vec![
            Product {
                code: "crm".into(),
                name: "CRM, all modules".into(),
                features: vec!["contacts".into(), "sales".into(), "service".into()],
                all_modules: true,
            },
            Product {
                code: "analytics".into(),
                name: "Analytics module".into(),
                features: vec!["dashboards".into()],
                all_modules: false,
            },
            Product {
                code: "portal".into(),
                name: "Customer portal".into(),
                features: vec!["self_service".into()],
                all_modules: false,
            },
        ],
        packages: vec![
            named("DEMO-CRM-NAMED", "crm", Area::Employee, 5),
            floating,
            analytics,
            named("DEMO-PORTAL", "portal", Area::Portal, 10),
        ],
        area_limits: vec![
            OrderAreaLimit {
                area: Area::Employee,
                max_users: 6,
                valid_from: None,
                expires: None,
            },
            OrderAreaLimit {
                area: Area::Portal,
                max_users: 20,
                valid_from: None,
                expires: None,
            },
        ],
    }
}

pub async fn run(database: &str, reset: bool, out: &Out) -> Result<(), CliError> {
    let is_pg = database.starts_with("postgres://") || database.starts_with("postgresql://");
    if reset {
        if is_pg {
            return Err(CliError::Usage(
                "--reset deletes a SQLite file; for PostgreSQL use an empty database".into(),
            ));
        }
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{database}{suffix}");
            if std::path::Path::new(&p).exists() {
                std::fs::remove_file(&p).map_err(|e| CliError::Io(p.clone(), e))?;
            }
        }
    }
    let files = PathBuf::from(if is_pg {
        "seatkeeper-tour".to_string()
    } else {
        format!("{database}.tour")
    });
    if files.exists() {
        std::fs::remove_dir_all(&files)
            .map_err(|e| CliError::Io(files.display().to_string(), e))?;
    }
    std::fs::create_dir_all(&files).map_err(|e| CliError::Io(files.display().to_string(), e))?;

    let ledger = Ledger::open(database).await?;
    if !ledger.packages().await?.is_empty() || ledger.users(&Default::default()).await?.len() > 1 {
        return Err(CliError::Usage(format!(
            "the tour needs an empty ledger and {database} holds data: run `seatkeeper --database {database} tour --reset` or pick another --database"
        )));
    }
    let admin = Actor::new("tour", "cli");
    if !out.json {
        println!(
            "Seatkeeper tour on {database} (files in {}/)",
            files.display()
        );
    }

    step(
        out,
        1,
        "The vendor makes a signing key pair (seatkeeper vendor keygen)",
    );
    let vendor = keys::generate()?;
    keys::write_pair(
        &vendor,
        &files.join("vendor.key.pem"),
        &files.join("vendor.pub.pem"),
    )?;
    if !out.json {
        println!(
            "   vendor key id {}",
            license::key_id(&vendor.verifying_key())
        );
    }

    step(
        out,
        2,
        "The customer writes a license request (seatkeeper license request --company-id DEMO)",
    );
    let request = ledger
        .license_request(&admin, Some("DEMO"), env!("CARGO_PKG_VERSION"))
        .await?;
    let json = |v: &dyn erased::Json| v.to_json();
    write_file(&files.join("request.json"), json(&request).as_bytes())?;
    if !out.json {
        println!(
            "   instance {} of company {}",
            request.instance_id, request.company_id
        );
    }

    step(
        out,
        3,
        "The vendor issues a signed license file for it (seatkeeper vendor issue)",
    );
    let order = demo_order();
    write_file(&files.join("order.json"), json(&order).as_bytes())?;
    let now = seatkeeper_store::Clock::now(&seatkeeper_store::SystemClock);
    let text = license::issue(
        &vendor,
        &request,
        &order,
        uuid::Uuid::new_v4().to_string(),
        now,
    )?;
    write_file(&files.join("license.json"), text.as_bytes())?;

    step(
        out,
        4,
        "The administrator imports it, trusting the vendor's public key (seatkeeper license import)",
    );
    let report = ledger
        .import_license(&admin, &text, &[vendor.verifying_key()])
        .await?;
    if !out.json {
        println!("   imported packages {}", report.packages.join(", "));
    }
    let mut tampered = text.replacen("\"payload\": \"", "\"payload\": \"A", 1);
    if tampered == text {
        tampered.push(' ');
    }
    if let Err(e) = ledger
        .import_license(&admin, &tampered, &[vendor.verifying_key()])
        .await
        && !out.json
    {
        println!("   a tampered copy is refused: {e}");
    }

    step(
        out,
        5,
        "Folders, and 2 CRM seats placed in Support (seatkeeper folder create / license place)",
    );
    ledger.create_folder(&admin, "Sales").await?;
    ledger.create_folder(&admin, "Support").await?;
    ledger
        .place_seats(&admin, "DEMO-CRM-NAMED", "Support", 2)
        .await?;

    step(out, 6, "Users (seatkeeper user create / user import)");
    let people = [
        ("ann", "Ann Archer", "Sales", Area::Employee),
        ("bob", "Bob Baker", "Sales", Area::Employee),
        ("cat", "Cat Carter", "Sales", Area::Employee),
        ("sue", "Sue Summers", "Support", Area::Employee),
        ("sam", "Sam Stone", "Support", Area::Employee),
        ("pat", "Pat Partner", "", Area::Portal),
    ];
    for (login, name, folder, area) in people {
        ledger
            .create_user(
                &admin,
                NewUser {
                    login: login.into(),
                    name: name.into(),
                    email: format!("{login}@demo.example"),
                    area,
                    folder: folder.into(),
                    state: UserState::Active,
                },
            )
            .await?;
    }
    let csv =
        "login,name,email,area,folder,state\ndan,Dan Dale,dan@demo.example,employee,Sales,active\n";
    ledger.import_users_csv(&admin, csv).await?;
    if let Err(e) = ledger
        .create_user(&admin, NewUser::active("eve", Area::Employee))
        .await
        && !out.json
    {
        println!("   the 7th employee is refused: {e}");
    }

    step(
        out,
        7,
        "Grants, all or nothing (seatkeeper grant --user … --product …)",
    );
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    ledger
        .grant(&admin, &s(&["sue", "sam", "ann", "bob"]), &s(&["crm"]))
        .await?;
    ledger.grant(&admin, &s(&["pat"]), &s(&["portal"])).await?;
    ledger
        .grant(&admin, &s(&["ann"]), &s(&["analytics"]))
        .await?;
    if let Err(e) = ledger
        .grant(&admin, &s(&["bob", "cat", "dan"]), &s(&["analytics"]))
        .await
        && !out.json
    {
        println!("   asking for 3 more analytics seats: {e}");
    }

    step(
        out,
        8,
        "Blocking a user frees their seats (seatkeeper user block)",
    );
    let freed = ledger.block_user(&admin, "bob", "left the company").await?;
    ledger.grant(&admin, &s(&["cat"]), &s(&["crm"])).await?;
    if !out.json {
        println!(
            "   bob's {} went back to the pool; cat took it",
            freed.freed.join(", ")
        );
    }

    step(out, 9, "The summary (seatkeeper summary)");
    let summary = ledger.summary(time::Duration::days(30)).await?;
    out.show(&summary, print_summary)?;
    if !out.json {
        println!("\nTry next:");
        println!("  seatkeeper --database {database} user list");
        println!("  seatkeeper --database {database} user show ann");
        println!("  seatkeeper --database {database} license list");
        println!("  seatkeeper --database {database} audit");
        println!(
            "  seatkeeper vendor inspect {}/license.json --vendor-key {}/vendor.pub.pem",
            files.display(),
            files.display()
        );
    }
    ledger.close().await;
    Ok(())
}

/// Pretty JSON for the files the tour leaves behind.
mod erased {
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}
