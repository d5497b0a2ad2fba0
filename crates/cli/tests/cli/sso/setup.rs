//! SSO around the sign-in (I3): configuration at start, no `[sso]`, an issuer that does not
//! answer, tokens without `kid`, unknown mapped roles, the built-in administrator, and users
//! the directory sync keeps.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{CLIENT, create_role, logins, role_members, sso_config, sso_login};
use crate::server::{Api, World, prepare, start_flags, world_limited};
use crate::support_oidc::{Oidc, OidcOptions};

/// What `serve` does around the sign-in: a bad `[sso]` section stops it with its reason;
/// without the section the route answers `sso_not_configured`; an issuer that does not answer
/// is a gateway error; a provider whose tokens name no key (`kid`) is still verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_sso_configuration_errors_and_tokens_without_kid() {
    let Some(oidc) = Oidc::start_with(OidcOptions {
        kid: false,
        ..OidcOptions::default()
    })
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("l.db").to_string_lossy().into_owned();
    prepare(&db, d);
    std::fs::remove_file(d.join("clock")).unwrap();

    // Plain http to a host that is not loopback: refused at start, with the reason.
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        "[sso]\nissuer = \"http://login.example.com\"\naudience = \"seatkeeper\"\n",
    )
    .unwrap();
    let out = crate::run(&db, d, &["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[sso] issuer") && stderr.contains("https://"),
        "{stderr}"
    );

    // No [sso] section.
    {
        let server = crate::server::start(&db, d);
        let api = Api::new(&server);
        let w = world_limited(&db, d, &api, 5, 5, 10).await;
        let token = oidc.id_token("alice", CLIENT).await;
        let (status, v) = sso_login(&api, &w, &token).await;
        assert_eq!(status, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "sso_not_configured");
        // The route is the application's: an administrator's token may not use it.
        let (status, _) = api
            .call(
                Method::POST,
                "/integration/v1/sso-login",
                Some(&w.admin),
                Some(json!({"id_token": token})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        server.stop();
    }

    // A provider that issues tokens already expired five minutes (beyond the minute of
    // skew), on the real clock.
    let stale = Oidc::start_with(OidcOptions {
        token_max_age: -300,
        ..OidcOptions::default()
    })
    .await
    .unwrap();
    let config = sso_config(d, &stale.issuer);
    {
        let server = start_flags(&db, d, &["--config", &config]);
        let api = Api::new(&server);
        let w = world_for_existing(&api).await;
        let (status, v) = sso_login(&api, &w, &stale.id_token("alice", CLIENT).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["code"], "id_token_expired", "{v}");
        assert_eq!(logins(&api, &w).await, ["admin"]);
        server.stop();
    }
    drop(stale);

    // An issuer nobody answers for (a closed loopback port): 502, nothing created.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_issuer = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let config = sso_config(d, &dead_issuer);
    {
        let server = start_flags(&db, d, &["--config", &config]);
        let api = Api::new(&server);
        let w = world_for_existing(&api).await;
        let (status, v) = sso_login(&api, &w, &oidc.id_token("alice", CLIENT).await).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
        assert_eq!(v["error"]["code"], "sso_issuer_unreachable");
        assert_eq!(logins(&api, &w).await, ["admin"]);
        server.stop();
    }

    // Tokens without `kid`: tried against the issuer's keys of their algorithm.
    let config = sso_config(d, &oidc.issuer);
    let server = start_flags(&db, d, &["--config", &config]);
    let api = Api::new(&server);
    let w = world_for_existing(&api).await;
    let token = oidc.id_token("carol", CLIENT).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid, None);
    // The roles `group_roles` names do not exist yet: refused, naming the role.
    let (status, v) = sso_login(&api, &w, &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "unknown_role", "{v}");
    assert_eq!(logins(&api, &w).await, ["admin"]);
    create_role(&api, &w, "Sales").await;
    create_role(&api, &w, "Support").await;
    let (status, v) = sso_login(&api, &w, &token).await;
    assert_eq!(
        (status, &v["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{v}"
    );
    assert_eq!(logins(&api, &w).await, ["admin", "carol"]);
    // An identity provider's user named like the built-in administrator is not made one,
    // nor does the sign-in change the administrator.
    oidc.set_user(
        "admin",
        json!({"preferred_username": "admin", "name": "Mallory"}),
    )
    .await;
    let (status, v) = sso_login(&api, &w, &oidc.id_token("admin", CLIENT).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "builtin_admin", "{v}");
    let admin = api
        .ok(Method::GET, "/api/v1/users/admin", &w.admin, None)
        .await;
    assert_ne!(admin["name"], "Mallory", "{admin}");
    // Carol is in no group: no role given, none taken.
    let carol = api
        .ok(Method::GET, "/api/v1/users/carol", &w.admin, None)
        .await;
    assert_eq!(carol["name"], "Carol Cook", "{carol}");
}

/// Signs in again on a ledger [`world_limited`] already set up, and makes a new integration
/// token (tokens are shown once).
async fn world_for_existing(api: &Api) -> World {
    let signin = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "correct horse battery staple"})),
        )
        .await;
    assert_eq!(signin.0, StatusCode::OK, "{}", signin.1);
    let admin = signin.1["token"].as_str().unwrap().to_string();
    let app = api
        .ok(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "the application", "scope": "integration"})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    World { admin, app }
}

/// A user the directory sync keeps is the directory's: an SSO sign-in logs them in and
/// changes nothing (the claims' name, the groups' roles are not applied).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_a_directory_user_signs_in_by_sso_and_stays_the_directorys() {
    use crate::ldap::slapd::{PEOPLE, READER_DN, READER_PW, Slapd, people_ldif, user_login};
    let Some(ldap) = Slapd::start() else { return };
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    ldap.add_ldif(&people_ldif(3));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("l.db").to_string_lossy().into_owned();
    prepare(&db, d);
    std::fs::remove_file(d.join("clock")).unwrap();
    let config = sso_config(d, &oidc.issuer);
    let server = start_flags(&db, d, &["--config", &config]);
    let api = Api::new(&server);
    let w = world_limited(&db, d, &api, 5, 5, 10).await;
    let sales = create_role(&api, &w, "Sales").await;
    create_role(&api, &w, "Support").await;
    api.ok(
        Method::PUT,
        "/api/v1/directory/settings",
        &w.admin,
        Some(
            json!({"url": ldap.url, "bind_dn": READER_DN, "bind_password": READER_PW,
                    "user_base": PEOPLE}),
        ),
    )
    .await;
    api.ok(Method::POST, "/api/v1/directory/sync", &w.admin, None)
        .await;
    let login = user_login(0);
    let before = api
        .ok(
            Method::GET,
            &format!("/api/v1/users/{login}"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(before["source"], "directory", "{before}");

    oidc.set_user(
        &login,
        json!({"preferred_username": login, "name": "Someone Else", "groups": ["sales"]}),
    )
    .await;
    let (status, a) = sso_login(&api, &w, &oidc.id_token(&login, CLIENT).await).await;
    assert_eq!(
        (status, &a["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{a}"
    );
    let after = api
        .ok(
            Method::GET,
            &format!("/api/v1/users/{login}"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(after["name"], before["name"], "{after}");
    assert_eq!(after["source"], "directory");
    assert!(role_members(&api, &w, sales).await.is_empty());
}
