//! Role-based distribution (D3–D5, N2): previews and journaled, chunked runs of the core's
//! planner, pending needs and their fulfilment, settings and system messages.
//!
//! A run goes through the users of its scope in id order, a chunk at a time, each chunk in
//! its own short write transaction, so that grants and logins wait at most one chunk. All
//! recalls come first (phase `recall`), then grants (phase `grant`), which makes the chunked
//! result the one the planner computes for the whole scope at once — the preview. The run's
//! journal row records the phase and the last user done in the same transaction as the
//! chunk; a run left behind by a crash is finished by the next process that opens the ledger.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use seatkeeper_core::distribution::{
    Available, Holding, ManualGrants, Need, NeedReason, Plan, PlanUser, ROOT_ROLE, RoleTree, plan,
};
use seatkeeper_core::{Area, Error as DomainError, FolderId, PoolKey, SeatKind, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{
    Audit, Tx, Val, audit, execute_in, get_i64, get_opt_i64, get_str, insert_rows, meta_get,
    meta_set, parse, ts,
};
use crate::reconcile::load_pools;
use crate::{Actor, Ledger, Result, StoreError};

/// Users per chunk of a run: small enough that a chunk's transaction stays short (tens of
/// milliseconds), so a manual grant or a login waits at most that long.
pub const DEFAULT_CHUNK_USERS: usize = 1_000;
/// How long a run's lease lasts without a chunk renewing it.
const LEASE_SECS: i64 = 60;
/// Items of each list that a report carries (the counts are always complete).
pub const DEFAULT_DETAIL: usize = 200;

const SET_ON_ROLE_CHANGE: &str = "setting.redistribute_on_role_change";
const SET_ROLE_BASED: &str = "setting.role_based_distribution";

/// Who a redistribution is for (D3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every active user.
    All,
    /// The members of a role and of its descendants.
    Role { role: i64 },
    /// One user (the provisioning entry point).
    User { login: String },
}

impl Scope {
    fn describe(&self, names: &HashMap<i64, String>) -> String {
        match self {
            Scope::All => "all users".into(),
            Scope::Role { role } => format!(
                "role {:?}",
                names.get(role).cloned().unwrap_or_else(|| role.to_string())
            ),
            Scope::User { login } => format!("user {login:?}"),
        }
    }
}

