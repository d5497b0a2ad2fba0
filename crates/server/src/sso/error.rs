//! Why an ID token was refused, or why it could not be checked: each with a stable code that
//! an application can act on, and the HTTP status it is answered with.

use axum::http::StatusCode;
use seatkeeper_core::error::brief;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error(
        "single sign-on is not configured: serve's config file has no [sso] section \
         (docs/PROVISIONING.md)"
    )]
    NotConfigured,
    #[error("the ID token is not a signed JWT: {0}")]
    Malformed(String),
    #[error("the ID token has no usable `{0}` claim")]
    MissingClaim(String),
    #[error(
        "the ID token is signed with {0}, which this server does not accept (allowed_algorithms)"
    )]
    AlgorithmNotAllowed(String),
    #[error(
        "the ID token is signed with a key ({0}) the issuer does not publish in its key set: \
         it was not issued by the configured issuer, or that key was withdrawn"
    )]
    UnknownKey(String),
    #[error("the ID token's signature does not verify against the issuer's keys")]
    BadSignature,
    #[error("the ID token was issued by {got}, not by the configured issuer {want}")]
    WrongIssuer { got: String, want: String },
    #[error("the ID token was issued to {got}, not to this application ({want})")]
    WrongAudience { got: String, want: String },
    #[error(
        "the ID token expired at {exp} (unix seconds); the server's clock says {now}, \
         {skew} s of clock skew allowed"
    )]
    Expired { exp: i64, now: i64, skew: u64 },
    #[error(
        "the ID token is not valid yet: its `{claim}` is {at} (unix seconds); the server's \
         clock says {now}, {skew} s of clock skew allowed"
    )]
    NotYetValid {
        claim: &'static str,
        at: i64,
        now: i64,
        skew: u64,
    },
    #[error("the identity provider could not be reached at {url}: {why}")]
    Unreachable {
        url: String,
        why: String,
        timed_out: bool,
    },
    #[error("the identity provider answered badly at {url}: {why}")]
    IssuerError { url: String, why: String },
}

impl SsoError {
    pub fn code(&self) -> &'static str {
        match self {
            SsoError::NotConfigured => "sso_not_configured",
            SsoError::Malformed(_) => "id_token_malformed",
            SsoError::MissingClaim(_) => "id_token_missing_claim",
            SsoError::AlgorithmNotAllowed(_) => "id_token_algorithm_not_allowed",
            SsoError::UnknownKey(_) => "id_token_unknown_key",
            SsoError::BadSignature => "id_token_bad_signature",
            SsoError::WrongIssuer { .. } => "id_token_wrong_issuer",
            SsoError::WrongAudience { .. } => "id_token_wrong_audience",
            SsoError::Expired { .. } => "id_token_expired",
            SsoError::NotYetValid { .. } => "id_token_not_yet_valid",
            SsoError::Unreachable { .. } => "sso_issuer_unreachable",
            SsoError::IssuerError { .. } => "sso_issuer_error",
        }
    }

    /// A token that proves nothing is the request's fault (422, as other unacceptable
    /// bodies); an issuer that cannot be asked is the gateway's (502, 504 on a timeout).
    pub fn status(&self) -> StatusCode {
        match self {
            SsoError::NotConfigured => StatusCode::CONFLICT,
            SsoError::Unreachable {
                timed_out: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            SsoError::Unreachable { .. } | SsoError::IssuerError { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    pub(crate) fn malformed(why: impl std::fmt::Display) -> SsoError {
        SsoError::Malformed(brief(why.to_string()))
    }
}

impl From<SsoError> for ApiError {
    fn from(e: SsoError) -> Self {
        ApiError::new(e.status(), e.code(), e.to_string())
    }
}
