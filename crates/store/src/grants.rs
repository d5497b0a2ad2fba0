//! Manual grant and recall (D1): for one user or many, of one or more products, all or
//! nothing.

use std::collections::{BTreeMap, BTreeSet};

use seatkeeper_core::seats::{SeatDemand, place_named_seats};
use seatkeeper_core::{Error as DomainError, SeatKind, UserId, UserState};
use serde_json::json;

use crate::db::{Audit, audit, fetch_in, get_i64, get_str, insert_rows, ts};
use crate::licenses::known_products;
use crate::loaders::load_pools;
use crate::loaders::{UserRecord, users_by_login};
use crate::reconcile::reconcile;
use crate::sql_value::Val;
use crate::{Actor, GrantReport, HeldSeat, Ledger, RecallReport, Result};

fn dedup(items: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .filter(|i| seen.insert(i.to_ascii_lowercase()))
        .cloned()
        .collect()
}

impl Ledger {
    async fn resolve_users(
        &self,
        tx: &mut crate::db::Tx,
        logins: &[String],
        products: &[String],
    ) -> Result<(Vec<UserRecord>, Vec<String>)> {
        if logins.is_empty() || products.is_empty() {
            return Err(
                DomainError::Invalid("name at least one user and one product".into()).into(),
            );
        }
        let logins = dedup(logins);
        let products = dedup(products);
        let known = known_products(tx).await?;
        if let Some(p) = products.iter().find(|p| !known.contains(*p)) {
            return Err(DomainError::UnknownProduct(p.clone()).into());
        }
        let mut found = users_by_login(tx, &logins).await?;
        let mut users = Vec::with_capacity(logins.len());
        for l in &logins {
            users.push(
                found
                    .remove(&l.to_ascii_lowercase())
                    .ok_or_else(|| DomainError::UnknownUser(l.clone()))?,
            );
        }
        Ok((users, products))
    }

    /// D1: grants every named product to every user, or nothing. Pairs already held are left
    /// as they are; a refusal names the product and the shortfall.
    pub async fn grant(
        &self,
        actor: &Actor,
        logins: &[String],
        products: &[String],
    ) -> Result<GrantReport> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (users, products) = self.resolve_users(&mut tx, logins, products).await?;
        if let Some(u) = users.iter().find(|u| u.state == UserState::Blocked) {
            return Err(DomainError::UserBlocked {
                login: u.login.clone(),
            }
            .into());
        }

        let ids: Vec<Val> = users.iter().map(|u| Val::Int(u.id)).collect();
        let mut held: BTreeMap<(i64, String), bool> = BTreeMap::new();
        for r in fetch_in(
            &mut tx,
            "SELECT user_id, product_code, manual FROM assignments WHERE user_id IN ({ids})",
            &ids,
            1,
            &[],
        )
        .await?
        {
            held.insert(
                (get_i64(&r, "user_id")?, get_str(&r, "product_code")?),
                get_i64(&r, "manual")? == 1,
            );
        }

        let pools = load_pools(&mut tx).await?;
        let mut free = BTreeMap::new();
        let mut named_areas: BTreeMap<&str, BTreeSet<seatkeeper_core::Area>> = BTreeMap::new();
        for (k, p) in &pools {
            if k.kind == SeatKind::Named && p.capacity > 0 {
                named_areas
                    .entry(k.product.as_str())
                    .or_default()
                    .insert(k.area);
                free.insert(k.clone(), p.capacity.saturating_sub(p.used));
            }
        }

        let mut demands = Vec::new();
        let mut already = 0;
        let mut upgrade = Vec::new();
        for u in &users {
            for p in &products {
                match held.get(&(u.id, p.clone())) {
                    Some(true) => already += 1,
                    Some(false) => upgrade.push((u.id, p.clone())),
                    None => {
                        if let Some(areas) = named_areas.get(p.as_str())
                            && !areas.contains(&u.area)
                        {
                            return Err(DomainError::WrongArea {
                                login: u.login.clone(),
                                user_area: u.area,
                                product: p.clone(),
                            }
                            .into());
                        }
                        demands.push(SeatDemand {
                            user: UserId(u.id),
                            product: p.clone(),
                            area: u.area,
                            folder: u.folder,
                        });
                    }
                }
            }
        }
        let placed = place_named_seats(&demands, &free)?;

