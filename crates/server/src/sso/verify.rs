//! OpenID Connect ID token verification (I3): the issuer's discovery document and key set
//! (JWKS), fetched over HTTPS and cached; the token's signature with `jsonwebtoken`; then its
//! claims (`iss`, `aud`/`azp`, `exp`, `nbf`, `iat`) by hand, against the server's clock, so
//! that each refusal gets its own code.
//!
//! Keys: a token naming a key (`kid`) the cache lacks makes the key set be fetched again (a
//! key rotation), at most once per `jwks_refresh_min_secs`, and concurrent requests share one
//! fetch; a token naming no key is tried against every key of its algorithm. The cache is
//! refreshed when older than `jwks_max_age_secs`, so a withdrawn key stops being trusted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::Url;
use serde_json::{Map, Value};

use super::config::{Checked, loopback_http};
use super::error::SsoError;

/// An ID token is a few kilobytes; a much longer one is not worth parsing.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Discovery documents and key sets are small; a larger answer is refused, not buffered.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

pub type Claims = Map<String, Value>;

/// The issuer's keys as last fetched.
pub(crate) struct KeySet {
    keys: Vec<Jwk>,
    fetched: Instant,
}

impl KeySet {
    pub(crate) fn new(keys: Vec<Jwk>) -> KeySet {
        KeySet {
            keys,
            fetched: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Cache {
    keys: Option<Arc<KeySet>>,
    /// When the keys were last asked for, whatever came of it (the rate limit).
    last_fetch: Option<Instant>,
    /// The last fetch's failure, answered again until the rate limit lets us retry.
    last_error: Option<SsoError>,
}

pub struct Verifier {
    config: Checked,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

impl Verifier {
    pub fn new(config: Checked) -> Result<Verifier, String> {
        let timeout = Duration::from_secs(config.http_timeout_secs);
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(timeout)
            .timeout(timeout)
            // The discovery document is served where the issuer says; a redirect elsewhere
            // is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!config.loopback_http)
            .user_agent(concat!("seatkeeper/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("[sso] ca_file: {e}"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("[sso] cannot build the HTTP client: {e}"))?;
        Ok(Verifier {
            config,
            http,
            cache: tokio::sync::Mutex::default(),
        })
    }

    pub fn config(&self) -> &Checked {
        &self.config
    }

    /// Fetches the issuer's keys once when `serve` starts, so that a wrong issuer shows in
    /// the log at once rather than at the first sign-in.
    pub async fn prefetch(&self) {
        match self.keys().await {
            Ok(keys) => tracing::info!(
                issuer = %self.config.issuer,
                keys = keys.keys.len(),
                "single sign-on: the issuer answers"
            ),
            Err(e) => tracing::warn!(
                issuer = %self.config.issuer,
                code = e.code(),
                error = %e,
                "single sign-on: the issuer cannot be used yet; sign-ins will try again"
            ),
        }
    }

    /// Verifies `token` at `now` (unix seconds, the server's clock) and answers its claims.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Claims, SsoError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SsoError::malformed("`id_token` is empty"));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(SsoError::malformed(format!(
                "{} bytes, more than the {MAX_TOKEN_BYTES} an ID token may have",
                token.len()
            )));
        }
        // Unknown or absent `alg` ("none" included) fails here: nothing unsigned gets through.
        let header = decode_header(token).map_err(SsoError::malformed)?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(SsoError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
        }
        let keys = self.keys().await?;
        let kid = header.kid.as_deref();
        let first = self.check_signature(token, header.alg, kid, &keys);
        // A key the cache lacks (or, without `kid`, no key that verifies): the issuer may
        // have rotated its keys since they were fetched.
        let rotated = match &first {
            Err(SsoError::UnknownKey(_)) => true,
            Err(SsoError::BadSignature) => kid.is_none(),
            _ => false,
        };
        let claims = match (rotated, first) {
            (true, first) => match self.refetch(&keys).await? {
                Some(newer) => self.check_signature(token, header.alg, kid, &newer)?,
                None => first?,
            },
            (false, first) => first?,
        };
        check_claims(&self.config, &claims, now)?;
        Ok(claims)
    }

    /// The signature against the key the header names, or (no `kid`) against each key of the
    /// token's algorithm.
    fn check_signature(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
        keys: &KeySet,
    ) -> Result<Claims, SsoError> {
        let candidates: Vec<&Jwk> = match kid {
            Some(kid) => {
                let named: Vec<&Jwk> = keys
                    .keys
                    .iter()
                    .filter(|k| k.common.key_id.as_deref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    return Err(SsoError::UnknownKey(format!("kid {}", brief_quote(kid))));
                }
                // The named key must be one this algorithm can use: a token cannot pick an
                // RSA key and call it HMAC, say.
                let usable: Vec<&Jwk> = named.into_iter().filter(|k| usable_for(k, alg)).collect();
                if usable.is_empty() {
                    return Err(SsoError::BadSignature);
                }
                usable
            }
            None => keys.keys.iter().filter(|k| usable_for(k, alg)).collect(),
        };
        if candidates.is_empty() {
            return Err(SsoError::UnknownKey(format!("no {alg:?} key")));
        }
        let mut validation = Validation::new(alg);
        // Only the signature here; every claim is checked in `check_claims`.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match decode::<Claims>(token, &key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => match e.into_kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                    | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                    | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
                    | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                    | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
                    | jsonwebtoken::errors::ErrorKind::InvalidEddsaKey => continue,
                    other => return Err(SsoError::malformed(format!("{other:?}"))),
                },
            }
        }
        Err(SsoError::BadSignature)
    }

    /// The cached keys, fetched first when there are none or they are too old.
    pub(crate) async fn keys(&self) -> Result<Arc<KeySet>, SsoError> {
        let max_age = Duration::from_secs(self.config.jwks_max_age_secs);
        let mut cache = self.cache.lock().await;
        if let Some(keys) = &cache.keys
            && keys.fetched.elapsed() < max_age
        {
            return Ok(keys.clone());
        }
        // An issuer that just failed is not asked again before the rate limit allows.
        if let (Some(e), Some(at)) = (&cache.last_error, cache.last_fetch)
            && at.elapsed() < self.min_refresh()
        {
            return Err(e.clone());
        }
        self.fetch_into(&mut cache).await
    }

    /// Fetches the keys again after a token named a key they lack, unless another request
    /// already did since `seen` was read, or the last fetch was too recent (then `None`).
    async fn refetch(&self, seen: &Arc<KeySet>) -> Result<Option<Arc<KeySet>>, SsoError> {
        let mut cache = self.cache.lock().await;
        if let Some(keys) = &cache.keys
            && !Arc::ptr_eq(keys, seen)
        {
            return Ok(Some(keys.clone()));
        }
        if cache
            .last_fetch
            .is_some_and(|at| at.elapsed() < self.min_refresh())
        {
            tracing::debug!(
                "a token names an unknown key; the key set was fetched too recently to fetch it again"
            );
            return Ok(None);
        }
        self.fetch_into(&mut cache).await.map(Some)
    }

    fn min_refresh(&self) -> Duration {
        Duration::from_secs(self.config.jwks_refresh_min_secs)
    }

    async fn fetch_into(&self, cache: &mut Cache) -> Result<Arc<KeySet>, SsoError> {
        cache.last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.keys = Some(keys.clone());
                cache.last_error = None;
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the SSO issuer's keys");
                cache.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Discovery document, then its `jwks_uri`.
    async fn fetch(&self) -> Result<KeySet, SsoError> {
        let discovery_url = self.config.discovery_url.clone();
        let discovery = self.get_json(&discovery_url).await?;
        let bad = |why: String| SsoError::IssuerError {
            url: discovery_url.to_string(),
            why,
        };
        match discovery.get("issuer").and_then(Value::as_str) {
            Some(issuer) if issuer == self.config.issuer => {}
            Some(other) => {
                return Err(bad(format!(
                    "its discovery document names the issuer {}, not {} (OpenID Connect \
                     Discovery §4.3: they must be identical)",
                    brief_quote(other),
                    self.config.issuer
                )));
            }
            None => return Err(bad("its discovery document has no `issuer`".into())),
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("its discovery document has no `jwks_uri`".into()))?;
        let jwks_url = Url::parse(jwks_uri).map_err(|e| {
            bad(format!(
                "`jwks_uri` {} is not a URL: {e}",
                brief_quote(jwks_uri)
            ))
        })?;
        if jwks_url.scheme() != "https" && !loopback_http(&jwks_url) {
            return Err(bad(format!("`jwks_uri` {jwks_url} is not https")));
        }
        let jwks = self.get_json(&jwks_url).await?;
        let keys =
            jwks.get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| SsoError::IssuerError {
                    url: jwks_url.to_string(),
                    why: "the key set has no `keys` list".into(),
                })?;
        // A key this crate cannot read is skipped, not a reason to refuse the others. (Not
        // `Jwk::is_supported`: it wants the optional `alg`, which many issuers leave out;
        // `usable_for` decides per token.)
        let keys: Vec<Jwk> = keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect();
        tracing::info!(keys = keys.len(), url = %jwks_url, "fetched the SSO issuer's keys");
        Ok(KeySet::new(keys))
    }

    async fn get_json(&self, url: &Url) -> Result<Value, SsoError> {
        let unreachable = |e: reqwest::Error| SsoError::Unreachable {
            url: url.to_string(),
            why: error_chain(&e),
            timed_out: e.is_timeout(),
        };
        let mut resp = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(SsoError::IssuerError {
                url: url.to_string(),
                why: format!("HTTP {}", resp.status()),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(SsoError::IssuerError {
                    url: url.to_string(),
                    why: format!("the answer is longer than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| SsoError::IssuerError {
            url: url.to_string(),
            why: format!("not JSON: {e}"),
        })
    }

    #[cfg(test)]
    pub(crate) async fn set_keys(&self, keys: Vec<Jwk>) {
        let mut cache = self.cache.lock().await;
        cache.keys = Some(Arc::new(KeySet::new(keys)));
        cache.last_fetch = Some(Instant::now());
    }
}

/// Whether `jwk` may verify a signature made with `alg`: the same key type (and curve), no
/// other declared algorithm, not declared an encryption key.
fn usable_for(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm
        && declared != KeyAlgorithm::from(alg)
    {
        return false;
    }
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// `iss`, `aud` (and `azp`), `sub`, `exp`, `nbf`, `iat`: OpenID Connect Core §3.1.3.7.
pub(crate) fn check_claims(config: &Checked, claims: &Claims, now: i64) -> Result<(), SsoError> {
    let skew = config.clock_skew_secs;
    let skew_i = i64::try_from(skew).unwrap_or(i64::MAX);
    match claims.get("iss") {
        None => return Err(SsoError::MissingClaim("iss".into())),
        Some(Value::String(iss)) if *iss == config.issuer => {}
        Some(other) => {
            return Err(SsoError::WrongIssuer {
                got: brief_value(other),
                want: config.issuer.clone(),
            });
        }
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        None => return Err(SsoError::MissingClaim("aud".into())),
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(other) => {
            return Err(SsoError::malformed(format!(
                "`aud` is {}, not a string or a list of strings",
                brief_value(other)
            )));
        }
    };
    let ours = |a: &str| config.audiences.iter().any(|c| c == a);
    let want = config.audiences.join(", ");
    if !audiences.iter().any(|a| ours(a)) {
        return Err(SsoError::WrongAudience {
            got: brief(audiences.join(", ")),
            want,
        });
    }
    // Issued to several parties: the one it was issued for (`azp`) must be us.
    if audiences.len() > 1
        && let Some(azp) = claims.get("azp")
        && !azp.as_str().is_some_and(ours)
    {
        return Err(SsoError::WrongAudience {
            got: format!("{} (azp)", brief_value(azp)),
            want,
        });
    }
    if !matches!(claims.get("sub"), Some(Value::String(s)) if !s.is_empty()) {
        return Err(SsoError::MissingClaim("sub".into()));
    }
    let exp = time_claim(claims, "exp")?.ok_or_else(|| SsoError::MissingClaim("exp".into()))?;
    if now > exp.saturating_add(skew_i) {
        return Err(SsoError::Expired { exp, now, skew });
    }
    for claim in ["nbf", "iat"] {
        let at = time_claim(claims, claim)?;
        if claim == "iat" && at.is_none() {
            return Err(SsoError::MissingClaim("iat".into()));
        }
        if let Some(at) = at
            && at > now.saturating_add(skew_i)
        {
            return Err(SsoError::NotYetValid {
                claim,
                at,
                now,
                skew,
            });
        }
    }
    Ok(())
}

/// A NumericDate claim (seconds; a fraction is allowed and dropped).
fn time_claim(claims: &Claims, name: &str) -> Result<Option<i64>, SsoError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| SsoError::malformed(format!("`{name}` is not a time in seconds"))),
        Some(other) => Err(SsoError::malformed(format!(
            "`{name}` is {}, not a time in seconds",
            brief_value(other)
        ))),
    }
}

fn brief(s: String) -> String {
    seatkeeper_core::error::brief_to(s, 200)
}

fn brief_quote(s: &str) -> String {
    brief(format!("{s:?}"))
}

fn brief_value(v: &Value) -> String {
    brief(v.to_string())
}

/// reqwest's error and its causes ("error sending request" alone says little).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
