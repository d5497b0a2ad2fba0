//! The LDAP client against a real OpenLDAP slapd (issue 15, I1): paging past the server's
//! size limit, and each fault named by its cause.

#[path = "support/slapd.rs"]
mod slapd;

use seatkeeper_directory::{Config, DirectoryError, TlsMode, read_snapshot, test_connection};
use slapd::{
    CAPPED_DN, GROUPS, PEOPLE, READER_DN, READER_PW, SUFFIX, Slapd, people_ldif, user_login,
};

const USERS: usize = 650;

fn reader_config(server: &Slapd) -> Config {
    let mut config = Config::new(&server.url, PEOPLE);
    config.group_base = Some(GROUPS.to_string());
    config.bind_dn = READER_DN.to_string();
    config.bind_password = Some(READER_PW.to_string());
    config.connect_timeout_secs = 5;
    config.operation_timeout_secs = 20;
    config
}

fn small() -> Option<(Slapd, Config)> {
    let server = Slapd::start()?;
    server.add_ldif(&people_ldif(5));
    let config = reader_config(&server);
    Some((server, config))
}

#[tokio::test]
async fn i1_reads_more_users_than_the_size_limit_with_paging_and_a_non_admin_bind() {
    let Some(server) = Slapd::start() else { return };
    server.add_ldif(&people_ldif(USERS));
    let config = reader_config(&server);

    // Without paging the server stops the reader at 500 entries: paging is needed.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&server.url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(READER_DN, READER_PW)
        .await
        .unwrap()
        .success()
        .unwrap();
    let unpaged = ldap
        .search(
            PEOPLE,
            ldap3::Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(
        unpaged.1.rc, 4,
        "sizeLimitExceeded expected: {:?}",
        unpaged.1
    );
    assert_eq!(unpaged.0.len(), 500);
    ldap.unbind().await.unwrap();

    let started = std::time::Instant::now();
    let snapshot = read_snapshot(&config).await.unwrap();
    eprintln!(
        "read {} users, {} groups in {:?}",
        snapshot.users.len(),
        snapshot.groups.len(),
        started.elapsed()
    );
    assert_eq!(snapshot.users.len(), USERS);
    let mut logins: Vec<&str> = snapshot
        .users
        .iter()
        .filter_map(|u| u.first("uid"))
        .collect();
    logins.sort_unstable();
    logins.dedup();
    assert_eq!(logins.len(), USERS, "every user exactly once");
    // The OU tree is in the DNs; attribute names are lower-cased.
    let deep = snapshot
        .users
        .iter()
        .find(|u| u.first("uid") == Some(&user_login(3)))
        .unwrap();
    assert_eq!(deep.dn, format!("uid=user0003,ou=platform,ou=eng,{PEOPLE}"));
    assert_eq!(deep.first("mail"), Some("user0003@example.com"));
    // A sync reads only what the mapping uses (Mapping::user_attributes): not givenName,
    // not memberOf (the overlay) — group membership comes from the groups' member values.
    assert!(!deep.attrs.contains_key("givenname"), "{deep:?}");
    assert!(deep.all("memberOf").is_empty(), "{deep:?}");

    // Groups, with the nesting as members.
    assert_eq!(snapshot.groups.len(), 3);
    let staff = snapshot
        .groups
        .iter()
        .find(|g| g.first("cn") == Some("staff"))
        .unwrap();
    assert!(
        staff
            .all("member")
            .contains(&format!("cn=engineers,{GROUPS}"))
    );
    let engineers = snapshot
        .groups
        .iter()
        .find(|g| g.first("cn") == Some("engineers"))
        .unwrap();
    let in_eng = (0..USERS).filter(|i| i % 4 >= 2).count();
    assert_eq!(engineers.all("member").len(), in_eng);

    // A page size smaller than the data still reads everything.
    let mut small_pages = config.clone();
    small_pages.page_size = 97;
    assert_eq!(
        read_snapshot(&small_pages).await.unwrap().users.len(),
        USERS
    );

    // An account whose paged searches the server caps too: the size-limit error, not a
    // silently short read (which a sync would take for 150 removed users).
    let mut capped = config.clone();
    capped.bind_dn = CAPPED_DN.to_string();
    let err = read_snapshot(&capped).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::SizeLimit { read: 500, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("size limit after 500 entries"),
        "{err}"
    );
}

#[tokio::test]
async fn i1_test_connection_counts_users_and_groups_and_shows_three_examples() {
    // (The password from an environment variable: the CLI's e2e test, in a child process;
    // setting a variable here would race the other tests' threads.)
    let Some((_server, config)) = small() else {
        return;
    };
    let report = test_connection(&config).await.unwrap();
    assert_eq!((report.users, report.groups), (5, 3));
    assert_eq!(report.examples.len(), 3);
    assert_eq!(report.tls, TlsMode::Plain);
    assert_eq!(report.bind_dn, READER_DN);
}

#[tokio::test]
async fn i1_wrong_password_is_bad_credentials_naming_the_bind_dn() {
    let Some((_server, mut config)) = small() else {
        return;
    };
    config.bind_password = Some("not-the-password".to_string());
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::BadCredentials { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(READER_DN) && message.contains("invalid credentials"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"));
}

#[tokio::test]
async fn i1_bad_filter_is_named() {
    let Some((_server, mut config)) = small() else {
        return;
    };
    config.user_filter = "(&(objectClass=inetOrgPerson)(uid=".to_string();
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::BadFilter { .. }), "{err:?}");
    assert!(err.to_string().contains("(uid="), "{err}");
}

#[tokio::test]
async fn i1_missing_base_dn_is_named() {
    let Some((_server, mut config)) = small() else {
        return;
    };
    config.user_base = format!("ou=nobody,{SUFFIX}");
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::NoSuchBase { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("ou=nobody,dc=example,dc=com does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn i1_unreachable_server_names_the_address() {
    let Some((server, mut config)) = small() else {
        return;
    };
    // A port nobody listens on: bind one, and let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.url = format!("ldap://127.0.0.1:{port}");
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{port} is unreachable")),
        "{err}"
    );
    drop(server);
}

#[tokio::test]
async fn i1_tls_failures_are_tls_errors() {
    let Some((server, mut config)) = small() else {
        return;
    };
    // This slapd has no certificate: it refuses StartTLS.
    config.starttls = true;
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("StartTLS"), "{err}");
    // ldaps:// against its plain port: the handshake fails.
    config.starttls = false;
    config.url = format!("ldaps://127.0.0.1:{}", server.port);
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("TLS with LDAP server 127.0.0.1:{}", server.port)),
        "{err}"
    );
}

