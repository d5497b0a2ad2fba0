//! Users and areas (U1, U3, U4): create, block, activate, delete, CSV import and export.

use std::collections::BTreeMap;

use seatkeeper_core::users_csv::{self, ExportRow};
use seatkeeper_core::{AssignmentStatus, Error as DomainError, FolderId, UserState, validate};
use serde_json::json;

use crate::db::{
    Audit, Tx, audit, count, dt, execute_in, fetch_in, get_i64, get_opt_str, get_str, ts,
};
use crate::folders::FolderTree;
use crate::loaders::{USER_COLUMNS, record, user_by_login, users_by_login};
use crate::reconcile::reconcile;
use crate::room::check_room;
use crate::sql_value::Val;
use crate::{Actor, BlockReport, Ledger, NewUser, Result, UserFilter, UserLicense, UserView};

/// Deletes a user's assignments (block and delete free every seat, U3).
async fn free_seats(tx: &mut Tx, user_id: i64) -> Result<Vec<String>> {
    Ok(free_seats_of(tx, &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_default())
}

/// [`free_seats`] for many users at once, with set-based statements (the directory sync
/// blocks thousands in one chunk): the freed products per user, sorted.
pub(crate) async fn free_seats_of(
    tx: &mut Tx,
    user_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>> {
    let ids: Vec<Val> = user_ids.iter().map(|id| Val::Int(*id)).collect();
    // A blocked user is logged out at once: their sessions and floating seats end with them.
    execute_in(
        tx,
        "DELETE FROM floating_holds WHERE session_id IN \
         (SELECT id FROM sessions WHERE user_id IN ({ids}))",
        &ids,
    )
    .await?;
    execute_in(tx, "DELETE FROM sessions WHERE user_id IN ({ids})", &ids).await?;
    let rows = fetch_in(
        tx,
        "DELETE FROM assignments WHERE user_id IN ({ids}) RETURNING user_id, product_code",
        &ids,
        1,
        &[],
    )
    .await?;
    let mut freed: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in &rows {
        freed
            .entry(get_i64(r, "user_id")?)
            .or_default()
            .push(get_str(r, "product_code")?);
    }
    for products in freed.values_mut() {
        products.sort();
    }
    Ok(freed)
}

/// `head` (selecting from `users u`) with the WHERE clause of `filter` and its binds; shared by
/// the list and its count so the two never disagree.
fn user_filter_sql(
    head: &str,
    filter: &UserFilter,
    tree: &FolderTree,
) -> Result<(String, Vec<Val>)> {
    let mut sql = format!("{head} WHERE 1 = 1");
    let mut binds = Vec::new();
    let mut next = |v: Val| {
        binds.push(v);
        format!("${}", binds.len())
    };
    if let Some(a) = filter.area {
        sql += &format!(" AND u.area = {}", next(Val::Text(a.as_str().into())));
    }
    if let Some(s) = filter.state {
        sql += &format!(" AND u.state = {}", next(Val::Text(s.as_str().into())));
    }
    if let Some(f) = &filter.folder {
        sql += &format!(" AND u.folder_id = {}", next(Val::Int(tree.resolve(f)?.0)));
    }
    if let Some(p) = &filter.product {
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id AND a.product_code = {})",
            next(Val::Text(p.clone()))
        );
    }
    if let Some(r) = filter.role {
        // role_members' primary key (role_id, user_id) finds the members.
        sql += &format!(
            " AND u.id IN (SELECT m.user_id FROM role_members m WHERE m.role_id = {})",
            next(Val::Int(r))
        );
    }
    if let Some(q) = &filter.search {
        let p = next(Val::Text(format!("%{}%", q.to_lowercase())));
        sql += &format!(
            " AND (lower(u.login) LIKE {p} OR lower(u.name) LIKE {p} OR lower(u.email) LIKE {p})"
        );
    }
    Ok((sql, binds))
}

