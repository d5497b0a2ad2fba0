//! The SCIM 2.0 service provider (I2, RFC 7643 / RFC 7644) under `/scim/v2`: a thin layer.
//! The resources, PATCH, filters, projection, paging and discovery documents are the core's
//! (`seatkeeper_core::scim`); the reads and writes — limits (U1/U2), blocks, D5 — the store's
//! (`Ledger::scim_*`). Here: requests and answers in SCIM's own shape (`application/scim+json`,
//! RFC 7644 §3.12 errors, ETags and `If-Match`), and the `[scim]` settings.
//!
//! Every route takes only a `provisioning` token whose owner holds `provision_users`
//! (`Access::Provision`); the access check answers refusals on these paths as SCIM errors too.

pub mod groups;
pub mod users;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, ETAG, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use seatkeeper_core::Error as DomainError;
use seatkeeper_core::scim::{self, ScimError};
use seatkeeper_store::{DeleteMode, LimitPolicy, StoreError};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The `[scim]` section of the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// A user created or activated beyond the area's limit: `block` (created blocked with
    /// `license_limit`, activated when room frees; U2) or `refuse` (409; U1).
    #[serde(default)]
    pub limit: LimitPolicy,
    /// `DELETE /Users/{id}`: `block` (reason `deprovisioned`, as a directory removal) or
    /// `delete`.
    #[serde(default)]
    pub delete: DeleteMode,
    /// The enterprise extension's `department` → folder: `ignore`, `existing` (the folder
    /// `department_root/<department>` when it exists) or `create` (made when missing).
    #[serde(default)]
    pub department_folders: DepartmentFolders,
    /// The folder under which department folders are looked for ("" = the root).
    #[serde(default)]
    pub department_root: String,
    /// The role under which groups created over SCIM are placed (none: the root role).
    #[serde(default)]
    pub group_parent: Option<String>,
    /// The public URL of `/scim/v2` (for `meta.location`), e.g.
    /// `https://seats.example.com/scim/v2`; by default `http://<Host header>/scim/v2`.
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DepartmentFolders {
    Ignore,
    #[default]
    Existing,
    Create,
}

impl ScimConfig {
    pub fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.base_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(format!("[scim] base_url {u:?} must be an http(s) URL"));
        }
        if !self.department_root.is_empty() {
            seatkeeper_core::validate::folder_path(&self.department_root)
                .map_err(|e| format!("[scim] department_root: {e}"))?;
        }
        Ok(())
    }

    /// The folder rule for a user's department.
    pub fn folder_rule(&self, department: Option<&str>) -> Option<seatkeeper_store::FolderRule> {
        let d = department?.trim().replace('/', "-");
        if d.is_empty() {
            return None;
        }
        let root = self.department_root.trim_matches('/');
        let path = if root.is_empty() {
            d
        } else {
            format!("{root}/{d}")
        };
        match self.department_folders {
            DepartmentFolders::Ignore => None,
            DepartmentFolders::Existing => Some(seatkeeper_store::FolderRule::IfExists(path)),
            DepartmentFolders::Create => Some(seatkeeper_store::FolderRule::Create(path)),
        }
    }
}

/// An answer in SCIM's shape.
pub struct Scim {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub location: Option<String>,
}

impl Scim {
    pub fn ok(body: Value) -> Scim {
        Scim {
            status: StatusCode::OK,
            body: Some(body),
            location: None,
        }
    }

    pub fn created(body: Value) -> Scim {
        let location = body
            .pointer("/meta/location")
            .and_then(Value::as_str)
            .map(str::to_string);
        Scim {
            status: StatusCode::CREATED,
            body: Some(body),
            location,
        }
    }

    pub fn no_content() -> Scim {
        Scim {
            status: StatusCode::NO_CONTENT,
            body: None,
            location: None,
        }
    }
}

fn scim_type_header() -> HeaderValue {
    HeaderValue::from_static(SCIM_CONTENT_TYPE)
}

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        let etag = self
            .body
            .as_ref()
            .and_then(|b| b.pointer("/meta/version"))
            .and_then(Value::as_str)
            .and_then(|v| HeaderValue::from_str(v).ok());
        let mut r = match self.body {
            Some(b) => (self.status, b.to_string()).into_response(),
            None => self.status.into_response(),
        };
        let h = r.headers_mut();
        if self.status != StatusCode::NO_CONTENT {
            h.insert(CONTENT_TYPE, scim_type_header());
        }
        if let Some(e) = etag {
            h.insert(ETAG, e);
        }
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            h.insert(LOCATION, l);
        }
        r
    }
}

