//! What the SCIM service provider (I2) reads and writes. Users are addressed by id; a PUT,
//! PATCH or DELETE reads the user and decides its change inside the write transaction (the
//! caller's closure: `If-Match`, the PATCH itself), so that no other write slips between the
//! version checked and the change made.
//!
//! Users SCIM sees: every user but the built-in administrator and the directory sync's.
//! Groups SCIM sees: the roles provisioning may touch (`provisionable_roles_sql`).

use std::collections::{BTreeMap, BTreeSet};

use seatkeeper_core::error::quoted;
use seatkeeper_core::{Error as DomainError, UserState};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{
    Audit, Tx, audit, count, dt, execute_in, fetch_in, get_i64, get_opt_i64, get_opt_str, get_str,
    ts,
};
use crate::folders::FolderTree;
use crate::reconcile::reconcile;
use crate::sql_value::Val;
use crate::users::free_seats_of;
use crate::{Actor, Ledger, Result};

use super::write::{CURRENT_COLUMNS, Current, current, current_by_login, redistribute, write_user};
use super::{LimitPolicy, Provisioner, UserUpsert, provisionable_roles_sql, reason};

/// A user SCIM deleted (kept blocked, `deprovisioned`) is gone for SCIM: every operation on
/// them answers 404 (RFC 7644 §3.6) until a `POST` of the same `userName` brings them back.
const VISIBLE_USERS: &str = "builtin = 0 AND source = 'local' \
    AND (block_reason IS NULL OR block_reason <> 'deprovisioned')";

/// [`VISIBLE_USERS`] on `users u` (in a join).
const VISIBLE_USERS_U: &str = "u.builtin = 0 AND u.source = 'local' \
    AND (u.block_reason IS NULL OR u.block_reason <> 'deprovisioned')";

/// A user as SCIM shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub state: UserState,
    pub block_reason: Option<String>,
    pub folder: String,
    pub external_id: Option<String>,
    pub profile: Option<serde_json::Value>,
    pub provisioned_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub modified_at: OffsetDateTime,
    /// Provisionable roles the user is a direct member of: (id, name).
    pub groups: Vec<(i64, String)>,
}

/// Which users a list reads (the fast paths of the filters identity providers send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    All,
    Id(i64),
    /// Case-insensitive, as `userName` is.
    UserName(String),
    ExternalId(String),
}

/// A role as SCIM shows it (a Group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub provisioned_by: Option<String>,
    pub created_at: Option<OffsetDateTime>,
    pub modified_at: Option<OffsetDateTime>,
    /// Direct members: (user id, login); empty when not asked for.
    pub members: Vec<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    All,
    Id(i64),
    DisplayName(String),
    ExternalId(String),
}

/// One change to a group, in the order a PATCH gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Rename(String),
    ExternalId(Option<String>),
    Add(Vec<i64>),
    Remove(Vec<i64>),
    RemoveAll,
    Replace(Vec<i64>),
}

/// What a SCIM `DELETE` of a user does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMode {
    /// Blocked with reason `deprovisioned` (as a directory removal); seats freed.
    #[default]
    Block,
    Delete,
}

fn lookup_sql(lookup: &UserLookup) -> (String, Vec<Val>) {
    match lookup {
        UserLookup::All => (String::new(), vec![]),
        UserLookup::Id(id) => (" AND id = $1".into(), vec![Val::Int(*id)]),
        UserLookup::UserName(n) => (
            " AND lower(login) = $1".into(),
            vec![Val::Text(n.to_ascii_lowercase())],
        ),
        UserLookup::ExternalId(x) => (" AND external_id = $1".into(), vec![Val::Text(x.clone())]),
    }
}

/// `SELECT {columns} FROM {from} WHERE {cond}`, ordered by `{order}`, one page (all without
/// a `limit`), with the count of every row that matches: a SCIM list's page and total.
async fn count_and_page(
    tx: &mut Tx,
    (columns, from, order): (&str, &str, &str),
    cond: &str,
    binds: Vec<Val>,
    offset: u64,
    limit: Option<u64>,
) -> Result<(u64, Vec<sqlx::any::AnyRow>)> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {from} WHERE {cond}"
    )));
    for b in binds.clone() {
        q = crate::db::bind(q, b);
    }
    let total = count(get_i64(&q.fetch_one(&mut **tx).await?, "n")?);
    let mut sql = format!("SELECT {columns} FROM {from} WHERE {cond} ORDER BY {order}");
    let mut binds = binds;
    if let Some(l) = limit {
        binds.push(Val::Int(i64::try_from(l).unwrap_or(i64::MAX)));
        sql += &format!(" LIMIT ${}", binds.len());
        binds.push(Val::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        sql += &format!(" OFFSET ${}", binds.len());
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = crate::db::bind(q, b);
    }
    Ok((total, q.fetch_all(&mut **tx).await?))
}

