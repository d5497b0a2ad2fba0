//! The verifier's checks without an issuer: keys put in its cache, tokens signed here with
//! Ed25519 (the end-to-end tests in crates/cli/tests/cli/sso.rs use a real provider's RS256).

#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::config::SsoConfig;
use super::verify::Verifier;

const ISS: &str = "http://127.0.0.1:9";
const NOW: i64 = 1_800_000_000;

fn key(seed: u8) -> EncodingKey {
    let der = SigningKey::from_bytes(&[seed; 32]).to_pkcs8_der().unwrap();
    EncodingKey::from_ed_der(der.as_bytes())
}

/// The public half as the issuer's key set would publish it (RFC 8037).
fn jwk(seed: u8, kid: &str) -> Jwk {
    let public = SigningKey::from_bytes(&[seed; 32]).verifying_key();
    serde_json::from_value(
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
        "x": b64(public.as_bytes())}),
    )
    .unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

fn token(seed: u8, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &key(seed)).unwrap()
}

fn good() -> Value {
    json!({"iss": ISS, "aud": ["seatkeeper"], "sub": "u1", "preferred_username": "alice",
        "iat": NOW - 10, "exp": NOW + 300})
}

fn with(changes: Value) -> Value {
    let mut c = good();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

async fn verifier(extra: &str) -> Verifier {
    let text = format!(
        "issuer = \"{ISS}\"\naudience = [\"seatkeeper\", \"desktop\"]\n{extra}\n\
         allowed_algorithms = [\"EdDSA\", \"RS256\"]\n"
    );
    let config = toml::from_str::<SsoConfig>(&text).unwrap().check().unwrap();
    let v = Verifier::new(config).unwrap();
    v.set_keys(vec![jwk(1, "k1"), jwk(2, "k2")]).await;
    v
}

async fn code(v: &Verifier, token: &str) -> &'static str {
    match v.verify(token, NOW).await {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn i3_a_good_token_verifies_by_kid_and_without_kid() {
    let v = verifier("").await;
    let claims = v.verify(&token(1, Some("k1"), &good()), NOW).await.unwrap();
    assert_eq!(claims["preferred_username"], "alice");
    // Without `kid`: every key of the algorithm is tried.
    assert_eq!(code(&v, &token(2, None, &good())).await, "ok");
    // A single audience string; a second audience with `azp` ours; clock skew both ways.
    for c in [
        with(json!({"aud": "desktop"})),
        with(json!({"aud": ["seatkeeper", "other"], "azp": "seatkeeper"})),
        with(json!({"exp": NOW - 59})),
        with(json!({"nbf": NOW + 59, "iat": NOW + 59})),
        with(json!({"exp": (NOW + 10) as f64 + 0.5})),
    ] {
        assert_eq!(code(&v, &token(1, Some("k1"), &c)).await, "ok", "{c}");
    }
}

#[tokio::test]
async fn i3_each_bad_claim_has_its_code() {
    let v = verifier("clock_skew_secs = 30").await;
    let cases = [
        (
            with(json!({"iss": "http://127.0.0.1:10"})),
            "id_token_wrong_issuer",
        ),
        (with(json!({"iss": null})), "id_token_missing_claim"),
        (
            with(json!({"aud": "another-app"})),
            "id_token_wrong_audience",
        ),
        (
            with(json!({"aud": ["seatkeeper", "x"], "azp": "x"})),
            "id_token_wrong_audience",
        ),
        (with(json!({"aud": null})), "id_token_missing_claim"),
        (with(json!({"aud": 5})), "id_token_malformed"),
        (with(json!({"sub": null})), "id_token_missing_claim"),
        (with(json!({"exp": NOW - 31})), "id_token_expired"),
        (with(json!({"exp": null})), "id_token_missing_claim"),
        (with(json!({"exp": "tomorrow"})), "id_token_malformed"),
        (with(json!({"nbf": NOW + 31})), "id_token_not_yet_valid"),
        (with(json!({"iat": NOW + 31})), "id_token_not_yet_valid"),
        (with(json!({"iat": null})), "id_token_missing_claim"),
    ];
    for (claims, want) in cases {
        assert_eq!(
            code(&v, &token(1, Some("k1"), &claims)).await,
            want,
            "{claims}"
        );
    }
    let e = v
        .verify(&token(1, Some("k1"), &with(json!({"exp": NOW - 100}))), NOW)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("30 s of clock skew"), "{e}");
}

#[tokio::test]
async fn i3_bad_signatures_keys_and_shapes_are_refused() {
    let v = verifier("").await;
    // Signed by k2's key but naming k1: the named key does not verify it.
    assert_eq!(
        code(&v, &token(2, Some("k1"), &good())).await,
        "id_token_bad_signature"
    );
    // A key the issuer does not publish, by name and without a name. The key set was just
    // put in the cache, so the rate limit keeps the verifier from asking the issuer again.
    assert_eq!(
        code(&v, &token(3, Some("k3"), &good())).await,
        "id_token_unknown_key"
    );
    assert_eq!(
        code(&v, &token(3, None, &good())).await,
        "id_token_bad_signature"
    );
    // A claim changed after signing.
    let t = token(1, Some("k1"), &good());
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    let forged = with(json!({"preferred_username": "admin"}));
    parts[1] = b64(forged.to_string());
    assert_eq!(code(&v, &parts.join(".")).await, "id_token_bad_signature");
    // Unsigned, HMAC, not allowed, not a JWT.
    let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), parts[1]);
    assert_eq!(code(&v, &none).await, "id_token_malformed");
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &good(),
        &EncodingKey::from_secret(b"secret").unwrap(),
    )
    .unwrap();
    assert_eq!(code(&v, &hs).await, "id_token_algorithm_not_allowed");
    for junk in ["", "abc", "a.b.c", &"x".repeat(70_000)] {
        assert_eq!(code(&v, junk).await, "id_token_malformed", "{junk:.20}");
    }
}

