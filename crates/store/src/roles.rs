//! Roles (X2, D2): the role tree — create, rename, move, delete — its members, the
//! permissions of functional roles and the products bound to organizational ones; the
//! role-change trigger (D5) and the single-user entry point for provisioning. Every command
//! on roles is here; explain (D6) is in `explain`, the redistribution itself in
//! `distribution`.

use std::collections::{BTreeSet, HashMap};

use seatkeeper_core::distribution::{ManualGrants, ROOT_ROLE};
use seatkeeper_core::error::quoted;
use seatkeeper_core::{Error as DomainError, Permission};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{
    Audit, Tx, audit, count, execute_in, fetch_in, get_i64, get_opt_i64, get_str, parse,
};
use crate::distribution::{RedistributionReport, Scope, redistribute_users_in};
use crate::licenses::known_products;
use crate::loaders::load_tree;
use crate::loaders::{user_by_login, users_by_login};
use crate::settings::distribution_settings_in;
use crate::sql_value::Val;
use crate::{Actor, Ledger, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub builtin: bool,
    /// Where the role came from: `local`, `directory` (the LDAP sync) or `scim`.
    pub source: String,
    pub permissions: Vec<Permission>,
    pub members: Vec<String>,
}

/// A role without its member list (see `Ledger::role_tree`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSummary {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub builtin: bool,
    /// Where the role came from: `local`, `directory` (the LDAP sync) or `scim`.
    pub source: String,
    pub permissions: Vec<Permission>,
    /// Direct members.
    pub members: u64,
}

/// Every role with its permissions, members left empty.
async fn role_rows(tx: &mut Tx) -> Result<Vec<RoleView>> {
    let mut roles: Vec<RoleView> = sqlx::query(
        "SELECT id, name, kind, parent_id, builtin, provisioned_by, directory_dn FROM roles \
             ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok(RoleView {
            id: get_i64(r, "id")?,
            name: get_str(r, "name")?,
            kind: get_str(r, "kind")?,
            parent_id: get_opt_i64(r, "parent_id")?,
            builtin: get_i64(r, "builtin")? == 1,
            source: match (
                crate::db::get_opt_str(r, "provisioned_by")?,
                crate::db::get_opt_str(r, "directory_dn")?,
            ) {
                (Some(p), _) => p,
                (None, Some(_)) => "directory".into(),
                (None, None) => "local".into(),
            },
            permissions: Vec::new(),
            members: Vec::new(),
        })
    })
    .collect::<Result<_>>()?;
    let index: HashMap<i64, usize> = roles.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for r in sqlx::query("SELECT role_id, permission FROM role_permissions ORDER BY permission")
        .fetch_all(&mut **tx)
        .await?
    {
        let role = index.get(&get_i64(&r, "role_id")?);
        if let Some(role) = role.and_then(|&i| roles.get_mut(i)) {
            role.permissions.push(parse(&get_str(&r, "permission")?)?);
        }
    }
    Ok(roles)
}

/// Result of a change to roles: what the role-change trigger redistributed, if it ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleChange {
    pub changed: u64,
    pub redistribution: Option<RedistributionReport>,
}

async fn role_row(tx: &mut Tx, role: i64) -> Result<(String, Option<i64>, bool)> {
    let r = sqlx::query("SELECT kind, parent_id, builtin FROM roles WHERE id = $1")
        .bind(role)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| DomainError::UnknownRole(role.to_string()))?;
    Ok((
        get_str(&r, "kind")?,
        get_opt_i64(&r, "parent_id")?,
        get_i64(&r, "builtin")? == 1,
    ))
}

/// Runs the role-change trigger for `users` when `redistribute_on_role_change` is on.
async fn on_role_change(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    users: Vec<i64>,
) -> Result<Option<RedistributionReport>> {
    let s = distribution_settings_in(tx).await?;
    if !(s.redistribute_on_role_change && s.role_based_distribution) {
        return Ok(None);
    }
    Ok(Some(
        redistribute_users_in(tx, now, actor, users, ManualGrants::Keep).await?,
    ))
}

