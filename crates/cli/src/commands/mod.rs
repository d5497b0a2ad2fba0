//! One module per command group; `command` sends each command that works on an opened ledger
//! to its group. A new command: its arguments in `crate::args`, its body in the group's
//! module here, and one line in `command` (or in `crate::run` if it opens no ledger).

pub mod access;
pub mod directory;
pub mod distribution;
pub mod licenses;
pub mod notify;
pub mod ops;
pub mod reports;
pub mod tour;
pub mod users;
pub mod vendor;
pub mod webhooks;

use seatkeeper_store::{Actor, Ledger};

use crate::args::{Cli, Command, LdapCmd, SettingsCmd};
use crate::error::CliError;
use crate::output::Out;

pub async fn command(cli: &Cli, ledger: &Ledger, who: &Actor, out: &Out) -> Result<(), CliError> {
    match &cli.command {
        Command::Vendor(_)
        | Command::Tour { .. }
        | Command::Serve(_)
        | Command::Openapi
        | Command::Ldap(LdapCmd::Test { config: Some(_) })
        | Command::Backup { .. }
        | Command::Restore { .. } => Ok(()),
        Command::Ldap(LdapCmd::Test { config: None }) => {
            directory::test(None, Some(ledger), out).await
        }
        Command::Ldap(LdapCmd::Sync { config, preview }) => {
            directory::sync(config.as_deref(), *preview, ledger, who, out).await
        }
        Command::Admin(cmd) => access::admin_cmd(cmd, ledger, who, out).await,
        Command::Token(cmd) => access::token_cmd(cmd, ledger, who, out).await,
        Command::Webhook(cmd) => webhooks::webhook_cmd(cmd, ledger, who, out).await,
        Command::Instance => licenses::instance(ledger, out).await,
        Command::License(cmd) => licenses::license_cmd(cmd, cli, ledger, who, out).await,
        Command::Products => licenses::products(ledger, out).await,
        Command::Folder(cmd) => users::folder_cmd(cmd, ledger, who, out).await,
        Command::User(cmd) => users::user_cmd(cmd, ledger, who, out).await,
        Command::Grant(p) => users::grant(p, ledger, who, out).await,
        Command::Recall(p) => users::recall(p, ledger, who, out).await,
        Command::Summary {
            expiring_within_days,
        } => reports::summary(*expiring_within_days, ledger, out).await,
        Command::Audit {
            action,
            target,
            limit,
        } => reports::audit(action.as_deref(), target.as_deref(), *limit, ledger, out).await,
        Command::Refresh => licenses::refresh(ledger, out).await,
        Command::Role(cmd) => distribution::role_cmd(cmd, ledger, who, out).await,
        Command::Redistribute(args) => distribution::redistribute(args, ledger, who, out).await,
        Command::Explain { login, product } => {
            distribution::explain(login, product, ledger, out).await
        }
        Command::Needs {
            user,
            limit,
            offset,
        } => distribution::needs(user.as_deref(), *limit, *offset, ledger, out).await,
        Command::Messages {
            unread,
            mark_read,
            limit,
        } => distribution::messages(*unread, *mark_read, *limit, ledger, out).await,
        Command::Notify(cmd) => notify::notify_cmd(cmd, ledger, who, out).await,
        Command::Settings(SettingsCmd::Distribution {
            redistribute_on_role_change,
            role_based_distribution,
        }) => {
            distribution::settings(
                *redistribute_on_role_change,
                *role_based_distribution,
                ledger,
                who,
                out,
            )
            .await
        }
    }
}
