//! Loaders: the ledger's rows read into the core's types (packages, placements, license
//! terms, pools, the role tree, a holding, a user), for whichever module asks the core a question.
//! They read and decode; they decide nothing and write nothing.

use std::collections::{BTreeMap, HashMap};

use seatkeeper_core::capacity::{LicenseTerms, Placements};
use seatkeeper_core::distribution::{Available, Holding, RoleTree};
use seatkeeper_core::{
    Area, AreaLimit, Error as DomainError, FolderId, Package, PoolKey, SeatKind, UserId, UserState,
};

use crate::db::{Tx, dt, fetch_in, get_i64, get_opt_i64, get_str, parse};
use crate::sql_value::Val;
use crate::{Result, StoreError};

pub(crate) async fn load_packages(tx: &mut Tx) -> Result<Vec<Package>> {
    let rows = sqlx::query(
        "SELECT serial, product_code, kind, area, seats, valid_from, expires, replaces \
         FROM packages ORDER BY serial",
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Package {
                serial: get_str(r, "serial")?,
                product: get_str(r, "product_code")?,
                kind: parse(&get_str(r, "kind")?)?,
                area: parse(&get_str(r, "area")?)?,
                seats: u32::try_from(get_i64(r, "seats")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                valid_from: dt(get_i64(r, "valid_from")?)?,
                expires: get_opt_i64(r, "expires")?.map(dt).transpose()?,
                replaces: serde_json::from_str(&get_str(r, "replaces")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            })
        })
        .collect()
}