async fn scim_users_in(
    tx: &mut Tx,
    lookup: &UserLookup,
    offset: u64,
    limit: Option<u64>,
) -> Result<(u64, Vec<ScimUser>)> {
    let (cond, binds) = lookup_sql(lookup);
    let (total, rows) = count_and_page(
        tx,
        (
            "id, login, name, email, state, block_reason, folder_id, external_id, profile, \
             provisioned_by, created_at, modified_at",
            "users",
            "id",
        ),
        &format!("{VISIBLE_USERS}{cond}"),
        binds,
        offset,
        limit,
    )
    .await?;
    let tree = FolderTree::load(tx).await?;
    let mut users = Vec::with_capacity(rows.len());
    for r in &rows {
        let created_at = dt(get_i64(r, "created_at")?)?;
        users.push(ScimUser {
            id: get_i64(r, "id")?,
            login: get_str(r, "login")?,
            name: get_str(r, "name")?,
            email: get_str(r, "email")?,
            state: crate::db::parse(&get_str(r, "state")?)?,
            block_reason: get_opt_str(r, "block_reason")?,
            folder: tree.path(seatkeeper_core::FolderId(get_i64(r, "folder_id")?)),
            external_id: get_opt_str(r, "external_id")?,
            profile: get_opt_str(r, "profile")?.and_then(|p| serde_json::from_str(&p).ok()),
            provisioned_by: get_opt_str(r, "provisioned_by")?,
            created_at,
            modified_at: get_opt_i64(r, "modified_at")?
                .map(dt)
                .transpose()?
                .unwrap_or(created_at),
            groups: Vec::new(),
        });
    }
    let ids: Vec<Val> = users.iter().map(|u| Val::Int(u.id)).collect();
    let sql = format!(
        "SELECT m.user_id, r.id, r.name FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE m.user_id IN ({{ids}}) AND {} ORDER BY r.name",
        provisionable_roles_sql()
    );
    let mut groups: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for r in fetch_in(tx, &sql, &ids, 1, &[]).await? {
        groups
            .entry(get_i64(&r, "user_id")?)
            .or_default()
            .push((get_i64(&r, "id")?, get_str(&r, "name")?));
    }
    for u in &mut users {
        u.groups = groups.remove(&u.id).unwrap_or_default();
    }
    Ok((total, users))
}

async fn scim_user_in(tx: &mut Tx, id: i64) -> Result<ScimUser> {
    scim_users_in(tx, &UserLookup::Id(id), 0, Some(1))
        .await?
        .1
        .pop()
        .ok_or_else(|| DomainError::UnknownUser(format!("id {id}")).into())
}