#[tokio::test]
async fn i1_starttls_and_ldaps_with_the_configured_ca() {
    let Some(server) = Slapd::start_with_tls() else {
        return;
    };
    server.add_ldif(&people_ldif(5));
    let mut config = reader_config(&server);
    config.ca_file = server.ca_file.clone();
    config.starttls = true;
    let report = test_connection(&config).await.unwrap();
    assert_eq!(
        (report.tls, report.users, report.groups),
        (TlsMode::StartTls, 5, 3)
    );

    config.starttls = false;
    config.url = server.ldaps_url.clone().unwrap();
    let report = test_connection(&config).await.unwrap();
    assert_eq!((report.tls, report.users), (TlsMode::Ldaps, 5));

    // Without the CA (the system's roots do not know it): the certificate is refused.
    config.ca_file = None;
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // A CA file that is not one.
    let bogus = server.dir().join("not-a-ca.pem");
    std::fs::write(&bogus, "hello").unwrap();
    config.ca_file = Some(bogus);
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::CaFile { .. }), "{err:?}");
}

/// A server that accepts the connection and never answers: the bind times out (plain), the
/// handshake times out (ldaps://), each said so with how long it waited.
#[tokio::test]
async fn i1_a_silent_server_is_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Holds the accepted sockets open, silent, until the test ends.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = Config::new(format!("ldap://127.0.0.1:{port}"), PEOPLE);
    config.bind_dn = READER_DN.to_string();
    config.bind_password = Some(READER_PW.to_string());
    config.connect_timeout_secs = 1;
    config.operation_timeout_secs = 1;
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("timeout after 1s while bind as {READER_DN}")),
        "{err}"
    );

    config.url = format!("ldaps://127.0.0.1:{port}");
    let err = read_snapshot(&config).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("while connecting to 127.0.0.1:{port}")),
        "{err}"
    );
    silent.abort();
}
