//! The SSO test infrastructure (issue 16, I3): the real OpenID Connect provider that the SSO
//! tests start on loopback issues ID tokens that a relying party verifies with `jsonwebtoken`
//! from its discovery document and JWKS — and the bad tokens those tests need (another
//! audience, expired, signed by another key, a rotated key) fail that verification for the
//! right reason.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::pg_database;
use crate::server::{Api, World, prepare, set_clock, start_flags, world_limited};
use crate::support_oidc::{Oidc, OidcOptions};

mod setup;

const CLIENT: &str = "seatkeeper";

async fn get_json(url: &str) -> Value {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.unwrap()
}

/// The provider's keys, found as a relying party does: discovery, then `jwks_uri`.
async fn jwks(issuer: &str) -> JwkSet {
    let discovery = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    let uri = discovery["jwks_uri"].as_str().unwrap();
    serde_json::from_value(get_json(uri).await).unwrap()
}

/// What the product's verifier will check: RS256 with the key the header names, `iss`, `aud`,
/// `exp` and `nbf` with a minute of clock skew.
fn verify(token: &str, keys: &JwkSet, issuer: &str) -> Result<Value, ErrorKind> {
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("the header names its key");
    let Some(jwk) = keys.find(&kid) else {
        return Err(ErrorKind::InvalidKeyFormat);
    };
    let key = DecodingKey::from_jwk(jwk).unwrap();
    verify_with(token, &key, issuer)
}

fn verify_with(token: &str, key: &DecodingKey, issuer: &str) -> Result<Value, ErrorKind> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[CLIENT]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    decode::<Value>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.into_kind())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_the_test_oidc_provider_issues_verifiable_id_tokens_with_groups() {
    let Some(mut oidc) = Oidc::start().await else {
        return;
    };
    let discovery = get_json(&oidc.discovery_url()).await;
    assert_eq!(discovery["issuer"], oidc.issuer.as_str());
    assert!(
        discovery["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("RS256"))
    );
    let keys = jwks(&oidc.issuer).await;

    // A normal sign-in: verified, with the user's groups.
    let token = oidc.id_token("alice", CLIENT).await;
    let claims = verify(&token, &keys, &oidc.issuer).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], oidc.issuer.as_str());
    assert_eq!(claims["aud"], serde_json::json!([CLIENT]));
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice Archer");
    assert_eq!(claims["groups"], serde_json::json!(["sales", "admins"]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now && exp <= now + 3700, "exp {exp}, now {now}");

    // A user added at run time, in no group.
    oidc.set_user(
        "dave",
        serde_json::json!({"email": "dave@example.com", "groups": ["auditors"]}),
    )
    .await;
    let claims = verify(&oidc.id_token("dave", CLIENT).await, &keys, &oidc.issuer).unwrap();
    assert_eq!(claims["groups"], serde_json::json!(["auditors"]));

    // A token for another application (audience): refused on `aud`.
    let other_app = oidc.id_token("alice", "another-app").await;
    assert_eq!(
        verify(&other_app, &keys, &oidc.issuer),
        Err(ErrorKind::InvalidAudience)
    );

    // Signed by another key: a second provider's token that names the first as issuer. Its
    // key is not in the issuer's JWKS, and checked against the issuer's key anyway, the
    // signature is wrong.
    let Some(impostor) = Oidc::start().await else {
        return;
    };
    let forged = impostor
        .id_token_as_issuer(&oidc.issuer, "alice", CLIENT)
        .await;
    let forged_kid = decode_header(&forged).unwrap().kid.unwrap();
    assert!(keys.find(&forged_kid).is_none());
    assert_eq!(
        verify(&forged, &keys, &oidc.issuer),
        Err(ErrorKind::InvalidKeyFormat)
    );
    let issuer_key = DecodingKey::from_jwk(&keys.keys[0]).unwrap();
    assert_eq!(
        verify_with(&forged, &issuer_key, &oidc.issuer),
        Err(ErrorKind::InvalidSignature)
    );
    drop(impostor);

    // Expired: a provider whose tokens expired five minutes ago (beyond the minute of skew).
    let Some(stale) = Oidc::start_with(OidcOptions {
        token_max_age: -300,
        ..OidcOptions::default()
    })
    .await
    else {
        return;
    };
    let expired = stale.id_token("alice", CLIENT).await;
    assert_eq!(
        verify(&expired, &jwks(&stale.issuer).await, &stale.issuer),
        Err(ErrorKind::ExpiredSignature)
    );
    drop(stale);

    // Key rotation: restarted, the provider signs with a new key under the same issuer; the
    // old JWKS does not know it, the fetched-again JWKS does.
    let old_kid = decode_header(&token).unwrap().kid.unwrap();
    oidc.restart().await;
    let rotated = oidc.id_token("bob", CLIENT).await;
    let new_kid = decode_header(&rotated).unwrap().kid.unwrap();
    assert_ne!(old_kid, new_kid);
    assert!(verify(&rotated, &keys, &oidc.issuer).is_err());
    let claims = verify(&rotated, &jwks(&oidc.issuer).await, &oidc.issuer).unwrap();
    assert_eq!(claims["groups"], serde_json::json!(["support"]));
}

