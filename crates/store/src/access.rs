//! Who may use the admin and integration APIs (X2): administrator passwords (stored as the
//! argon2 PHC string the server computes), API tokens and sign-in sessions (stored as SHA-256
//! of the secret, which is shown once), and roles carrying permissions.

use std::collections::{BTreeSet, HashMap};

use seatkeeper_core::error::quoted;
use seatkeeper_core::{Error as DomainError, Permission, UserState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, audit, count, dt, get_i64, get_opt_i64, get_opt_str, get_str, parse, ts};
use crate::users::user_by_login;
use crate::{Actor, Ledger, Result};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// The licensed application: login, heartbeat, logout, entitlement.
    Integration,
    /// Automation acting as the token's owner on the admin API.
    Admin,
    /// An administrator's sign-in (`POST /api/v1/auth/login`); expires.
    Signin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Integration => "integration",
            TokenScope::Admin => "admin",
            TokenScope::Signin => "signin",
        }
    }
}

impl std::str::FromStr for TokenScope {
    type Err = DomainError;
    fn from_str(s: &str) -> std::result::Result<Self, DomainError> {
        match s {
            "integration" => Ok(TokenScope::Integration),
            "admin" => Ok(TokenScope::Admin),
            "signin" => Ok(TokenScope::Signin),
            other => Err(DomainError::Invalid(format!(
                "unknown token scope {}: expected \"integration\" or \"admin\"",
                quoted(other)
            ))),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub login: String,
    pub builtin: bool,
    pub scope: TokenScope,
    pub token_id: i64,
    pub permissions: BTreeSet<Permission>,
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        self.builtin || self.permissions.contains(&p)
    }
}

/// A user's stored password, for sign-in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: i64,
    pub login: String,
    pub active: bool,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub builtin: bool,
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
    pub permissions: Vec<Permission>,
    /// Direct members.
    pub members: u64,
}

/// Every role with its permissions, members left empty.
async fn role_rows(tx: &mut crate::db::Tx) -> Result<Vec<RoleView>> {
    let mut roles: Vec<RoleView> =
        sqlx::query("SELECT id, name, kind, parent_id, builtin FROM roles ORDER BY id")
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
        if let Some(&i) = index.get(&get_i64(&r, "role_id")?) {
            roles[i]
                .permissions
                .push(parse(&get_str(&r, "permission")?)?);
        }
    }
    Ok(roles)
}

async fn permissions_of(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
) -> Result<BTreeSet<Permission>> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.permission FROM role_members m \
         JOIN role_permissions p ON p.role_id = m.role_id WHERE m.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| parse::<Permission>(&get_str(r, "permission")?))
        .collect()
}

