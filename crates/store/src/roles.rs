//! The role tree (D2): rename, move, delete, members in bulk, products bound to roles, the
//! role-change trigger (D5), the single-user entry point for provisioning, and explain (D6).

use std::collections::{BTreeSet, HashMap};

use seatkeeper_core::distribution::{
    ExplainFacts, Holding, ManualGrants, ROOT_ROLE, Reason, explain,
};
use seatkeeper_core::{Area, Error as DomainError, SeatKind, UserId, UserState};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, Tx, Val, audit, execute_in, fetch_in, get_i64, get_opt_i64, get_str};
use crate::distribution::{
    RedistributionReport, Scope, load_tree, redistribute_users_in, settings_in,
};
use crate::licenses::known_products;
use crate::users::{user_by_login, users_by_login};
use crate::{Actor, Ledger, Result};

/// Result of a change to roles: what the role-change trigger redistributed, if it ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleChange {
    pub changed: u64,
    pub redistribution: Option<RedistributionReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReasonView {
    #[serde(flatten)]
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_name: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainView {
    pub login: String,
    pub product: String,
    pub holds: bool,
    pub reasons: Vec<ReasonView>,
}

pub(crate) async fn role_row(tx: &mut Tx, role: i64) -> Result<(String, Option<i64>, bool)> {
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
    let s = settings_in(tx).await?;
    if !(s.redistribute_on_role_change && s.role_based_distribution) {
        return Ok(None);
    }
    Ok(Some(
        redistribute_users_in(tx, now, actor, users, ManualGrants::Keep).await?,
    ))
}

impl Ledger {
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
        if sqlx::query("SELECT id FROM roles WHERE parent_id = $1 LIMIT 1")
            .bind(role)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "role {role} has child roles: move or delete them first"
            ))
            .into());
        }
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
        let redistribution = if settings_in(&mut tx).await?.role_based_distribution {
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
        let s = settings_in(&mut tx).await?;
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
        if !settings_in(&mut tx).await?.role_based_distribution {
            return Err(DomainError::DistributionOff.into());
        }
        let user = user_by_login(&mut tx, login).await?;
        let mut report =
            redistribute_users_in(&mut tx, now, actor, vec![user.id], ManualGrants::Keep).await?;
        report.scope = format!("user {:?}", user.login);
        tx.commit().await?;
        Ok(report)
    }

    /// D6: whether `login` holds `product`, with every reason, or why not.
    pub async fn explain(&self, login: &str, product: &str) -> Result<ExplainView> {
        let mut tx = self.begin_read().await?;
        let user = user_by_login(&mut tx, login).await?;
        if !known_products(&mut tx).await?.contains(product) {
            return Err(DomainError::UnknownProduct(product.to_string()).into());
        }
        let (tree, names) = load_tree(&mut tx).await?;
        let mut roles: Vec<i64> = if user.area == Area::Employee {
            vec![ROOT_ROLE]
        } else {
            Vec::new()
        };
        for r in sqlx::query("SELECT role_id FROM role_members WHERE user_id = $1")
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?
        {
            roles.push(get_i64(&r, "role_id")?);
        }
        let sold_in_area = sqlx::query(
            "SELECT product_code FROM seat_pools WHERE product_code = $1 AND area = $2 \
             AND kind = $3 LIMIT 1",
        )
        .bind(product.to_string())
        .bind(user.area.as_str().to_string())
        .bind(SeatKind::Named.as_str().to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let holding = sqlx::query(
            "SELECT product_code, area, kind, folder_id, status, manual, by_role, release_pending \
             FROM assignments WHERE user_id = $1 AND product_code = $2",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| -> Result<Holding> {
            Ok(Holding {
                user: UserId(user.id),
                pool: crate::reconcile::pool_key(&r)?,
                manual: get_i64(&r, "manual")? == 1,
                by_role: get_i64(&r, "by_role")? == 1,
                suspended: get_str(&r, "status")? == "suspended",
                releasing: get_i64(&r, "release_pending")? == 1,
            })
        })
        .transpose()?;
        let floating_sessions = sqlx::query(
            "SELECT h.session_id FROM floating_holds h JOIN sessions s ON s.id = h.session_id \
             WHERE s.user_id = $1 AND h.product_code = $2 ORDER BY h.session_id",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| get_str(r, "session_id"))
        .collect::<Result<Vec<_>>>()?;
        let pending = sqlx::query(
            "SELECT user_id FROM pending_needs WHERE user_id = $1 AND product_code = $2",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let settings = settings_in(&mut tx).await?;
        tx.commit().await?;
        let facts = ExplainFacts {
            active: user.state == UserState::Active,
            sold_in_area,
            role_reasons: tree.reasons(&roles, product),
            holding,
            floating_sessions,
            pending,
            distribution_on: settings.role_based_distribution,
        };
        let e = explain(&facts);
        let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let reasons = e
            .reasons
            .into_iter()
            .map(|reason| {
                let (role_name, via_name, message) = match &reason {
                    Reason::Manual => (None, None, "granted by hand (or taken at login)".into()),
                    Reason::Role { role, via } if role == via => (
                        Some(name(*role)),
                        None,
                        format!("given by role {:?}", name(*role)),
                    ),
                    Reason::Role { role, via } => (
                        Some(name(*role)),
                        Some(name(*via)),
                        format!(
                            "given by role {:?} via its ancestor {:?}",
                            name(*role),
                            name(*via)
                        ),
                    ),
                    Reason::FloatingSession { session } => {
                        (None, None, format!("floating seat held by session {session}"))
                    }
                    Reason::Suspended => (
                        None,
                        None,
                        "suspended: the product's licenses shrank below the seats assigned".into(),
                    ),
                    Reason::Releasing => (
                        None,
                        None,
                        "recalled while logged in: freed when the session ends".into(),
                    ),
                    Reason::Blocked => (None, None, "the user is blocked".into()),
                    Reason::NotInArea => (
                        None,
                        None,
                        format!(
                            "a role asks for it, but it is not licensed as named seats for the {} area",
                            user.area.as_str()
                        ),
                    ),
                    Reason::NotBound => (
                        None,
                        None,
                        "not bound to any of the user's roles or their ancestors".into(),
                    ),
                    Reason::NoSeatFree => (
                        None,
                        None,
                        "wanted by a role, but no seat was free: kept as a pending need".into(),
                    ),
                    Reason::DistributionOff => (
                        None,
                        None,
                        "wanted by a role, but role-based distribution is turned off".into(),
                    ),
                    Reason::NotYetDistributed => (
                        None,
                        None,
                        "wanted by a role: the next redistribution for this user grants it".into(),
                    ),
                };
                ReasonView {
                    reason,
                    role_name,
                    via_name,
                    message,
                }
            })
            .collect();
        Ok(ExplainView {
            login: user.login,
            product: product.to_string(),
            holds: e.holds,
            reasons,
        })
    }
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
