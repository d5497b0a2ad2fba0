//! `seatkeeper serve --demo`: a demo organisation so a newcomer sees Seatkeeper working at
//! once — a demo vendor key and a license signed with it, folders with placed seats, a role
//! tree, a few hundred users, seats granted and some users logged in. The credentials are
//! printed and written to `<database>.demo/credentials.txt` (owner-readable only).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use seatkeeper_core::license::{self, Order, OrderAreaLimit, OrderPackage};
use seatkeeper_core::{Area, Permission, Product, SeatKind};
use seatkeeper_store::{Actor, Ledger, LoginRequest, TokenScope};

use crate::config::ServeConfig;
use crate::{ServeError, auth};

pub struct DemoLoaded {
    pub vendor_key: VerifyingKey,
}

pub const EMPLOYEES: usize = 300;
pub const PORTAL_USERS: usize = 40;

fn demo_dir(database: &str) -> PathBuf {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        PathBuf::from("seatkeeper-demo")
    } else {
        PathBuf::from(format!("{database}.demo"))
    }
}

fn cfg(e: impl std::fmt::Display) -> ServeError {
    ServeError::Config(format!("demo: {e}"))
}

fn write_private(path: &Path, text: &str) -> Result<(), ServeError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| cfg(format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| cfg(format!("{}: {e}", path.display())))
}

fn order(now: time::OffsetDateTime) -> Order {
    let pkg = |serial: &str, product: &str, kind, area, seats| OrderPackage {
        serial: serial.into(),
        product: product.into(),
        kind,
        area,
        seats,
        valid_from: None,
        expires: None,
        replaces: vec![],
    };
    let mut analytics = pkg(
        "DEMO-ANALYTICS",
        "analytics",
        SeatKind::Named,
        Area::Employee,
        40,
    );
    analytics.expires = Some(now + time::Duration::days(20));
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
                features: vec!["dashboards".into(), "reports".into()],
                all_modules: false,
            },
            Product {
                code: "portal".into(),
                name: "Customer portal".into(),
                features: vec!["self_service".into()],
                all_modules: false,
            },
            Product {
                code: "telephony".into(),
                name: "Telephony module".into(),
                features: vec!["calls".into()],
                all_modules: false,
            },
        ],
        packages: vec![
            pkg(
                "DEMO-CRM-NAMED",
                "crm",
                SeatKind::Named,
                Area::Employee,
                180,
            ),
            pkg(
                "DEMO-CRM-FLOAT",
                "crm",
                SeatKind::Concurrent,
                Area::Employee,
                40,
            ),
            analytics,
            pkg("DEMO-PORTAL", "portal", SeatKind::Named, Area::Portal, 60),
            pkg(
                "DEMO-TELEPHONY",
                "telephony",
                SeatKind::Named,
                Area::Employee,
                10,
            ),
        ],
        area_limits: vec![
            OrderAreaLimit {
                area: Area::Employee,
                max_users: 320,
                valid_from: None,
                expires: None,
            },
            OrderAreaLimit {
                area: Area::Portal,
                max_users: 60,
                valid_from: None,
                expires: None,
            },
        ],
    }
}

