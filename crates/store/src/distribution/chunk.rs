//! The users of a redistribution's scope, a chunk at a time, with what the planner needs
//! about them: areas, folders, roles, sessions and named assignments. One query per table
//! and chunk, never one per user.

use std::collections::{BTreeSet, HashMap};

use seatkeeper_core::distribution::{Holding, PlanUser, ROOT_ROLE};
use seatkeeper_core::{Area, FolderId, UserId};

use crate::Result;
use crate::db::{Tx, get_i64, get_str, parse};
use crate::loaders::holding;

/// Users per chunk of a run: small enough that a chunk's transaction stays short (tens of
/// milliseconds), so a manual grant or a login waits at most that long.
pub const DEFAULT_CHUNK_USERS: usize = 1_000;

/// Which part of a chunk's plan is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Recalls and dropped reasons: the first pass over the scope.
    Recall,
    /// Grants, added reasons and unmet needs: the second pass.
    Grant,
    /// Both at once: small scopes applied in one transaction.
    Whole,
}

/// The scope with ids resolved against the database.
#[derive(Debug, Clone)]
pub(super) enum Resolved {
    All,
    Roles {
        roles: BTreeSet<i64>,
        employees: bool,
    },
    Users(Vec<i64>),
}

/// The redistribution running now, if any.
pub(super) async fn run_in_progress(tx: &mut Tx) -> Result<Option<i64>> {
    sqlx::query("SELECT id FROM redistributions WHERE status = 'running'")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| get_i64(&r, "id"))
        .transpose()
}

/// One chunk of users with what the planner needs about them.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    pub users: Vec<PlanUser>,
    pub logins: HashMap<i64, String>,
    pub holdings: Vec<Holding>,
    /// (user, product) → assignment id, to apply changes by id.
    pub ids: HashMap<(i64, String), i64>,
    pub last: i64,
}

impl Chunk {
    pub fn first(&self) -> i64 {
        self.users.first().map_or(0, |u| u.id.0)
    }
}

/// The next `limit` users of `scope` after user id `after`; with `only_holders`, only those
/// holding a named seat (the recall phase has nothing to do for the others).
pub(super) async fn load_chunk(
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
        let user = index.get(&get_i64(&r, "user_id")?);
        if let Some(u) = user.and_then(|&i| chunk.users.get_mut(i)) {
            u.roles.push(get_i64(&r, "role_id")?);
        }
    }
    for r in
        sqlx::query("SELECT DISTINCT user_id FROM sessions WHERE user_id >= $1 AND user_id <= $2")
            .bind(first)
            .bind(last)
            .fetch_all(&mut **tx)
            .await?
    {
        let user = index.get(&get_i64(&r, "user_id")?);
        if let Some(u) = user.and_then(|&i| chunk.users.get_mut(i)) {
            u.logged_in = true;
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
        let h = holding(&r, user)?;
        chunk
            .ids
            .insert((user, h.pool.product.clone()), get_i64(&r, "id")?);
        chunk.holdings.push(h);
    }
    Ok(chunk)
}
