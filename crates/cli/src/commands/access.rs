//! Administrator passwords and sign-in locks (`admin`), and API tokens (`token`).

use seatkeeper_store::{Actor, Ledger};

use crate::args::{AdminCmd, TokenCmd};
use crate::error::CliError;
use crate::output::{Out, date, table};

pub async fn admin_cmd(
    cmd: &AdminCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        AdminCmd::Password {
            login,
            generate,
            password_stdin,
        } => {
            let password = if *generate {
                seatkeeper_server::auth::generate_password()
                    .map_err(|e| CliError::Usage(e.to_string()))?
            } else if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| CliError::Io("standard input".into(), e))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                return Err(CliError::Usage(
                    "give --generate (prints a new password once) or --password-stdin".into(),
                ));
            };
            let hash = seatkeeper_server::auth::hash_password(&password)
                .map_err(|e| CliError::Usage(e.message))?;
            ledger.set_password_hash(who, login, &hash).await?;
            if out.json {
                let v = if *generate {
                    serde_json::json!({"login": login, "password_set": true, "password": password})
                } else {
                    serde_json::json!({"login": login, "password_set": true})
                };
                println!("{v}");
            } else if *generate {
                println!(
                    "password for {login}: {password}\n(shown once; only its argon2 hash is stored)"
                );
            } else {
                println!("password for {login} set");
            }
            Ok(())
        }
        AdminCmd::Unlock { login } => {
            let had = ledger.unlock_signin(who, login).await?;
            out.show(
                &serde_json::json!({"login": login, "had_failures": had}),
                |_| {
                    if had {
                        println!("sign-in for {login} unlocked; its failures are forgotten");
                    } else {
                        println!("{login} had no failed sign-ins on record");
                    }
                },
            )
        }
    }
}

pub async fn token_cmd(
    cmd: &TokenCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    use seatkeeper_store::TokenScope;
    match cmd {
        TokenCmd::Create { name, scope, owner } => {
            let scope: TokenScope = scope.parse()?;
            if scope == TokenScope::Signin {
                return Err(CliError::Usage(
                    "scope must be integration, admin or provisioning".into(),
                ));
            }
            let secret = seatkeeper_server::auth::new_secret(scope)
                .map_err(|e| CliError::Usage(e.message))?;
            let view = ledger
                .create_token(
                    who,
                    owner,
                    name,
                    scope,
                    &seatkeeper_server::auth::secret_hash(&secret),
                    None,
                )
                .await?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({"id": view.id, "name": view.name, "scope": scope, "owner": view.owner, "token": secret})
                );
            } else {
                println!(
                    "token {} ({}, acts as {}): {secret}\n(shown once; only its hash is stored)",
                    view.id,
                    scope.as_str(),
                    view.owner
                );
            }
            Ok(())
        }
        TokenCmd::List => {
            let tokens = ledger.tokens().await?;
            out.show(&tokens, |tokens| {
                println!(
                    "{}",
                    table(
                        &["id", "name", "scope", "owner", "created", "expires"],
                        tokens.iter().map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.scope.as_str().to_string(),
                                t.owner.clone(),
                                date(t.created_at),
                                t.expires_at.map_or_else(|| "never".to_string(), date),
                            ]
                        }),
                    )
                );
            })
        }
        TokenCmd::Revoke { id } => {
            ledger.delete_token(who, *id).await?;
            out.show(&serde_json::json!({"revoked": id}), |_| {
                println!("token {id} revoked");
            })
        }
    }
}