async fn visible_current(tx: &mut Tx, id: i64) -> Result<Current> {
    let sql = format!("SELECT {CURRENT_COLUMNS} FROM users WHERE id = $1 AND {VISIBLE_USERS}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| DomainError::UnknownUser(format!("id {id}")))?;
    current(&row)
}

fn group_lookup_sql(lookup: &GroupLookup) -> (String, Vec<Val>) {
    match lookup {
        GroupLookup::All => (String::new(), vec![]),
        GroupLookup::Id(id) => (" AND r.id = $1".into(), vec![Val::Int(*id)]),
        GroupLookup::DisplayName(n) => (
            " AND lower(r.name) = $1".into(),
            vec![Val::Text(n.to_lowercase())],
        ),
        GroupLookup::ExternalId(x) => {
            (" AND r.external_id = $1".into(), vec![Val::Text(x.clone())])
        }
    }
}

async fn scim_groups_in(
    tx: &mut Tx,
    lookup: &GroupLookup,
    offset: u64,
    limit: Option<u64>,
    with_members: bool,
) -> Result<(u64, Vec<ScimGroup>)> {
    let (cond, binds) = group_lookup_sql(lookup);
    let (total, rows) = count_and_page(
        tx,
        (
            "r.id, r.name, r.external_id, r.provisioned_by, r.created_at, r.modified_at",
            "roles r",
            "r.id",
        ),
        &format!("{}{cond}", provisionable_roles_sql()),
        binds,
        offset,
        limit,
    )
    .await?;
    let mut groups = Vec::new();
    for r in rows {
        groups.push(ScimGroup {
            id: get_i64(&r, "id")?,
            name: get_str(&r, "name")?,
            external_id: get_opt_str(&r, "external_id")?,
            provisioned_by: get_opt_str(&r, "provisioned_by")?,
            created_at: get_opt_i64(&r, "created_at")?.map(dt).transpose()?,
            modified_at: get_opt_i64(&r, "modified_at")?.map(dt).transpose()?,
            members: Vec::new(),
        });
    }
    if with_members {
        let ids: Vec<Val> = groups.iter().map(|g| Val::Int(g.id)).collect();
        let mut members: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
        // Only users SCIM sees (`VISIBLE_USERS`): not one it deleted, the directory's or the
        // built-in administrator, or `members` would name resources that answer 404.
        let sql = format!(
            "SELECT m.role_id, u.id, u.login FROM role_members m JOIN users u ON u.id = m.user_id \
             WHERE m.role_id IN ({{ids}}) AND {} ORDER BY u.id",
            VISIBLE_USERS_U
        );
        for r in fetch_in(tx, &sql, &ids, 1, &[]).await? {
            members
                .entry(get_i64(&r, "role_id")?)
                .or_default()
                .push((get_i64(&r, "id")?, get_str(&r, "login")?));
        }
        for g in &mut groups {
            g.members = members.remove(&g.id).unwrap_or_default();
        }
    }
    Ok((total, groups))
}

async fn scim_group_in(tx: &mut Tx, id: i64) -> Result<ScimGroup> {
    scim_groups_in(tx, &GroupLookup::Id(id), 0, Some(1), true)
        .await?
        .1
        .pop()
        .ok_or_else(|| DomainError::UnknownRole(format!("id {id}")).into())
}

/// Refuses member ids that are not users SCIM sees.
async fn check_members(tx: &mut Tx, ids: &BTreeSet<i64>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let vals: Vec<Val> = ids.iter().map(|i| Val::Int(*i)).collect();
    let found: BTreeSet<i64> = fetch_in(
        tx,
        &format!("SELECT id FROM users WHERE id IN ({{ids}}) AND {VISIBLE_USERS}"),
        &vals,
        1,
        &[],
    )
    .await?
    .iter()
    .map(|r| get_i64(r, "id"))
    .collect::<Result<_>>()?;
    match ids.difference(&found).next() {
        Some(missing) => Err(DomainError::UnknownUser(format!("id {missing}")).into()),
        None => Ok(()),
    }
}

fn check_group_name(name: &str) -> Result<()> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(DomainError::Invalid("displayName must be 1–200 characters".into()).into());
    }
    Ok(())
}

async fn name_taken(tx: &mut Tx, name: &str, except: Option<i64>) -> Result<()> {
    let row = sqlx::query("SELECT id FROM roles WHERE lower(name) = $1")
        .bind(name.trim().to_lowercase())
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) if Some(get_i64(&r, "id")?) != except => Err(DomainError::Conflict(format!(
            "a role named {} already exists",
            quoted(name.trim())
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Sets a group's members per `changes`; returns the users whose membership changed.
async fn apply_member_changes(
    tx: &mut Tx,
    role: i64,
    changes: &[GroupChange],
) -> Result<BTreeSet<i64>> {
    // The members SCIM sees: a replace or remove-all leaves the others (the directory's
    // users, the built-in administrator, users SCIM deleted) in the role.
    let mut members: BTreeSet<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.user_id FROM role_members m JOIN users u ON u.id = m.user_id \
         WHERE m.role_id = $1 AND {}",
        VISIBLE_USERS_U
    )))
    .bind(role)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| get_i64(r, "user_id"))
    .collect::<Result<_>>()?;
    let before = members.clone();
    for c in changes {
        match c {
            GroupChange::Add(ids) => members.extend(ids.iter().copied()),
            GroupChange::Remove(ids) => {
                for id in ids {
                    members.remove(id);
                }
            }
            GroupChange::RemoveAll => members.clear(),
            GroupChange::Replace(ids) => members = ids.iter().copied().collect(),
            GroupChange::Rename(_) | GroupChange::ExternalId(_) => {}
        }
    }
    let added: BTreeSet<i64> = members.difference(&before).copied().collect();
    check_members(tx, &added).await?;
    let removed: Vec<Val> = before.difference(&members).map(|i| Val::Int(*i)).collect();
    if !removed.is_empty() {
        execute_in(
            tx,
            &format!("DELETE FROM role_members WHERE role_id = {role} AND user_id IN ({{ids}})"),
            &removed,
        )
        .await?;
    }
    if !added.is_empty() {
        let rows = added
            .iter()
            .map(|u| vec![Val::Int(role), Val::Int(*u)])
            .collect();
        crate::db::insert_rows(tx, "INSERT INTO role_members (role_id, user_id)", 2, rows).await?;
    }
    Ok(added
        .into_iter()
        .chain(before.difference(&members).copied())
        .collect())
}

