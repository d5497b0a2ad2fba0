//! The one write path of provisioning: create or update a user (`UserUpsert`) inside the
//! caller's write transaction, then redistribute for them (D5).

use seatkeeper_core::distribution::ManualGrants;
use seatkeeper_core::{Area, Error as DomainError, FolderId, UserState, validate};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, Tx, audit, get_i64, get_opt_str, get_str, parse, ts};
use crate::distribution::redistribute_users_in;
use crate::folders::FolderTree;
use crate::reconcile::reconcile;
use crate::room::check_room;
use crate::settings::distribution_settings_in;
use crate::users::free_seats_of;
use crate::{Actor, Ledger, Result, UserView};

use super::roles::sync_roles;
use super::{FolderRule, LimitPolicy, Provisioner, UserUpsert, reason};

/// What a provisioning write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    /// The user as the ledger now has them (blocked with `license_limit` when they wait for
    /// room).
    pub user: UserView,
    pub created: bool,
    pub changed: bool,
}

/// The row provisioning compares a description with.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    pub folder: FolderId,
    pub state: UserState,
    pub block_reason: Option<String>,
    pub builtin: bool,
    pub source: String,
    pub external_id: Option<String>,
    pub profile: Option<String>,
}

pub(crate) const CURRENT_COLUMNS: &str = "id, login, name, email, area, folder_id, state, \
    block_reason, builtin, source, external_id, profile";

pub(crate) fn current(r: &sqlx::any::AnyRow) -> Result<Current> {
    Ok(Current {
        id: get_i64(r, "id")?,
        login: get_str(r, "login")?,
        name: get_str(r, "name")?,
        email: get_str(r, "email")?,
        area: parse(&get_str(r, "area")?)?,
        folder: FolderId(get_i64(r, "folder_id")?),
        state: parse(&get_str(r, "state")?)?,
        block_reason: get_opt_str(r, "block_reason")?,
        builtin: get_i64(r, "builtin")? == 1,
        source: get_str(r, "source")?,
        external_id: get_opt_str(r, "external_id")?,
        profile: get_opt_str(r, "profile")?,
    })
}

pub(crate) async fn current_by_login(tx: &mut Tx, login: &str) -> Result<Option<Current>> {
    let sql = format!("SELECT {CURRENT_COLUMNS} FROM users WHERE lower(login) = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(login.to_ascii_lowercase())
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| current(&r))
        .transpose()
}

/// Refuses users provisioning must not change.
pub(crate) fn check_provisionable(user: &Current) -> Result<()> {
    if user.builtin {
        return Err(DomainError::BuiltinAdmin("changed by provisioning").into());
    }
    if user.source == "directory" {
        return Err(DomainError::Conflict(format!(
            "user {:?} belongs to the directory sync; provisioning may not change them",
            user.login
        ))
        .into());
    }
    Ok(())
}

fn check_fields(up: &UserUpsert) -> Result<()> {
    validate::login(&up.login)?;
    if let Some(n) = &up.name {
        validate::name(n)?;
    }
    if let Some(e) = &up.email {
        validate::email(e)?;
    }
    if let Some(Some(x)) = &up.external_id
        && (x.is_empty() || x.chars().count() > 1024)
    {
        return Err(DomainError::Invalid("externalId must be 1–1024 characters".into()).into());
    }
    Ok(())
}

async fn folder_for(tx: &mut Tx, rule: Option<&FolderRule>, keep: FolderId) -> Result<FolderId> {
    let mut tree = FolderTree::load(tx).await?;
    Ok(match rule {
        None => keep,
        Some(FolderRule::Exact(p)) => tree.resolve(p)?,
        Some(FolderRule::IfExists(p)) => tree.resolve(p).unwrap_or(keep),
        Some(FolderRule::Create(p)) => tree.ensure(tx, p).await?,
    })
}