/// A refusal in SCIM's shape (RFC 7644 §3.12).
pub struct ScimFail(pub ScimError);

impl IntoResponse for ScimFail {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = (status, self.0.to_json().to_string()).into_response();
        r.headers_mut().insert(CONTENT_TYPE, scim_type_header());
        r
    }
}

impl From<ScimError> for ScimFail {
    fn from(e: ScimError) -> Self {
        ScimFail(e)
    }
}

impl From<StoreError> for ScimFail {
    fn from(e: StoreError) -> Self {
        ScimFail(store_error(e))
    }
}

pub type ScimResult = Result<Scim, ScimFail>;

/// The SCIM error for a store refusal.
pub fn store_error(e: StoreError) -> ScimError {
    match &e {
        StoreError::Domain(d) => match d {
            DomainError::DuplicateLogin(l) => {
                ScimError::uniqueness(format!("userName {l:?} is already taken"))
            }
            DomainError::UnknownUser(_) | DomainError::UnknownRole(_) => {
                ScimError::not_found(d.to_string())
            }
            DomainError::AreaLimit { .. } => ScimError::conflict(format!(
                "{d} (the SCIM limit setting is `refuse`; with `block` the user would be \
                 created blocked and activated when room frees)"
            )),
            DomainError::Conflict(m) if m.contains("already exists") => {
                ScimError::uniqueness(m.clone())
            }
            DomainError::Conflict(m) if m.contains("directory sync") => {
                ScimError::mutability(m.clone())
            }
            DomainError::BuiltinAdmin(_) => ScimError::mutability(d.to_string()),
            DomainError::Conflict(_) => ScimError::conflict(d.to_string()),
            DomainError::Invalid(_) | DomainError::UnknownFolder(_) => {
                ScimError::invalid_value(d.to_string())
            }
            _ => ScimError::conflict(d.to_string()),
        },
        StoreError::Unavailable(_) => ScimError {
            status: 503,
            scim_type: None,
            detail: "the ledger could not decide the request now; try again".into(),
        },
        other => {
            tracing::error!(error = %other, "storage failure on a SCIM request");
            ScimError::internal("the ledger could not complete the request; see the server log")
        }
    }
}

/// An error of the access check (or any other API error) on a SCIM path, in SCIM's shape.
pub fn from_api_error(e: ApiError) -> Response {
    let unauthenticated = e.status == StatusCode::UNAUTHORIZED;
    let mut r = ScimFail(ScimError {
        status: e.status.as_u16(),
        scim_type: None,
        detail: e.message,
    })
    .into_response();
    if unauthenticated {
        // RFC 7644 §2 / RFC 6750 §3: say which scheme is expected.
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"seatkeeper-scim\""),
        );
    }
    r
}

/// A member or a user named by an id that SCIM does not know (in a body, not the URL): 400.
pub fn unknown_reference(e: StoreError) -> ScimError {
    match e {
        StoreError::Domain(DomainError::UnknownUser(u)) => {
            ScimError::invalid_value(format!("no such user: {u}"))
        }
        other => store_error(other),
    }
}

/// `/scim/v2` as clients reach it, for `meta.location`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(b) = &state.settings.scim.base_url {
        return b.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}/scim/v2")
}

/// A JSON body (`application/scim+json` or `application/json`).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimFail;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimFail> {
        let ctype = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(ctype == "application/json" || ctype == SCIM_CONTENT_TYPE) {
            return Err(ScimFail(ScimError {
                status: 415,
                scim_type: None,
                detail: "send the body as application/scim+json (or application/json)".into(),
            }));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            ScimFail(ScimError {
                status: r.status().as_u16(),
                scim_type: None,
                detail: seatkeeper_core::error::brief(r.body_text()),
            })
        })?;
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            ScimFail(ScimError::invalid_syntax(format!(
                "the body is not JSON: {e}"
            )))
        })
    }
}

