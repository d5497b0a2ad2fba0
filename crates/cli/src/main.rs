//! `seatkeeper`: the administrator's and the vendor's command line. A thin edge: every
//! command parses its arguments, calls the ledger (or the core, for vendor commands), and
//! prints the answer as a table or as JSON.

// A failing command ends with its error and exit code, not a panic's backtrace: no `expect`,
// `panic!` or unchecked indexing outside tests (`unwrap` is denied workspace-wide).
#![deny(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod args;
mod commands;
mod error;
mod files;
mod keys;
mod output;

use std::process::ExitCode;

use clap::Parser;
use seatkeeper_store::{Actor, Ledger};

use args::{Cli, Command, LdapCmd};
use commands::{directory, ops, tour, vendor};
use error::CliError;
use output::Out;

/// `seatkeeper user list | head`: when the reader goes away, end as other Unix tools do (by
/// SIGPIPE, which shells do not report) instead of panicking in `println!`. Rust ignores
/// SIGPIPE by default; the default action is restored for one-shot commands only: a server
/// must not die because some peer closed a pipe.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of `main`, before any other thread exists; `signal` with
    // SIG_DFL installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let default_log = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEATKEEPER_LOG")
                .unwrap_or_else(|_| default_log.into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into a file or a collector.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log that cannot be written (stderr a file on a full disk) must not stop the
        // server: tracing-subscriber would otherwise report it with `eprintln!`, which panics
        // when stderr fails, and the panic drops the request being answered.
        .log_internal_errors(false);
    match cli.log_format {
        args::LogFormat::Text => logs.init(),
        args::LogFormat::Json => logs.json().init(),
    }
    let json = cli.json;
    // The server uses every core; a one-shot command needs one thread.
    let runtime = if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}})
                );
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit())
        }
    }
}

fn actor(cli: &Cli) -> Actor {
    let name = cli
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "admin".to_string());
    Actor::new(name, "cli")
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Out { json: cli.json };
    let who = actor(&cli);
    // Vendor commands need no ledger.
    if let Command::Vendor(cmd) = &cli.command {
        return vendor::vendor(cmd, &cli, &out);
    }
    if let Command::Tour { reset } = &cli.command {
        return tour::run(&cli.database(), *reset, &out).await;
    }
    if let Command::Serve(args) = &cli.command {
        return ops::serve(&cli, args).await;
    }
    if let Command::Backup { file } | Command::Restore { file } = &cli.command {
        return ops::backup_or_restore(&cli, file, &who, &out).await;
    }
    if let Command::Openapi = &cli.command {
        return ops::openapi();
    }
    // Testing the directory with a config file needs no ledger.
    if let Command::Ldap(LdapCmd::Test {
        config: Some(config),
    }) = &cli.command
    {
        return directory::test(Some(config), None, &out).await;
    }
    let ledger = Ledger::open(&cli.database()).await?;
    let result = commands::command(&cli, &ledger, &who, &out).await;
    ledger.close().await;
    result
}
