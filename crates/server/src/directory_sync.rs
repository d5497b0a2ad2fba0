//! The directory sync engine (I1, U2, D5): read the directory, plan against the ledger with
//! the core's planner, and apply — under the sync lease, so that one node at a time writes.
//! The command line, the admin API, the Directory page and `serve`'s schedule all call it.

use std::time::Instant;

use seatkeeper_core::directory::{Source, SyncPlan, plan};
use seatkeeper_directory::{Config, DirectoryError};
use seatkeeper_store::{
    Actor, DirectorySyncReport, Lease, Ledger, PasswordChange, StoreError, SyncEnd,
};
use time::{Duration, OffsetDateTime};

/// How long a lease lasts without renewal: a node killed midway blocks others this long.
pub const LEASE_TTL: Duration = Duration::minutes(5);
/// How often a running sync renews its lease.
const LEASE_RENEW: std::time::Duration = std::time::Duration::from_secs(60);

/// What one sync did. The snapshot itself is not kept: with 100,000 users it is the
/// largest thing a sync holds, and it is dropped as soon as the plan is made.
pub enum SyncOutcome {
    /// `preview`: the plan, nothing written.
    Preview { read: ReadCounts, plan: SyncPlan },
    /// The plan, written (`report.run_id` is `None` when there was nothing to change).
    Applied {
        read: ReadCounts,
        plan: SyncPlan,
        report: DirectorySyncReport,
    },
}

/// How many entries the sync read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub users: usize,
    pub groups: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The directory could not be read; nothing was changed (a failed run is recorded).
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another node (or process) is running a sync.
    #[error(
        "a directory sync is already running on {by} (its lease runs until {until}); try again when it ends"
    )]
    Busy { by: String, until: OffsetDateTime },
    /// Neither the config file nor the ledger has directory settings.
    #[error(
        "no directory is configured: save the settings on the Directory page (or PUT /api/v1/directory/settings), or add a [directory] section to the config file"
    )]
    NotConfigured,
    /// The settings saved in the ledger no longer read as settings.
    #[error("the saved directory settings are not valid: {0}")]
    BadSavedSettings(String),
}

impl SyncError {
    /// A stable machine-readable name for the cause.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Directory(e) => e.code(),
            SyncError::Store(_) => "store",
            SyncError::Busy { .. } => "directory_sync_running",
            SyncError::NotConfigured => "directory_not_configured",
            SyncError::BadSavedSettings(_) => "directory_config",
        }
    }
}

/// Where the settings in use come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSource {
    /// The `[directory]` section of `serve`'s config file: read-only on the UI and the API.
    File,
    /// Saved from the Directory page or `PUT /api/v1/directory/settings`.
    Ledger,
}

/// The settings a sync uses: the config file's `[directory]` section when there is one
/// (it wins, so that a deployment managed as code cannot be changed from the UI), else the
/// ones saved in the ledger, with their password.
pub async fn settings(
    ledger: &Ledger,
    file: Option<&Config>,
) -> Result<Option<(Config, SettingsSource)>, SyncError> {
    if let Some(config) = file {
        return Ok(Some((config.clone(), SettingsSource::File)));
    }
    let Some(saved) = ledger.directory_settings().await? else {
        return Ok(None);
    };
    let mut config: Config = serde_json::from_value(saved.config)
        .map_err(|e| SyncError::BadSavedSettings(e.to_string()))?;
    config.bind_password = saved.bind_password;
    Ok(Some((config, SettingsSource::Ledger)))
}

/// Checks `config` (everything that needs no server) and saves it in the ledger. Settings
/// saved from the UI or the API may not name an environment variable: that would let an
/// administrator send any of the server's environment to a directory of their choosing.
pub async fn save_settings(
    ledger: &Ledger,
    actor: &Actor,
    config: &Config,
    password: PasswordChange,
) -> Result<(), SyncError> {
    if config.bind_password_env.is_some() {
        return Err(DirectoryError::Config(
            "bind_password_env can only be set in the config file; give the password itself \
             (it is stored write-only)"
                .to_string(),
        )
        .into());
    }
    let mut probe = config.clone();
    probe.bind_password = None;
    probe.check()?;
    let json =
        serde_json::to_value(&probe).map_err(|e| SyncError::BadSavedSettings(e.to_string()))?;
    ledger
        .save_directory_settings(actor, &json, password)
        .await?;
    Ok(())
}

/// This process's name in the sync lease (`host:pid:uuid`): a lease left by a process of
/// this host that is gone is taken over at once.
pub fn node_id() -> &'static str {
    seatkeeper_store::this_process()
}

/// When to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Read and plan only; no lease, nothing written.
    Preview,
    /// Now.
    Now,
    /// Only if the last sync (of any node) ended at least this long ago: the schedule.
    IfDue(Duration),
}

/// Reads the directory `config` describes and brings the ledger in line with it, or with
/// `preview` only says how. A read that fails changes nothing and, unless previewing, is
/// recorded in the run history with its error; a preview writes nothing at all.
pub async fn sync(
    ledger: &Ledger,
    config: &Config,
    actor: &Actor,
    preview: bool,
) -> Result<SyncOutcome, SyncError> {
    let when = if preview { When::Preview } else { When::Now };
    sync_when(ledger, config, actor, when)
        .await?
        .ok_or(SyncError::NotConfigured)
}