impl Ledger {
    pub async fn scim_users(
        &self,
        lookup: &UserLookup,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<(u64, Vec<ScimUser>)> {
        let mut tx = self.begin_read().await?;
        scim_users_in(&mut tx, lookup, offset, limit).await
    }

    /// SCIM `POST /Users`: a login that exists is `DuplicateLogin` (SCIM `uniqueness`),
    /// unless SCIM deleted that user: then the same user comes back (their history kept).
    pub async fn scim_create_user(
        &self,
        actor: &Actor,
        up: UserUpsert,
        limit: LimitPolicy,
    ) -> Result<ScimUser> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let old = current_by_login(&mut tx, &up.login)
            .await?
            .filter(|u| u.block_reason.as_deref() == Some(reason::DEPROVISIONED));
        let mut up = up;
        // A create describes a user who is there: one brought back is active unless told.
        up.active.get_or_insert(true);
        let (id, _, _) =
            write_user(&mut tx, now, actor, Provisioner::Scim, old, &up, limit).await?;
        let user = scim_user_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// SCIM `PUT`/`PATCH /Users/{id}`: `decide` sees the user as they are inside the write
    /// transaction and returns the new description (or the caller's refusal, returned as is
    /// with nothing written).
    pub async fn scim_update_user<F, E>(
        &self,
        actor: &Actor,
        id: i64,
        limit: LimitPolicy,
        decide: F,
    ) -> Result<std::result::Result<ScimUser, E>>
    where
        F: FnOnce(&ScimUser) -> std::result::Result<UserUpsert, E>,
    {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let seen = scim_user_in(&mut tx, id).await?;
        let up = match decide(&seen) {
            Ok(up) => up,
            Err(e) => return Ok(Err(e)),
        };
        let old = visible_current(&mut tx, id).await?;
        write_user(
            &mut tx,
            now,
            actor,
            Provisioner::Scim,
            Some(old),
            &up,
            limit,
        )
        .await?;
        let user = scim_user_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Ok(user))
    }

