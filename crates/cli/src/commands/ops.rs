//! Running the server and the operations on a ledger that do not open it: backup, restore,
//! and printing the OpenAPI document.

use std::path::Path;

use seatkeeper_store::Actor;

use crate::args::{Cli, Command, ServeArgs};
use crate::error::CliError;
use crate::output::Out;

/// Backups and restores work on the SQLite file, not through an opened ledger (a restore
/// must find the file unused; a backup needs no migration).
pub async fn backup_or_restore(
    cli: &Cli,
    file: &Path,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    let spec = cli.database();
    let Some(db) = seatkeeper_store::sqlite_file(&spec) else {
        return Err(CliError::Usage(
            "a PostgreSQL ledger is backed up with pg_dump and restored with pg_restore \
             (see \"Backups and restores\" in docs/OPERATIONS.md)"
                .into(),
        ));
    };
    if let Command::Restore { .. } = &cli.command {
        let r = seatkeeper_store::restore(db, file, who).await?;
        out.show(&r, |r| {
            println!(
                "restored {} from {}; ended the backup's {} session(s), {} releasing seat(s) freed",
                r.database,
                r.from,
                r.sessions_ended,
                r.released.len()
            );
        })?;
    } else {
        let r = seatkeeper_store::backup(db, file)?;
        out.show(&r, |r| {
            println!(
                "backed up {db} to {} ({} bytes, integrity {})",
                r.file, r.bytes, r.integrity
            );
        })?;
    }
    Ok(())
}

pub async fn serve(cli: &Cli, args: &ServeArgs) -> Result<(), CliError> {
    let config = seatkeeper_server::ServeConfig::resolve(
        seatkeeper_server::config::Overrides {
            database: cli.database.clone(),
            listen: args.listen,
            vendor_keys: Some(cli.vendor_keys.clone()),
            idle_timeout_secs: args.idle_timeout_secs,
            reap_interval_secs: args.reap_interval_secs,
            batch_max: args.batch_max,
            auth_cache_ttl_secs: args.auth_cache_ttl_secs,
            insecure_cookies: args.insecure_cookies.then_some(true),
            usage_sample_secs: args.usage_sample_secs,
            signin_max_failures: args.signin_max_failures,
            signin_failure_window_secs: args.signin_failure_window_secs,
            signin_lockout_secs: args.signin_lockout_secs,
            signin_per_address_per_minute: args.signin_per_address_per_minute,
            trusted_proxies: Some(args.trusted_proxy.clone()),
            directory: None,
            sso: None,
            scim: None,
            mail: None,
            notifications: None,
            metrics: None,
        },
        args.config.as_deref(),
        args.demo,
        args.clock_file.clone(),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    seatkeeper_server::serve(config).await.map_err(|e| match e {
        seatkeeper_server::ServeError::Store(s) => CliError::Store(s),
        other => CliError::Usage(other.to_string()),
    })
}

pub fn openapi() -> Result<(), CliError> {
    println!(
        "{}",
        serde_json::to_string_pretty(&seatkeeper_server::routes::openapi())
            .map_err(|e| CliError::Usage(e.to_string()))?
    );
    Ok(())
}
