//! Connect, bind, and read with paged searches.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as Slot;
use std::io;
use std::path::Path;
use std::sync::Arc;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchEntry};
use seatkeeper_core::directory::{Entry, Snapshot};

use crate::{Config, DirectoryError, TlsMode};

/// What `seatkeeper ldap test` shows: the server answered, the bind worked, and this is what a
/// sync would read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestReport {
    pub address: String,
    pub tls: TlsMode,
    /// Empty for an anonymous bind.
    pub bind_dn: String,
    pub users: usize,
    pub groups: usize,
    /// The first (up to) three user entries, as the server returned them.
    pub examples: Vec<Entry>,
}

/// Reads every user and every group the config selects (each search paged), with the
/// attributes the mapping reads (`Mapping::user_attributes`, `group_attributes`) only.
pub async fn read_snapshot(config: &Config) -> Result<Snapshot, DirectoryError> {
    read(config, Attributes::Mapped).await
}

/// Which attributes a read asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attributes {
    /// Those the sync maps: what a sync needs, and no more to carry (an Active Directory
    /// entry has dozens, photos and certificates among them).
    Mapped,
    /// `*` and `memberOf`: everything, for `ldap test` to show.
    All,
}

async fn read(config: &Config, attributes: Attributes) -> Result<Snapshot, DirectoryError> {
    let mut session = Session::open(config).await?;
    let result = session.snapshot(attributes).await;
    session.close().await;
    result
}

/// Connects, binds, and reads users and groups (paged, as a sync would), for the counts and
/// three examples.
pub async fn test_connection(config: &Config) -> Result<TestReport, DirectoryError> {
    let tls = config.check()?;
    let snapshot = read(config, Attributes::All).await?;
    Ok(TestReport {
        address: config.address(),
        tls,
        bind_dn: config.bind_dn.clone(),
        users: snapshot.users.len(),
        groups: snapshot.groups.len(),
        examples: snapshot.users.into_iter().take(3).collect(),
    })
}

struct Session<'c> {
    config: &'c Config,
    address: String,
    ldap: Ldap,
}

impl<'c> Session<'c> {
    async fn open(config: &'c Config) -> Result<Session<'c>, DirectoryError> {
        let mode = config.check()?;
        // RFC 4513 §5.1.2: a DN with an empty password is an unauthenticated bind, which some
        // servers take as anonymous — a sync would then read as nobody and might see no one.
        if !config.bind_dn.is_empty() && config.password()?.is_empty() {
            return Err(DirectoryError::Config(format!(
                "bind_dn {} has no password (an empty password is an unauthenticated bind): \
                 set the password, or clear bind_dn to bind anonymously",
                config.bind_dn
            )));
        }
        let address = config.address();
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(config.connect_timeout())
            .set_starttls(mode == TlsMode::StartTls);
        if let Some(ca) = &config.ca_file {
            settings = settings.set_config(Arc::new(tls_config(ca)?));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &config.url)
            .await
            .map_err(|e| connect_error(config, mode, &address, e))?;
        // The connection's own task: it ends when the `Ldap` handle is dropped or unbinds.
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        if !config.bind_dn.is_empty() {
            let password = config.password()?;
            let bound = ldap
                .with_timeout(config.operation_timeout())
                .simple_bind(&config.bind_dn, &password)
                .await
                .and_then(LdapResult::success);
            if let Err(e) = bound {
                let mut session = Session {
                    config,
                    address,
                    ldap,
                };
                let err = session.error("bind", e, None);
                session.close().await;
                return Err(err);
            }
        }
        tracing::debug!(address = %address, bind_dn = %config.bind_dn, "LDAP bound");
        Ok(Session {
            config,
            address,
            ldap,
        })
    }

    async fn snapshot(&mut self, attributes: Attributes) -> Result<Snapshot, DirectoryError> {
        let config = self.config;
        let (user_attrs, group_attrs) = match attributes {
            Attributes::Mapped => (
                config.mapping.user_attributes(),
                config.mapping.group_attributes(),
            ),
            // `memberOf`: operational, kept by the memberof overlay (OpenLDAP) or computed
            // (Active Directory), so not part of `*`.
            Attributes::All => {
                let all = vec!["*".to_string(), "memberOf".to_string()];
                (all.clone(), all)
            }
        };
        let users = self
            .search(&config.user_base, &config.user_filter, &user_attrs)
            .await?;
        let groups = self
            .search(config.group_base(), &config.group_filter, &group_attrs)
            .await?;
        Ok(Snapshot { users, groups })
    }

    /// One subtree search under `base`, paged with the RFC 2696 control until the server's
    /// cookie is empty.
    async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attrs: &[String],
    ) -> Result<Vec<Entry>, DirectoryError> {
        let page_size = i32::try_from(self.config.page_size).unwrap_or(i32::MAX);
        let adapters: Vec<Box<dyn Adapter<'_, &str, Vec<&str>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page_size)),
        ];
        // No name at all would mean every user attribute: say so instead.
        let attrs: Vec<&str> = if attrs.is_empty() {
            vec!["*"]
        } else {
            attrs.iter().map(String::as_str).collect()
        };
        let mut entries = Vec::new();
        let started = self
            .ldap
            .with_timeout(self.config.operation_timeout())
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await;
        let mut stream = match started {
            Ok(stream) => stream,
            Err(e) => return Err(self.search_error(e, base, filter, 0)),
        };
        loop {
            match stream.next().await {
                Ok(Some(found)) => entries.push(to_entry(SearchEntry::construct(found))),
                Ok(None) => break,
                Err(e) => {
                    let _ = stream.finish().await;
                    return Err(self.search_error(e, base, filter, entries.len()));
                }
            }
        }
        let done = stream.finish().await.success();
        match done {
            Ok(_) => Ok(entries),
            Err(e) => Err(self.search_error(e, base, filter, entries.len())),
        }
    }

    fn search_error(&self, e: LdapError, base: &str, filter: &str, read: usize) -> DirectoryError {
        self.error("search", e, Some((base, filter, read)))
    }

    /// Names the cause of a failed bind or search.
    fn error(
        &self,
        operation: &str,
        e: LdapError,
        search: Option<(&str, &str, usize)>,
    ) -> DirectoryError {
        let what = match search {
            Some((base, filter, _)) => format!("{operation} under {base} for {filter}"),
            None => format!("{operation} as {}", self.config.bind_dn),
        };
        match e {
            LdapError::LdapResult { result } => match (result.rc, search) {
                (49, _) => DirectoryError::BadCredentials {
                    bind_dn: self.config.bind_dn.clone(),
                },
                (32, Some((base, _, _))) => DirectoryError::NoSuchBase {
                    base: base.to_string(),
                },
                (87, Some((_, filter, _))) => DirectoryError::BadFilter {
                    filter: filter.to_string(),
                    reason: non_empty(&result.text, "the server rejected it (result 87)"),
                },
                (4, Some((base, _, read))) => DirectoryError::SizeLimit {
                    base: base.to_string(),
                    read,
                },
                (3, _) => DirectoryError::Timeout {
                    during: format!("{what} (the server's time limit)"),
                    after: self.config.operation_timeout(),
                },
                (code, _) => DirectoryError::Ldap {
                    operation: what,
                    code,
                    text: non_empty(&result.text, ldap_result_name(code)),
                },
            },
            LdapError::FilterParsing => DirectoryError::BadFilter {
                filter: search.map(|(_, f, _)| f.to_string()).unwrap_or_default(),
                reason: "not a valid LDAP filter (RFC 4515)".to_string(),
            },
            LdapError::Timeout { .. } => DirectoryError::Timeout {
                during: what,
                after: self.config.operation_timeout(),
            },
            other => DirectoryError::Connection {
                address: self.address.clone(),
                operation: what,
                reason: other.to_string(),
            },
        }
    }

    async fn close(&mut self) {
        let _ = self.ldap.unbind().await;
    }
}

