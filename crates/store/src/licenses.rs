//! License request, import, delete, placement (L1, L2, L3, L5, X1).

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;
use seatkeeper_core::license::{self, LicenseRequest, REQUEST_FORMAT, UsageLine};
use seatkeeper_core::{Area, Error as DomainError, LicenseError, ROOT_FOLDER, validate_code};
use serde_json::json;

use crate::db::{
    Audit, Tx, audit, count, dt, get_i64, get_str, insert_rows, meta_get, meta_set, parse, ts,
};
use crate::folders::FolderTree;
use crate::loaders::{load_packages, load_placements, load_pools};
use crate::reconcile::reconcile;
use crate::sql_value::Val;
use crate::{
    Actor, DeleteLicensesReport, ImportReport, InstanceInfo, Ledger, LicenseFileView,
    PackageStatus, PackageView, Placement, ProductView, Result,
};

async fn instance_info(tx: &mut Tx) -> Result<InstanceInfo> {
    Ok(InstanceInfo {
        instance_id: meta_get(tx, "instance_id").await?.unwrap_or_default(),
        company_id: meta_get(tx, "company_id").await?,
    })
}

/// Records the company id with its audit record (the one writer of the `company_id` meta).
async fn record_company(
    tx: &mut Tx,
    now: time::OffsetDateTime,
    actor: &Actor,
    previous: Option<String>,
    company_id: &str,
) -> Result<()> {
    meta_set(tx, "company_id", company_id).await?;
    audit(
        tx,
        now,
        actor,
        vec![Audit::new(
            "instance.company",
            company_id,
            json!({ "previous": previous }),
        )],
    )
    .await
}

