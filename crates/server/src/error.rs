//! One error shape for every route: `{"error": {"code": "...", "message": "..."}}` with the
//! HTTP status the code implies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_core::Error as DomainError;
use seatkeeper_core::error::brief_to;
use seatkeeper_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 `too_many_attempts` with `Retry-After` (password guessing).
    pub fn too_many_attempts(retry_after_secs: u64, message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A license import while no vendor key is trusted.
    pub fn no_vendor_key() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "no_vendor_key",
            crate::config::NO_VENDOR_KEY,
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn domain_status(e: &DomainError) -> StatusCode {
    match e {
        DomainError::UnknownProduct(_)
        | DomainError::UnknownUser(_)
        | DomainError::UnknownFolder(_)
        | DomainError::UnknownPackage(_)
        | DomainError::UnknownSession(_)
        | DomainError::UnknownRole(_)
        | DomainError::UnknownToken(_)
        | DomainError::UnknownWebhook(_)
        | DomainError::UnknownDelivery(_)
        | DomainError::UnknownMessage(_) => StatusCode::NOT_FOUND,
        DomainError::DuplicateLogin(_)
        | DomainError::Conflict(_)
        | DomainError::DistributionOff
        | DomainError::RedistributionRunning(_)
        | DomainError::DuplicateFolder(_)
        | DomainError::NoSeatFree { .. }
        | DomainError::AreaLimit { .. }
        | DomainError::UserBlocked { .. }
        | DomainError::WrongArea { .. }
        | DomainError::BuiltinAdmin(_)
        | DomainError::FolderInUse { .. }
        | DomainError::Placement { .. }
        | DomainError::CompanyIdChange { .. }
        | DomainError::CompanyIdLocked { .. } => StatusCode::CONFLICT,
        DomainError::License(_) | DomainError::Invalid(_) | DomainError::Csv(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Domain(d) => ApiError::new(domain_status(d), d.code(), d.to_string()),
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "request not decided");
                ApiError::unavailable("the ledger could not decide the request now; try again")
            }
            other => {
                // Database details go to the log, not to the caller.
                tracing::error!(error = %other, "storage failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    other.code(),
                    "the ledger could not complete the request; see the server log",
                )
            }
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        StoreError::Domain(e).into()
    }
}

/// Most characters of an error message an answer carries. Messages quote refused values
/// briefly where they are made; this bounds any that does not, whatever the input held. A CSV
/// import's refusal lists every bad line (each one bounded) and is not cut.
const ANSWER_MESSAGE_MAX_CHARS: usize = 1000;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.code == "csv_invalid" {
            self.message
        } else {
            brief_to(self.message, ANSWER_MESSAGE_MAX_CHARS)
        };
        let mut body = json!({"error": {"code": self.code, "message": message}});
        let mut r = (self.status, Json(body.take())).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