impl Ledger {
    pub async fn roles(&self) -> Result<Vec<RoleView>> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let mut roles = role_rows(&mut tx).await?;
        let index: HashMap<i64, usize> = roles.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for r in sqlx::query(
            "SELECT m.role_id, u.login FROM role_members m JOIN users u ON u.id = m.user_id \
             ORDER BY u.login",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let role = index.get(&get_i64(&r, "role_id")?);
            if let Some(role) = role.and_then(|&i| roles.get_mut(i)) {
                role.members.push(get_str(&r, "login")?);
            }
        }
        tx.commit().await?;
        Ok(roles)
    }

    /// The roles with their permissions and how many direct members each has, without the
    /// member lists: what a role tree needs, at any number of users.
    pub async fn role_tree(&self) -> Result<Vec<RoleSummary>> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let roles = role_rows(&mut tx).await?;
        let mut counts: HashMap<i64, u64> = HashMap::new();
        for r in sqlx::query("SELECT role_id, COUNT(*) AS n FROM role_members GROUP BY role_id")
            .fetch_all(&mut *tx)
            .await?
        {
            counts.insert(get_i64(&r, "role_id")?, count(get_i64(&r, "n")?));
        }
        tx.commit().await?;
        Ok(roles
            .into_iter()
            .map(|r| RoleSummary {
                members: counts.get(&r.id).copied().unwrap_or(0),
                id: r.id,
                name: r.name,
                kind: r.kind,
                parent_id: r.parent_id,
                builtin: r.builtin,
                source: r.source,
                permissions: r.permissions,
            })
            .collect())
    }

    /// The first `limit` direct members of a role, by login.
    pub async fn role_members(&self, role: i64, limit: u64) -> Result<Vec<String>> {
        sqlx::query(
            "SELECT u.login FROM role_members m JOIN users u ON u.id = m.user_id \
             WHERE m.role_id = $1 ORDER BY lower(u.login) LIMIT $2",
        )
        .bind(role)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| get_str(r, "login"))
        .collect()
    }

    /// Creates a functional role (permissions) or an organizational one under `parent`
    /// (default: "All employees").
    pub async fn create_role(
        &self,
        actor: &Actor,
        name: &str,
        kind: &str,
        parent: Option<i64>,
    ) -> Result<RoleView> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(
                DomainError::Invalid("a role needs a name (1–200 characters)".into()).into(),
            );
        }
        let parent = match kind {
            "functional" => parent,
            "organizational" => Some(parent.unwrap_or(1)),
            other => {
                return Err(DomainError::Invalid(format!(
                    "unknown role kind {}: expected \"organizational\" or \"functional\"",
                    quoted(other)
                ))
                .into());
            }
        };
        let now = self.now();
        let mut tx = self.begin_write().await?;
        if let Some(p) = parent
            && sqlx::query("SELECT id FROM roles WHERE id = $1")
                .bind(p)
                .fetch_optional(&mut *tx)
                .await?
                .is_none()
        {
            return Err(DomainError::UnknownRole(p.to_string()).into());
        }
        let exists = sqlx::query("SELECT id FROM roles WHERE lower(name) = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(
                DomainError::Invalid(format!("a role named {name:?} already exists")).into(),
            );
        }
        let row = sqlx::query(
            "INSERT INTO roles (name, kind, parent_id, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(name.to_string())
        .bind(kind.to_string())
        .bind(parent)
        .bind(crate::db::ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "role.create",
                name,
                json!({"id": id, "kind": kind}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(RoleView {
            id,
            name: name.to_string(),
            kind: kind.to_string(),
            parent_id: parent,
            builtin: false,
            source: "local".into(),
            permissions: Vec::new(),
            members: Vec::new(),
        })
    }

    /// Grants (`on`) or withdraws a permission from a role. The built-in "System
    /// administrators" keep all three, so nobody locks the installation out of itself.
    pub async fn set_role_permission(
        &self,
        actor: &Actor,
        role: i64,
        permission: Permission,
        on: bool,
    ) -> Result<()> {
        if role == 2 && !on {
            return Err(DomainError::Invalid(format!(
                "the built-in role \"System administrators\" always holds {permission}"
            ))
            .into());
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        role_row(&mut tx, role).await?;
        let sql = if on {
            "INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2) \
             ON CONFLICT (role_id, permission) DO NOTHING"
        } else {
            "DELETE FROM role_permissions WHERE role_id = $1 AND permission = $2"
        };
        sqlx::query(sql)
            .bind(role)
            .bind(permission.as_str().to_string())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                if on {
                    "role.permission.grant"
                } else {
                    "role.permission.revoke"
                },
                role.to_string(),
                json!({"permission": permission.as_str()}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (`on`) or removes a direct member of a role: [`Ledger::set_role_members`] for one
    /// user, so the role-change trigger runs here too.
    pub async fn set_role_member(
        &self,
        actor: &Actor,
        role: i64,
        login: &str,
        on: bool,
    ) -> Result<()> {
        self.set_role_members(actor, role, &[login.to_string()], on)
            .await
            .map(|_| ())
    }

    pub async fn rename_role(&self, actor: &Actor, role: i64, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(
                DomainError::Invalid("a role needs a name (1–200 characters)".into()).into(),
            );
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        role_row(&mut tx, role).await?;
        if sqlx::query("SELECT id FROM roles WHERE lower(name) = $1 AND id <> $2")
            .bind(name.to_lowercase())
            .bind(role)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(
                DomainError::Invalid(format!("a role named {name:?} already exists")).into(),
            );
        }
        sqlx::query("UPDATE roles SET name = $1 WHERE id = $2")
            .bind(name.to_string())
            .bind(role)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("role.rename", name, json!({"role": role}))],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a role under another of the same kind (functional roles may also be top-level).
    /// Refuses cycles and moving the built-in roles. With `redistribute_on_role_change`, the
    /// moved subtree's members are redistributed.
    pub async fn move_role(
        &self,
        actor: &Actor,
        role: i64,
        parent: Option<i64>,
    ) -> Result<RoleChange> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (kind, old_parent, builtin) = role_row(&mut tx, role).await?;
        if builtin {
            return Err(DomainError::Conflict("built-in roles cannot be moved".into()).into());
        }
        let parent = match (kind.as_str(), parent) {
            ("organizational", None) => Some(ROOT_ROLE),
            (_, p) => p,
        };
        if let Some(p) = parent {
            let (pkind, _, _) = role_row(&mut tx, p).await?;
            if pkind != kind {
                return Err(DomainError::Invalid(format!(
                    "a {kind} role can only be placed under another {kind} role"
                ))
                .into());
            }
            let (tree, _) = load_tree(&mut tx).await?;
            if tree.creates_cycle(role, p) {
                return Err(DomainError::Invalid(format!(
                    "cannot move role {role} under {p}: {p} is the role itself or one of its descendants"
                ))
                .into());
            }
        }
        sqlx::query("UPDATE roles SET parent_id = $1 WHERE id = $2")
            .bind(parent)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "role.move",
                role.to_string(),
                json!({"from": old_parent, "to": parent}),
            )],
        )
        .await?;
        let users = subtree_members(&mut tx, role).await?;
        let redistribution = on_role_change(&mut tx, now, actor, users).await?;
        tx.commit().await?;
        Ok(RoleChange {
            changed: 1,
            redistribution,
        })
    }

    /// Deletes a role that has no child roles. The seats it gave are recalled at once through
    /// the planner (manual grants kept), whatever `redistribute_on_role_change` says: once the
    /// role is gone nobody could redistribute "for the role" any more, and its seats would be
    /// orphans until the next full run.
    pub async fn delete_role(&self, actor: &Actor, role: i64) -> Result<RoleChange> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (_, _, builtin) = role_row(&mut tx, role).await?;
        if builtin {
            return Err(DomainError::Conflict("built-in roles cannot be deleted".into()).into());
        }
        refuse_parent(&mut tx, role, &role.to_string()).await?;
        let users = subtree_members(&mut tx, role).await?;
        let name = sqlx::query("SELECT name FROM roles WHERE id = $1")
            .bind(role)
            .fetch_one(&mut *tx)
            .await?;
        let name = get_str(&name, "name")?;
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(role)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "role.delete",
                &name,
                json!({"role": role, "members": users.len()}),
            )],
        )
        .await?;
        let redistribution = if distribution_settings_in(&mut tx)
            .await?
            .role_based_distribution
        {
            Some(redistribute_users_in(&mut tx, now, actor, users, ManualGrants::Keep).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(RoleChange {
            changed: 1,
            redistribution,
        })
    }

    /// Adds (`on`) or removes direct members of a role, all or nothing (an unknown login
    /// refuses the call).
    pub async fn set_role_members(
        &self,
        actor: &Actor,
        role: i64,
        logins: &[String],
        on: bool,
    ) -> Result<RoleChange> {
        if logins.is_empty() {
            return Err(DomainError::Invalid("name at least one user".into()).into());
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        role_row(&mut tx, role).await?;
        let found = users_by_login(&mut tx, logins).await?;
        let mut users = Vec::with_capacity(logins.len());
        for l in logins {
            let u = found
                .get(&l.to_ascii_lowercase())
                .ok_or_else(|| DomainError::UnknownUser(l.clone()))?;
            users.push((u.id, u.login.clone()));
        }
        users.sort();
        users.dedup();
        let ids: Vec<Val> = users.iter().map(|(id, _)| Val::Int(*id)).collect();
        let present: BTreeSet<i64> = fetch_in(
            &mut tx,
            "SELECT user_id FROM role_members WHERE role_id = $1 AND user_id IN ({ids})",
            &ids,
            2,
            &[Val::Int(role)],
        )
        .await?
        .iter()
        .map(|r| get_i64(r, "user_id"))
        .collect::<Result<_>>()?;
        // Only the users whose membership changes are written, audited and redistributed:
        // adding a member again or removing a non-member is no change.
        users.retain(|(id, _)| present.contains(id) != on);
        if users.is_empty() {
            return Ok(RoleChange {
                changed: 0,
                redistribution: None,
            });
        }
        let ids: Vec<Val> = users.iter().map(|(id, _)| Val::Int(*id)).collect();
        let changed = if on {
            let rows: Vec<Vec<Val>> = users
                .iter()
                .map(|(id, _)| vec![Val::Int(role), Val::Int(*id)])
                .collect();
            let n = rows.len() as u64;
            crate::db::insert_rows(
                &mut tx,
                "INSERT INTO role_members (role_id, user_id)",
                2,
                rows,
            )
            .await?;
            n
        } else {
            execute_in(
                &mut tx,
                &format!(
                    "DELETE FROM role_members WHERE role_id = {role} AND user_id IN ({{ids}})"
                ),
                &ids,
            )
            .await?
        };
        let entries = users
            .iter()
            .map(|(_, login)| {
                Audit::new(
                    if on {
                        "role.member.add"
                    } else {
                        "role.member.remove"
                    },
                    login,
                    json!({"role": role}),
                )
            })
            .collect();
        audit(&mut tx, now, actor, entries).await?;
        let redistribution = on_role_change(
            &mut tx,
            now,
            actor,
            users.iter().map(|(id, _)| *id).collect(),
        )
        .await?;
        tx.commit().await?;
        Ok(RoleChange {
            changed,
            redistribution,
        })
    }

    /// Binds (`on`) or unbinds a product from a role ("licenses to distribute with the
    /// role"). With `redistribute_on_role_change`, the role's members (and its descendants')
    /// are redistributed right after.
    pub async fn set_role_product(
        &self,
        actor: &Actor,
        role: i64,
        product: &str,
        on: bool,
    ) -> Result<RoleChange> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        role_row(&mut tx, role).await?;
        let known = known_products(&mut tx).await?;
        let bound = sqlx::query(
            "SELECT role_id FROM role_products WHERE role_id = $1 AND product_code = $2",
        )
        .bind(role)
        .bind(product.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        // Unbinding a product whose licenses are gone must stay possible.
        if on && !known.contains(product) {
            return Err(DomainError::UnknownProduct(product.to_string()).into());
        }
        if !on && !bound {
            return Err(DomainError::Invalid(format!(
                "product {product:?} is not bound to role {role}"
            ))
            .into());
        }
        let changed = if on && !bound {
            sqlx::query("INSERT INTO role_products (role_id, product_code) VALUES ($1, $2)")
                .bind(role)
                .bind(product.to_string())
                .execute(&mut *tx)
                .await?;
            1
        } else if !on {
            sqlx::query("DELETE FROM role_products WHERE role_id = $1 AND product_code = $2")
                .bind(role)
                .bind(product.to_string())
                .execute(&mut *tx)
                .await?;
            1
        } else {
            0
        };
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                if on {
                    "role.product.bind"
                } else {
                    "role.product.unbind"
                },
                product,
                json!({"role": role}),
            )],
        )
        .await?;
        let s = distribution_settings_in(&mut tx).await?;
        tx.commit().await?;
        let redistribution =
            if changed > 0 && s.redistribute_on_role_change && s.role_based_distribution {
                Some(
                    self.redistribute(actor, &Scope::Role { role }, ManualGrants::Keep)
                        .await?,
                )
            } else {
                None
            };
        Ok(RoleChange {
            changed,
            redistribution,
        })
    }

    /// Products bound to each role (own bindings only).
    pub async fn role_products(&self) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for r in
            sqlx::query("SELECT role_id, product_code FROM role_products ORDER BY product_code")
                .fetch_all(&self.pool)
                .await?
        {
            out.entry(get_i64(&r, "role_id")?)
                .or_default()
                .push(get_str(&r, "product_code")?);
        }
        Ok(out)
    }

    /// D5: the single-user entry point for provisioning (LDAP sync, SCIM, SSO): redistributes
    /// for one user, keeping manual grants.
    pub async fn redistribute_user(
        &self,
        actor: &Actor,
        login: &str,
    ) -> Result<RedistributionReport> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        if !distribution_settings_in(&mut tx)
            .await?
            .role_based_distribution
        {
            return Err(DomainError::DistributionOff.into());
        }
        let user = user_by_login(&mut tx, login).await?;
        let mut report =
            redistribute_users_in(&mut tx, now, actor, vec![user.id], ManualGrants::Keep).await?;
        report.scope = format!("user {:?}", user.login);
        tx.commit().await?;
        Ok(report)
    }
}