/// The scope with ids resolved against the database.
#[derive(Debug, Clone)]
enum Resolved {
    All,
    Roles {
        roles: BTreeSet<i64>,
        employees: bool,
    },
    Users(Vec<i64>),
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlanItem {
    pub login: String,
    pub product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of a preview or a run: complete counts, and the first items of each list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedistributionReport {
    /// The run's id; none for a preview.
    pub id: Option<i64>,
    pub preview: bool,
    pub scope: String,
    pub manual: Option<ManualGrants>,
    pub users: u64,
    pub granted: u64,
    pub recalled: u64,
    /// Recalled from users who are logged in: freed when their sessions end (S4).
    pub releasing: u64,
    /// Seats kept whose reasons changed (a role now gives it, or no longer does).
    pub reasons_changed: u64,
    pub unmet: u64,
    pub grants: Vec<PlanItem>,
    pub recalls: Vec<PlanItem>,
    pub unmet_needs: Vec<PlanItem>,
    pub message_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionSettings {
    pub redistribute_on_role_change: bool,
    pub role_based_distribution: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub actor: String,
    pub scope: Scope,
    pub manual: ManualGrants,
    pub status: String,
    pub phase: String,
    /// `full`, or `incremental`: only users changed since the last full run were visited.
    pub mode: String,
    pub users: u64,
    pub granted: u64,
    pub recalled: u64,
    pub releasing: u64,
    pub unmet: u64,
    pub message_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NeedView {
    pub login: String,
    pub product: String,
    pub area: Area,
    pub reason: NeedReason,
    pub message: &'static str,
    pub since: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    pub read: bool,
}

fn rfc3339(secs: i64) -> String {
    crate::db::dt(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) async fn settings_in(tx: &mut Tx) -> Result<DistributionSettings> {
    Ok(DistributionSettings {
        redistribute_on_role_change: meta_get(tx, SET_ON_ROLE_CHANGE).await?.as_deref()
            == Some("true"),
        role_based_distribution: meta_get(tx, SET_ROLE_BASED).await?.as_deref() != Some("false"),
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

const BASELINE: &str = "distribution.baseline";

/// What a full run's plans depend on besides each user's own facts: the role tree, the
/// bindings and where products are sold as named seats. Equal signatures (and the same
/// option) let a run for all users visit only the users marked since.
async fn signature(tx: &mut Tx) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for r in sqlx::query("SELECT id, parent_id FROM roles ORDER BY id")
        .fetch_all(&mut **tx)
        .await?
    {
        (get_i64(&r, "id")?, get_opt_i64(&r, "parent_id")?).hash(&mut h);
    }
    "bindings".hash(&mut h);
    for r in sqlx::query(
        "SELECT role_id, product_code FROM role_products ORDER BY role_id, product_code",
    )
    .fetch_all(&mut **tx)
    .await?
    {
        (get_i64(&r, "role_id")?, get_str(&r, "product_code")?).hash(&mut h);
    }
    "pools".hash(&mut h);
    for r in sqlx::query(
        "SELECT DISTINCT product_code, area FROM seat_pools WHERE kind = 'named' \
         ORDER BY product_code, area",
    )
    .fetch_all(&mut **tx)
    .await?
    {
        (get_str(&r, "product_code")?, get_str(&r, "area")?).hash(&mut h);
    }
    Ok(format!("{:016x}", h.finish()))
}

/// Whether a run with `manual` may clear the marks of the users it plans: a run that keeps
/// manual grants leaves users "unfinished" for a baseline that removes them.
async fn may_clear_marks(tx: &mut Tx, manual: ManualGrants) -> Result<bool> {
    Ok(manual == ManualGrants::Remove
        || !meta_get(tx, BASELINE)
            .await?
            .is_some_and(|b| b.starts_with("remove:")))
}

async fn clear_marks(tx: &mut Tx, users: &[i64]) -> Result<()> {
    let ids: Vec<Val> = users.iter().map(|i| Val::Int(*i)).collect();
    execute_in(
        tx,
        "DELETE FROM distribution_dirty WHERE user_id IN ({ids})",
        &ids,
    )
    .await?;
    Ok(())
}

/// The next users of an incremental run after `after`: those marked since the baseline and,
/// in the grant phase, those with pending needs that a free seat could now meet.
async fn incremental_ids(
    tx: &mut Tx,
    after: i64,
    limit: usize,
    phase: Phase,
    available: &Available,
) -> Result<Vec<i64>> {
    let lim = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let sql = if phase == Phase::Recall {
        "SELECT d.user_id FROM distribution_dirty d WHERE d.user_id > $1 \
         AND EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = d.user_id) \
         ORDER BY d.user_id LIMIT $2"
    } else {
        "SELECT user_id FROM distribution_dirty WHERE user_id > $1 ORDER BY user_id LIMIT $2"
    };
    for r in sqlx::query(sql)
        .bind(after)
        .bind(lim)
        .fetch_all(&mut **tx)
        .await?
    {
        ids.insert(get_i64(&r, "user_id")?);
    }
    if phase != Phase::Recall {
        ids.extend(pending_candidates(tx, after, lim, available).await?);
    }
    Ok(ids.into_iter().take(limit).collect())
}

/// Users with pending needs that a free seat could meet, in the order a full run would serve
/// them: per product and area, as many of the oldest (after `after`) as there are free seats
/// in total (root and folders), plus, per folder with free seats, that many of the folder's
/// oldest. Anyone after them would find the seats taken in a full run too.
async fn pending_candidates(
    tx: &mut Tx,
    after: i64,
    lim: i64,
    available: &Available,
) -> Result<BTreeSet<i64>> {
    let mut ids = BTreeSet::new();
    let mut free: BTreeMap<(&str, Area), i64> = BTreeMap::new();
    let mut folders: Vec<(&PoolKey, i64)> = Vec::new();
    for (k, n) in available.iter().filter(|(_, n)| **n > 0) {
        *free.entry((k.product.as_str(), k.area)).or_insert(0) += n;
        if k.folder != seatkeeper_core::ROOT_FOLDER {
            folders.push((k, *n));
        }
    }
    for ((product, area), n) in free {
        for r in sqlx::query(
            "SELECT user_id FROM pending_needs WHERE product_code = $1 AND area = $2 \
             AND user_id > $3 ORDER BY user_id LIMIT $4",
        )
        .bind(product.to_string())
        .bind(area.as_str().to_string())
        .bind(after)
        .bind(n.min(lim))
        .fetch_all(&mut **tx)
        .await?
        {
            ids.insert(get_i64(&r, "user_id")?);
        }
    }
    for (k, n) in folders {
        for r in sqlx::query(
            "SELECT n.user_id FROM pending_needs n JOIN users u ON u.id = n.user_id \
             WHERE n.product_code = $1 AND n.area = $2 AND u.folder_id = $3 \
             AND n.user_id > $4 ORDER BY n.user_id LIMIT $5",
        )
        .bind(k.product.clone())
        .bind(k.area.as_str().to_string())
        .bind(k.folder.0)
        .bind(after)
        .bind(n.min(lim))
        .fetch_all(&mut **tx)
        .await?
        {
            ids.insert(get_i64(&r, "user_id")?);
        }
    }
    Ok(ids)
}

/// The redistribution running now, if any.
pub(crate) async fn run_in_progress(tx: &mut Tx) -> Result<Option<i64>> {
    sqlx::query("SELECT id FROM redistributions WHERE status = 'running'")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| get_i64(&r, "id"))
        .transpose()
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

/// One chunk of users with what the planner needs about them.
#[derive(Debug, Default)]
struct Chunk {
    users: Vec<PlanUser>,
    logins: HashMap<i64, String>,
    holdings: Vec<Holding>,
    /// (user, product) → assignment id, to apply changes by id.
    ids: HashMap<(i64, String), i64>,
    last: i64,
}

async fn load_chunk(
    tx: &mut Tx,
    scope: &Resolved,
    after: i64,
    limit: usize,
    only_holders: bool,
) -> Result<Chunk> {
    let scope_cond = match scope {
        Resolved::All => String::new(),
        Resolved::Users(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!(" AND u.id IN ({})", list.join(","))
        }
        Resolved::Roles { roles, employees } => {
            let list: Vec<String> = roles.iter().map(i64::to_string).collect();
            let members = if list.is_empty() {
                "0".to_string()
            } else {
                format!(
                    "SELECT user_id FROM role_members WHERE role_id IN ({})",
                    list.join(",")
                )
            };
            if *employees {
                format!(" AND (u.area = 'employee' OR u.id IN ({members}))")
            } else {
                format!(" AND u.id IN ({members})")
            }
        }
    };
    let holders = if only_holders {
        " AND EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id)"
    } else {
        ""
    };
    // Ids are integers from the database: safe to inline, and no bind limit applies.
    let sql = format!(
        "SELECT u.id, u.login, u.area, u.folder_id, u.state FROM users u \
         WHERE u.id > $1 AND u.builtin = 0{scope_cond}{holders} ORDER BY u.id LIMIT {limit}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .fetch_all(&mut **tx)
        .await?;
    let mut chunk = Chunk::default();
    if rows.is_empty() {
        return Ok(chunk);
    }
    let mut index = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id = get_i64(r, "id")?;
        let area: Area = parse(&get_str(r, "area")?)?;
        index.insert(id, chunk.users.len());
        chunk.logins.insert(id, get_str(r, "login")?);
        chunk.users.push(PlanUser {
            id: UserId(id),
            area,
            folder: FolderId(get_i64(r, "folder_id")?),
            active: get_str(r, "state")? == "active",
            roles: if area == Area::Employee {
                vec![ROOT_ROLE]
            } else {
                Vec::new()
            },
            logged_in: false,
        });
        chunk.last = id;
    }
    let first = chunk.users.first().map_or(0, |u| u.id.0);
    let last = chunk.last;
    for r in sqlx::query(
        "SELECT user_id, role_id FROM role_members WHERE user_id >= $1 AND user_id <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut **tx)
    .await?
    {
        if let Some(i) = index.get(&get_i64(&r, "user_id")?) {
            chunk.users[*i].roles.push(get_i64(&r, "role_id")?);
        }
    }
    for r in
        sqlx::query("SELECT DISTINCT user_id FROM sessions WHERE user_id >= $1 AND user_id <= $2")
            .bind(first)
            .bind(last)
            .fetch_all(&mut **tx)
            .await?
    {
        if let Some(i) = index.get(&get_i64(&r, "user_id")?) {
            chunk.users[*i].logged_in = true;
        }
    }
    for r in sqlx::query(
        "SELECT id, user_id, product_code, area, kind, folder_id, status, manual, by_role, \
         release_pending FROM assignments WHERE user_id >= $1 AND user_id <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut **tx)
    .await?
    {
        let user = get_i64(&r, "user_id")?;
        if !index.contains_key(&user) {
            continue;
        }
        let pool = crate::reconcile::pool_key(&r)?;
        chunk
            .ids
            .insert((user, pool.product.clone()), get_i64(&r, "id")?);
        chunk.holdings.push(Holding {
            user: UserId(user),
            pool,
            manual: get_i64(&r, "manual")? == 1,
            by_role: get_i64(&r, "by_role")? == 1,
            suspended: get_str(&r, "status")? == "suspended",
            releasing: get_i64(&r, "release_pending")? == 1,
        });
    }
    Ok(chunk)
}

/// What to do with a chunk's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Recall,
    Grant,
    /// Both at once: small scopes applied in one transaction.
    Whole,
}

/// Adds a chunk's plan to the report (counts, and items up to `detail`).
fn tally(report: &mut RedistributionReport, chunk: &Chunk, p: &Plan, phase: Phase, detail: usize) {
    let login = |u: &UserId| chunk.logins.get(&u.0).cloned().unwrap_or_default();
    if phase != Phase::Grant {
        for r in &p.recalls {
            report.recalled += 1;
            if r.releasing {
                report.releasing += 1;
            }
            if report.recalls.len() < detail {
                report.recalls.push(PlanItem {
                    login: login(&r.user),
                    product: r.pool.product.clone(),
                    folder: None,
                    detail: r.releasing.then(|| "releasing".to_string()),
                });
            }
        }
        report.reasons_changed += p.drop_role_reason.len() as u64;
    }
    if phase != Phase::Recall {
        report.users += chunk.users.len() as u64;
        report.reasons_changed += p.add_role_reason.len() as u64;
        for g in &p.grants {
            report.granted += 1;
            if report.grants.len() < detail {
                report.grants.push(PlanItem {
                    login: login(&g.user),
                    product: g.pool.product.clone(),
                    folder: Some(g.pool.folder.0),
                    detail: None,
                });
            }
        }
        for n in &p.unmet {
            report.unmet += 1;
            if report.unmet_needs.len() < detail {
                report.unmet_needs.push(PlanItem {
                    login: login(&n.user),
                    product: n.product.clone(),
                    folder: None,
                    detail: Some(n.reason.as_str().to_string()),
                });
            }
        }
    }
}

/// Writes a chunk's plan. `phase` says which parts.
async fn apply_chunk(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    run: Option<i64>,
    chunk: &Chunk,
    p: &Plan,
    phase: Phase,
) -> Result<()> {
    let id_of = |u: &UserId, product: &str| chunk.ids.get(&(u.0, product.to_string())).copied();
    let login = |u: &UserId| chunk.logins.get(&u.0).cloned().unwrap_or_default();
    if phase != Phase::Grant || !p.recalls.is_empty() {
        let mut doomed = Vec::new();
        let mut releasing = Vec::new();
        let mut entries = Vec::new();
        for r in &p.recalls {
            if let Some(id) = id_of(&r.user, &r.pool.product) {
                if r.releasing {
                    releasing.push(Val::Int(id));
                } else {
                    doomed.push(Val::Int(id));
                }
                entries.push(Audit::new(
                    "license.recall",
                    login(&r.user),
                    json!({"product": r.pool.product, "releasing": r.releasing,
                           "manual": r.manual, "redistribution": run}),
                ));
            }
        }
        execute_in(tx, "DELETE FROM assignments WHERE id IN ({ids})", &doomed).await?;
        execute_in(
            tx,
            "UPDATE assignments SET release_pending = 1 WHERE id IN ({ids})",
            &releasing,
        )
        .await?;
        let dropped: Vec<Val> = p
            .drop_role_reason
            .iter()
            .filter_map(|(u, prod)| id_of(u, prod).map(Val::Int))
            .collect();
        execute_in(
            tx,
            "UPDATE assignments SET by_role = 0 WHERE id IN ({ids})",
            &dropped,
        )
        .await?;
        audit(tx, now, actor, entries).await?;
    }
    if phase == Phase::Recall {
        return Ok(());
    }
    let added: Vec<Val> = p
        .add_role_reason
        .iter()
        .filter_map(|(u, prod)| id_of(u, prod).map(Val::Int))
        .collect();
    execute_in(
        tx,
        "UPDATE assignments SET by_role = 1, release_pending = 0 WHERE id IN ({ids})",
        &added,
    )
    .await?;
    let by = match run {
        Some(id) => format!("{} (redistribution #{id})", actor.name),
        None => actor.name.clone(),
    };
    let rows = p
        .grants
        .iter()
        .map(|g| {
            vec![
                Val::Int(g.user.0),
                Val::Text(g.pool.product.clone()),
                Val::Text(g.pool.area.as_str().to_string()),
                Val::Text(g.pool.kind.as_str().to_string()),
                Val::Int(g.pool.folder.0),
                Val::Text("active".into()),
                Val::Int(0),
                Val::Int(1),
                Val::Int(ts(now)),
                Val::Text(by.clone()),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, manual, \
         by_role, granted_at, granted_by)",
        10,
        rows,
    )
    .await?;
    replace_needs(tx, now, chunk.users.iter().map(|u| u.id.0), &p.unmet).await?;
    Ok(())
}

/// The pending needs of `users` become exactly `unmet` (the `since` of a need that stays is
/// kept).
async fn replace_needs(
    tx: &mut Tx,
    now: OffsetDateTime,
    users: impl Iterator<Item = i64>,
    unmet: &[Need],
) -> Result<()> {
    let users: Vec<Val> = users.map(Val::Int).collect();
    let mut since: HashMap<(i64, String), i64> = HashMap::new();
    for r in crate::db::fetch_in(
        tx,
        "DELETE FROM pending_needs WHERE user_id IN ({ids}) RETURNING user_id, product_code, since",
        &users,
        1,
        &[],
    )
    .await?
    {
        since.insert(
            (get_i64(&r, "user_id")?, get_str(&r, "product_code")?),
            get_i64(&r, "since")?,
        );
    }
    let rows = unmet
        .iter()
        .map(|n| {
            vec![
                Val::Int(n.user.0),
                Val::Text(n.product.clone()),
                Val::Text(n.area.as_str().to_string()),
                Val::Text(n.reason.as_str().to_string()),
                Val::Int(
                    since
                        .get(&(n.user.0, n.product.clone()))
                        .copied()
                        .unwrap_or(ts(now)),
                ),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO pending_needs (user_id, product_code, area, reason, since)",
        5,
        rows,
    )
    .await
}

async fn resolve_scope(tx: &mut Tx, tree: &RoleTree, scope: &Scope) -> Result<Resolved> {
    Ok(match scope {
        Scope::All => Resolved::All,
        Scope::Role { role } => {
            if !tree.contains(*role) {
                return Err(DomainError::UnknownRole(role.to_string()).into());
            }
            let roles = tree.descendants(*role);
            Resolved::Roles {
                employees: roles.contains(&ROOT_ROLE),
                roles,
            }
        }
        Scope::User { login } => {
            let u = crate::users::user_by_login(tx, login).await?;
            Resolved::Users(vec![u.id])
        }
    })
}

fn process_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{}", std::process::id(), uuid::Uuid::new_v4())
}

/// Whether the process holding a lease is certainly gone (same host, no such process).
fn owner_gone(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return true;
    };
    let me = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    host == me
        && pid != std::process::id().to_string()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Ledger {
    pub async fn distribution_settings(&self) -> Result<DistributionSettings> {
        let mut tx = self.pool.begin().await?;
        let s = settings_in(&mut tx).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// D5: changes the distribution settings. Turning role-based distribution back on
    /// fulfils the pending needs that can be met.
    pub async fn set_distribution_settings(
        &self,
        actor: &Actor,
        new: DistributionSettings,
    ) -> Result<DistributionSettings> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let old = settings_in(&mut tx).await?;
        if new == old {
            // Nothing changes, so nothing is written or audited.
            return Ok(new);
        }
        meta_set(
            &mut tx,
            SET_ON_ROLE_CHANGE,
            if new.redistribute_on_role_change {
                "true"
            } else {
                "false"
            },
        )
        .await?;
        meta_set(
            &mut tx,
            SET_ROLE_BASED,
            if new.role_based_distribution {
                "true"
            } else {
                "false"
            },
        )
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "settings.distribution",
                "distribution",
                json!({"before": old, "after": new}),
            )],
        )
        .await?;
        if new.role_based_distribution && !old.role_based_distribution {
            fulfil_pending(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// D4: the plan for `scope`, computed as the run would, changing nothing.
    pub async fn preview_redistribution(
        &self,
        scope: &Scope,
        manual: ManualGrants,
        detail: usize,
    ) -> Result<RedistributionReport> {
        let mut tx = self.begin_read().await?;
        let (tree, names) = load_tree(&mut tx).await?;
        let resolved = resolve_scope(&mut tx, &tree, scope).await?;
        let mut report = RedistributionReport {
            preview: true,
            scope: scope.describe(&names),
            manual: Some(manual),
            ..Default::default()
        };
        // The recall phase's effect, kept in memory: seats it frees and assignments it drops.
        let mut freed: BTreeMap<PoolKey, i64> = BTreeMap::new();
        let mut gone: HashSet<(i64, String)> = HashSet::new();
        let mut releasing: HashSet<(i64, String)> = HashSet::new();
        let mut dropped: HashSet<(i64, String)> = HashSet::new();
        for phase in [Phase::Recall, Phase::Grant] {
            let mut after = 0;
            loop {
                let mut chunk = load_chunk(
                    &mut tx,
                    &resolved,
                    after,
                    DEFAULT_CHUNK_USERS,
                    phase == Phase::Recall,
                )
                .await?;
                if chunk.users.is_empty() {
                    break;
                }
                after = chunk.last;
                let mut available = load_available(&mut tx).await?;
                for (k, n) in &freed {
                    *available.entry(k.clone()).or_insert(0) += n;
                }
                if phase == Phase::Grant {
                    chunk
                        .holdings
                        .retain(|h| !gone.contains(&(h.user.0, h.pool.product.clone())));
                    for h in &mut chunk.holdings {
                        let key = (h.user.0, h.pool.product.clone());
                        if dropped.contains(&key) {
                            h.by_role = false;
                        }
                        if releasing.contains(&key) {
                            h.releasing = true;
                        }
                    }
                }
                let p = plan(&tree, &chunk.users, &chunk.holdings, &available, manual);
                tally(&mut report, &chunk, &p, phase, detail);
                match phase {
                    Phase::Recall => {
                        for r in &p.recalls {
                            let key = (r.user.0, r.pool.product.clone());
                            if r.releasing {
                                releasing.insert(key);
                            } else {
                                *freed.entry(r.pool.clone()).or_insert(0) += 1;
                                gone.insert(key);
                            }
                        }
                        dropped.extend(p.drop_role_reason.iter().map(|(u, pr)| (u.0, pr.clone())));
                    }
                    _ => {
                        for g in &p.grants {
                            *freed.entry(g.pool.clone()).or_insert(0) -= 1;
                        }
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    /// D3/D4: applies the redistribution for `scope` and posts the result as a system
    /// message. Refused while role-based distribution is off or another run is going.
    pub async fn redistribute(
        &self,
        actor: &Actor,
        scope: &Scope,
        manual: ManualGrants,
    ) -> Result<RedistributionReport> {
        self.redistribute_chunked(actor, scope, manual, DEFAULT_CHUNK_USERS)
            .await
    }

    /// [`Ledger::redistribute`] with a chosen chunk size (benchmarks and the crash test).
    pub async fn redistribute_chunked(
        &self,
        actor: &Actor,
        scope: &Scope,
        manual: ManualGrants,
        chunk_users: usize,
    ) -> Result<RedistributionReport> {
        let now = self.now();
        let owner = process_tag();
        let mut tx = self.begin_write().await?;
        if !settings_in(&mut tx).await?.role_based_distribution {
            return Err(DomainError::DistributionOff.into());
        }
        if let Some(r) = sqlx::query("SELECT id FROM redistributions WHERE status = 'running'")
            .fetch_optional(&mut *tx)
            .await?
        {
            return Err(DomainError::RedistributionRunning(get_i64(&r, "id")?).into());
        }
        let (tree, _) = load_tree(&mut tx).await?;
        // Validates the scope before anything is written.
        resolve_scope(&mut tx, &tree, scope).await?;
        let sig = if *scope == Scope::All {
            signature(&mut tx).await?
        } else {
            String::new()
        };
        let incremental = *scope == Scope::All
            && meta_get(&mut tx, BASELINE).await?.as_deref()
                == Some(&*format!("{}:{sig}", manual.as_str()));
        let row = sqlx::query(
            "INSERT INTO redistributions (started_at, actor, origin, scope, manual, status, \
             phase, mode, signature, after_user, lease_owner, lease_until) \
             VALUES ($1, $2, $3, $4, $5, 'running', 'recall', $8, $9, 0, $6, $7) RETURNING id",
        )
        .bind(ts(now))
        .bind(actor.name.clone())
        .bind(actor.origin.clone())
        .bind(serde_json::to_string(scope).map_err(corrupt)?)
        .bind(manual.as_str().to_string())
        .bind(owner.clone())
        .bind(ts(now) + LEASE_SECS)
        .bind(if incremental { "incremental" } else { "full" })
        .bind(sig)
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        tx.commit().await?;
        self.continue_run(id, &owner, chunk_users).await
    }

    /// Drives run `id` from its journal to the end, a chunk per transaction.
    async fn continue_run(
        &self,
        id: i64,
        owner: &str,
        chunk_users: usize,
    ) -> Result<RedistributionReport> {
        let mut report = RedistributionReport {
            id: Some(id),
            ..Default::default()
        };
        let mut tree_cache: Option<(RoleTree, HashMap<i64, String>, Resolved)> = None;
        loop {
            let now = self.now();
            let mut tx = self.begin_write().await?;
            let run = sqlx::query(
                "SELECT actor, origin, scope, manual, status, phase, mode, after_user, \
                 lease_owner, signature FROM redistributions WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if get_str(&run, "lease_owner")? != owner || get_str(&run, "status")? != "running" {
                return Err(DomainError::Conflict(format!(
                    "redistribution #{id} was taken over by another process"
                ))
                .into());
            }
            let actor = Actor::new(get_str(&run, "actor")?, get_str(&run, "origin")?);
            let scope: Scope = serde_json::from_str(&get_str(&run, "scope")?).map_err(corrupt)?;
            let manual: ManualGrants = parse(&get_str(&run, "manual")?)?;
            let phase = match get_str(&run, "phase")?.as_str() {
                "recall" => Phase::Recall,
                _ => Phase::Grant,
            };
            let after = get_i64(&run, "after_user")?;
            let incremental = get_str(&run, "mode")? == "incremental";
            let signature = get_str(&run, "signature")?;
            if tree_cache.is_none() {
                let (tree, names) = load_tree(&mut tx).await?;
                let resolved = resolve_scope(&mut tx, &tree, &scope).await?;
                tree_cache = Some((tree, names, resolved));
            }
            let Some((tree, names, resolved)) = tree_cache.as_ref() else {
                return Err(corrupt("role tree not loaded"));
            };
            report.scope = scope.describe(names);
            report.manual = Some(manual);
            let available = load_available(&mut tx).await?;
            let chunk = if incremental {
                let ids = incremental_ids(&mut tx, after, chunk_users, phase, &available).await?;
                if ids.is_empty() {
                    Chunk::default()
                } else {
                    load_chunk(&mut tx, &Resolved::Users(ids), 0, chunk_users, false).await?
                }
            } else {
                load_chunk(
                    &mut tx,
                    resolved,
                    after,
                    chunk_users,
                    phase == Phase::Recall,
                )
                .await?
            };
            if chunk.users.is_empty() {
                if phase == Phase::Recall {
                    sqlx::query(
                        "UPDATE redistributions SET phase = 'grant', after_user = 0, \
                         lease_until = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(ts(now) + LEASE_SECS)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    continue;
                }
                self.finish_run(&mut tx, now, id, &actor, scope == Scope::All, &mut report)
                    .await?;
                if scope == Scope::All && !signature.is_empty() {
                    meta_set(
                        &mut tx,
                        BASELINE,
                        &format!("{}:{signature}", manual.as_str()),
                    )
                    .await?;
                }
                tx.commit().await?;
                return Ok(report);
            }
            let p = plan(tree, &chunk.users, &chunk.holdings, &available, manual);
            let mut part = RedistributionReport::default();
            tally(&mut part, &chunk, &p, phase, DEFAULT_DETAIL);
            apply_chunk(&mut tx, now, &actor, Some(id), &chunk, &p, phase).await?;
            if phase == Phase::Grant && may_clear_marks(&mut tx, manual).await? {
                if scope == Scope::All && !incremental {
                    // Every user in the range was planned: one range delete.
                    sqlx::query(
                        "DELETE FROM distribution_dirty WHERE user_id >= $1 AND user_id <= $2",
                    )
                    .bind(chunk.users.first().map_or(0, |u| u.id.0))
                    .bind(chunk.last)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    let ids: Vec<i64> = chunk.users.iter().map(|u| u.id.0).collect();
                    clear_marks(&mut tx, &ids).await?;
                }
            }
            sqlx::query(
                "UPDATE redistributions SET after_user = $2, lease_until = $3, \
                 granted = granted + $4, recalled = recalled + $5, releasing = releasing + $6, \
                 reasons = reasons + $7, unmet = unmet + $8, users = users + $9 WHERE id = $1",
            )
            .bind(id)
            .bind(chunk.last)
            .bind(ts(now) + LEASE_SECS)
            .bind(part.granted as i64)
            .bind(part.recalled as i64)
            .bind(part.releasing as i64)
            .bind(part.reasons_changed as i64)
            .bind(part.unmet as i64)
            .bind(part.users as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            merge_items(&mut report, part);
            self.yield_to_writers().await;
        }
    }

    async fn finish_run(
        &self,
        tx: &mut Tx,
        now: OffsetDateTime,
        id: i64,
        actor: &Actor,
        all: bool,
        report: &mut RedistributionReport,
    ) -> Result<()> {
        let run = sqlx::query(
            "SELECT granted, recalled, releasing, reasons, unmet, users FROM redistributions \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        // The journal's counts are complete even when the run was resumed after a crash.
        report.granted = crate::db::count(get_i64(&run, "granted")?);
        report.recalled = crate::db::count(get_i64(&run, "recalled")?);
        report.releasing = crate::db::count(get_i64(&run, "releasing")?);
        report.reasons_changed = crate::db::count(get_i64(&run, "reasons")?);
        report.unmet = crate::db::count(get_i64(&run, "unmet")?);
        report.users = crate::db::count(get_i64(&run, "users")?);
        if all {
            // For all users, the unmet needs are every pending need: an incremental run
            // visited only some users, but the others' needs stand as they were.
            let n = sqlx::query("SELECT COUNT(*) AS n FROM pending_needs")
                .fetch_one(&mut **tx)
                .await?;
            report.unmet = crate::db::count(get_i64(&n, "n")?);
            report.unmet_needs.clear();
            for r in sqlx::query(
                "SELECT u.login, n.product_code, n.reason FROM pending_needs n \
                 JOIN users u ON u.id = n.user_id ORDER BY n.user_id, n.product_code LIMIT $1",
            )
            .bind(DEFAULT_DETAIL as i64)
            .fetch_all(&mut **tx)
            .await?
            {
                report.unmet_needs.push(PlanItem {
                    login: get_str(&r, "login")?,
                    product: get_str(&r, "product_code")?,
                    folder: None,
                    detail: Some(get_str(&r, "reason")?),
                });
            }
            sqlx::query("UPDATE redistributions SET unmet = $2 WHERE id = $1")
                .bind(id)
                .bind(report.unmet as i64)
                .execute(&mut **tx)
                .await?;
        }
        let title = format!(
            "Redistribution #{id} for {}: {} granted, {} recalled, {} needs unmet",
            report.scope, report.granted, report.recalled, report.unmet
        );
        let body = json!({
            "redistribution": id,
            "scope": report.scope,
            "manual": report.manual,
            "users": report.users,
            "granted": report.granted,
            "recalled": report.recalled,
            "releasing": report.releasing,
            "reasons_changed": report.reasons_changed,
            "unmet": report.unmet,
            "unmet_needs": report.unmet_needs.iter().take(50).collect::<Vec<_>>(),
        });
        let msg = post_message(tx, now, "redistribution", &title, &body).await?;
        report.message_id = Some(msg);
        sqlx::query(
            "UPDATE redistributions SET status = 'done', phase = 'done', finished_at = $2, \
             message_id = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(ts(now))
        .bind(msg)
        .execute(&mut **tx)
        .await?;
        audit(
            tx,
            now,
            actor,
            vec![Audit::new(
                "license.redistribute",
                report.scope.clone(),
                body,
            )],
        )
        .await?;
        // Seats this run freed that nobody in its scope could use serve pending needs of
        // users outside it.
        fulfil_pending(tx, now).await?;
        Ok(())
    }

    /// [`Ledger::resume_redistributions`] when a run's lease has run out or its owner is
    /// gone; a read and nothing more otherwise (no write lock, no new generation), so a live
    /// node can ask every few seconds.
    pub async fn resume_stale_redistributions(&self) -> Result<Vec<RedistributionReport>> {
        let now = ts(self.now());
        let stale = sqlx::query(
            "SELECT lease_owner, lease_until FROM redistributions WHERE status = 'running'",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(get_i64(r, "lease_until")? < now || owner_gone(&get_str(r, "lease_owner")?)))
        .collect::<Result<Vec<bool>>>()?;
        if !stale.contains(&true) {
            return Ok(Vec::new());
        }
        self.resume_redistributions().await
    }

    /// Finishes runs that a crashed process left behind (roll forward). Called when a ledger
    /// is opened, and by live servers every few seconds (`resume_stale_redistributions`); a run whose owner is alive (another node) is left to it until its lease
    /// runs out.
    pub async fn resume_redistributions(&self) -> Result<Vec<RedistributionReport>> {
        let mut out = Vec::new();
        loop {
            let now = self.now();
            let owner = process_tag();
            let mut tx = self.begin_write().await?;
            let Some(r) = sqlx::query(
                "SELECT id, lease_owner, lease_until FROM redistributions WHERE status = 'running'",
            )
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(out);
            };
            let id = get_i64(&r, "id")?;
            let stale =
                get_i64(&r, "lease_until")? < ts(now) || owner_gone(&get_str(&r, "lease_owner")?);
            if !stale {
                return Ok(out);
            }
            sqlx::query(
                "UPDATE redistributions SET lease_owner = $2, lease_until = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(owner.clone())
            .bind(ts(now) + LEASE_SECS)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(run = id, "resuming an unfinished redistribution");
            out.push(self.continue_run(id, &owner, DEFAULT_CHUNK_USERS).await?);
        }
    }

    pub async fn redistributions(&self, limit: i64) -> Result<Vec<RunView>> {
        let rows = sqlx::query(
            "SELECT id, started_at, finished_at, actor, scope, manual, status, phase, mode, users, \
             granted, recalled, releasing, unmet, message_id FROM redistributions \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RunView {
                    id: get_i64(r, "id")?,
                    started_at: rfc3339(get_i64(r, "started_at")?),
                    finished_at: get_opt_i64(r, "finished_at")?.map(rfc3339),
                    actor: get_str(r, "actor")?,
                    scope: serde_json::from_str(&get_str(r, "scope")?).map_err(corrupt)?,
                    manual: parse(&get_str(r, "manual")?)?,
                    status: get_str(r, "status")?,
                    phase: get_str(r, "phase")?,
                    mode: get_str(r, "mode")?,
                    users: crate::db::count(get_i64(r, "users")?),
                    granted: crate::db::count(get_i64(r, "granted")?),
                    recalled: crate::db::count(get_i64(r, "recalled")?),
                    releasing: crate::db::count(get_i64(r, "releasing")?),
                    unmet: crate::db::count(get_i64(r, "unmet")?),
                    message_id: get_opt_i64(r, "message_id")?,
                })
            })
            .collect()
    }

    /// Pending needs, optionally of one user, oldest account first.
    pub async fn pending_needs(
        &self,
        login: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<NeedView>> {
        let rows = sqlx::query(
            "SELECT u.login, n.product_code, n.area, n.reason, n.since FROM pending_needs n \
             JOIN users u ON u.id = n.user_id WHERE ($1 = '' OR lower(u.login) = $1) \
             ORDER BY n.user_id, n.product_code LIMIT $2 OFFSET $3",
        )
        .bind(login.unwrap_or("").to_ascii_lowercase())
        .bind(limit.clamp(1, 10_000))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let reason: NeedReason = parse(&get_str(r, "reason")?)?;
                Ok(NeedView {
                    login: get_str(r, "login")?,
                    product: get_str(r, "product_code")?,
                    area: parse(&get_str(r, "area")?)?,
                    reason,
                    message: reason.message(),
                    since: rfc3339(get_i64(r, "since")?),
                })
            })
            .collect()
    }

    /// N2: system messages, newest first.
    pub async fn messages(&self, unread_only: bool, limit: i64) -> Result<Vec<MessageView>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, title, body, read_at FROM system_messages \
             WHERE ($1 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT $2",
        )
        .bind(i64::from(unread_only))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MessageView {
                    id: get_i64(r, "id")?,
                    at: rfc3339(get_i64(r, "at")?),
                    kind: get_str(r, "kind")?,
                    title: get_str(r, "title")?,
                    body: serde_json::from_str(&get_str(r, "body")?).map_err(corrupt)?,
                    read: get_opt_i64(r, "read_at")?.is_some(),
                })
            })
            .collect()
    }

    pub async fn unread_messages(&self) -> Result<u64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM system_messages WHERE read_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(crate::db::count(get_i64(&r, "n")?))
    }

    /// Marks one message (or, with `None`, all) as read.
    pub async fn mark_read(&self, id: Option<i64>) -> Result<u64> {
        let now = ts(self.now());
        let done = match id {
            None => sqlx::query("UPDATE system_messages SET read_at = $1 WHERE read_at IS NULL")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            Some(id) => {
                if sqlx::query("SELECT id FROM system_messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_none()
                {
                    return Err(DomainError::UnknownMessage(id).into());
                }
                sqlx::query(
                    "UPDATE system_messages SET read_at = $1 WHERE read_at IS NULL AND id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected()
            }
        };
        Ok(done)
    }
}

fn merge_items(report: &mut RedistributionReport, part: RedistributionReport) {
    for (to, from) in [
        (&mut report.grants, part.grants),
        (&mut report.recalls, part.recalls),
        (&mut report.unmet_needs, part.unmet_needs),
    ] {
        let room = DEFAULT_DETAIL.saturating_sub(to.len());
        to.extend(from.into_iter().take(room));
    }
}

pub(crate) async fn post_message(
    tx: &mut Tx,
    now: OffsetDateTime,
    kind: &str,
    title: &str,
    body: &serde_json::Value,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO system_messages (at, kind, title, body) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(ts(now))
    .bind(kind.to_string())
    .bind(title.to_string())
    .bind(body.to_string())
    .fetch_one(&mut **tx)
    .await?;
    get_i64(&row, "id")
}

/// Redistributes for `users` inside the caller's transaction (triggers and the provisioning
/// entry point: small scopes, applied with the change that caused them).
pub(crate) async fn redistribute_users_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    users: Vec<i64>,
    manual: ManualGrants,
) -> Result<RedistributionReport> {
    let mut report = RedistributionReport {
        manual: Some(manual),
        scope: format!("{} user(s) touched by a change", users.len()),
        ..Default::default()
    };
    if users.is_empty() || !settings_in(tx).await?.role_based_distribution {
        return Ok(report);
    }
    let (tree, _) = load_tree(tx).await?;
    let mut users = users;
    users.sort_unstable();
    users.dedup();
    // While a run is going, these users take no free seat: what they want becomes a pending
    // need, served oldest account first when the run ends (with the run's own unmet needs),
    // so a per-user run never jumps the order of the run in progress.
    let waiting_for = run_in_progress(tx).await?;
    if let Some(run) = waiting_for {
        report.scope = format!("{} (seats wait for redistribution #{run})", report.scope);
    }
    for part in users.chunks(DEFAULT_CHUNK_USERS) {
        let chunk = load_chunk(tx, &Resolved::Users(part.to_vec()), 0, part.len(), false).await?;
        let mut available = load_available(tx).await?;
        if waiting_for.is_some() {
            available.values_mut().for_each(|free| *free = 0);
        }
        let p = plan(&tree, &chunk.users, &chunk.holdings, &available, manual);
        tally(&mut report, &chunk, &p, Phase::Whole, DEFAULT_DETAIL);
        apply_chunk(tx, now, actor, None, &chunk, &p, Phase::Whole).await?;
        if may_clear_marks(tx, manual).await? {
            clear_marks(tx, part).await?;
        }
        let mut entries = Vec::new();
        for g in &p.grants {
            entries.push(Audit::new(
                "license.grant",
                chunk.logins.get(&g.user.0).cloned().unwrap_or_default(),
                json!({"product": g.pool.product, "by_role": true}),
            ));
        }
        audit(tx, now, actor, entries).await?;
    }
    // Seats the recalls freed serve pending needs, inside or outside these users.
    fulfil_pending(tx, now).await?;
    Ok(report)
}

/// Fulfils pending needs from free seats, oldest account first, and drops needs their users
/// no longer want. Called whenever seats may have come free.
///
/// Not while a redistribution is running: users it has not reached yet may be older than the
/// pending ones, so freed seats wait for its end, whose last step calls this.
pub(crate) async fn fulfil_pending(tx: &mut Tx, now: OffsetDateTime) -> Result<u64> {
    if sqlx::query("SELECT user_id FROM pending_needs LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .is_none()
        || !settings_in(tx).await?.role_based_distribution
        || run_in_progress(tx).await?.is_some()
    {
        return Ok(0);
    }
    let available = load_available(tx).await?;
    // Only the users the free seats can serve, oldest first: a recall freeing one seat must
    // not plan every pending user.
    let users = pending_candidates(tx, 0, i64::MAX, &available).await?;
    if users.is_empty() {
        return Ok(0);
    }
    let mut pending: HashSet<(i64, String)> = HashSet::new();
    let list: Vec<Val> = users.iter().map(|u| Val::Int(*u)).collect();
    for r in crate::db::fetch_in(
        tx,
        "SELECT user_id, product_code FROM pending_needs WHERE user_id IN ({ids})",
        &list,
        1,
        &[],
    )
    .await?
    {
        pending.insert((get_i64(&r, "user_id")?, get_str(&r, "product_code")?));
    }
    let (tree, _) = load_tree(tx).await?;
    let users: Vec<i64> = users.into_iter().collect();
    let actor = Actor::system();
    let mut granted = 0;
    let mut available = available;
    for part in users.chunks(DEFAULT_CHUNK_USERS) {
        let chunk = load_chunk(tx, &Resolved::Users(part.to_vec()), 0, part.len(), false).await?;
        let mut p = plan(
            &tree,
            &chunk.users,
            &chunk.holdings,
            &available,
            ManualGrants::Keep,
        );
        // Fulfilment only grants what was pending: recalls, reason changes and new wants
        // wait for a redistribution. A pending need its user no longer wants is dropped.
        p.grants
            .retain(|g| pending.contains(&(g.user.0, g.pool.product.clone())));
        let wanted: HashSet<(i64, String)> = p
            .unmet
            .iter()
            .map(|n| (n.user.0, n.product.clone()))
            .collect();
        p.unmet.clear();
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT user_id, product_code, area, reason FROM pending_needs WHERE user_id IN ({})",
            part.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )))
        .fetch_all(&mut **tx)
        .await?
        {
            let key = (get_i64(&r, "user_id")?, get_str(&r, "product_code")?);
            if wanted.contains(&key) {
                p.unmet.push(Need {
                    user: UserId(key.0),
                    product: key.1,
                    area: parse(&get_str(&r, "area")?)?,
                    reason: parse(&get_str(&r, "reason")?)?,
                });
            }
        }
        p.recalls.clear();
        p.drop_role_reason.clear();
        p.add_role_reason.clear();
        for g in &p.grants {
            if let Some(n) = available.get_mut(&g.pool) {
                *n -= 1;
            }
        }
        granted += p.grants.len() as u64;
        let entries = p
            .grants
            .iter()
            .map(|g| {
                Audit::new(
                    "license.need_fulfilled",
                    chunk.logins.get(&g.user.0).cloned().unwrap_or_default(),
                    json!({"product": g.pool.product, "folder": g.pool.folder.0}),
                )
            })
            .collect();
        apply_chunk(tx, now, &actor, None, &chunk, &p, Phase::Grant).await?;
        audit(tx, now, &actor, entries).await?;
    }
    Ok(granted)
}
