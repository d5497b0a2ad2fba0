//! `seatkeeper ldap ...`: the LDAP directory users come from (issue 15). The settings are
//! the `[directory]` section of `--config`'s file, or else the ones saved in the ledger (the
//! Directory page); `test` with a file opens no ledger.

use std::path::Path;

use seatkeeper_core::directory::SyncPlan;
use seatkeeper_directory::{Config, TlsMode};
use seatkeeper_server::directory_sync::{self, SettingsSource, SyncError, SyncOutcome};
use seatkeeper_store::{Actor, Ledger};

use crate::error::CliError;
use crate::output::Out;

/// The settings to use: `config`'s `[directory]` section, else the ledger's.
async fn settings(config: Option<&Path>, ledger: Option<&Ledger>) -> Result<Config, CliError> {
    let file = match config {
        Some(path) => Some(
            seatkeeper_server::config::directory_config(path)
                .map_err(|e| CliError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    let found = match ledger {
        Some(ledger) => directory_sync::settings(ledger, file.as_ref())
            .await
            .map_err(CliError::Directory)?,
        None => file.map(|c| (c, SettingsSource::File)),
    };
    found
        .map(|(c, _)| c)
        .ok_or(CliError::Directory(SyncError::NotConfigured))
}

/// `seatkeeper ldap test`: connect, bind, read (paged) and show counts and three examples.
pub async fn test(
    config: Option<&Path>,
    ledger: Option<&Ledger>,
    out: &Out,
) -> Result<(), CliError> {
    let settings = settings(config, ledger).await?;
    let report = seatkeeper_directory::test_connection(&settings)
        .await
        .map_err(|e| CliError::Directory(e.into()))?;
    out.show(&report, |r| {
        let transport = match r.tls {
            TlsMode::Plain => "plain ldap://, no TLS",
            TlsMode::StartTls => "StartTLS",
            TlsMode::Ldaps => "ldaps://",
        };
        println!("connected to {} ({transport})", r.address);
        if r.bind_dn.is_empty() {
            println!("bound anonymously");
        } else {
            println!("bound as {}", r.bind_dn);
        }
        println!("users:  {}", r.users);
        println!("groups: {}", r.groups);
        if !r.examples.is_empty() {
            println!("examples:");
        }
        for entry in &r.examples {
            println!("  {}", entry.dn);
            for (name, values) in &entry.attrs {
                if name == "objectclass" {
                    continue;
                }
                println!("    {name}: {}", values.join(", "));
            }
        }
    })
}

/// `seatkeeper ldap sync [--preview]`: the server's sync engine, then what it did.
pub async fn sync(
    config: Option<&Path>,
    preview: bool,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    let settings = settings(config, Some(ledger)).await?;
    let outcome = directory_sync::sync(ledger, &settings, who, preview)
        .await
        .map_err(|e| match e {
            SyncError::Store(e) => CliError::from(e),
            e => CliError::Directory(e),
        })?;
    let (read, plan, report) = match outcome {
        SyncOutcome::Preview { read, plan } => {
            return out.show(&plan, |p| print_plan(p, read.users, read.groups));
        }
        SyncOutcome::Applied { read, plan, report } => (read, plan, report),
    };
    out.show(&report, |r| {
        if r.run_id.is_none() {
            println!(
                "no change: {} users and {} groups read, nothing written",
                read.users, read.groups
            );
            print_skipped(&plan);
            return;
        }
        let c = &r.counts;
        println!(
            "created {} ({} blocked), updated {}, blocked {}, deleted {}, activated {} \
             ({} waiting for room), roles created {}, roles moved {}, members +{} -{}, \
             skipped {}",
            c.created,
            c.created_blocked,
            c.updated,
            c.blocked,
            c.deleted,
            c.activated,
            c.not_activated,
            c.roles_created,
            c.roles_reparented,
            c.members_added,
            c.members_removed,
            c.skipped
        );
        println!(
            "redistributed {} users: {} granted, {} recalled",
            c.redistributed, c.granted, c.recalled
        );
        print_skipped(&plan);
    })
}

fn print_plan(p: &SyncPlan, users: usize, groups: usize) {
    println!("preview: {users} users and {groups} groups read; nothing written");
    let blocked = p.create.iter().filter(|u| u.blocked.is_some()).count();
    println!("create:     {} ({blocked} blocked)", p.create.len());
    println!("update:     {}", p.update.len());
    println!("block:      {}", p.block.len());
    println!("delete:     {}", p.delete.len());
    println!("activate:   {}", p.activate.len());
    println!("new roles:  {}", p.roles_create.len());
    println!("roles moved: {}", p.roles_reparent.len());
    println!(
        "members:    +{} -{}",
        p.add_members.len(),
        p.remove_members.len()
    );
    for u in p.create.iter().take(20) {
        match &u.blocked {
            Some(reason) => println!("  + {} (blocked: {reason})", u.login),
            None => println!("  + {}", u.login),
        }
    }
    for b in p.block.iter().take(20) {
        println!("  x {} ({})", b.login, b.reason);
    }
    print_skipped(p);
}

fn print_skipped(p: &SyncPlan) {
    if p.skipped.is_empty() {
        return;
    }
    println!("skipped: {}", p.skipped.len());
    for s in p.skipped.iter().take(20) {
        println!("  {}: {}", s.dn, s.reason);
    }
}
