//! axum's extractors with their rejections turned into the API's error shape. Every body goes
//! through `body_rejection`, so the same fault gets the same code on every route:
//!
//! | fault | status | code |
//! |---|---|---|
//! | over the size limit | 413 | `payload_too_large` |
//! | not UTF-8 | 400 | `invalid_body` |
//! | JSON without a JSON content type | 415 | `unsupported_media_type` |
//! | malformed JSON | 400 | `invalid_json` |
//! | missing, unknown or mistyped fields | 422 | `invalid_json` |
//!
//! The rejections' messages quote the input (serde names the bad value), so they are cut short.

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use seatkeeper_core::error::brief;

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

/// A JSON body, read by `body_bytes` and then parsed.
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The one mapping of a body that could not be read (too large, cut off, not UTF-8), by the
/// status axum gives it.
pub fn body_rejection(status: StatusCode, message: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            format!("the body is too large: {message}"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "unsupported_media_type", message)
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message),
    }
}

/// The body, whole, as UTF-8 text.
async fn body_text<S: Send + Sync>(req: Request, state: &S) -> Result<String, ApiError> {
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|r| body_rejection(r.status(), r.body_text()))?;
    String::from_utf8(bytes.into()).map_err(|e| {
        body_rejection(
            StatusCode::BAD_REQUEST,
            format!("the body is not UTF-8: {}", e.utf8_error()),
        )
    })
}

/// `application/json` or `application/…+json`, as axum's own `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ctype) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ctype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(body_rejection(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let text = body_text(req, state).await?;
        axum::Json::<T>::from_bytes(text.as_bytes())
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(ApiError::from)
    }
}

/// Malformed JSON (400) or JSON of the wrong shape (422); the body itself was read.
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            s @ (StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY) => {
                ApiError::new(s, "invalid_json", brief(r.body_text()))
            }
            s => body_rejection(s, brief(r.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            brief(r.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            brief(r.body_text()),
        )
    }
}

/// A text body (a license file, a CSV file).
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        body_text(req, state).await.map(ApiText)
    }
}
