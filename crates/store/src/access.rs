//! Who may use the admin and integration APIs (X2): administrator passwords (stored as the
//! argon2 PHC string the server computes), API tokens and sign-in sessions (stored as SHA-256
//! of the secret, which is shown once), and the principal behind a token with the
//! permissions its roles carry (the roles themselves are changed in `roles`).

use std::collections::BTreeSet;

use seatkeeper_core::error::quoted;
use seatkeeper_core::{Error as DomainError, Permission, UserState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, audit, dt, get_i64, get_opt_i64, get_opt_str, get_str, parse, ts};
use crate::loaders::user_by_login;
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
    /// An identity provider: SCIM and `POST /integration/v1/provision` only, and only while
    /// its owner holds `provision_users`.
    Provisioning,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Integration => "integration",
            TokenScope::Admin => "admin",
            TokenScope::Signin => "signin",
            TokenScope::Provisioning => "provisioning",
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
            "provisioning" => Ok(TokenScope::Provisioning),
            other => Err(DomainError::Invalid(format!(
                "unknown token scope {}: expected \"integration\", \"admin\" or \"provisioning\"",
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
        // A provisioning token whose owner cannot provision would be refused on every call:
        // say so now rather than hand out a useless secret.
        if scope == TokenScope::Provisioning
            && !user.builtin
            && !permissions_of(&mut tx, user.id)
                .await?
                .contains(&Permission::ProvisionUsers)
        {
            return Err(DomainError::Invalid(format!(
                "{} does not hold the permission `provision_users`: give them a role that \
                 holds it before making a provisioning token",
                quoted(&user.login)
            ))
            .into());
        }
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
}
