//! The roles provisioning may touch, and setting a user's memberships in them.

use std::collections::{BTreeMap, BTreeSet};

use seatkeeper_core::Error as DomainError;
use seatkeeper_core::error::quoted;

use crate::Result;
use crate::db::{Tx, get_i64, get_str};

use super::RoleSync;

/// `WHERE` condition (on `roles r`) of the roles provisioning may touch: no permission, not
/// built in, not the directory sync's. Shared by every read and write so that they agree.
pub(crate) fn provisionable_roles_sql() -> &'static str {
    "r.builtin = 0 AND r.directory_dn IS NULL \
     AND NOT EXISTS (SELECT 1 FROM role_permissions p WHERE p.role_id = r.id)"
}

/// Provisionable roles by lower-cased name: (id, name).
pub(crate) async fn provisionable_roles(tx: &mut Tx) -> Result<BTreeMap<String, (i64, String)>> {
    let sql = format!(
        "SELECT r.id, r.name FROM roles r WHERE {}",
        provisionable_roles_sql()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| {
            let name = get_str(r, "name")?;
            Ok((name.to_lowercase(), (get_i64(r, "id")?, name)))
        })
        .collect()
}

/// Why a role name cannot be provisioned: unknown, or one that provisioning may not touch.
async fn refuse_role(tx: &mut Tx, name: &str) -> DomainError {
    let exists = sqlx::query("SELECT id FROM roles WHERE lower(name) = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut **tx)
        .await;
    match exists {
        Ok(Some(_)) => DomainError::Invalid(format!(
            "role {} carries permissions, is built in or belongs to the directory sync: \
             provisioning may not change its members",
            quoted(name)
        )),
        _ => DomainError::UnknownRole(name.to_string()),
    }
}

/// Makes `user`'s memberships in the managed roles exactly the wanted ones. Returns whether
/// anything changed.
pub(crate) async fn sync_roles(tx: &mut Tx, user: i64, sync: &RoleSync) -> Result<bool> {
    let roles = provisionable_roles(tx).await?;
    let mut wanted = BTreeSet::new();
    for name in &sync.wanted {
        match roles.get(&name.to_lowercase()) {
            Some((id, _)) => {
                wanted.insert(*id);
            }
            None => return Err(refuse_role(tx, name).await.into()),
        }
    }
    let managed: BTreeSet<i64> = match &sync.managed {
        None => roles.values().map(|(id, _)| *id).collect(),
        Some(names) => {
            let mut ids = BTreeSet::new();
            for name in names {
                match roles.get(&name.to_lowercase()) {
                    Some((id, _)) => {
                        ids.insert(*id);
                    }
                    None => return Err(refuse_role(tx, name).await.into()),
                }
            }
            ids
        }
    };
    let held: BTreeSet<i64> = sqlx::query("SELECT role_id FROM role_members WHERE user_id = $1")
        .bind(user)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| get_i64(r, "role_id"))
        .collect::<Result<_>>()?;
    let mut changed = false;
    for role in wanted.difference(&held) {
        sqlx::query("INSERT INTO role_members (role_id, user_id) VALUES ($1, $2)")
            .bind(*role)
            .bind(user)
            .execute(&mut **tx)
            .await?;
        changed = true;
    }
    for role in held.intersection(&managed) {
        if !wanted.contains(role) {
            sqlx::query("DELETE FROM role_members WHERE role_id = $1 AND user_id = $2")
                .bind(*role)
                .bind(user)
                .execute(&mut **tx)
                .await?;
            changed = true;
        }
    }
    Ok(changed)
}