// ---------------------------------------------------------------------------------------
// End to end: `POST /integration/v1/sso-login` and `/integration/v1/provision` against the
// real provider, on SQLite and PostgreSQL.

/// `serve --config` with an `[sso]` section for `issuer`: groups `sales` and `support` give
/// the roles of the same names; the key set may be fetched again after a second.
fn sso_config(dir: &Path, issuer: &str) -> String {
    let file = dir.join("seatkeeper.toml");
    std::fs::write(
        &file,
        format!(
            "[sso]\nissuer = \"{issuer}\"\naudience = \"{CLIENT}\"\njwks_refresh_min_secs = 1\n\
             [sso.group_roles]\nsales = \"Sales\"\nsupport = [\"Support\"]\n"
        ),
    )
    .unwrap();
    file.to_string_lossy().into_owned()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn sso_login(api: &Api, w: &World, token: &str) -> (StatusCode, Value) {
    api.call(
        Method::POST,
        "/integration/v1/sso-login",
        Some(&w.app),
        Some(json!({"id_token": token, "client": "e2e"})),
    )
    .await
}

/// A refusal with `code`, and no user created.
async fn refused(api: &Api, w: &World, token: &str, code: &str) {
    let before = logins(api, w).await;
    let (status, v) = sso_login(api, w, token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().len() > 20,
        "a reason a person can read: {v}"
    );
    assert_eq!(logins(api, w).await, before, "{code}: nothing is created");
}

async fn logins(api: &Api, w: &World) -> Vec<String> {
    let page = api
        .ok(Method::GET, "/api/v1/users?limit=1000", &w.admin, None)
        .await;
    let mut l: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap().to_string())
        .collect();
    l.sort();
    l
}

async fn role_members(api: &Api, w: &World, role: i64) -> Vec<String> {
    let page = api
        .ok(
            Method::GET,
            &format!("/api/v1/users?role={role}&limit=1000"),
            &w.admin,
            None,
        )
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap().to_string())
        .collect()
}

