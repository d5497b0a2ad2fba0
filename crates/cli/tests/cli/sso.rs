//! The SSO test infrastructure (issue 16, I3): the real OpenID Connect provider that the SSO
//! tests start on loopback issues ID tokens that a relying party verifies with `jsonwebtoken`
//! from its discovery document and JWKS — and the bad tokens those tests need (another
//! audience, expired, signed by another key, a rotated key) fail that verification for the
//! right reason.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::support_oidc::{Oidc, OidcOptions};

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