        let by_id: BTreeMap<i64, &UserRecord> = users.iter().map(|u| (u.id, u)).collect();
        let mut rows = Vec::with_capacity(placed.len());
        let mut report = GrantReport {
            already_held: already,
            ..Default::default()
        };
        let mut entries = Vec::new();
        for (d, pool) in demands.iter().zip(&placed) {
            rows.push(vec![
                Val::Int(d.user.0),
                Val::Text(pool.product.clone()),
                Val::Text(pool.area.as_str().into()),
                Val::Text(pool.kind.as_str().into()),
                Val::Int(pool.folder.0),
                Val::Int(ts(now)),
                Val::Text(actor.name.clone()),
                Val::Text("active".into()),
                Val::Int(1),
            ]);
            let login = by_id
                .get(&d.user.0)
                .map(|u| u.login.clone())
                .unwrap_or_default();
            entries.push(Audit::new(
                "license.grant",
                &login,
                json!({"product": d.product}),
            ));
            report.granted.push(HeldSeat {
                login,
                product: d.product.clone(),
            });
        }
        insert_rows(
            &mut tx,
            "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, granted_at, granted_by, status, manual)",
            9,
            rows,
        )
        .await?;
        // A role-given seat granted by hand gains the manual reason; no new seat is taken.
        for (user_id, product) in upgrade {
            sqlx::query(
                "UPDATE assignments SET manual = 1 WHERE user_id = $1 AND product_code = $2",
            )
            .bind(user_id)
            .bind(product)
            .execute(&mut *tx)
            .await?;
        }
        // Granting a seat that is releasing (S4) keeps it: the release is cancelled.
        let user_ids: Vec<Val> = users.iter().map(|u| Val::Int(u.id)).collect();
        let mut before = [Val::Text(String::new())];
        for p in &products {
            before[0] = Val::Text(p.clone());
            for chunk in user_ids.chunks(crate::db::CHUNK) {
                let sql = "UPDATE assignments SET release_pending = 0 \
                           WHERE release_pending = 1 AND product_code = $1 AND user_id IN ({ids})";
                let sql = sql.replace("{ids}", &crate::db::placeholders(2, chunk.len()));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for v in before.iter().chain(chunk) {
                    q = crate::db::bind(q, v.clone());
                }
                q.execute(&mut *tx).await?;
            }
        }
        audit(&mut tx, now, actor, entries).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// D1: recalls the products from the users, all or nothing (unknown users or products
    /// refuse the whole call; pairs not held are counted and skipped).
    pub async fn recall(
        &self,
        actor: &Actor,
        logins: &[String],
        products: &[String],
    ) -> Result<RecallReport> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (users, products) = self.resolve_users(&mut tx, logins, products).await?;
        let ids: Vec<Val> = users.iter().map(|u| Val::Int(u.id)).collect();
        let wanted: BTreeSet<&str> = products.iter().map(String::as_str).collect();
        let by_id: BTreeMap<i64, &UserRecord> = users.iter().map(|u| (u.id, u)).collect();
        let logged_in: BTreeSet<i64> = fetch_in(
            &mut tx,
            "SELECT DISTINCT user_id FROM sessions WHERE user_id IN ({ids})",
            &ids,
            1,
            &[],
        )
        .await?
        .iter()
        .map(|r| get_i64(r, "user_id"))
        .collect::<Result<_>>()?;
        let mut doomed = Vec::new();
        let mut releasing = Vec::new();
        let mut report = RecallReport::default();
        let mut entries = Vec::new();
        for r in fetch_in(
            &mut tx,
            "SELECT id, user_id, product_code FROM assignments WHERE user_id IN ({ids})",
            &ids,
            1,
            &[],
        )
        .await?
        {
            let product = get_str(&r, "product_code")?;
            if wanted.contains(product.as_str()) {
                let user_id = get_i64(&r, "user_id")?;
                let login = by_id
                    .get(&user_id)
                    .map(|u| u.login.clone())
                    .unwrap_or_default();
                // S4: a seat in use is not pulled from under a session; it is released when
                // the user's last session ends.
                let in_use = logged_in.contains(&user_id);
                if in_use {
                    releasing.push(Val::Int(get_i64(&r, "id")?));
                    report.releasing.push(HeldSeat {
                        login: login.clone(),
                        product: product.clone(),
                    });
                } else {
                    doomed.push(Val::Int(get_i64(&r, "id")?));
                }
                entries.push(Audit::new(
                    "license.recall",
                    &login,
                    json!({"product": product, "releasing": in_use}),
                ));
                report.recalled.push(HeldSeat { login, product });
            }
        }
        report.not_held = (users.len() * products.len()) as u64 - report.recalled.len() as u64;
        crate::db::execute_in(
            &mut tx,
            "DELETE FROM assignments WHERE id IN ({ids})",
            &doomed,
        )
        .await?;
        crate::db::execute_in(
            &mut tx,
            "UPDATE assignments SET release_pending = 1 WHERE id IN ({ids})",
            &releasing,
        )
        .await?;
        report.changes = reconcile(&mut tx, now, true).await?;
        audit(&mut tx, now, actor, entries).await?;
        tx.commit().await?;
        report.recalled.sort();
        report.releasing.sort();
        Ok(report)
    }
}
