//! The full login path's storage part: load the facts a batch of login decisions depends on,
//! ask the core (`seatkeeper_core::login::decide`), and write what it decided — sessions,
//! floating holds, named seats granted by auto-allocation and their audit records — inside the
//! caller's write transaction.

use std::collections::{BTreeMap, BTreeSet};

use seatkeeper_core::login::{
    AllowedLogin, AreaUsers, HeldAssignment, LoginAttempt, LoginDecision, LoginFacts, PoolSeats,
    UserFacts, decide, needs_area_rank, needs_seat,
};
use seatkeeper_core::{FolderId, UserId};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{
    Audit, Tx, audit, count, fetch_in, get_i64, get_opt_i64, get_opt_str, get_str, insert_rows,
    parse, ts,
};
use crate::folders::FolderTree;
use crate::loaders::pool_key;
use crate::login_cache::RememberedLogin;
use crate::reconcile::EXPIRED_PRODUCTS;
use crate::session_rows::{
    HOLD_INSERT, HOLD_WIDTH, HoldRow, SESSION_INSERT, SESSION_WIDTH, SessionRow, new_session_id,
};
use crate::sessions::{LoginAnswer, LoginRequest, product_facts};
use crate::sql_value::Val;
use crate::{Actor, Result};

/// The answers of a batch, and those that may be remembered (by lower-case login).
pub(crate) type Decided = (Vec<LoginAnswer>, Vec<(String, RememberedLogin)>);

/// Decides and applies a batch of logins, inside the caller's write transaction (which has
/// brought capacity up to `now`). `session_ids` are the ids the allowed logins' sessions get.
pub(crate) async fn log_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    requests: &[LoginRequest],
    session_ids: &[String],
    backend: crate::Backend,
) -> Result<Decided> {
    let (facts, tree) = load_facts(tx, requests, backend).await?;
    let attempts: Vec<LoginAttempt> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| LoginAttempt {
            login: r.login.clone(),
            session_id: session_ids
                .get(i)
                .cloned()
                .unwrap_or_else(|| new_session_id(now)),
        })
        .collect();
    let decisions = decide(&facts, &attempts);
    apply(tx, now, requests, &tree, decisions).await
}

