//! The vendor's side (`vendor`): key pairs, issuing license files for a customer's request,
//! and inspecting any license file. No ledger is opened.

use std::path::PathBuf;

use seatkeeper_core::license::{self, LicenseRequest, Order};

use crate::args::{Cli, VendorCmd};
use crate::error::CliError;
use crate::files::{read_file, write_or_print};
use crate::keys::{self, trusted_keys};
use crate::output::{Out, date, opt_date, table, yes_no};

pub fn vendor(cmd: &VendorCmd, cli: &Cli, out: &Out) -> Result<(), CliError> {
    match cmd {
        VendorCmd::Keygen { out: prefix } => {
            let key = keys::generate()?;
            let private = PathBuf::from(format!("{prefix}.key.pem"));
            let public = PathBuf::from(format!("{prefix}.pub.pem"));
            keys::write_pair(&key, &private, &public)?;
            let id = license::key_id(&key.verifying_key());
            out.show(
                &serde_json::json!({"private_key": private, "public_key": public, "key_id": id}),
                |_| {
                    println!(
                        "wrote {} (private: keep it safe) and {}",
                        private.display(),
                        public.display()
                    );
                    println!("key id {id}; customers configure the public key with --vendor-key");
                },
            )
        }
        VendorCmd::Issue {
            key,
            request,
            order,
            output,
        } => {
            let key = keys::read_signing(key)?;
            let request: LicenseRequest =
                serde_json::from_str(&read_file(request)?).map_err(|e| {
                    CliError::Usage(format!("{}: not a license request: {e}", request.display()))
                })?;
            let order: Order = serde_json::from_str(&read_file(order)?)
                .map_err(|e| CliError::Usage(format!("{}: not an order: {e}", order.display())))?;
            let now = seatkeeper_store::Clock::now(&seatkeeper_store::SystemClock);
            let text = license::issue(
                &key,
                &request,
                &order,
                uuid::Uuid::new_v4().to_string(),
                now,
            )?;
            write_or_print(output.as_deref(), &text)
        }
        VendorCmd::Inspect { file } => {
            let text = read_file(file)?;
            let (envelope, payload) =
                license::decode_unverified(&text).map_err(seatkeeper_core::Error::from)?;
            let keys = trusted_keys(cli)?;
            let signature = if keys.is_empty() {
                "not checked (no --vendor-key given)".to_string()
            } else {
                match license::verify(&text, &keys) {
                    Ok(_) => "valid".to_string(),
                    Err(e) => format!("INVALID: {e}"),
                }
            };
            out.show(&serde_json::json!({"key_id": envelope.key_id, "signature": signature, "payload": payload}), |_| {
                println!("license {} for company {} / instance {}", payload.license_id, payload.company_id, payload.instance_id);
                println!("issued {}, valid from {}, vendor key {}", date(payload.issued_at), date(payload.valid_from), envelope.key_id);
                println!("signature: {signature}");
                println!(
                    "{}",
                    table(
                        &["code", "name", "all modules", "features"],
                        payload.products.iter().map(|p| vec![p.code.clone(), p.name.clone(), yes_no(p.all_modules), p.features.join(", ")])
                    )
                );
                println!(
                    "{}",
                    table(
                        &["serial", "product", "kind", "area", "seats", "valid from", "expires", "replaces"],
                        payload.packages.iter().map(|p| vec![p.serial.clone(), p.product.clone(), p.kind.to_string(), p.area.to_string(), p.seats.to_string(), date(p.valid_from), opt_date(p.expires), p.replaces.join(", ")])
                    )
                );
                for l in &payload.area_limits {
                    println!("user limit {}: {} (from {}, until {})", l.area, l.max_users, date(l.valid_from), opt_date(l.expires));
                }
            })
        }
    }
}
