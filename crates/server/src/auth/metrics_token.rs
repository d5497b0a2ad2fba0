//! The access check of `GET /metrics` (`Access::Metrics`): the `[metrics] token`, not an
//! API token.

use axum::http::StatusCode;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn off() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "metrics are off; see [metrics] in the configuration (docs/CONFIGURATION.md)",
    )
}

/// The access check of `/metrics` (`Access::Metrics`): on the main listener only with the
/// configured token; 404 while metrics are off or served on their own address only.
pub(crate) fn check(state: &AppState, bearer: Option<&str>) -> Result<(), ApiError> {
    let Some(m) = &state.metrics else {
        return Err(off());
    };
    if !m.has_token() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are served on the [metrics] listen address only",
        ));
    }
    match bearer {
        Some(t) if m.token_matches(t) => Ok(()),
        Some(_) => Err(ApiError::unauthenticated("the metrics token is wrong")),
        None => Err(ApiError::unauthenticated(
            "this route needs `Authorization: Bearer <[metrics] token>`",
        )),
    }
}