impl Ledger {
    pub async fn instance(&self) -> Result<InstanceInfo> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        instance_info(&mut tx).await
    }

    /// L1: the request the vendor turns into a license file. The first company id given is
    /// recorded as this installation's company (imports are checked against it); a different
    /// one later is refused, since licenses are bound to the recorded one: changing it is
    /// `set_company_id`'s job.
    pub async fn license_request(
        &self,
        actor: &Actor,
        company_id: Option<&str>,
        application_version: &str,
    ) -> Result<LicenseRequest> {
        let mut tx = self.begin_write().await?;
        let mut info = instance_info(&mut tx).await?;
        if let Some(c) = company_id {
            validate_code("company id", c)?;
            match info.company_id.as_deref() {
                Some(installed) if installed == c => {}
                Some(installed) => {
                    return Err(DomainError::CompanyIdChange {
                        installed: installed.to_string(),
                        requested: c.to_string(),
                    }
                    .into());
                }
                None => {
                    record_company(&mut tx, self.now(), actor, None, c).await?;
                    info.company_id = Some(c.to_string());
                }
            }
        }
        let company_id = info
            .company_id
            .ok_or(DomainError::License(LicenseError::NoCompany))?;
        let mut usage: BTreeMap<(String, Area, seatkeeper_core::SeatKind), (u64, u64)> =
            BTreeMap::new();
        for (k, p) in load_pools(&mut tx).await? {
            let e = usage.entry((k.product, k.area, k.kind)).or_default();
            e.0 += p.capacity;
            e.1 += p.used;
        }
        let mut active_users = BTreeMap::new();
        for r in sqlx::query("SELECT area, active_users FROM area_counters")
            .fetch_all(&mut *tx)
            .await?
        {
            active_users.insert(
                parse::<Area>(&get_str(&r, "area")?)?,
                count(get_i64(&r, "active_users")?),
            );
        }
        tx.commit().await?;
        Ok(LicenseRequest {
            format: REQUEST_FORMAT.to_string(),
            company_id,
            instance_id: info.instance_id,
            application_version: application_version.to_string(),
            generated_at: self.now(),
            usage: usage
                .into_iter()
                .map(|((product, area, kind), (capacity, used))| UsageLine {
                    product,
                    area,
                    kind,
                    capacity,
                    used,
                })
                .collect(),
            active_users,
        })
    }

    /// Changes this installation's company id on purpose. Refused while license files are
    /// loaded: they are bound to the old id, and the genuine ones would be refused after.
    pub async fn set_company_id(&self, actor: &Actor, company_id: &str) -> Result<InstanceInfo> {
        validate_code("company id", company_id)?;
        let mut tx = self.begin_write().await?;
        let mut info = instance_info(&mut tx).await?;
        if info.company_id.as_deref() != Some(company_id) {
            let files = count(get_i64(
                &sqlx::query("SELECT COUNT(*) AS n FROM license_files")
                    .fetch_one(&mut *tx)
                    .await?,
                "n",
            )?);
            if files > 0 {
                return Err(DomainError::CompanyIdLocked { files }.into());
            }
            let previous = info.company_id.take();
            record_company(&mut tx, self.now(), actor, previous, company_id).await?;
            info.company_id = Some(company_id.to_string());
        }
        tx.commit().await?;
        Ok(info)
    }

    /// L2/L3: verifies and imports a license file in one transaction. Re-importing the same
    /// file is a no-op; any refusal changes nothing.
    pub async fn import_license(
        &self,
        actor: &Actor,
        text: &str,
        trusted: &[VerifyingKey],
    ) -> Result<ImportReport> {
        self.import_license_in(actor, text, trusted, true).await
    }

    /// What importing `text` would do (the same checks and the same report, including the
    /// seats it would restore), computed by running the import and rolling it back, so the
    /// preview cannot drift from the real thing.
    pub async fn preview_license_import(
        &self,
        actor: &Actor,
        text: &str,
        trusted: &[VerifyingKey],
    ) -> Result<ImportReport> {
        self.import_license_in(actor, text, trusted, false).await
    }

    async fn import_license_in(
        &self,
        actor: &Actor,
        text: &str,
        trusted: &[VerifyingKey],
        commit: bool,
    ) -> Result<ImportReport> {
        let verified = license::verify(text, trusted).map_err(DomainError::from)?;
        let payload = &verified.payload;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let info = instance_info(&mut tx).await?;
        let mut report = ImportReport {
            license_id: payload.license_id.clone(),
            ..Default::default()
        };

        let same = sqlx::query("SELECT license_id FROM license_files WHERE digest = $1")
            .bind(verified.digest.clone())
            .fetch_optional(&mut *tx)
            .await?;
        if same.is_some() {
            report.already_imported = true;
            return Ok(report);
        }
        license::check_binding(payload, info.company_id.as_deref(), &info.instance_id, now)
            .map_err(DomainError::from)?;
        let invalid = |m: String| DomainError::License(LicenseError::Invalid(m));
        if sqlx::query("SELECT id FROM license_files WHERE license_id = $1")
            .bind(payload.license_id.clone())
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(invalid(format!(
                "a different file with license id {} is already imported",
                payload.license_id
            ))
            .into());
        }
        let existing = load_packages(&mut tx).await?;
        let by_serial: BTreeMap<&str, &seatkeeper_core::Package> =
            existing.iter().map(|p| (p.serial.as_str(), p)).collect();
        for p in &payload.packages {
            if by_serial.contains_key(p.serial.as_str()) {
                return Err(invalid(format!(
                    "package serial {} is already imported from another file",
                    p.serial
                ))
                .into());
            }
            for r in &p.replaces {
                match by_serial.get(r.as_str()) {
                    Some(old)
                        if (old.product.as_str(), old.area, old.kind)
                            != (p.product.as_str(), p.area, p.kind) =>
                    {
                        return Err(invalid(format!(
                            "package {} cannot replace {}: it is for {} {} {} seats, not {} {} {}",
                            p.serial, r, p.product, p.area, p.kind, old.product, old.area, old.kind
                        ))
                        .into());
                    }
                    Some(_) => report.replaced.push(r.clone()),
                    None => report.replaced_unknown.push(r.clone()),
                }
            }
        }

        for p in &payload.products {
            sqlx::query(
                "INSERT INTO products (code, name, features, all_modules) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, features = excluded.features, \
                 all_modules = excluded.all_modules",
            )
            .bind(p.code.clone())
            .bind(p.name.clone())
            .bind(json!(p.features).to_string())
            .bind(i64::from(p.all_modules))
            .execute(&mut *tx)
            .await?;
            report.products.push(p.code.clone());
        }
        let file_id = get_i64(
            &sqlx::query(
                "INSERT INTO license_files (license_id, digest, key_id, company_id, issued_at, imported_at, imported_by, content) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(payload.license_id.clone())
            .bind(verified.digest.clone())
            .bind(verified.key_id.clone())
            .bind(payload.company_id.clone())
            .bind(ts(payload.issued_at))
            .bind(ts(now))
            .bind(actor.name.clone())
            .bind(text.to_string())
            .fetch_one(&mut *tx)
            .await?,
            "id",
        )?;
        let rows = payload
            .packages
            .iter()
            .map(|p| {
                vec![
                    Val::Text(p.serial.clone()),
                    Val::Int(file_id),
                    Val::Text(p.product.clone()),
                    Val::Text(p.kind.as_str().into()),
                    Val::Text(p.area.as_str().into()),
                    Val::Int(i64::from(p.seats)),
                    Val::Int(ts(p.valid_from)),
                    Val::OptInt(p.expires.map(ts)),
                    Val::Text(json!(p.replaces).to_string()),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            "INSERT INTO packages (serial, license_file_id, product_code, kind, area, seats, valid_from, expires, replaces)",
            9,
            rows,
        )
        .await?;
        let limits = payload
            .area_limits
            .iter()
            .map(|l| {
                vec![
                    Val::Int(file_id),
                    Val::Text(l.area.as_str().into()),
                    Val::Int(i64::from(l.max_users)),
                    Val::Int(ts(l.valid_from)),
                    Val::OptInt(l.expires.map(ts)),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            "INSERT INTO area_limits (license_file_id, area, max_users, valid_from, expires)",
            5,
            limits,
        )
        .await?;

        // A renewal keeps the seats in the folders where the renewed package had them.
        let placements = load_placements(&mut tx).await?;
        let mut inherited = Vec::new();
        for p in payload.packages.iter().filter(|p| !p.replaces.is_empty()) {
            let old: Vec<_> = p
                .replaces
                .iter()
                .filter_map(|r| placements.get(r))
                .collect();
            for (folder, seats) in seatkeeper_core::capacity::inherited_placements(p.seats, &old) {
                inherited.push(vec![
                    Val::Text(p.serial.clone()),
                    Val::Int(folder.0),
                    Val::Int(i64::from(seats)),
                ]);
            }
        }
        insert_rows(
            &mut tx,
            "INSERT INTO package_placements (serial, folder_id, seats)",
            3,
            inherited,
        )
        .await?;

        report.packages = payload.packages.iter().map(|p| p.serial.clone()).collect();
        report.changes = reconcile(&mut tx, now, true).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "license.import",
                &payload.license_id,
                json!({"packages": report.packages, "replaced": report.replaced, "key_id": verified.key_id}),
            )],
        )
        .await?;
        crate::outbox::emit(
            &mut tx,
            now,
            &seatkeeper_core::events::Event::new(
                seatkeeper_core::events::EventType::LicenseImported,
                &json!({"license_id": payload.license_id, "customer": payload.company_id,
                    "products": report.products, "packages": report.packages,
                    "replaced": report.replaced,
                    "seats_suspended": report.changes.suspended.len(),
                    "seats_restored": report.changes.restored.len()}),
            ),
        )
        .await?;
        if commit {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(report)
    }

    /// L5: removes every license file (demo mode). Assignments are kept, suspended, and come
    /// back if licenses covering them are imported again.
    pub async fn delete_all_licenses(&self, actor: &Actor) -> Result<DeleteLicensesReport> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let files = count(get_i64(
            &sqlx::query("SELECT COUNT(*) AS n FROM license_files")
                .fetch_one(&mut *tx)
                .await?,
            "n",
        )?);
        let packages = count(get_i64(
            &sqlx::query("SELECT COUNT(*) AS n FROM packages")
                .fetch_one(&mut *tx)
                .await?,
            "n",
        )?);
        sqlx::query("DELETE FROM package_placements")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM area_limits")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM packages")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM license_files")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM products")
            .execute(&mut *tx)
            .await?;
        let changes = reconcile(&mut tx, now, true).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "license.delete_all",
                "*",
                json!({"license_files": files, "packages": packages}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(DeleteLicensesReport {
            license_files: files,
            packages,
            changes,
        })
    }

    pub async fn license_files(&self) -> Result<Vec<LicenseFileView>> {
        let rows = sqlx::query(
            "SELECT f.license_id, f.company_id, f.key_id, f.issued_at, f.imported_at, f.imported_by, \
             (SELECT COUNT(*) FROM packages p WHERE p.license_file_id = f.id) AS n \
             FROM license_files f ORDER BY f.imported_at, f.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LicenseFileView {
                    license_id: get_str(r, "license_id")?,
                    company_id: get_str(r, "company_id")?,
                    key_id: get_str(r, "key_id")?,
                    issued_at: dt(get_i64(r, "issued_at")?)?,
                    imported_at: dt(get_i64(r, "imported_at")?)?,
                    imported_by: get_str(r, "imported_by")?,
                    packages: count(get_i64(r, "n")?),
                })
            })
            .collect()
    }

    pub async fn packages(&self) -> Result<Vec<PackageView>> {
        let now = self.now();
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let packages = load_packages(&mut tx).await?;
        let placements = load_placements(&mut tx).await?;
        let tree = FolderTree::load(&mut tx).await?;
        let mut files = BTreeMap::new();
        for r in sqlx::query("SELECT p.serial, f.license_id FROM packages p JOIN license_files f ON f.id = p.license_file_id")
            .fetch_all(&mut *tx)
            .await?
        {
            files.insert(get_str(&r, "serial")?, get_str(&r, "license_id")?);
        }
        Ok(packages
            .iter()
            .map(|p| {
                let status = if now < p.valid_from {
                    PackageStatus::NotYetValid
                } else if !p.in_window(now) {
                    PackageStatus::Expired
                } else if !seatkeeper_core::capacity::counts(p, &packages, now) {
                    PackageStatus::Replaced
                } else {
                    PackageStatus::Valid
                };
                PackageView {
                    serial: p.serial.clone(),
                    license_id: files.get(&p.serial).cloned().unwrap_or_default(),
                    product: p.product.clone(),
                    kind: p.kind,
                    area: p.area,
                    seats: u64::from(p.seats),
                    valid_from: p.valid_from,
                    expires: p.expires,
                    replaces: p.replaces.clone(),
                    status,
                    placements: placements
                        .get(&p.serial)
                        .into_iter()
                        .flatten()
                        .map(|(f, s)| Placement {
                            folder: tree.path(*f),
                            seats: u64::from(*s),
                        })
                        .collect(),
                }
            })
            .collect())
    }

    pub async fn products(&self) -> Result<Vec<ProductView>> {
        let rows =
            sqlx::query("SELECT code, name, features, all_modules FROM products ORDER BY code")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ProductView {
                    code: get_str(r, "code")?,
                    name: get_str(r, "name")?,
                    features: serde_json::from_str(&get_str(r, "features")?)
                        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                    all_modules: get_i64(r, "all_modules")? == 1,
                })
            })
            .collect()
    }

    /// X1: places `seats` of a package in a folder (0 returns them to the root). Refused if a
    /// folder would be left with fewer seats than its users hold.
    pub async fn place_seats(
        &self,
        actor: &Actor,
        serial: &str,
        folder: &str,
        seats: u32,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let folder_id = tree.resolve(folder)?;
        let row = sqlx::query("SELECT seats FROM packages WHERE serial = $1")
            .bind(serial.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| DomainError::UnknownPackage(serial.to_string()))?;
        let total = count(get_i64(&row, "seats")?);
        let refuse = |reason: String| DomainError::Placement {
            serial: serial.to_string(),
            requested: u64::from(seats),
            reason,
        };
        if folder_id == ROOT_FOLDER {
            return Err(refuse("seats not placed in a folder are in the root already; place 0 in a folder to return them".into()).into());
        }
        let others: u64 = load_placements(&mut tx)
            .await?
            .get(serial)
            .into_iter()
            .flatten()
            .filter(|(f, _)| **f != folder_id)
            .map(|(_, s)| u64::from(*s))
            .sum();
        if others + u64::from(seats) > total {
            return Err(refuse(format!(
                "the package has {total} seats and {others} are placed in other folders"
            ))
            .into());
        }
        sqlx::query("DELETE FROM package_placements WHERE serial = $1 AND folder_id = $2")
            .bind(serial.to_string())
            .bind(folder_id.0)
            .execute(&mut *tx)
            .await?;
        if seats > 0 {
            sqlx::query(
                "INSERT INTO package_placements (serial, folder_id, seats) VALUES ($1, $2, $3)",
            )
            .bind(serial.to_string())
            .bind(folder_id.0)
            .bind(i64::from(seats))
            .execute(&mut *tx)
            .await?;
        }
        // Moving seats must never take them from users who hold them.
        let view = seatkeeper_core::capacity::pools_at(
            &load_packages(&mut tx).await?,
            &load_placements(&mut tx).await?,
            now,
        );
        for (key, pool) in load_pools(&mut tx).await? {
            let after = view.pools.get(&key).copied().unwrap_or(0);
            if pool.used > after {
                return Err(refuse(format!(
                    "folder {} would keep {after} {} seats of {} but its users hold {}",
                    tree.path(key.folder),
                    key.kind,
                    key.product,
                    pool.used
                ))
                .into());
            }
        }
        reconcile(&mut tx, now, true).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "package.place",
                serial,
                json!({"folder": tree.path(folder_id), "seats": seats}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Known products by code, for validating requests.
pub(crate) async fn known_products(tx: &mut Tx) -> Result<BTreeSet<String>> {
    let rows = sqlx::query("SELECT code FROM products")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| get_str(r, "code")).collect()
}
