//! Licenses (L1–L5, X1): the instance, license requests and files, seat placement, products
//! and re-evaluating capacity.

use seatkeeper_store::{Actor, Ledger};

use crate::args::{Cli, LicenseCmd};
use crate::error::CliError;
use crate::files::{read_file, write_or_print};
use crate::keys::trusted_keys;
use crate::output::{Out, date, opt_date, table, yes_no};

pub async fn instance(ledger: &Ledger, out: &Out) -> Result<(), CliError> {
    let info = ledger.instance().await?;
    out.show(&info, |i| {
        println!("instance id: {}", i.instance_id);
        println!(
            "company id:  {}",
            i.company_id
                .as_deref()
                .unwrap_or("(not set: run `seatkeeper license request --company-id ID`)")
        );
    })
}

pub async fn products(ledger: &Ledger, out: &Out) -> Result<(), CliError> {
    let products = ledger.products().await?;
    out.show(&products, |ps| {
        println!(
            "{}",
            table(
                &["code", "name", "all modules", "features"],
                ps.iter().map(|p| vec![
                    p.code.clone(),
                    p.name.clone(),
                    yes_no(p.all_modules),
                    p.features.join(", ")
                ])
            )
        )
    })
}

pub async fn refresh(ledger: &Ledger, out: &Out) -> Result<(), CliError> {
    let c = ledger.refresh().await?;
    out.show(&c, |c| {
        println!(
            "{} seat(s) suspended, {} restored",
            c.suspended.len(),
            c.restored.len()
        )
    })
}

pub async fn license_cmd(
    cmd: &LicenseCmd,
    cli: &Cli,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        LicenseCmd::Request {
            company_id,
            app_version,
            output,
        } => {
            let req = ledger
                .license_request(who, company_id.as_deref(), app_version)
                .await?;
            let text =
                serde_json::to_string_pretty(&req).map_err(|e| CliError::Usage(e.to_string()))?;
            write_or_print(output.as_deref(), &text)
        }
        LicenseCmd::CompanyId {
            company_id,
            confirm,
        } => {
            if !confirm {
                return Err(CliError::Usage(format!(
                    "changing the company id re-binds this installation's licenses; run again with --confirm to set it to {company_id:?}"
                )));
            }
            let info = ledger.set_company_id(who, company_id).await?;
            out.show(&info, |i| {
                println!(
                    "company id: {}",
                    i.company_id.as_deref().unwrap_or_default()
                )
            })
        }
        LicenseCmd::Import { file } => {
            let keys = trusted_keys(cli)?;
            if keys.is_empty() {
                return Err(CliError::Usage(
                    seatkeeper_server::config::NO_VENDOR_KEY.into(),
                ));
            }
            let text = read_file(file)?;
            let r = ledger.import_license(who, &text, &keys).await?;
            out.show(&r, |r| {
                if r.already_imported {
                    println!(
                        "license {} was already imported: nothing changed",
                        r.license_id
                    );
                    return;
                }
                println!(
                    "imported license {}: packages {}",
                    r.license_id,
                    r.packages.join(", ")
                );
                if !r.replaced.is_empty() {
                    println!(
                        "  renews {} (their assignments carry over)",
                        r.replaced.join(", ")
                    );
                }
                if !r.replaced_unknown.is_empty() {
                    println!(
                        "  says it replaces {}, never imported here",
                        r.replaced_unknown.join(", ")
                    );
                }
                for s in &r.changes.restored {
                    println!("  restored suspended seat: {} ({})", s.login, s.product);
                }
            })
        }
        LicenseCmd::List => {
            let files = ledger.license_files().await?;
            let packages = ledger.packages().await?;
            out.show(
                &serde_json::json!({"license_files": files, "packages": packages}),
                |_| {
                    println!(
                        "{}",
                        table(
                            &[
                                "license",
                                "company",
                                "vendor key",
                                "issued",
                                "imported",
                                "by",
                                "packages"
                            ],
                            files.iter().map(|f| vec![
                                f.license_id.clone(),
                                f.company_id.clone(),
                                f.key_id.clone(),
                                date(f.issued_at),
                                date(f.imported_at),
                                f.imported_by.clone(),
                                f.packages.to_string()
                            ])
                        )
                    );
                    println!(
                        "{}",
                        table(
                            &[
                                "serial",
                                "product",
                                "kind",
                                "area",
                                "seats",
                                "valid from",
                                "expires",
                                "status",
                                "placed in folders"
                            ],
                            packages.iter().map(|p| vec![
                                p.serial.clone(),
                                p.product.clone(),
                                p.kind.to_string(),
                                p.area.to_string(),
                                p.seats.to_string(),
                                date(p.valid_from),
                                opt_date(p.expires),
                                format!("{:?}", p.status).to_lowercase(),
                                p.placements
                                    .iter()
                                    .map(|pl| format!("{}: {}", pl.folder, pl.seats))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ])
                        )
                    );
                },
            )
        }
        LicenseCmd::Place {
            serial,
            folder,
            seats,
        } => {
            ledger.place_seats(who, serial, folder, *seats).await?;
            out.show(
                &serde_json::json!({"serial": serial, "folder": folder, "seats": seats}),
                |_| println!("{seats} seat(s) of {serial} placed in {folder}"),
            )
        }
        LicenseCmd::DeleteAll { yes } => {
            if !yes {
                return Err(CliError::Usage(
                    "this deletes every license; confirm with --yes".into(),
                ));
            }
            let r = ledger.delete_all_licenses(who).await?;
            out.show(&r, |r| {
                println!(
                    "deleted {} license file(s), {} package(s); {} assignment(s) suspended until licenses return",
                    r.license_files,
                    r.packages,
                    r.changes.suspended.len()
                )
            })
        }
    }
}
