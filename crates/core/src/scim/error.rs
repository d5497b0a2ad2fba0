//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a detail, and
//! their JSON body.
//!
//! API:
//! - [`ScimError`] `{ status: u16, scim_type: Option<&'static str>, detail: String }`.
//! - 400 with a `scimType`: [`ScimError::invalid_filter`], `invalid_syntax`, `invalid_path`,
//!   `no_target`, `invalid_value`, `mutability`, `sensitive`, `invalid_vers`; 400 `too_many`;
//!   409 `uniqueness`. Without a `scimType`: `bad_request` (400), `unauthorized` (401),
//!   `forbidden` (403), `not_found` (404), `conflict` (409), `precondition_failed` (412),
//!   `payload_too_large` (413), `internal` (500), `not_implemented` (501).
//! - [`ScimError::to_json`]: the error body, `status` as a string as the RFC writes it.
//! - `From<FilterError>`: `invalidFilter`, 400.

use std::fmt;

use serde_json::{Value, json};

use super::parse::FilterError;

/// `urn:ietf:params:scim:api:messages:2.0:Error`.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A refusal, as the HTTP layer answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

macro_rules! typed {
    ($($(#[$doc:meta])* $name:ident => $status:expr, $ty:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(detail: impl Into<String>) -> ScimError {
            ScimError { status: $status, scim_type: $ty, detail: detail.into() }
        }
    )*};
}

impl ScimError {
    typed! {
        /// 400 `invalidFilter`: a filter that cannot be parsed or evaluated.
        invalid_filter => 400, Some("invalidFilter");
        /// 400 `tooMany`: the query would return more results than the server will.
        too_many => 400, Some("tooMany");
        /// 409 `uniqueness`: a value that must be unique (userName, displayName) is taken.
        uniqueness => 409, Some("uniqueness");
        /// 400 `mutability`: a change to a readOnly or immutable attribute.
        mutability => 400, Some("mutability");
        /// 400 `invalidSyntax`: the request body is not a valid SCIM request.
        invalid_syntax => 400, Some("invalidSyntax");
        /// 400 `invalidPath`: a PATCH `path` that is malformed or names nothing we know.
        invalid_path => 400, Some("invalidPath");
        /// 400 `noTarget`: a PATCH path that selects nothing (or a remove without path).
        no_target => 400, Some("noTarget");
        /// 400 `invalidValue`: a missing required value, or a value of the wrong type.
        invalid_value => 400, Some("invalidValue");
        /// 400 `invalidVers`: an unsupported SCIM protocol version.
        invalid_vers => 400, Some("invalidVers");
        /// 400 `sensitive`: sensitive information in the request URI.
        sensitive => 400, Some("sensitive");
        /// 400 without a `scimType`.
        bad_request => 400, None;
        /// 401: no or a bad bearer token.
        unauthorized => 401, None;
        /// 403: the token lacks the permission.
        forbidden => 403, None;
        /// 404: no such resource.
        not_found => 404, None;
        /// 409 without a `scimType`: the resource's state forbids the change.
        conflict => 409, None;
        /// 412: `If-Match` names another version.
        precondition_failed => 412, None;
        /// 413: the request body is too large.
        payload_too_large => 413, None;
        /// 500: a fault of ours.
        internal => 500, None;
        /// 501: an operation the server does not support (Bulk, sorting, …).
        not_implemented => 501, None;
    }

    /// The error body: `{"schemas":[…Error],"status":"400","scimType":"…","detail":"…"}`.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(ty), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(ty.into()));
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(ty) => write!(f, "{} {ty}: {}", self.status, self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> ScimError {
        ScimError::invalid_filter(e.detail)
    }
}
