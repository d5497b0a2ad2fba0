//! Credentials (X2): argon2 password hashes, random bearer secrets kept only as SHA-256, and
//! the check every route runs before its handler, driven by the route table's `Access`.
//! Administrator sign-in, with its limits, is `signin`: the API's `POST /api/v1/auth/login`
//! (`admin::auth`) and the UI's form (`ui`) both call it.

pub(crate) mod metrics_token;
pub mod signin;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use seatkeeper_core::Permission;
use seatkeeper_store::{Principal, TokenScope};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential: health, OpenAPI document, administrator sign-in.
    Public,
    /// An `integration`-scope token: the licensed application.
    Integration,
    /// Any administrator credential (sign-in session or admin token), no permission needed.
    Admin,
    /// An administrator credential whose owner holds the permission.
    Requires(Permission),
    /// A `provisioning`-scope token whose owner holds `provision_users`: SCIM and the
    /// integration API's provision route (I2, I3). No other credential is taken.
    Provision,
    /// `GET /metrics`: the `[metrics] token` (not an API token); 404 while metrics are off.
    Metrics,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| ApiError::unavailable(format!("no randomness: {e}")))?;
    Ok(b)
}

/// A new bearer secret: 256 random bits, prefixed so that a leaked one is recognisable.
pub fn new_secret(scope: TokenScope) -> Result<String, ApiError> {
    let prefix = match scope {
        TokenScope::Integration => "ski_",
        TokenScope::Admin => "ska_",
        TokenScope::Signin => "sks_",
        TokenScope::Provisioning => "skp_",
    };
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// Secrets are random, so a fast hash is enough to make the stored copy useless to a thief;
/// passwords, which are not, get argon2.
pub fn secret_hash(secret: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    seatkeeper_core::validate::new_password(password)?;
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| ApiError::unavailable(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::unavailable(format!("cannot hash the password: {e}")))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password for `seatkeeper admin password --generate` and the demo.
pub fn generate_password() -> Result<String, ApiError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<18>()?))
}

/// Resolved credentials, kept for a few seconds so that the integration API's hot path does
/// not read the token table on every request. Any change to credentials or roles made
/// through this node clears it; other nodes see a revocation within the TTL.
#[derive(Clone)]
pub struct PrincipalCache {
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, (Principal, Instant)>>>,
}

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        PrincipalCache {
            ttl,
            entries: Arc::default(),
        }
    }

    fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.entries.read().ok()?;
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, hash: String, p: Principal) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(hash, (p, Instant::now()));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.write() {
            map.clear();
        }
    }
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

pub async fn principal_for(state: &AppState, secret: &str) -> Result<Option<Principal>, ApiError> {
    let hash = secret_hash(secret);
    if let Some(p) = state.principals.get(&hash) {
        return Ok(Some(p));
    }
    let found = state.ledger.principal(&hash).await?;
    if let Some(p) = &found {
        state.principals.put(hash, p.clone());
    }
    Ok(found)
}

/// The check in front of every route: 401 without a valid credential, 403 when the
/// credential's scope or its owner's permissions do not allow the route. On SCIM's paths the
/// refusal is a SCIM error (RFC 7644 §3.12), as everything there is.
pub async fn enforce(
    State((state, access)): State<(AppState, Access)>,
    req: Request,
    next: Next,
) -> Response {
    let scim = req.uri().path().starts_with("/scim/");
    match check(&state, access, req).await {
        Ok(req) => next.run(req).await,
        Err(e) if scim => crate::scim::from_api_error(e),
        Err(e) => e.into_response(),
    }
}

async fn check(state: &AppState, access: Access, mut req: Request) -> Result<Request, ApiError> {
    if access == Access::Public {
        return Ok(req);
    }
    if access == Access::Metrics {
        metrics_token::check(state, bearer(&req))?;
        return Ok(req);
    }
    let Some(secret) = bearer(&req) else {
        return Err(ApiError::unauthenticated(
            "this route needs `Authorization: Bearer <token>`",
        ));
    };
    let Some(principal) = principal_for(state, secret).await? else {
        return Err(ApiError::unauthenticated(
            "the token is unknown, expired or revoked, or its owner is blocked",
        ));
    };
    match access {
        Access::Public | Access::Metrics => {}
        Access::Integration => {
            if principal.scope != TokenScope::Integration {
                return Err(ApiError::forbidden(
                    "the integration API needs a token of scope `integration`",
                ));
            }
        }
        Access::Provision => {
            if principal.scope != TokenScope::Provisioning {
                return Err(ApiError::forbidden(
                    "provisioning needs a token of scope `provisioning`",
                ));
            }
            if !principal.may(Permission::ProvisionUsers) {
                return Err(ApiError::forbidden(format!(
                    "{} does not hold the permission `provision_users` provisioning needs",
                    principal.login
                )));
            }
        }
        Access::Admin | Access::Requires(_) => {
            if matches!(
                principal.scope,
                TokenScope::Integration | TokenScope::Provisioning
            ) {
                return Err(ApiError::forbidden(format!(
                    "a token of scope `{}` cannot use the admin API",
                    principal.scope.as_str()
                )));
            }
            if let Access::Requires(p) = access
                && !principal.may(p)
            {
                return Err(ApiError::forbidden(format!(
                    "{} does not hold the permission `{p}` this action needs",
                    principal.login
                )));
            }
        }
    }
    req.extensions_mut().insert(principal);
    Ok(req)
}
