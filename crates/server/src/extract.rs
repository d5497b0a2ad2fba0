//! axum's extractors with their rejections turned into the API's error shape.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;

use crate::AppState;
use crate::client::Client;
use crate::error::ApiError;

/// The authenticated caller of an admin route and the audit's actor for what it does: the
/// one place where the API's "who and from where" is put together (the credential check in
/// front of the route left the principal in the request).
pub struct Caller {
    pub principal: seatkeeper_store::Principal,
    pub actor: seatkeeper_store::Actor,
}

impl std::ops::Deref for Caller {
    type Target = seatkeeper_store::Principal;
    fn deref(&self) -> &Self::Target {
        &self.principal
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<seatkeeper_store::Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated("this route needs a credential"))?;
        let client = Client::from_request_parts(parts, state).await?;
        let actor = client.actor(
            principal.login.clone(),
            format!("api:{}", principal.scope.as_str()),
        );
        Ok(Caller { principal, actor })
    }
}

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else {
            "invalid_json"
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

/// A text body (a license file, a CSV file) with the API's error shape for a body that is too
/// large or not UTF-8.
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        String::from_request(req, state)
            .await
            .map(ApiText)
            .map_err(|r| ApiError::new(r.status(), "invalid_body", r.body_text()))
    }
}