/// Attributes dropped from every entry read (lower-case).
const SECRET_ATTRIBUTES: [&str; 3] = ["userpassword", "unicodepwd", "sambantpassword"];

fn to_entry(found: SearchEntry) -> Entry {
    let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Binary values (photos, certificates) are left out: nothing the sync maps is binary.
    for (name, values) in found.attrs {
        let name = name.to_ascii_lowercase();
        // Password hashes a permissive ACL lets through: never carried, shown or logged.
        if SECRET_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        match attrs.entry(name) {
            // The values as they came, without the spare room the decoder left: a sync
            // holds 100,000 entries.
            Slot::Vacant(slot) => {
                let mut values = values;
                values.shrink_to_fit();
                slot.insert(values);
            }
            Slot::Occupied(mut slot) => slot.get_mut().extend(values),
        }
    }
    Entry {
        dn: found.dn,
        attrs,
    }
}

fn non_empty(text: &str, fallback: &str) -> String {
    if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text.trim().to_string()
    }
}

fn ldap_result_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        8 => "strongerAuthRequired",
        13 => "confidentialityRequired",
        48 => "inappropriateAuthentication",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "no diagnostic message",
    }
}

/// Sorts a failed connect into unreachable (no TCP connection), TLS (TCP came up, TLS did
/// not) and timeout.
fn connect_error(config: &Config, mode: TlsMode, address: &str, e: LdapError) -> DirectoryError {
    let address = address.to_string();
    match e {
        LdapError::Timeout { .. } => DirectoryError::Timeout {
            during: format!("connecting to {address}"),
            after: config.connect_timeout(),
        },
        LdapError::Io { source } => {
            if mode.uses_tls() && tls_broke(&source) {
                DirectoryError::Tls {
                    address,
                    reason: tls_reason(&source, mode),
                }
            } else {
                DirectoryError::Unreachable {
                    address,
                    reason: source.to_string(),
                }
            }
        }
        LdapError::Rustls { source } => DirectoryError::Tls {
            address,
            reason: source.to_string(),
        },
        LdapError::DNSName { source } => DirectoryError::Tls {
            address,
            reason: format!("the host is not a valid TLS server name: {source}"),
        },
        // StartTLS is the only operation during connect: a result is the server refusing it.
        LdapError::LdapResult { result } => DirectoryError::Tls {
            address,
            reason: format!(
                "the server refused StartTLS: result {} ({})",
                result.rc,
                non_empty(&result.text, ldap_result_name(result.rc))
            ),
        },
        LdapError::UrlParsing { source } => {
            DirectoryError::Config(format!("url {:?}: {source}", config.url))
        }
        LdapError::UnknownScheme(scheme) => {
            DirectoryError::Config(format!("url {:?}: unknown scheme {scheme}", config.url))
        }
        other => DirectoryError::Unreachable {
            address,
            reason: other.to_string(),
        },
    }
}

/// An I/O error after the TCP connection came up: the handshake's failure or the server
/// hanging up on a ClientHello it did not understand.
fn tls_broke(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

fn tls_reason(e: &io::Error, mode: TlsMode) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
            if mode == TlsMode::Ldaps =>
        {
            format!(
                "the server closed the connection during the TLS handshake ({e}); is this port plain ldap:// rather than ldaps://?"
            )
        }
        _ => e.to_string(),
    }
}

fn tls_config(path: &Path) -> Result<rustls::ClientConfig, DirectoryError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |reason: String| DirectoryError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate in it".to_string()));
    }
    // The process's provider, as ldap3 does for its own config: ring, the only one built.
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}
