//! The directory sync engine (I1, U2, D5): read the directory, plan against the ledger with
//! the core's planner, and apply. The command line calls it today; the admin API and the
//! scheduled sync in `serve` are the next callers (docs/DIRECTORY.md).

use seatkeeper_core::directory::{Snapshot, Source, SyncPlan, plan};
use seatkeeper_directory::{Config, DirectoryError};
use seatkeeper_store::{Actor, DirectorySyncReport, Ledger, StoreError};

/// What one sync did.
pub enum SyncOutcome {
    /// `preview`: the plan, nothing written.
    Preview { snapshot: Snapshot, plan: SyncPlan },
    /// The plan, written (`report.run_id` is `None` when there was nothing to change).
    Applied {
        snapshot: Snapshot,
        plan: SyncPlan,
        report: DirectorySyncReport,
    },
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
    // A run a killed process left `running` is closed first, whatever this one finds.
    let interrupted = if preview {
        0
    } else {
        ledger.close_interrupted_directory_runs().await?
    };
    let snapshot = match seatkeeper_directory::read_snapshot(config).await {
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
    let state = ledger.directory_state().await?;
    let mut plan = plan(&snapshot, &state, &config.mapping);
    if interrupted > 0 {
        // The stopped run's redistribution (D5, its last step) may not have reached everyone
        // it touched, and this plan no longer knows whom: every directory user is touched.
        plan.touched.extend(
            state
                .users
                .iter()
                .filter(|u| matches!(u.source, Source::Directory { .. }))
                .map(|u| u.login.clone()),
        );
    }
    if preview {
        return Ok(SyncOutcome::Preview { snapshot, plan });
    }
    let report = ledger.apply_directory_plan(actor, &plan).await?;
    Ok(SyncOutcome::Applied {
        snapshot,
        plan,
        report,
    })
}
