//! The request id (`x-request-id`, set for every request in `serve`) in the API's error
//! answers too, beside the header: `{"error": {"code", "message", "request_id"}}`. A person
//! reporting an error quotes what they see; the same id is on the request's log lines.

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::Response;

/// Error answers are small; anything larger is passed on as it is.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn in_error_answers(req: Request, next: Next) -> Response {
    let id = req.headers().get("x-request-id").cloned();
    let response = next.run(req).await;
    let Some(id) = id
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return response;
    };
    let is_api_error = (response.status().is_client_error() || response.status().is_server_error())
        && response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|c| c.as_bytes().starts_with(b"application/json"));
    if !is_api_error {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    let Some(error) = value.get_mut("error").and_then(|e| e.as_object_mut()) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    error.insert("request_id".into(), serde_json::Value::String(id));
    let text = value.to_string();
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    Response::from_parts(parts, Body::from(text))
}
