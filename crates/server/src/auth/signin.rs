//! Administrator sign-in, shared by the API (`POST /api/v1/auth/login`) and the admin UI's
//! form, so that both paths spend the same limits (issue 13, password guessing):
//!
//! - per client address, a token bucket in this process (`governor`): many logins guessed
//!   from one address; cheap, no database write;
//! - per login, a failure count and lockout in the ledger (`Ledger::signin_attempt`), which
//!   holds across every node of one PostgreSQL;
//! - every sign-in audited (`auth.signin`, `auth.signin_failed`, `auth.locked`) with the
//!   client's address and user agent; a lock posts a message to the administrators.
//!
//! The password hash is verified on every attempt that is not refused before it, even for a
//! login without an account (against a dummy hash), so timing does not tell which exist.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use seatkeeper_core::signin::SigninPolicy;
use seatkeeper_store::{Principal, SigninCheck, SigninRefusal, TokenScope};
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::{self, verify_password};
use crate::client::Client;
use crate::error::{ApiError, ApiResult};

/// Keys kept by the per-address limiter before the idle ones are dropped.
const ADDRESSES_KEPT: usize = 10_000;

/// The sign-in limits of this process.
pub struct SigninLimits {
    pub policy: SigninPolicy,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Passwords verified (real or dummy hash), for the test that unknown logins cost the same.
    checks: AtomicU64,
}

impl SigninLimits {
    pub fn new(policy: SigninPolicy, per_address_per_minute: u32) -> Self {
        SigninLimits {
            policy,
            per_address: NonZeroU32::new(per_address_per_minute)
                .map(|n| RateLimiter::hashmap(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one attempt from the address's bucket: the seconds to wait when it is empty.
    fn take(&self, address: Option<IpAddr>) -> Result<(), u64> {
        let (Some(limiter), Some(ip)) = (&self.per_address, address) else {
            return Ok(());
        };
        if limiter.len() > ADDRESSES_KEPT {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    pub fn password_checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

fn secs_until(state: &AppState, until: OffsetDateTime) -> u64 {
    u64::try_from((until - state.ledger.now()).whole_seconds()).unwrap_or(0)
}

fn locked(secs: u64) -> ApiError {
    ApiError::too_many_attempts(
        secs,
        format!(
            "too many failed sign-ins for this login: it is locked; try again in {} \
             (or ask an administrator to run `seatkeeper admin unlock`)",
            human(secs)
        ),
    )
}

/// "15 minutes", "40 seconds".
pub fn human(secs: u64) -> String {
    match secs {
        s if s >= 120 => format!("{} minutes", s.div_ceil(60)),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

/// Checks a login and password and opens a sign-in session: its secret and its principal.
/// `channel` is `api:signin` or `ui:signin`. Refusals: 401 `unauthenticated` for a wrong
/// login or password, 429 `too_many_attempts` (with `retry_after`) for a limit or a lock.
pub async fn authenticate(
    state: &AppState,
    client: &Client,
    login: &str,
    password: &str,
    channel: &str,
) -> ApiResult<(String, Principal)> {
    // An over-long password cannot be right; refused before the slow hash (or any count) sees it.
    seatkeeper_core::validate::password(password)?;
    let limits = &state.signin;
    if let Err(wait) = limits.take(client.address) {
        tracing::warn!(address = ?client.address, "sign-in attempts over the per-address limit");
        return Err(ApiError::too_many_attempts(
            wait,
            format!(
                "too many sign-in attempts from this address; try again in {}",
                human(wait)
            ),
        ));
    }
    let actor = client.actor(login.chars().take(200).collect::<String>(), channel);
    let locks_until = match state.ledger.signin_attempt(login, &limits.policy).await? {
        SigninCheck::Locked { until } => {
            state
                .ledger
                .signin_refused(&actor, login, SigninRefusal::Locked { until })
                .await?;
            return Err(locked(secs_until(state, until)));
        }
        SigninCheck::Allowed { locks_until } => locks_until,
    };
    let creds = state.ledger.credentials(login).await?;
    // The hash is verified even for unknown users so that timing does not reveal logins.
    let stored = creds
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| state.settings.dummy_hash.clone());
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|_| ApiError::unavailable("password check interrupted"))?;
    limits.checks.fetch_add(1, Ordering::Relaxed);
    let reason = match &creds {
        None => Some("unknown_login"),
        Some(c) if c.password_hash.is_none() => Some("no_password"),
        Some(_) if !ok => Some("wrong_password"),
        Some(c) if !c.active => Some("blocked"),
        Some(_) => None,
    };
    let Some(creds) = creds.filter(|_| reason.is_none()) else {
        state
            .ledger
            .signin_refused(
                &actor,
                login,
                SigninRefusal::Failed {
                    reason: reason.unwrap_or("wrong_password"),
                    locked_until: locks_until,
                },
            )
            .await?;
        return Err(match locks_until {
            Some(until) => locked(secs_until(state, until)),
            None => ApiError::unauthenticated("wrong login or password"),
        });
    };
    let secret = auth::new_secret(TokenScope::Signin)?;
    let expires_at = state.ledger.now() + state.settings.signin_ttl;
    // Audited as `auth.signin`; ends the login's run of failures (and a lock this attempt set).
    state
        .ledger
        .create_token(
            &client.actor(creds.login.clone(), channel),
            &creds.login,
            "sign-in",
            TokenScope::Signin,
            &auth::secret_hash(&secret),
            Some(expires_at),
        )
        .await?;
    let principal = auth::principal_for(state, &secret)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("wrong login or password"))?;
    Ok((secret, principal))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn x13_an_unknown_login_verifies_a_hash_like_a_known_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db").display().to_string();
        let ledger = seatkeeper_store::Ledger::open(&db).await.unwrap();
        let hash = auth::hash_password("correct horse battery staple").unwrap();
        ledger
            .set_password_hash(&seatkeeper_store::Actor::system(), "admin", &hash)
            .await
            .unwrap();
        let config =
            crate::ServeConfig::resolve(crate::config::Overrides::default(), None, false, None)
                .unwrap();
        let state = crate::state(ledger, &config, Vec::new()).unwrap();
        let client = Client::default();
        for login in ["admin", "nobody-has-this-login"] {
            let before = state.signin.password_checks();
            let e = authenticate(&state, &client, login, "wrong password!!", "api:signin")
                .await
                .unwrap_err();
            assert_eq!(e.code, "unauthenticated", "{login}");
            assert_eq!(state.signin.password_checks(), before + 1, "{login}");
        }
    }
}