/// Whether the user may be active in `area` now; `Ok(false)`: they wait blocked for room
/// (policy `Block`); the policy `Refuse` gets the area-limit error.
async fn room_for(
    tx: &mut Tx,
    area: Area,
    now: OffsetDateTime,
    limit: LimitPolicy,
) -> Result<bool> {
    match check_room(tx, area, 1, now).await {
        Ok(()) => Ok(true),
        Err(crate::StoreError::Domain(DomainError::AreaLimit { .. }))
            if limit == LimitPolicy::Block =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The state a user should be in: `(state, block_reason)`.
async fn target_state(
    tx: &mut Tx,
    now: OffsetDateTime,
    old: Option<&Current>,
    area: Area,
    active: Option<bool>,
    limit: LimitPolicy,
) -> Result<(UserState, Option<String>)> {
    let keep = old.map(|u| (u.state, u.block_reason.clone()));
    let area_changed = old.is_some_and(|u| u.area != area);
    let wants_active = match (active, &keep) {
        (Some(a), _) => a,
        (None, None) => true,
        (None, Some((state, reason))) => {
            // A user waiting for room keeps waiting; other blocks stay as they are.
            *state == UserState::Active || reason.as_deref() == Some(reason_limit())
        }
    };
    if !wants_active {
        return Ok(match keep {
            Some((UserState::Blocked, r)) if active.is_none() => (UserState::Blocked, r),
            _ => (UserState::Blocked, Some(reason::DEACTIVATED.to_string())),
        });
    }
    if let Some((UserState::Active, _)) = keep
        && !area_changed
    {
        return Ok((UserState::Active, None));
    }
    if room_for(tx, area, now, limit).await? {
        Ok((UserState::Active, None))
    } else {
        Ok((UserState::Blocked, Some(reason_limit().to_string())))
    }
}

fn reason_limit() -> &'static str {
    seatkeeper_core::directory::reason::LICENSE_LIMIT
}

/// Creates or updates `up` as the user `old` (or a new one), in `tx`. Returns the user's id,
/// whether they were created and whether anything changed.
pub(crate) async fn write_user(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    by: Provisioner,
    old: Option<Current>,
    up: &UserUpsert,
    limit: LimitPolicy,
) -> Result<(i64, bool, bool)> {
    check_fields(up)?;
    if let Some(u) = &old {
        check_provisionable(u)?;
    }
    let area = up
        .area
        .or(old.as_ref().map(|u| u.area))
        .unwrap_or(Area::Employee);
    let folder = folder_for(
        tx,
        up.folder.as_ref(),
        old.as_ref().map_or(FolderId(1), |u| u.folder),
    )
    .await?;
    let (state, block_reason) = target_state(tx, now, old.as_ref(), area, up.active, limit).await?;
    let name = up
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or(old.as_ref().map(|u| u.name.clone()))
        .unwrap_or_else(|| up.login.clone());
    let email = up
        .email
        .clone()
        .or(old.as_ref().map(|u| u.email.clone()))
        .unwrap_or_default();
    let external_id = match &up.external_id {
        Some(x) => x.clone(),
        None => old.as_ref().and_then(|u| u.external_id.clone()),
    };
    let profile = match &up.profile {
        Some(p) => Some(p.to_string()),
        None => old.as_ref().and_then(|u| u.profile.clone()),
    };
    let (id, created, changed) = match &old {
        None => {
            let row = sqlx::query(
                "INSERT INTO users (login, name, email, area, folder_id, state, block_reason, \
                 builtin, created_at, provisioned_by, external_id, profile, modified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $8) RETURNING id",
            )
            .bind(up.login.clone())
            .bind(name.clone())
            .bind(email.clone())
            .bind(area.as_str().to_string())
            .bind(folder.0)
            .bind(state.as_str().to_string())
            .bind(block_reason.clone())
            .bind(ts(now))
            .bind(by.as_str().to_string())
            .bind(external_id.clone())
            .bind(profile.clone())
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| match crate::StoreError::from(e) {
                crate::StoreError::Domain(DomainError::DuplicateLogin(_)) => {
                    DomainError::DuplicateLogin(up.login.clone()).into()
                }
                other => other,
            })?;
            let id = get_i64(&row, "id")?;
            audit(
                tx,
                now,
                actor,
                vec![Audit::new(
                    "user.create",
                    &up.login,
                    json!({"provisioned_by": by.as_str(), "area": area, "state": state.as_str(),
                           "block_reason": block_reason}),
                )],
            )
            .await?;
            (id, true, true)
        }
        Some(u) => {
            let blocks = u.state == UserState::Active && state == UserState::Blocked;
            let fields_changed = u.login != up.login
                || u.name != name
                || u.email != email
                || u.area != area
                || u.folder != folder
                || u.state != state
                || u.block_reason != block_reason
                || u.external_id != external_id
                || u.profile != profile;
            if blocks {
                // Blocking frees every seat and ends the user's sessions (U3, S4).
                free_seats_of(tx, &[u.id]).await?;
            }
            if fields_changed {
                sqlx::query(
                    "UPDATE users SET login = $1, name = $2, email = $3, area = $4, \
                     folder_id = $5, state = $6, block_reason = $7, external_id = $8, \
                     profile = $9, modified_at = $10 WHERE id = $11",
                )
                .bind(up.login.clone())
                .bind(name.clone())
                .bind(email.clone())
                .bind(area.as_str().to_string())
                .bind(folder.0)
                .bind(state.as_str().to_string())
                .bind(block_reason.clone())
                .bind(external_id.clone())
                .bind(profile.clone())
                .bind(ts(now))
                .bind(u.id)
                .execute(&mut **tx)
                .await
                .map_err(|e| match crate::StoreError::from(e) {
                    crate::StoreError::Domain(DomainError::DuplicateLogin(_)) => {
                        DomainError::DuplicateLogin(up.login.clone()).into()
                    }
                    other => other,
                })?;
                audit(
                    tx,
                    now,
                    actor,
                    vec![Audit::new(
                        "user.provision",
                        &up.login,
                        json!({"by": by.as_str(), "state": state.as_str(),
                               "block_reason": block_reason, "renamed_from":
                               (u.login != up.login).then_some(&u.login)}),
                    )],
                )
                .await?;
            }
            (u.id, false, fields_changed)
        }
    };
    let roles_changed = match &up.roles {
        Some(sync) => sync_roles(tx, id, sync).await?,
        None => false,
    };
    if roles_changed && !created {
        sqlx::query("UPDATE users SET modified_at = $1 WHERE id = $2")
            .bind(ts(now))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    let blocked_now = old
        .as_ref()
        .is_some_and(|u| u.state == UserState::Active && state == UserState::Blocked);
    if blocked_now || old.as_ref().is_some_and(|u| u.area != area) {
        // Freed seats go to suspended holders, freed room to users waiting for it (U2).
        reconcile(tx, now, true).await?;
    }
    if created || changed || roles_changed {
        redistribute(tx, now, actor, vec![id]).await?;
    }
    Ok((id, created, changed || roles_changed))
}

/// D5 for users provisioning touched, when role-based distribution is on.
pub(crate) async fn redistribute(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    users: Vec<i64>,
) -> Result<()> {
    if !users.is_empty() && distribution_settings_in(tx).await?.role_based_distribution {
        redistribute_users_in(tx, now, actor, users, ManualGrants::Keep).await?;
    }
    Ok(())
}

impl Ledger {
    /// Creates or updates the user `up.login` for an identity provider (SSO sign-in, the
    /// provision route): see the module. `LimitPolicy::Refuse` and a full area: the
    /// `area_limit` error, nothing written.
    pub async fn provision_user(
        &self,
        actor: &Actor,
        by: Provisioner,
        up: UserUpsert,
        limit: LimitPolicy,
    ) -> Result<Provisioned> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let old = current_by_login(&mut tx, &up.login).await?;
        let (_, created, changed) = write_user(&mut tx, now, actor, by, old, &up, limit).await?;
        tx.commit().await?;
        Ok(Provisioned {
            user: self.user(&up.login).await?,
            created,
            changed,
        })
    }
}
