//! Directory sync (I1, U2, D5) over the admin API: the settings (password write-only), a
//! connection test, a preview, a sync, and the history of runs. The engine is
//! `crate::directory_sync`; this module only translates.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seatkeeper_core::directory::{Block, NewUser, Skipped, SyncPlan};
use seatkeeper_directory::{Config, TestReport};
use seatkeeper_store::{
    Actor, DirectoryRunView, DirectorySyncCounts, DirectorySyncState, PasswordChange,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::page_limit;
use crate::AppState;
use crate::directory_sync::{self, SettingsSource, SyncError, SyncOutcome, When};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        let status = match &e {
            SyncError::Directory(d) => match d.code() {
                // The settings themselves are wrong: the caller's to fix.
                "directory_config" | "ldap_bad_filter" | "ldap_no_such_base" => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                "ldap_timeout" => StatusCode::GATEWAY_TIMEOUT,
                // The directory refused or is not there: an upstream failure.
                _ => StatusCode::BAD_GATEWAY,
            },
            SyncError::Busy { .. } | SyncError::NotConfigured | SyncError::BadSavedSettings(_) => {
                StatusCode::CONFLICT
            }
            SyncError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        match e {
            SyncError::Store(e) => ApiError::from(e),
            e => ApiError::new(status, e.code(), e.to_string()),
        }
    }
}

/// The settings in use, without the password.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    /// `file` (the config file's `[directory]` section: read-only here), `ledger` (saved
    /// from the Directory page or this API), or none.
    pub source: Option<SettingsSource>,
    /// Whether `PUT /api/v1/directory/settings` may change them.
    pub editable: bool,
    /// The `[directory]` section as JSON; never the password.
    pub settings: Option<serde_json::Value>,
    pub bind_password_set: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    pub updated_by: Option<String>,
}

pub(crate) async fn settings_view(state: &AppState) -> ApiResult<SettingsView> {
    let file = state.settings.directory.as_ref();
    if let Some(config) = file {
        return Ok(SettingsView {
            source: Some(SettingsSource::File),
            editable: false,
            settings: serde_json::to_value(config).ok(),
            bind_password_set: config.bind_password.is_some() || config.bind_password_env.is_some(),
            updated_at: None,
            updated_by: None,
        });
    }
    let saved = state.ledger.directory_settings().await?;
    Ok(match saved {
        Some(s) => SettingsView {
            source: Some(SettingsSource::Ledger),
            editable: true,
            bind_password_set: s.bind_password.is_some(),
            settings: Some(s.config),
            updated_at: Some(s.updated_at),
            updated_by: Some(s.updated_by),
        },
        None => SettingsView {
            source: None,
            editable: true,
            settings: None,
            bind_password_set: false,
            updated_at: None,
            updated_by: None,
        },
    })
}

pub async fn get_settings(State(state): State<AppState>) -> ApiResult<Json<SettingsView>> {
    Ok(Json(settings_view(&state).await?))
}

/// The body of `PUT /api/v1/directory/settings`: the whole `[directory]` section. Its
/// `bind_password`: absent or null keeps the saved one, `""` clears it, any other value
/// replaces it.
pub async fn put_settings(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<Config>,
) -> ApiResult<Json<SettingsView>> {
    save(&state, &p.actor, body).await?;
    Ok(Json(settings_view(&state).await?))
}

/// Saves settings from the API or the Directory page (refused when the file holds them).
pub(crate) async fn save(state: &AppState, actor: &Actor, mut config: Config) -> ApiResult<()> {
    if state.settings.directory.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "directory_settings_in_file",
            "the directory settings come from the config file's [directory] section; change \
             them there",
        ));
    }
    let password = match config.bind_password.take() {
        None => PasswordChange::Keep,
        Some(p) if p.is_empty() => PasswordChange::Clear,
        Some(p) => PasswordChange::Set(p),
    };
    directory_sync::save_settings(&state.ledger, actor, &config, password).await?;
    Ok(())
}

/// The settings a test, preview or sync uses (409 when there are none).
pub(crate) async fn config(state: &AppState) -> ApiResult<Config> {
    directory_sync::settings(&state.ledger, state.settings.directory.as_ref())
        .await?
        .map(|(c, _)| c)
        .ok_or_else(|| SyncError::NotConfigured.into())
}

/// `POST /api/v1/directory/test`: connect, bind, count users and groups, three examples.
pub async fn test(State(state): State<AppState>) -> ApiResult<Json<TestReport>> {
    Ok(Json(test_report(&state).await?))
}

/// The connection test with the settings in use (the API's and the Directory page's).
pub(crate) async fn test_report(state: &AppState) -> ApiResult<TestReport> {
    let config = config(state).await?;
    Ok(seatkeeper_directory::test_connection(&config)
        .await
        .map_err(SyncError::from)?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// Items of each list in the answer (200 by default, at most 1,000); counts are whole.
    pub detail: Option<u64>,
}

/// How many of each kind a plan holds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PlanCounts {
    pub create: usize,
    pub create_blocked: usize,
    pub update: usize,
    pub block: usize,
    pub delete: usize,
    pub activate: usize,
    pub roles_create: usize,
    pub roles_reparent: usize,
    pub members_added: usize,
    pub members_removed: usize,
    pub skipped: usize,
}

