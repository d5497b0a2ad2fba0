//! The directory sync engine (I1, U2, D5): read the directory, plan against the ledger with
//! the core's planner, and apply. The command line calls it today; the admin API and the
//! scheduled sync in `serve` are the next callers (docs/DIRECTORY.md).

use std::time::Instant;

use seatkeeper_core::directory::{SyncPlan, plan};
use seatkeeper_directory::{Config, DirectoryError};
use seatkeeper_store::{Actor, DirectorySyncReport, Ledger, StoreError};

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
    // Each phase's time in the log (info): where a slow sync spends it (docs/PERFORMANCE.md).
    let started = Instant::now();
    // The ledger's state does not depend on what the directory holds: it loads while the
    // directory answers (the planner compares the two; the writes re-check under the lock).
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
        Err(e) => {
            if !preview {
                ledger
                    .record_directory_run(false, &serde_json::json!({}), Some(&e.to_string()))
                    .await?;
            }
            return Err(e.into());
        }
    };
    let state = state?;
    let read = ReadCounts {
        users: snapshot.users.len(),
        groups: snapshot.groups.len(),
    };
    let at = Instant::now();
    let plan = plan(&snapshot, &state, &config.mapping);
    phase("plan", at, plan.touched.len());
    drop(snapshot);
    drop(state);
    if preview {
        return Ok(SyncOutcome::Preview { read, plan });
    }
    let at = Instant::now();
    let report = ledger.apply_directory_plan(actor, &plan).await?;
    phase("apply", at, plan.touched.len());
    phase("total", started, read.users);
    Ok(SyncOutcome::Applied { read, plan, report })
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