pub(crate) async fn load_placements(tx: &mut Tx) -> Result<Placements> {
    let rows = sqlx::query("SELECT serial, folder_id, seats FROM package_placements")
        .fetch_all(&mut **tx)
        .await?;
    let mut out = Placements::new();
    for r in rows {
        out.entry(get_str(&r, "serial")?).or_default().insert(
            FolderId(get_i64(&r, "folder_id")?),
            u32::try_from(get_i64(&r, "seats")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Every license file's packages and area limits, grouped by file: what the core needs to
/// decide which limits are in force (a renewal's limits take over those of the file it renews).
pub(crate) async fn load_license_terms(
    tx: &mut Tx,
    packages: &[Package],
) -> Result<Vec<LicenseTerms>> {
    let mut files: BTreeMap<i64, LicenseTerms> = BTreeMap::new();
    let term = |id: i64| LicenseTerms {
        file: id,
        packages: Vec::new(),
        limits: Vec::new(),
    };
    let by_serial: BTreeMap<&str, &Package> =
        packages.iter().map(|p| (p.serial.as_str(), p)).collect();
    for r in sqlx::query("SELECT serial, license_file_id FROM packages")
        .fetch_all(&mut **tx)
        .await?
    {
        let id = get_i64(&r, "license_file_id")?;
        let serial = get_str(&r, "serial")?;
        let p = by_serial
            .get(serial.as_str())
            .ok_or_else(|| StoreError::Corrupt(format!("package {serial} vanished")))?;
        files
            .entry(id)
            .or_insert_with(|| term(id))
            .packages
            .push((*p).clone());
    }
    for r in
        sqlx::query("SELECT license_file_id, area, max_users, valid_from, expires FROM area_limits")
            .fetch_all(&mut **tx)
            .await?
    {
        let id = get_i64(&r, "license_file_id")?;
        files
            .entry(id)
            .or_insert_with(|| term(id))
            .limits
            .push(AreaLimit {
                area: parse(&get_str(&r, "area")?)?,
                max_users: u32::try_from(get_i64(&r, "max_users")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                valid_from: dt(get_i64(&r, "valid_from")?)?,
                expires: get_opt_i64(&r, "expires")?.map(dt).transpose()?,
            });
    }
    Ok(files.into_values().collect())
}

/// Stored pools: capacity, active (`used`) and suspended counts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PoolRow {
    pub capacity: u64,
    pub used: u64,
    pub suspended: u64,
}

pub(crate) async fn load_pools(tx: &mut Tx) -> Result<BTreeMap<PoolKey, PoolRow>> {
    let mut pools = BTreeMap::new();
    for r in
        sqlx::query("SELECT product_code, area, kind, folder_id, capacity, used FROM seat_pools")
            .fetch_all(&mut **tx)
            .await?
    {
        pools.insert(
            pool_key(&r)?,
            PoolRow {
                capacity: crate::db::count(get_i64(&r, "capacity")?),
                used: crate::db::count(get_i64(&r, "used")?),
                suspended: 0,
            },
        );
    }
    for r in sqlx::query(
        "SELECT product_code, area, kind, folder_id, COUNT(*) AS n FROM assignments \
         WHERE status = 'suspended' GROUP BY product_code, area, kind, folder_id",
    )
    .fetch_all(&mut **tx)
    .await?
    {
        pools
            .entry(pool_key(&r)?)
            .or_insert_with(PoolRow::default)
            .suspended = crate::db::count(get_i64(&r, "n")?);
    }
    Ok(pools)
}

pub(crate) fn pool_key(r: &sqlx::any::AnyRow) -> Result<PoolKey> {
    Ok(PoolKey {
        product: get_str(r, "product_code")?,
        area: parse::<Area>(&get_str(r, "area")?)?,
        kind: parse::<SeatKind>(&get_str(r, "kind")?)?,
        folder: FolderId(get_i64(r, "folder_id")?),
    })
}

/// Roles with their parents and bindings, and their names (for messages).
pub(crate) async fn load_tree(tx: &mut Tx) -> Result<(RoleTree, HashMap<i64, String>)> {
    let mut parents = Vec::new();
    let mut names = HashMap::new();
    for r in sqlx::query("SELECT id, name, parent_id FROM roles")
        .fetch_all(&mut **tx)
        .await?
    {
        let id = get_i64(&r, "id")?;
        parents.push((id, get_opt_i64(&r, "parent_id")?));
        names.insert(id, get_str(&r, "name")?);
    }
    let mut bindings = Vec::new();
    for r in sqlx::query("SELECT role_id, product_code FROM role_products")
        .fetch_all(&mut **tx)
        .await?
    {
        bindings.push((get_i64(&r, "role_id")?, get_str(&r, "product_code")?));
    }
    Ok((RoleTree::new(parents, bindings), names))
}

/// Seats a plan may use per named pool: capacity − used − suspended.
pub(crate) async fn load_available(tx: &mut Tx) -> Result<Available> {
    Ok(load_pools(tx)
        .await?
        .into_iter()
        .filter(|(k, _)| k.kind == SeatKind::Named)
        .map(|(k, p)| {
            let free = i64::try_from(p.capacity).unwrap_or(i64::MAX)
                - i64::try_from(p.used + p.suspended).unwrap_or(i64::MAX);
            (k, free)
        })
        .collect())
}

/// A named assignment row (`product_code, area, kind, folder_id, status, manual, by_role,
/// release_pending`) as the planner sees it.
pub(crate) fn holding(r: &sqlx::any::AnyRow, user: i64) -> Result<Holding> {
    Ok(Holding {
        user: UserId(user),
        pool: pool_key(r)?,
        manual: get_i64(r, "manual")? == 1,
        by_role: get_i64(r, "by_role")? == 1,
        suspended: get_str(r, "status")? == "suspended",
        releasing: get_i64(r, "release_pending")? == 1,
    })
}

/// A user row as the write paths need it.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    pub folder: FolderId,
    pub state: UserState,
    pub builtin: bool,
}

pub(crate) const USER_COLUMNS: &str = "id, login, name, email, area, folder_id, state, \
    block_reason, builtin, created_at, source, provisioned_by";

pub(crate) fn record(r: &sqlx::any::AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: get_i64(r, "id")?,
        login: get_str(r, "login")?,
        name: get_str(r, "name")?,
        email: get_str(r, "email")?,
        area: parse(&get_str(r, "area")?)?,
        folder: FolderId(get_i64(r, "folder_id")?),
        state: parse(&get_str(r, "state")?)?,
        builtin: get_i64(r, "builtin")? == 1,
    })
}

/// Users by lower-cased login, for the logins given (unknown ones are simply absent).
pub(crate) async fn users_by_login(
    tx: &mut Tx,
    logins: &[String],
) -> Result<BTreeMap<String, UserRecord>> {
    let vals: Vec<Val> = logins
        .iter()
        .map(|l| Val::Text(l.to_ascii_lowercase()))
        .collect();
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(login) IN ({{ids}})");
    let rows = fetch_in(tx, &sql, &vals, 1, &[]).await?;
    rows.iter()
        .map(|r| record(r).map(|u| (u.login.to_ascii_lowercase(), u)))
        .collect()
}

pub(crate) async fn user_by_login(tx: &mut Tx, login: &str) -> Result<UserRecord> {
    users_by_login(tx, &[login.to_string()])
        .await?
        .remove(&login.to_ascii_lowercase())
        .ok_or_else(|| DomainError::UnknownUser(login.to_string()).into())
}