/// The user's products held by role.
async fn by_role(api: &Api, w: &World, login: &str) -> Vec<String> {
    let u = api
        .ok(
            Method::GET,
            &format!("/api/v1/users/{login}"),
            &w.admin,
            None,
        )
        .await;
    u["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["by_role"] == true)
        .map(|l| l["product"].as_str().unwrap().to_string())
        .collect()
}

async fn create_role(api: &Api, w: &World, name: &str) -> i64 {
    let (status, v) = api
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&w.admin),
            Some(json!({"name": name, "kind": "functional"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// The `GET /jwks` requests the provider has answered.
fn jwks_fetches(oidc: &Oidc) -> usize {
    oidc.log().matches("\"GET /jwks ").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_sso_sign_in_creates_updates_refuses_and_provisions_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db").to_string_lossy().into_owned();
    story(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_sso_sign_in_creates_updates_refuses_and_provisions_on_postgres() {
    let Some((db, _guard)) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    story(&db, dir.path()).await;
}

async fn story(db: &str, dir: &Path) {
    let Some(mut oidc) = Oidc::start().await else {
        return;
    };
    prepare(db, dir);
    // ID tokens carry the real time: the server reads the system clock, except where the
    // test moves it.
    std::fs::remove_file(dir.join("clock")).unwrap();
    let config = sso_config(dir, &oidc.issuer);
    let server = start_flags(db, dir, &["--config", &config]);
    let api = Api::new(&server);
    // Three employees at most: alice, bob and erin fit, carol does not.
    let w = world_limited(db, dir, &api, 5, 5, 3).await;
    let sales = create_role(&api, &w, "Sales").await;
    let support = create_role(&api, &w, "Support").await;
    let manual = create_role(&api, &w, "Hand-picked").await;
    // D5: Sales members get the module product `reports` by role.
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{sales}/products/reports"),
        &w.admin,
        None,
    )
    .await;
    assert_eq!(logins(&api, &w).await, ["admin"]);

    // A first sign-in: alice is created from her claims, in Sales by her group `sales` (her
    // `admins` group maps to nothing), gets `reports` by role and is logged in.
    let (status, a) = sso_login(&api, &w, &oidc.id_token("alice", CLIENT).await).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["outcome"], "allowed", "{a}");
    assert_eq!(a["login"], "alice");
    assert_eq!(a["name"], "Alice Archer");
    let products: Vec<&str> = a["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product"].as_str().unwrap())
        .collect();
    assert!(products.contains(&"reports"), "{a}");
    let first_session = a["session_id"].as_str().unwrap().to_string();
    let alice = api
        .ok(Method::GET, "/api/v1/users/alice", &w.admin, None)
        .await;
    assert_eq!(alice["email"], "alice@example.com", "{alice}");
    assert_eq!(alice["source"], "sso", "{alice}");
    assert_eq!(alice["area"], "employee");
    assert_eq!(role_members(&api, &w, sales).await, ["alice"]);
    assert_eq!(by_role(&api, &w, "alice").await, ["reports"]);
    // A role given by hand, outside the mapping, is hers to keep.
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{manual}/members/alice"),
        &w.admin,
        None,
    )
    .await;

    // Her next sign-in updates her: new name and e-mail, moved from `sales` to `support`,
    // so D5 takes `reports` back — released when her sessions end, as a seat in use is;
    // the hand-given role stays.
    oidc.set_user(
        "alice",
        json!({"preferred_username": "alice", "name": "Alice Smith",
               "email": "alice.smith@example.com", "groups": ["support"]}),
    )
    .await;
    let (status, a) = sso_login(&api, &w, &oidc.id_token("alice", CLIENT).await).await;
    assert_eq!(
        (status, &a["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{a}"
    );
    let alice = api
        .ok(Method::GET, "/api/v1/users/alice", &w.admin, None)
        .await;
    assert_eq!(alice["name"], "Alice Smith", "{alice}");
    assert_eq!(alice["email"], "alice.smith@example.com");
    assert!(role_members(&api, &w, sales).await.is_empty());
    assert_eq!(role_members(&api, &w, support).await, ["alice"]);
    assert_eq!(role_members(&api, &w, manual).await, ["alice"]);
    assert_eq!(alice["licenses"][0]["product"], "reports", "{alice}");
    assert_eq!(alice["licenses"][0]["status"], "releasing", "{alice}");
    for session in [first_session.as_str(), a["session_id"].as_str().unwrap()] {
        api.ok(
            Method::POST,
            "/integration/v1/logout",
            &w.app,
            Some(json!({"session_id": session})),
        )
        .await;
    }
    assert!(
        by_role(&api, &w, "alice").await.is_empty(),
        "D5 recalled reports"
    );

    // Refused, each with its code, and bob is not created.
    let bob = oidc.id_token("bob", CLIENT).await;
    refused(
        &api,
        &w,
        &oidc.id_token("bob", "another-app").await,
        "id_token_wrong_audience",
    )
    .await;
    // Expired: the server's clock two hours on (beyond the token's hour and the minute of
    // skew); not yet valid: two minutes back.
    set_clock(dir, unix_now() + 2 * 3600);
    refused(&api, &w, &bob, "id_token_expired").await;
    set_clock(dir, unix_now() - 120);
    refused(&api, &w, &bob, "id_token_not_yet_valid").await;
    std::fs::remove_file(dir.join("clock")).unwrap();
    // Signed by another key: a second provider's token naming this issuer.
    let impostor = Oidc::start().await.unwrap();
    let forged = impostor
        .id_token_as_issuer(&oidc.issuer, "bob", CLIENT)
        .await;
    refused(&api, &w, &forged, "id_token_unknown_key").await;
    // Junk tokens naming unknown keys do not make the server hammer the issuer: at most
    // one key set fetch per second (`jwks_refresh_min_secs`).
    let fetches = jwks_fetches(&oidc);
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let (_, v) = sso_login(&api, &w, &forged).await;
        assert_eq!(v["error"]["code"], "id_token_unknown_key");
    }
    let allowed = 1 + started.elapsed().as_secs() as usize;
    assert!(
        jwks_fetches(&oidc) - fetches <= allowed,
        "{} fetches for 20 junk tokens in {:?}",
        jwks_fetches(&oidc) - fetches,
        started.elapsed()
    );
    drop(impostor);
    // Signed with the issuer's own key, but naming another issuer (the provider takes `iss`
    // from the Host header).
    let elsewhere = format!("http://localhost:{}", oidc.port);
    refused(
        &api,
        &w,
        &oidc.id_token_as_issuer(&elsewhere, "bob", CLIENT).await,
        "id_token_wrong_issuer",
    )
    .await;
    // A claim changed after signing: the signature no longer verifies.
    let mut parts: Vec<String> = bob.split('.').map(str::to_string).collect();
    let payload = String::from_utf8(b64().decode(&parts[1]).unwrap()).unwrap();
    parts[1] = b64().encode(payload.replace("\"bob\"", "\"bobby\""));
    refused(&api, &w, &parts.join("."), "id_token_bad_signature").await;
    refused(&api, &w, "not-a-token", "id_token_malformed").await;
    oidc.set_user(
        "dave",
        json!({"email": "dave@example.com", "groups": ["sales"]}),
    )
    .await;
    refused(
        &api,
        &w,
        &oidc.id_token("dave", CLIENT).await,
        "id_token_missing_claim",
    )
    .await;

    // Key rotation: the provider restarts with a new key. A token signed with the new key
    // makes the server fetch the key set again and is accepted; a token signed before the
    // rotation names a key the issuer no longer publishes and is refused.
    let before_rotation = oidc.id_token("carol", CLIENT).await;
    oidc.restart().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, b) = sso_login(&api, &w, &oidc.id_token("bob", CLIENT).await).await;
    assert_eq!(
        (status, &b["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{b}"
    );
    assert_eq!(role_members(&api, &w, support).await, ["alice", "bob"]);
    refused(&api, &w, &before_rotation, "id_token_unknown_key").await;

    // The provision route: a provisioning token creates erin with her roles; an
    // integration or admin token may not.
    let provisioner = api
        .ok(
            Method::POST,
            "/api/v1/tokens",
            &w.admin,
            Some(json!({"name": "the portal", "scope": "provisioning"})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let erin = json!({"login": "erin", "name": "Erin Ek", "email": "erin@example.com",
                      "roles": ["Sales"]});
    for token in [&w.app, &w.admin] {
        let (status, v) = api
            .call(
                Method::POST,
                "/integration/v1/provision",
                Some(token),
                Some(erin.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    }
    let p = api
        .ok(
            Method::POST,
            "/integration/v1/provision",
            &provisioner,
            Some(erin.clone()),
        )
        .await;
    assert_eq!(
        (&p["created"], &p["changed"]),
        (&json!(true), &json!(true)),
        "{p}"
    );
    assert_eq!(p["user"]["name"], "Erin Ek");
    assert_eq!(by_role(&api, &w, "erin").await, ["reports"]);
    let p = api
        .ok(
            Method::POST,
            "/integration/v1/provision",
            &provisioner,
            Some(erin),
        )
        .await;
    assert_eq!(
        (&p["created"], &p["changed"]),
        (&json!(false), &json!(false)),
        "{p}"
    );
    let p = api
        .ok(
            Method::POST,
            "/integration/v1/provision",
            &provisioner,
            Some(json!({"login": "erin", "roles": []})),
        )
        .await;
    assert_eq!(p["changed"], true, "{p}");
    assert!(by_role(&api, &w, "erin").await.is_empty());
    assert!(role_members(&api, &w, sales).await.is_empty());

    // The area is full (alice, bob, erin): carol's sign-in is refused as a login beyond the
    // limit is, and she is not created; so is a provisioned user.
    let before = logins(&api, &w).await;
    assert_eq!(before, ["admin", "alice", "bob", "erin"]);
    let (status, c) = sso_login(&api, &w, &oidc.id_token("carol", CLIENT).await).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["outcome"], "refused", "{c}");
    assert_eq!(c["reason"], "area_limit", "{c}");
    let (status, v) = api
        .call(
            Method::POST,
            "/integration/v1/provision",
            Some(&provisioner),
            Some(json!({"login": "frank"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "area_limit");
    assert_eq!(logins(&api, &w).await, before);
    // Existing users still sign in; their login keeps its spelling. A long client text is
    // cut to 200 bytes on a character boundary (here "€", three bytes), on both login routes.
    oidc.set_user(
        "bob",
        json!({"preferred_username": "BOB", "name": "Bob Baker", "groups": ["support"]}),
    )
    .await;
    let (_, b) = sso_login(&api, &w, &oidc.id_token("bob", CLIENT).await).await;
    assert_eq!(
        (&b["outcome"], &b["login"]),
        (&json!("allowed"), &json!("bob")),
        "{b}"
    );
    let long_client = "€".repeat(100);
    let (status, a) = api
        .call(
            Method::POST,
            "/integration/v1/sso-login",
            Some(&w.app),
            Some(json!({"id_token": oidc.id_token("alice", CLIENT).await, "client": long_client})),
        )
        .await;
    assert_eq!(
        (status, &a["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{a}"
    );
    let (status, a) = api
        .call(
            Method::POST,
            "/integration/v1/login",
            Some(&w.app),
            Some(json!({"login": "bob", "client": long_client})),
        )
        .await;
    assert_eq!(
        (status, &a["outcome"]),
        (StatusCode::OK, &json!("allowed")),
        "{a}"
    );
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}