/// Loads the demo into an empty ledger, or finds it loaded by an earlier start.
pub async fn load(ledger: &Ledger, config: &ServeConfig) -> Result<DemoLoaded, ServeError> {
    let dir = demo_dir(&config.database);
    let public = dir.join("vendor.pub.pem");
    let credentials = dir.join("credentials.txt");
    let empty = ledger.license_files().await?.is_empty()
        && ledger.users(&Default::default()).await?.len() <= 1;
    if !empty {
        if public.exists() {
            let pem = std::fs::read_to_string(&public).map_err(cfg)?;
            println!(
                "Demo data already loaded; credentials are in {}",
                credentials.display()
            );
            return Ok(DemoLoaded {
                vendor_key: VerifyingKey::from_public_key_pem(&pem).map_err(cfg)?,
            });
        }
        return Err(cfg(format!(
            "{} already holds data that is not the demo; start the demo on another database \
             (--database) or without --demo",
            seatkeeper_store::redact(&config.database)
        )));
    }
    std::fs::create_dir_all(&dir).map_err(cfg)?;
    let system = Actor::new("demo", "seatkeeper serve --demo");

    // The vendor's side: a key pair and a license for this instance's request.
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(cfg)?;
    let vendor = ed25519_dalek::SigningKey::from_bytes(&secret);
    let vendor_pub = vendor.verifying_key();
    std::fs::write(
        &public,
        vendor_pub.to_public_key_pem(LineEnding::LF).map_err(cfg)?,
    )
    .map_err(cfg)?;
    let request = ledger
        .license_request(&system, Some("DEMO-COMPANY"), env!("CARGO_PKG_VERSION"))
        .await?;
    let now = ledger.now();
    let file = license::issue(&vendor, &request, &order(now), "DEMO-LICENSE-1".into(), now)
        .map_err(cfg)?;
    std::fs::write(dir.join("demo-license.json"), &file).map_err(cfg)?;
    ledger.import_license(&system, &file, &[vendor_pub]).await?;

    // Folders, with some seats placed in them (X1).
    for f in ["Sales", "Sales/North", "Support"] {
        ledger.create_folder(&system, f).await?;
    }
    ledger
        .place_seats(&system, "DEMO-CRM-NAMED", "Sales", 40)
        .await?;
    ledger
        .place_seats(&system, "DEMO-CRM-FLOAT", "Support", 10)
        .await?;

    // A few hundred users.
    let mut csv = String::from("login,name,email,area,folder,state\n");
    for i in 1..=EMPLOYEES {
        let folder = match i % 3 {
            0 => "Sales",
            1 => "Support",
            _ => "",
        };
        let _ = writeln!(
            csv,
            "emp{i:03},Employee {i},emp{i:03}@demo.example,employee,{folder},active"
        );
    }
    for i in 1..=PORTAL_USERS {
        let _ = writeln!(
            csv,
            "cust{i:03},Customer {i},cust{i:03}@customer.example,portal,,active"
        );
    }
    ledger.import_users_csv(&system, &csv).await?;

    let logins = |range: std::ops::RangeInclusive<usize>, prefix: &str| -> Vec<String> {
        range.map(|i| format!("{prefix}{i:03}")).collect()
    };
    // Roles: an organizational tree and a functional role of license managers. The Sales roles
    // start empty and without products: the README's API and command-line tours fill them
    // (members, analytics bound to "Sales department") and show the redistribution that
    // follows, so nothing here may pre-empt it.
    let sales = ledger
        .create_role(&system, "Sales department", "organizational", None)
        .await?;
    ledger
        .create_role(&system, "Sales North", "organizational", Some(sales.id))
        .await?;
    let support = ledger
        .create_role(&system, "Support department", "organizational", None)
        .await?;
    // Telephony goes with the Support department: 25 members, 10 seats, so the redistribution
    // below leaves pending needs and a system message to look at.
    ledger
        .set_role_product(&system, support.id, "telephony", true)
        .await?;
    ledger
        .set_role_members(&system, support.id, &logins(236..=260, "emp"), true)
        .await?;
    let managers = ledger
        .create_role(&system, "License managers", "functional", None)
        .await?;
    for p in [Permission::ViewLicenses, Permission::ManageLicenses] {
        ledger
            .set_role_permission(&system, managers.id, p, true)
            .await?;
    }
    ledger
        .set_role_member(&system, managers.id, "emp001", true)
        .await?;

    // Seats in use: dedicated CRM seats, the analytics module, the portal.
    let crm_users: Vec<String> = (1..=EMPLOYEES)
        .filter(|i| i % 3 == 2)
        .take(90)
        .map(|i| format!("emp{i:03}"))
        .collect();
    ledger.grant(&system, &crm_users, &["crm".into()]).await?;
    let sales_users: Vec<String> = (3..=EMPLOYEES)
        .step_by(3)
        .take(30)
        .map(|i| format!("emp{i:03}"))
        .collect();
    ledger.grant(&system, &sales_users, &["crm".into()]).await?;
    ledger
        .grant(&system, &logins(1..=25, "emp"), &["analytics".into()])
        .await?;
    ledger
        .grant(&system, &logins(1..=35, "cust"), &["portal".into()])
        .await?;
    // Role-based distribution for everyone: 10 of the Support department's 25 members get a
    // telephony seat, 15 needs stay pending. Analytics keeps 15 of its 40 seats free for the
    // tours' grants.
    ledger
        .redistribute(
            &system,
            &seatkeeper_store::Scope::All,
            seatkeeper_store::ManualGrants::Keep,
        )
        .await?;
    // Some users logged in, a few of them on floating seats.
    let requests: Vec<LoginRequest> = (1..=EMPLOYEES)
        .step_by(15)
        .map(|i| LoginRequest {
            login: format!("emp{i:03}"),
            client: "demo".into(),
        })
        .collect();
    ledger.login_many(&requests).await?;

    // Credentials: the built-in administrator's password and an integration token.
    let password = auth::generate_password().map_err(cfg)?;
    let hash = auth::hash_password(&password).map_err(cfg)?;
    ledger.set_password_hash(&system, "admin", &hash).await?;
    let token = auth::new_secret(TokenScope::Integration).map_err(cfg)?;
    ledger
        .create_token(
            &system,
            "admin",
            "demo application",
            TokenScope::Integration,
            &auth::secret_hash(&token),
            None,
        )
        .await?;
    let text = format!("admin_login=admin\nadmin_password={password}\nintegration_token={token}\n");
    write_private(&credentials, &text)?;
    println!(
        "Demo loaded: {EMPLOYEES} employees and {PORTAL_USERS} portal users, folders, roles, \
         a signed demo license (files in {}).\n  administrator: admin / {password}\n  \
         integration token: {token}\n  (also in {})",
        dir.display(),
        credentials.display()
    );
    Ok(DemoLoaded {
        vendor_key: vendor_pub,
    })
}