/// [`sync`] with a schedule: `Ok(None)` when `when` is [`When::IfDue`] and it is not due.
pub async fn sync_when(
    ledger: &Ledger,
    config: &Config,
    actor: &Actor,
    when: When,
) -> Result<Option<SyncOutcome>, SyncError> {
    if when == When::Preview {
        let (read, plan) = read_and_plan(ledger, config, false).await??;
        return Ok(Some(SyncOutcome::Preview { read, plan }));
    }
    let holder = node_id();
    if let Lease::Held { by, until } = ledger.acquire_directory_lease(holder, LEASE_TTL).await? {
        return Err(SyncError::Busy { by, until });
    }
    if let When::IfDue(every) = when {
        let state = ledger.directory_sync_state().await?;
        let due = state
            .last_finished_at
            .is_none_or(|last| last + every <= ledger.now());
        if !due {
            ledger.release_directory_lease(holder, None).await?;
            return Ok(None);
        }
    }
    // Renew the lease while the sync runs, so that a long first sync keeps it; a killed
    // process stops renewing and another node may take over once it runs out.
    let renewer = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE_RENEW);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = ledger.acquire_directory_lease(holder, LEASE_TTL).await {
                    tracing::warn!(error = %e, "could not renew the directory sync lease");
                }
            }
        })
    };
    let result = write(ledger, config, actor).await;
    renewer.abort();
    let end = match &result {
        Ok(SyncOutcome::Applied { report, .. }) if report.run_id.is_some() => SyncEnd::Changed,
        Ok(_) => SyncEnd::NoChange,
        Err(_) => SyncEnd::Failed,
    };
    if let Err(e) = ledger.release_directory_lease(holder, Some(end)).await {
        tracing::warn!(error = %e, "could not release the directory sync lease");
    }
    result.map(Some)
}

/// The sync proper, under the lease.
async fn write(ledger: &Ledger, config: &Config, actor: &Actor) -> Result<SyncOutcome, SyncError> {
    let started = Instant::now();
    // A run a killed process left `running` is closed first, whatever this one finds: under
    // the lease no other sync can be writing it.
    let interrupted = ledger.close_interrupted_directory_runs(true).await?;
    let (read, plan) = match read_and_plan(ledger, config, interrupted > 0).await? {
        Ok(planned) => planned,
        Err(e) => {
            ledger
                .record_failed_directory_run(actor, e.code(), &e.to_string())
                .await?;
            return Err(e.into());
        }
    };
    let at = Instant::now();
    let report = ledger.apply_directory_plan(actor, &plan).await?;
    phase("apply", at, plan.touched.len());
    phase("total", started, read.users);
    Ok(SyncOutcome::Applied { read, plan, report })
}

/// Reads the directory and, at the same time, the ledger's state (it does not depend on
/// what the directory holds; the writes re-check under the lock), and plans. Both are
/// dropped as soon as the plan is made: with 100,000 users they are the largest things a
/// sync holds. `touch_every_directory_user` after an interrupted run: its redistribution
/// (D5, the last step) may not have reached everyone it touched, and the new plan no longer
/// knows whom. The inner error is the directory's (the caller records it).
async fn read_and_plan(
    ledger: &Ledger,
    config: &Config,
    touch_every_directory_user: bool,
) -> Result<Result<(ReadCounts, SyncPlan), DirectoryError>, StoreError> {
    let read = async {
        let at = Instant::now();
        let read = seatkeeper_directory::read_snapshot(config).await;
        if let Ok(s) = &read {
            phase("read", at, s.users.len() + s.groups.len());
        }
        read
    };
    let state = async {
        let at = Instant::now();
        let state = ledger.directory_state().await;
        if let Ok(s) = &state {
            phase("ledger_state", at, s.users.len());
        }
        state
    };
    let (snapshot, state) = tokio::join!(read, state);
    let snapshot = match snapshot {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let state = state?;
    let read = ReadCounts {
        users: snapshot.users.len(),
        groups: snapshot.groups.len(),
    };
    let at = Instant::now();
    // Planning 100,000 users is most of a second of pure computation: on a blocking thread,
    // so that the runtime's workers go on answering logins meanwhile.
    let mapping = config.mapping.clone();
    let plan = tokio::task::spawn_blocking(move || {
        let mut plan = plan(&snapshot, &state, &mapping);
        if touch_every_directory_user {
            plan.touched.extend(
                state
                    .users
                    .iter()
                    .filter(|u| matches!(u.source, Source::Directory { .. }))
                    .map(|u| u.login.clone()),
            );
        }
        plan
    })
    .await
    .map_err(|e| StoreError::Unavailable(format!("the sync's planning stopped: {e}")))?;
    phase("plan", at, plan.touched.len());
    Ok(Ok((read, plan)))
}

/// Logs how long a phase took, how many items it handled, and the process's peak memory
/// so far (Linux; 0 elsewhere).
fn phase(name: &str, since: Instant, items: usize) {
    tracing::info!(
        phase = name,
        ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
        items,
        peak_mib = peak_rss_kib() / 1024,
        "directory sync phase done"
    );
}

/// `VmHWM` of /proc/self/status: the peak resident set size, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