impl Ledger {
    /// U1: creates a user; an active one is refused when the area is at its limit.
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<UserView> {
        validate::login(&new.login)?;
        validate::name(&new.name)?;
        validate::email(&new.email)?;
        validate::folder_path(&new.folder)?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let folder = tree.resolve(&new.folder)?;
        if !users_by_login(&mut tx, std::slice::from_ref(&new.login))
            .await?
            .is_empty()
        {
            return Err(DomainError::DuplicateLogin(new.login).into());
        }
        if new.state == UserState::Active {
            check_room(&mut tx, new.area, 1, now).await?;
        }
        insert_user(&mut tx, &new, folder, now).await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "user.create",
                &new.login,
                json!({"area": new.area, "folder": tree.path(folder), "state": new.state.as_str()}),
            )],
        )
        .await?;
        tx.commit().await?;
        self.user(&new.login).await
    }

    pub async fn user(&self, login: &str) -> Result<UserView> {
        let mut tx = self.begin_read().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE lower(login) = $1"
        )))
        .bind(login.to_ascii_lowercase())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DomainError::UnknownUser(login.to_string()))?;
        let mut views = user_views(&mut tx, &tree, vec![row]).await?;
        views
            .pop()
            .ok_or_else(|| DomainError::UnknownUser(login.to_string()).into())
    }

    /// Users matching `filter`, by login, with their licenses (one query per page for those).
    pub async fn users(&self, filter: &UserFilter) -> Result<Vec<UserView>> {
        let mut tx = self.begin_read().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let (mut sql, mut binds) = user_filter_sql(
            &format!("SELECT {USER_COLUMNS} FROM users u"),
            filter,
            &tree,
        )?;
        // Paged by the expression index users_login (lower(login)).
        sql += " ORDER BY lower(login)";
        if let Some(l) = filter.limit {
            binds.push(Val::Int(i64::try_from(l).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ${}", binds.len());
            binds.push(Val::Int(i64::try_from(filter.offset).unwrap_or(i64::MAX)));
            sql += &format!(" OFFSET ${}", binds.len());
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in binds {
            q = crate::db::bind(q, v);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        user_views(&mut tx, &tree, rows).await
    }

    /// How many users match `filter` (its `limit` and `offset` ignored): the total for a
    /// paged list.
    pub async fn count_users(&self, filter: &UserFilter) -> Result<u64> {
        let mut tx = self.begin_read().await?;
        let tree = FolderTree::load(&mut tx).await?;
        let (sql, binds) = user_filter_sql("SELECT COUNT(*) AS n FROM users u", filter, &tree)?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in binds {
            q = crate::db::bind(q, v);
        }
        let row = q.fetch_one(&mut *tx).await?;
        Ok(count(get_i64(&row, "n")?))
    }

    /// U3: blocks a user, freeing every seat they hold.
    pub async fn block_user(
        &self,
        actor: &Actor,
        login: &str,
        reason: &str,
    ) -> Result<BlockReport> {
        validate::block_reason(reason)?;
        self.take_out(actor, login, Some(reason)).await
    }

    /// U3: unblocks a user, if the area has room.
    pub async fn activate_user(&self, actor: &Actor, login: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let user = user_by_login(&mut tx, login).await?;
        if user.state == UserState::Active {
            return Ok(());
        }
        check_room(&mut tx, user.area, 1, now).await?;
        sqlx::query("UPDATE users SET state = 'active', block_reason = NULL WHERE id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("user.activate", &user.login, json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user and their data for good.
    pub async fn delete_user(&self, actor: &Actor, login: &str) -> Result<BlockReport> {
        self.take_out(actor, login, None).await
    }

    /// Blocks (`Some(reason)`) or deletes (`None`) a user: either way every seat they hold is
    /// freed, and a suspended holder gets it first (U3).
    async fn take_out(
        &self,
        actor: &Actor,
        login: &str,
        block: Option<&str>,
    ) -> Result<BlockReport> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let user = user_by_login(&mut tx, login).await?;
        if user.builtin {
            return Err(DomainError::BuiltinAdmin(if block.is_some() {
                "blocked"
            } else {
                "deleted"
            })
            .into());
        }
        let freed = free_seats(&mut tx, user.id).await?;
        let entry = match block {
            Some(reason) => {
                sqlx::query("UPDATE users SET state = 'blocked', block_reason = $1 WHERE id = $2")
                    .bind(reason.to_string())
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
                Audit::new(
                    "user.block",
                    &user.login,
                    json!({"reason": reason, "freed": freed}),
                )
            }
            None => {
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
                Audit::new("user.delete", &user.login, json!({"freed": freed}))
            }
        };
        let changes = reconcile(&mut tx, now, true).await?;
        audit(&mut tx, now, actor, vec![entry]).await?;
        tx.commit().await?;
        Ok(BlockReport { freed, changes })
    }

    /// Moves a user to another folder; seats they hold stay where they are.
    pub async fn move_user(&self, actor: &Actor, login: &str, folder: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let user = user_by_login(&mut tx, login).await?;
        let tree = FolderTree::load(&mut tx).await?;
        let folder_id = tree.resolve(folder)?;
        sqlx::query("UPDATE users SET folder_id = $1 WHERE id = $2")
            .bind(folder_id.0)
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "user.move",
                &user.login,
                json!({"folder": tree.path(folder_id)}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// U4: every user with account state and licenses, as CSV.
    pub async fn export_users_csv(&self) -> Result<String> {
        let users = self.users(&UserFilter::default()).await?;
        let rows: Vec<ExportRow> = users
            .into_iter()
            .filter(|u| !u.builtin)
            .map(|u| ExportRow {
                login: u.login,
                name: u.name,
                email: u.email,
                area: u.area,
                folder: if u.folder == "/" {
                    String::new()
                } else {
                    u.folder
                },
                state: u.state,
                block_reason: u.block_reason,
                licenses: u
                    .licenses
                    .iter()
                    .map(|l| match l.status {
                        AssignmentStatus::Active => l.product.clone(),
                        AssignmentStatus::Suspended => format!("{} (suspended)", l.product),
                        AssignmentStatus::Releasing => format!("{} (releasing)", l.product),
                    })
                    .collect(),
            })
            .collect();
        Ok(users_csv::write(&rows))
    }
}

async fn insert_user(
    tx: &mut Tx,
    new: &NewUser,
    folder: FolderId,
    now: time::OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (login, name, email, area, folder_id, state, builtin, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
    )
    .bind(new.login.clone())
    .bind(if new.name.is_empty() {
        new.login.clone()
    } else {
        new.name.clone()
    })
    .bind(new.email.clone())
    .bind(new.area.as_str().to_string())
    .bind(folder.0)
    .bind(new.state.as_str().to_string())
    .bind(ts(now))
    .execute(&mut **tx)
    .await
    .map_err(|e| match crate::StoreError::from(e) {
        crate::StoreError::Domain(DomainError::DuplicateLogin(_)) => {
            DomainError::DuplicateLogin(new.login.clone()).into()
        }
        other => other,
    })?;
    Ok(())
}

async fn user_views(
    tx: &mut Tx,
    tree: &FolderTree,
    rows: Vec<sqlx::any::AnyRow>,
) -> Result<Vec<UserView>> {
    let mut views = Vec::with_capacity(rows.len());
    for r in &rows {
        let u = record(r)?;
        views.push(UserView {
            id: u.id,
            login: u.login,
            name: u.name,
            email: u.email,
            area: u.area,
            folder: tree.path(u.folder),
            state: u.state,
            block_reason: get_opt_str(r, "block_reason")?,
            builtin: u.builtin,
            created_at: dt(get_i64(r, "created_at")?)?,
            source: get_opt_str(r, "provisioned_by")?.unwrap_or(get_str(r, "source")?),
            licenses: Vec::new(),
        });
    }
    let ids: Vec<Val> = views.iter().map(|v| Val::Int(v.id)).collect();
    let index: BTreeMap<i64, usize> = views.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
    let held = fetch_in(
        tx,
        "SELECT user_id, product_code, status, release_pending, manual, by_role, folder_id, granted_at \
         FROM assignments \
         WHERE user_id IN ({ids}) ORDER BY product_code",
        &ids,
        1,
        &[],
    )
    .await?;
    for r in held {
        let user = index.get(&get_i64(&r, "user_id")?);
        if let Some(view) = user.and_then(|&i| views.get_mut(i)) {
            view.licenses.push(UserLicense {
                product: get_str(&r, "product_code")?,
                status: match get_str(&r, "status")?.as_str() {
                    "suspended" => AssignmentStatus::Suspended,
                    _ if get_i64(&r, "release_pending")? == 1 => AssignmentStatus::Releasing,
                    _ => AssignmentStatus::Active,
                },
                manual: get_i64(&r, "manual")? == 1,
                by_role: get_i64(&r, "by_role")? == 1,
                seat_folder: tree.path(FolderId(get_i64(&r, "folder_id")?)),
                granted_at: dt(get_i64(&r, "granted_at")?)?,
            });
        }
    }
    Ok(views)
}