/// The query parameters SCIM reads.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl ListQuery {
    pub fn parse(query: Option<&str>) -> ListQuery {
        let mut q = ListQuery::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let v = Some(v.into_owned());
            // Parameter names are case-insensitive (RFC 7644 §3.4.2).
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = v,
                "startindex" => q.start_index = v,
                "count" => q.count = v,
                "attributes" => q.attributes = v,
                "excludedattributes" => q.excluded = v,
                _ => {}
            }
        }
        q
    }

    pub fn from_search(r: scim::SearchRequest) -> ListQuery {
        ListQuery {
            filter: r.filter,
            start_index: r.start_index,
            count: r.count,
            attributes: r.attributes,
            excluded: r.excluded_attributes,
        }
    }

    pub fn project(&self, resource: &Value) -> Result<Value, ScimError> {
        scim::project(
            resource,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )
    }
}

/// `If-Match` against the resource's current version: 412 when it names another.
pub fn check_if_match(headers: &HeaderMap, current: &Value) -> Result<(), ScimError> {
    let Some(h) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(());
    };
    let header = h
        .to_str()
        .map_err(|_| ScimError::invalid_value("If-Match is not text"))?;
    let version = current
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if scim::if_match(header, version) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format!(
            "the resource has changed: its version is {version}, not {header}"
        )))
    }
}

/// A resource id from the URL: the ledger's ids are integers, anything else is unknown.
pub fn parse_id(raw: &str, what: &str) -> Result<i64, ScimError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ScimError::not_found(format!("no {what} with id {raw:?}")))
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): users and groups together.
pub async fn search_all(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let q = ListQuery::from_search(scim::SearchRequest::from_json(&body)?);
    let paging = scim::Paging::from_query(q.start_index.as_deref(), q.count.as_deref())?;
    let filter = q
        .filter
        .as_deref()
        .map(scim::parse_filter)
        .transpose()
        .map_err(ScimError::from)?;
    let base = base_url(&state, &headers);
    let mut all = users::matching(&state, &base, filter.as_ref(), None).await?;
    all.extend(groups::matching(&state, &base, filter.as_ref()).await?);
    let total = all.len();
    let page = all
        .iter()
        .skip(paging.offset())
        .take(paging.count)
        .map(|r| q.project(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scim::ok(scim::list_response(page, total, paging)))
}

/// The discovery endpoints.
pub mod discovery {
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    use seatkeeper_core::scim::{self, ScimError};
    use serde_json::Value;

    use super::{Scim, ScimResult, base_url};
    use crate::AppState;

    pub async fn service_provider_config(
        State(state): State<AppState>,
        headers: HeaderMap,
    ) -> ScimResult {
        Ok(Scim::ok(scim::service_provider_config(&base_url(
            &state, &headers,
        ))))
    }

    fn list(resources: Vec<Value>) -> Value {
        let n = resources.len();
        scim::list_response(
            resources,
            n,
            scim::Paging {
                start_index: 1,
                count: n,
            },
        )
    }

    fn one(resources: Vec<Value>, id: &str, what: &str) -> ScimResult {
        resources
            .into_iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
            .map(Scim::ok)
            .ok_or_else(|| ScimError::not_found(format!("no {what} {id:?}")).into())
    }

    pub async fn resource_types(State(state): State<AppState>, headers: HeaderMap) -> ScimResult {
        Ok(Scim::ok(list(scim::resource_types(&base_url(
            &state, &headers,
        )))))
    }

    pub async fn resource_type(
        State(state): State<AppState>,
        headers: HeaderMap,
        Path(id): Path<String>,
    ) -> ScimResult {
        one(
            scim::resource_types(&base_url(&state, &headers)),
            &id,
            "resource type",
        )
    }

    pub async fn schemas(State(state): State<AppState>, headers: HeaderMap) -> ScimResult {
        Ok(Scim::ok(list(scim::schemas(&base_url(&state, &headers)))))
    }

    pub async fn schema(
        State(state): State<AppState>,
        headers: HeaderMap,
        Path(id): Path<String>,
    ) -> ScimResult {
        one(scim::schemas(&base_url(&state, &headers)), &id, "schema")
    }
}