/// A plan as the API shows it: whole counts, the first `detail` items of each list.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub users_read: usize,
    pub groups_read: usize,
    pub counts: PlanCounts,
    pub create: Vec<NewUser>,
    pub update: Vec<seatkeeper_core::directory::UserUpdate>,
    pub block: Vec<Block>,
    pub delete: Vec<String>,
    pub activate: Vec<String>,
    pub roles_create: Vec<seatkeeper_core::directory::NewRole>,
    pub roles_reparent: Vec<seatkeeper_core::directory::Reparent>,
    pub add_members: Vec<seatkeeper_core::directory::Membership>,
    pub remove_members: Vec<seatkeeper_core::directory::Membership>,
    pub skipped: Vec<Skipped>,
}

pub(crate) fn plan_counts(plan: &SyncPlan) -> PlanCounts {
    PlanCounts {
        create: plan.create.len(),
        create_blocked: plan.create.iter().filter(|u| u.blocked.is_some()).count(),
        update: plan.update.len(),
        block: plan.block.len(),
        delete: plan.delete.len(),
        activate: plan.activate.len(),
        roles_create: plan.roles_create.len(),
        roles_reparent: plan.roles_reparent.len(),
        members_added: plan.add_members.len(),
        members_removed: plan.remove_members.len(),
        skipped: plan.skipped.len(),
    }
}

fn first<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    items.iter().take(n).cloned().collect()
}

pub(crate) fn plan_view(plan: &SyncPlan, users: usize, groups: usize, n: usize) -> PlanView {
    PlanView {
        users_read: users,
        groups_read: groups,
        counts: plan_counts(plan),
        create: first(&plan.create, n),
        update: first(&plan.update, n),
        block: first(&plan.block, n),
        delete: first(&plan.delete, n),
        activate: first(&plan.activate, n),
        roles_create: first(&plan.roles_create, n),
        roles_reparent: first(&plan.roles_reparent, n),
        add_members: first(&plan.add_members, n),
        remove_members: first(&plan.remove_members, n),
        skipped: first(&plan.skipped, n),
    }
}

const DEFAULT_DETAIL: u64 = 200;

fn detail(q: &DetailQuery) -> ApiResult<usize> {
    let n = page_limit(Some(q.detail.unwrap_or(DEFAULT_DETAIL)))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `POST /api/v1/directory/preview`: the plan a sync would apply now; nothing written.
pub async fn preview(
    State(state): State<AppState>,
    p: Caller,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> ApiResult<Json<PlanView>> {
    let n = detail(&q)?;
    Ok(Json(preview_view(&state, &p.actor, n).await?))
}

/// The plan a sync would apply now with the settings in use, its lists cut to `n` items
/// (the API's and the Directory page's); nothing written.
pub(crate) async fn preview_view(state: &AppState, actor: &Actor, n: usize) -> ApiResult<PlanView> {
    let config = config(state).await?;
    match directory_sync::sync_when(&state.ledger, &config, actor, When::Preview).await? {
        Some(SyncOutcome::Preview { read, plan }) => {
            Ok(plan_view(&plan, read.users, read.groups, n))
        }
        _ => Err(ApiError::unavailable("the preview did not run")),
    }
}

/// What `POST /api/v1/directory/sync` did.
#[derive(Debug, Serialize)]
pub struct SyncView {
    /// The history row; none when nothing changed (a no-change sync writes nothing).
    pub run_id: Option<i64>,
    pub changed: bool,
    pub users_read: usize,
    pub groups_read: usize,
    pub counts: DirectorySyncCounts,
    /// The first `detail` entries the sync skipped, with their DN and why.
    pub skipped: Vec<Skipped>,
}

/// Runs a sync on a task of its own: a client that hangs up must not cut a sync short
/// midway (it would complete on the next run, but the lease would be held until it ran out).
pub(crate) async fn run_detached(state: &AppState, actor: Actor, n: usize) -> ApiResult<SyncView> {
    let config = config(state).await?;
    let ledger = state.ledger.clone();
    let task = tokio::spawn(async move {
        directory_sync::sync_when(&ledger, &config, &actor, When::Now).await
    });
    let outcome = task
        .await
        .map_err(|e| ApiError::unavailable(format!("the sync task stopped: {e}")))??;
    match outcome {
        Some(SyncOutcome::Applied { read, plan, report }) => Ok(SyncView {
            changed: report.run_id.is_some(),
            run_id: report.run_id,
            users_read: read.users,
            groups_read: read.groups,
            counts: report.counts,
            skipped: first(&plan.skipped, n),
        }),
        _ => Err(ApiError::unavailable("the sync did not run")),
    }
}

/// `POST /api/v1/directory/sync`: read the directory and apply the plan now.
pub async fn sync(
    State(state): State<AppState>,
    p: Caller,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> ApiResult<Json<SyncView>> {
    let n = detail(&q)?;
    Ok(Json(run_detached(&state, p.actor, n).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    pub limit: Option<u64>,
}

/// The history: who runs a sync now, how the last ended, and the runs, newest first.
#[derive(Debug, Serialize)]
pub struct RunsView {
    #[serde(flatten)]
    pub state: DirectorySyncState,
    pub runs: Vec<DirectoryRunView>,
}

pub async fn runs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> ApiResult<Json<RunsView>> {
    let limit = page_limit(q.limit)?;
    Ok(Json(RunsView {
        state: state.ledger.directory_sync_state().await?,
        runs: state.ledger.directory_runs(super::db_limit(limit)).await?,
    }))
}