/// Refuses to delete a role that has child roles (`shown` names it in the message): the
/// administrator moves or deletes them first. Shared by the admin API and SCIM.
pub(crate) async fn refuse_parent(tx: &mut Tx, role: i64, shown: &str) -> Result<()> {
    if sqlx::query("SELECT id FROM roles WHERE parent_id = $1 LIMIT 1")
        .bind(role)
        .fetch_optional(&mut **tx)
        .await?
        .is_some()
    {
        return Err(DomainError::Conflict(format!(
            "role {shown} has child roles: move or delete them first"
        ))
        .into());
    }
    Ok(())
}

/// Direct members of `role` and of its descendants (for the root: every employee too).
async fn subtree_members(tx: &mut Tx, role: i64) -> Result<Vec<i64>> {
    let (tree, _) = load_tree(tx).await?;
    let roles = tree.descendants(role);
    let list: Vec<String> = roles.iter().map(i64::to_string).collect();
    let mut sql = format!(
        "SELECT DISTINCT user_id FROM role_members WHERE role_id IN ({})",
        list.join(",")
    );
    if roles.contains(&ROOT_ROLE) {
        sql = format!("{sql} UNION SELECT id AS user_id FROM users WHERE area = 'employee'");
    }
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| get_i64(r, "user_id"))
        .collect()
}