#[tokio::test]
async fn i3_an_issuer_that_cannot_be_reached_is_a_gateway_error_and_not_asked_again_at_once() {
    // Port 9 on loopback: nothing listens, the connection is refused at once.
    let text = format!("issuer = \"{ISS}\"\naudience = \"seatkeeper\"\nhttp_timeout_secs = 2\n");
    let config = toml::from_str::<SsoConfig>(&text).unwrap().check().unwrap();
    let v = Verifier::new(config).unwrap();
    let t = token(1, Some("k1"), &good());
    let e = v.verify(&t, NOW).await.unwrap_err();
    assert_eq!(e.code(), "sso_issuer_unreachable", "{e}");
    assert_eq!(e.status(), axum::http::StatusCode::BAD_GATEWAY);
    assert!(
        e.to_string().contains("/.well-known/openid-configuration"),
        "{e}"
    );
    // The same answer, from the rate limit rather than a new connection.
    assert_eq!(v.verify(&t, NOW).await.unwrap_err(), e);
}

/// A stand-in issuer on loopback (axum): its discovery document and the key set `keys`
/// holds at the time, counting the key set requests.
struct FakeIssuer {
    issuer: String,
    keys: std::sync::Arc<std::sync::Mutex<Vec<Jwk>>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn fake_issuer(keys: Vec<Jwk>) -> FakeIssuer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let (k, f) = (keys.clone(), fetches.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || async move {
                f.fetch_add(1, Ordering::SeqCst);
                let keys = k.lock().unwrap().clone();
                axum::Json(json!({ "keys": keys }))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeIssuer {
        issuer,
        keys,
        fetches,
    }
}

fn fetches(f: &FakeIssuer) -> usize {
    f.fetches.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i3_a_rotated_key_is_fetched_once_and_junk_keys_do_not_hammer_the_issuer() {
    let f = fake_issuer(vec![jwk(1, "k1")]).await;
    let text = format!(
        "issuer = \"{}\"\naudience = \"seatkeeper\"\nallowed_algorithms = [\"EdDSA\"]\n\
         jwks_refresh_min_secs = 1\n",
        f.issuer
    );
    let config = toml::from_str::<SsoConfig>(&text).unwrap().check().unwrap();
    let v = std::sync::Arc::new(Verifier::new(config).unwrap());
    let claims = |c: Value| {
        let mut c = c;
        c["iss"] = json!(f.issuer);
        c
    };
    let now = NOW;
    let good = claims(json!({"aud": "seatkeeper", "sub": "u", "iat": now, "exp": now + 60}));
    v.verify(&token(1, Some("k1"), &good), now).await.unwrap();
    assert_eq!(fetches(&f), 1, "fetched once, then cached");
    v.verify(&token(1, Some("k1"), &good), now).await.unwrap();
    assert_eq!(fetches(&f), 1);

    // The issuer rotates to k2. Ten concurrent sign-ins with k2 tokens share one fetch.
    f.keys.lock().unwrap().push(jwk(2, "k2"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated = token(2, Some("k2"), &good);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (v, t) = (v.clone(), rotated.clone());
        tasks.push(tokio::spawn(async move { v.verify(&t, now).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fetches(&f), 2, "one fetch for the rotation");

    // Junk: 50 tokens naming made-up keys, fast: no fetch within the second.
    for i in 0..50 {
        let junk = token(3, Some(&format!("junk{i}")), &good);
        assert_eq!(code(&v, &junk).await, "id_token_unknown_key");
    }
    assert!(fetches(&f) <= 3, "{} fetches", fetches(&f));
}