    /// SCIM `DELETE /Users/{id}`: blocks (`deprovisioned`) or deletes, freeing every seat.
    pub async fn scim_delete_user<F, E>(
        &self,
        actor: &Actor,
        id: i64,
        mode: DeleteMode,
        check: F,
    ) -> Result<std::result::Result<(), E>>
    where
        F: FnOnce(&ScimUser) -> std::result::Result<(), E>,
    {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let seen = scim_user_in(&mut tx, id).await?;
        if let Err(e) = check(&seen) {
            return Ok(Err(e));
        }
        let freed = free_seats_of(&mut tx, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        match mode {
            DeleteMode::Block => {
                sqlx::query(
                    "UPDATE users SET state = 'blocked', block_reason = $1, modified_at = $2 \
                     WHERE id = $3",
                )
                .bind(reason::DEPROVISIONED.to_string())
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            DeleteMode::Delete => {
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let what = match mode {
            DeleteMode::Block => "user.block",
            DeleteMode::Delete => "user.delete",
        };
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                what,
                &seen.login,
                json!({"by": "scim", "reason": reason::DEPROVISIONED, "freed": freed}),
            )],
        )
        .await?;
        reconcile(&mut tx, now, true).await?;
        if mode == DeleteMode::Block {
            redistribute(&mut tx, now, actor, vec![id]).await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    pub async fn scim_groups(
        &self,
        lookup: &GroupLookup,
        offset: u64,
        limit: Option<u64>,
        with_members: bool,
    ) -> Result<(u64, Vec<ScimGroup>)> {
        let mut tx = self.begin_read().await?;
        scim_groups_in(&mut tx, lookup, offset, limit, with_members).await
    }

    /// SCIM `POST /Groups`: an organizational role under `parent` (a role name; `None`: the
    /// root), with its first members.
    pub async fn scim_create_group(
        &self,
        actor: &Actor,
        name: &str,
        external_id: Option<String>,
        members: Vec<i64>,
        parent: Option<&str>,
    ) -> Result<ScimGroup> {
        check_group_name(name)?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        name_taken(&mut tx, name, None).await?;
        let parent_id = match parent {
            None => seatkeeper_core::distribution::ROOT_ROLE,
            Some(p) => {
                let r = sqlx::query("SELECT id, kind FROM roles WHERE lower(name) = $1")
                    .bind(p.to_lowercase())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| DomainError::UnknownRole(p.to_string()))?;
                get_i64(&r, "id")?
            }
        };
        let row = sqlx::query(
            "INSERT INTO roles (name, kind, parent_id, provisioned_by, external_id, created_at, \
             modified_at) VALUES ($1, 'organizational', $2, 'scim', $3, $4, $4) RETURNING id",
        )
        .bind(name.trim().to_string())
        .bind(parent_id)
        .bind(external_id)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        let touched = apply_member_changes(&mut tx, id, &[GroupChange::Replace(members)]).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "role.create",
                name.trim(),
                json!({"id": id, "kind": "organizational", "by": "scim", "members": touched.len()}),
            )],
        )
        .await?;
        redistribute(&mut tx, now, actor, touched.into_iter().collect()).await?;
        let group = scim_group_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// SCIM `PUT`/`PATCH /Groups/{id}`: `decide` sees the group (with its members) inside the
    /// write transaction and returns the changes; members whose membership changed are
    /// redistributed (D5).
    pub async fn scim_update_group<F, E>(
        &self,
        actor: &Actor,
        id: i64,
        decide: F,
    ) -> Result<std::result::Result<ScimGroup, E>>
    where
        F: FnOnce(&ScimGroup) -> std::result::Result<Vec<GroupChange>, E>,
    {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let seen = scim_group_in(&mut tx, id).await?;
        let changes = match decide(&seen) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let mut renamed = None;
        let mut external = None;
        for c in &changes {
            match c {
                GroupChange::Rename(n) => renamed = Some(n.trim().to_string()),
                GroupChange::ExternalId(x) => external = Some(x.clone()),
                _ => {}
            }
        }
        if let Some(n) = &renamed {
            check_group_name(n)?;
            name_taken(&mut tx, n, Some(id)).await?;
        }
        let touched = apply_member_changes(&mut tx, id, &changes).await?;
        let new_name = renamed.clone().unwrap_or(seen.name.clone());
        let new_external = external.clone().unwrap_or(seen.external_id.clone());
        let fields_changed = new_name != seen.name || new_external != seen.external_id;
        if fields_changed || !touched.is_empty() {
            sqlx::query(
                "UPDATE roles SET name = $1, external_id = $2, modified_at = $3 WHERE id = $4",
            )
            .bind(new_name.clone())
            .bind(new_external)
            .bind(ts(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let mut entries = Vec::new();
            if new_name != seen.name {
                entries.push(Audit::new(
                    "role.rename",
                    &new_name,
                    json!({"role": id, "from": seen.name, "by": "scim"}),
                ));
            }
            if !touched.is_empty() {
                entries.push(Audit::new(
                    "role.members",
                    &new_name,
                    json!({"role": id, "by": "scim", "changed": touched.len()}),
                ));
            }
            audit(&mut tx, now, actor, entries).await?;
        }
        redistribute(&mut tx, now, actor, touched.into_iter().collect()).await?;
        let group = scim_group_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Ok(group))
    }

    /// SCIM `DELETE /Groups/{id}`: the role goes; its members are redistributed (D5). A role
    /// with child roles is refused (move or delete them first, as in the Roles page).
    pub async fn scim_delete_group<F, E>(
        &self,
        actor: &Actor,
        id: i64,
        check: F,
    ) -> Result<std::result::Result<(), E>>
    where
        F: FnOnce(&ScimGroup) -> std::result::Result<(), E>,
    {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let seen = scim_group_in(&mut tx, id).await?;
        if let Err(e) = check(&seen) {
            return Ok(Err(e));
        }
        crate::roles::refuse_parent(&mut tx, id, &quoted(&seen.name).to_string()).await?;
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "role.delete",
                &seen.name,
                json!({"role": id, "members": seen.members.len(), "by": "scim"}),
            )],
        )
        .await?;
        redistribute(
            &mut tx,
            now,
            actor,
            seen.members.iter().map(|(u, _)| *u).collect(),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}
