//! SCIM's shape of requests and answers, shared by the resource modules: answers with
//! `application/scim+json`, `ETag` and `Location`; RFC 7644 §3.12 errors; the JSON body
//! extractor; list query parameters; `If-Match`; ids; the base URL.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, ETAG, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use seatkeeper_core::Error as DomainError;
use seatkeeper_core::scim::{self, ScimError};
use seatkeeper_store::StoreError;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

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

    /// The parsed `filter`, if any (`invalidFilter` when it does not parse).
    pub fn filter(&self) -> Result<Option<scim::Filter>, ScimError> {
        self.filter
            .as_deref()
            .map(scim::parse_filter)
            .transpose()
            .map_err(ScimError::from)
    }

    /// The ListResponse of a page, projected.
    pub fn respond(&self, page: Vec<Value>, total: usize, paging: scim::Paging) -> ScimResult {
        let projected = page
            .iter()
            .map(|r| self.project(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scim::ok(scim::list_response(projected, total, paging)))
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

/// A resource type's lists: paged in the database without a filter, matched in memory with one
/// (read by index first when the filter allows, see each type's `matching`).
pub trait Resources {
    /// One page of every resource: (total, page).
    fn page(
        state: &AppState,
        base: &str,
        offset: u64,
        count: u64,
    ) -> impl std::future::Future<Output = Result<(u64, Vec<Value>), ScimFail>> + Send;

    /// Every resource `filter` matches (all without one).
    fn matching(
        state: &AppState,
        base: &str,
        filter: Option<&scim::Filter>,
    ) -> impl std::future::Future<Output = Result<Vec<Value>, ScimFail>> + Send;
}

/// The representations `filter` matches (all without one), in order.
pub fn keep_matching(
    all: impl Iterator<Item = Value>,
    filter: Option<&scim::Filter>,
) -> Result<Vec<Value>, ScimFail> {
    let mut out = Vec::new();
    for r in all {
        if filter
            .map_or(Ok(true), |f| f.try_matches(&r))
            .map_err(ScimError::from)?
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// `GET /Users`, `GET /Groups`.
pub async fn list<R: Resources>(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ScimResult {
    list_with::<R>(&state, &headers, ListQuery::parse(query.as_deref())).await
}

/// `POST …/.search` (RFC 7644 §3.4.3): the list, its parameters in the body.
pub async fn search<R: Resources>(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let q = ListQuery::from_search(scim::SearchRequest::from_json(&body)?);
    list_with::<R>(&state, &headers, q).await
}

async fn list_with<R: Resources>(
    state: &AppState,
    headers: &HeaderMap,
    q: ListQuery,
) -> ScimResult {
    let paging = scim::Paging::from_query(q.start_index.as_deref(), q.count.as_deref())?;
    let base = base_url(state, headers);
    let filter = q.filter()?;
    let (total, page) = match &filter {
        None => {
            let (total, page) =
                R::page(state, &base, paging.offset() as u64, paging.count as u64).await?;
            (usize::try_from(total).unwrap_or(usize::MAX), page)
        }
        Some(f) => {
            let all = R::matching(state, &base, Some(f)).await?;
            let total = all.len();
            (
                total,
                all.into_iter()
                    .skip(paging.offset())
                    .take(paging.count)
                    .collect(),
            )
        }
    };
    q.respond(page, total, paging)
}

/// A filter `attr eq "value"` on a top-level attribute: (the attribute lower-cased, the value).
/// What identity providers send before every create, which the lists read by index.
pub fn eq_string(filter: &scim::Filter) -> Option<(String, &str)> {
    let scim::Filter::Compare {
        path,
        op: scim::CompareOp::Eq,
        value: scim::CompValue::String(s),
    } = filter
    else {
        return None;
    };
    path.sub_attr
        .is_none()
        .then(|| (path.attr.to_ascii_lowercase(), s.as_str()))
}