impl Ledger {
    /// The password (hash) of an active or blocked user, for sign-in.
    pub async fn credentials(&self, login: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, login, state, password_hash FROM users WHERE lower(login) = $1",
        )
        .bind(login.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Credentials {
                user_id: get_i64(&r, "id")?,
                login: get_str(&r, "login")?,
                active: parse::<UserState>(&get_str(&r, "state")?)? == UserState::Active,
                password_hash: get_opt_str(&r, "password_hash")?,
            })
        })
        .transpose()
    }

    /// Whether any administrator can sign in yet (the first start prints how to set one).
    pub async fn admin_password_set(&self) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM users WHERE builtin = 1 AND password_hash IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(get_i64(&row, "n")? > 0)
    }

    /// Stores a user's new password hash; every sign-in session of theirs ends.
    pub async fn set_password_hash(&self, actor: &Actor, login: &str, hash: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let user = user_by_login(&mut tx, login).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash.to_string())
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND scope = 'signin'")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("user.password", &user.login, json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a token whose secret the caller made and will show once; only its hash is kept.
    pub async fn create_token(
        &self,
        actor: &Actor,
        owner: &str,
        name: &str,
        scope: TokenScope,
        secret_hash: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<TokenView> {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(
                DomainError::Invalid("a token needs a name (1–200 characters)".into()).into(),
            );
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let user = user_by_login(&mut tx, owner).await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, scope, secret_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user.id)
        .bind(name.to_string())
        .bind(scope.as_str().to_string())
        .bind(secret_hash.to_string())
        .bind(ts(now))
        .bind(expires_at.map(ts))
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        if scope == TokenScope::Signin {
            // Every sign-in session is opened here: it is audited and ends the login's run of
            // failures in the same transaction.
            crate::signin::signin_succeeded(&mut tx, now, &user.login).await?;
            audit(
                &mut tx,
                now,
                actor,
                vec![Audit::new(
                    "auth.signin",
                    &user.login,
                    json!({"token_id": id}),
                )],
            )
            .await?;
        } else {
            audit(
                &mut tx,
                now,
                actor,
                vec![Audit::new(
                    "token.create",
                    &user.login,
                    json!({"id": id, "name": name, "scope": scope.as_str()}),
                )],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(TokenView {
            id,
            name: name.to_string(),
            scope,
            owner: user.login,
            created_at: now,
            expires_at,
        })
    }

    /// API tokens (not sign-in sessions), oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenView>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.scope, u.login, t.created_at, t.expires_at FROM api_tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.scope <> 'signin' ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenView {
                    id: get_i64(r, "id")?,
                    name: get_str(r, "name")?,
                    scope: parse(&get_str(r, "scope")?)?,
                    owner: get_str(r, "login")?,
                    created_at: dt(get_i64(r, "created_at")?)?,
                    expires_at: get_opt_i64(r, "expires_at")?.map(dt).transpose()?,
                })
            })
            .collect()
    }

    pub async fn delete_token(&self, actor: &Actor, id: i64) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(DomainError::UnknownToken(id).into());
        }
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("token.delete", id.to_string(), json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a sign-in session (sign-out).
    pub async fn delete_signin(&self, token_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND scope = 'signin'")
            .bind(token_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The principal a secret's hash belongs to: `None` if unknown, expired, or its owner is
    /// blocked.
    pub async fn principal(&self, secret_hash: &str) -> Result<Option<Principal>> {
        let mut conn = self.pool.acquire().await?;
        let Some(r) = sqlx::query(
            "SELECT t.id, t.scope, t.expires_at, u.id AS user_id, u.login, u.builtin, u.state \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret_hash = $1",
        )
        .bind(secret_hash.to_string())
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        if get_opt_i64(&r, "expires_at")?.is_some_and(|e| e <= ts(self.now()))
            || get_str(&r, "state")? != "active"
        {
            return Ok(None);
        }
        let user_id = get_i64(&r, "user_id")?;
        Ok(Some(Principal {
            user_id,
            login: get_str(&r, "login")?,
            builtin: get_i64(&r, "builtin")? == 1,
            scope: parse(&get_str(&r, "scope")?)?,
            token_id: get_i64(&r, "id")?,
            permissions: permissions_of(&mut conn, user_id).await?,
        }))
    }

    pub async fn roles(&self) -> Result<Vec<RoleView>> {
        let mut tx = self.pool.begin().await?;
        let mut roles = role_rows(&mut tx).await?;
        let index: HashMap<i64, usize> = roles.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for r in sqlx::query(
            "SELECT m.role_id, u.login FROM role_members m JOIN users u ON u.id = m.user_id \
             ORDER BY u.login",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            if let Some(&i) = index.get(&get_i64(&r, "role_id")?) {
                roles[i].members.push(get_str(&r, "login")?);
            }
        }
        tx.commit().await?;
        Ok(roles)
    }

    /// The roles with their permissions and how many direct members each has, without the
    /// member lists: what a role tree needs, at any number of users.
    pub async fn role_tree(&self) -> Result<Vec<RoleSummary>> {
        let mut tx = self.pool.begin().await?;
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
            "INSERT INTO roles (name, kind, parent_id) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name.to_string())
        .bind(kind.to_string())
        .bind(parent)
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
        crate::roles::role_row(&mut tx, role).await?;
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
}