/// The facts of `requests`. Few statements whatever the batch size: users (with their
/// license-manager flag), their seats (with the products), area counters, the license state,
/// the folders; the free all-modules pools only when someone may need auto-allocation, and a
/// user's area rank only when the area has more active users than its limit.
async fn load_facts(
    tx: &mut Tx,
    requests: &[LoginRequest],
    backend: crate::Backend,
) -> Result<(LoginFacts, FolderTree)> {
    let mut facts = LoginFacts::default();
    let logins: Vec<Val> = requests
        .iter()
        .map(|r| Val::Text(r.login.to_ascii_lowercase()))
        .collect();
    for r in fetch_in(
        tx,
        "SELECT u.id, u.login, u.name, u.email, u.area, u.folder_id, u.state, u.builtin, \
             CASE WHEN EXISTS (SELECT 1 FROM role_members m JOIN role_permissions p \
               ON p.role_id = m.role_id WHERE m.user_id = u.id \
               AND p.permission = 'manage_licenses') THEN 1 ELSE 0 END AS manager \
             FROM users u WHERE lower(u.login) IN ({ids})",
        &logins,
        1,
        &[],
    )
    .await?
    {
        let u = crate::loaders::record(&r)?;
        facts.users.insert(
            u.login.to_ascii_lowercase(),
            UserFacts {
                id: UserId(u.id),
                login: u.login,
                name: u.name,
                area: u.area,
                folder: u.folder,
                state: u.state,
                builtin: u.builtin,
                manages_licenses: get_i64(&r, "manager")? == 1,
                area_rank: None,
                held: Vec::new(),
            },
        );
    }
    let ids: Vec<Val> = facts.users.values().map(|u| Val::Int(u.id.0)).collect();
    let mut held: BTreeMap<i64, Vec<HeldAssignment>> = BTreeMap::new();
    for r in fetch_in(
        tx,
        "SELECT a.user_id, a.product_code, a.folder_id, a.status, a.release_pending, \
             COALESCE(p.name, a.product_code) AS name, COALESCE(p.features, '[]') AS features, \
             COALESCE(p.all_modules, 0) AS all_modules FROM assignments a \
             LEFT JOIN products p ON p.code = a.product_code \
             WHERE a.user_id IN ({ids}) ORDER BY a.product_code",
        &ids,
        1,
        &[],
    )
    .await?
    {
        let code = get_str(&r, "product_code")?;
        if !facts.products.contains_key(&code) {
            facts.products.insert(code.clone(), product_facts(&r)?);
        }
        held.entry(get_i64(&r, "user_id")?)
            .or_default()
            .push(HeldAssignment {
                product: code,
                folder: FolderId(get_i64(&r, "folder_id")?),
                suspended: get_str(&r, "status")? == "suspended",
                releasing: get_i64(&r, "release_pending")? == 1,
            });
    }
    for u in facts.users.values_mut() {
        u.held = held.remove(&u.id.0).unwrap_or_default();
    }
    for r in sqlx::query("SELECT area, active_users, user_limit FROM area_counters")
        .fetch_all(&mut **tx)
        .await?
    {
        facts.areas.insert(
            parse(&get_str(&r, "area")?)?,
            AreaUsers {
                active: count(get_i64(&r, "active_users")?),
                limit: get_opt_i64(&r, "user_limit")?.map(count),
            },
        );
    }
    let state = sqlx::query(
        "SELECT (SELECT value FROM meta WHERE key = $1) AS expired, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM packages LIMIT 1) AS any_package) AS loaded",
    )
    .bind(EXPIRED_PRODUCTS.to_string())
    .fetch_one(&mut **tx)
    .await?;
    facts.expired_products = get_opt_str(&state, "expired")?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    facts.licenses_loaded = get_i64(&state, "loaded")? > 0;
    if facts.users.values().any(|u| needs_seat(u, &facts.products)) {
        // On PostgreSQL the pools are locked until the batch commits: a floating login
        // answered from memory on another node takes its seat without the write lock, and
        // would otherwise take the seat this decision counts as free (the capacity check
        // would then refuse the whole batch). Lock order stays generation, then pools: this
        // transaction touches the generation row, if at all, before this point.
        let lock = match backend {
            crate::Backend::Postgres => " FOR UPDATE OF s",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT s.product_code, s.area, s.kind, s.folder_id, s.capacity, \
                 s.capacity - s.used AS free, p.name, p.features, p.all_modules \
                 FROM seat_pools s JOIN products p ON p.code = s.product_code \
                 WHERE p.all_modules = 1 AND s.capacity > 0{lock}"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut **tx)
            .await?
        {
            let key = pool_key(&r)?;
            if !facts.products.contains_key(&key.product) {
                facts
                    .products
                    .insert(key.product.clone(), product_facts(&r)?);
            }
            facts.pools.insert(
                key,
                PoolSeats {
                    capacity: count(get_i64(&r, "capacity")?),
                    free: count(get_i64(&r, "free")?),
                },
            );
        }
    }
    let ranked: Vec<i64> = facts
        .users
        .values()
        .filter(|u| needs_area_rank(u, &facts.areas))
        .map(|u| u.id.0)
        .collect();
    for id in ranked {
        let rank = area_rank(tx, id).await?;
        if let Some(u) = facts.users.values_mut().find(|u| u.id.0 == id) {
            u.area_rank = Some(rank);
        }
    }
    let tree = FolderTree::load(tx).await?;
    let folders: BTreeSet<FolderId> = facts
        .users
        .values()
        .flat_map(|u| u.held.iter().map(|h| h.folder))
        .chain(facts.pools.keys().map(|k| k.folder))
        .collect();
    facts.folder_paths = folders.into_iter().map(|f| (f, tree.path(f))).collect();
    Ok((facts, tree))
}

/// Writes the decisions: one multi-row insert each for sessions, floating holds and named
/// seats, and the audit records of the named seats auto-allocation granted.
async fn apply(
    tx: &mut Tx,
    now: OffsetDateTime,
    requests: &[LoginRequest],
    tree: &FolderTree,
    decisions: Vec<LoginDecision>,
) -> Result<Decided> {
    let at = ts(now);
    let mut answers = Vec::with_capacity(decisions.len());
    let mut sessions = Vec::new();
    let mut holds = Vec::new();
    let mut grants = Vec::new();
    let mut entries = Vec::new();
    let mut remember = Vec::new();
    for (req, decision) in requests.iter().zip(decisions) {
        let admitted = match decision {
            LoginDecision::Refused(r) => {
                answers.push(LoginAnswer::Refused(r));
                continue;
            }
            LoginDecision::Admitted(a) => *a,
        };
        let session_id = admitted.answer.session_id.clone();
        sessions.push(
            SessionRow {
                id: session_id.clone(),
                user_id: admitted.user.0,
                at,
                client: req.client.clone(),
            }
            .values()
            .to_vec(),
        );
        if let Some(pool) = admitted.hold {
            holds.push(
                HoldRow {
                    session_id,
                    pool,
                    at,
                }
                .values()
                .to_vec(),
            );
        }
        if let Some(key) = admitted.grant {
            grants.push(vec![
                Val::Int(admitted.user.0),
                Val::Text(key.product.clone()),
                Val::Text(key.area.as_str().into()),
                Val::Text(key.kind.as_str().into()),
                Val::Int(key.folder.0),
                Val::Text("active".into()),
                Val::Int(1),
                Val::Int(at),
                Val::Text("auto-allocation at login".into()),
            ]);
            entries.push(Audit::new(
                "license.auto_allocate",
                &admitted.answer.login,
                json!({"product": key.product, "folder": tree.path(key.folder)}),
            ));
        }
        if let Some(repeat) = admitted.repeatable {
            remember.push((
                crate::login_cache::key(&admitted.answer.login),
                RememberedLogin {
                    user_id: admitted.user.0,
                    answer: AllowedLogin {
                        session_id: String::new(),
                        ..admitted.answer.clone()
                    },
                    floating: repeat.floating,
                },
            ));
        }
        answers.push(LoginAnswer::Allowed(admitted.answer));
    }
    insert_rows(tx, SESSION_INSERT, SESSION_WIDTH, sessions).await?;
    insert_rows(tx, HOLD_INSERT, HOLD_WIDTH, holds).await?;
    insert_rows(
        tx,
        "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, \
             manual, granted_at, granted_by)",
        9,
        grants,
    )
    .await?;
    audit(tx, now, &Actor::new("login", "integration"), entries).await?;
    Ok((answers, remember))
}

/// The user's place among the area's active users, oldest first (0 = oldest).
async fn area_rank(tx: &mut Tx, user_id: i64) -> Result<u64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users o, users me WHERE me.id = $1 AND o.area = me.area \
         AND o.state = 'active' AND o.builtin = 0 \
         AND (o.created_at < me.created_at OR (o.created_at = me.created_at AND o.id < me.id))",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(count(get_i64(&row, "n")?))
}
