//! `seatkeeper ldap ...`: the LDAP directory users come from (issue 15). Opens no ledger.

use seatkeeper_directory::TlsMode;

use crate::args::LdapCmd;
use crate::error::CliError;
use crate::output::Out;

pub async fn ldap_cmd(cmd: &LdapCmd, out: &Out) -> Result<(), CliError> {
    match cmd {
        LdapCmd::Test { config } => {
            let settings = seatkeeper_server::config::directory_config(config)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let report = seatkeeper_directory::test_connection(&settings)
                .await
                .map_err(CliError::Directory)?;
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
    }
}
