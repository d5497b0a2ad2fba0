//! The admin web UI: server-rendered HTML (maud), a small stylesheet and script compiled into
//! the binary, so `seatkeeper serve` serves it with no build step. Like the API it is a thin
//! layer: every page reads through the `Ledger` and every action calls the ledger method the
//! API calls, so the UI cannot do what the API refuses.
//!
//! Sessions are the API's sign-in tokens carried in an `HttpOnly`, `SameSite=Strict`,
//! `Secure` cookie. Every state-changing request is a POST whose form carries a CSRF token
//! derived from the session secret; the check runs in one middleware in front of all `/ui`
//! routes (multipart forms are checked by their extractor before the handler sees a byte).

mod directory;
mod licenses;
mod overview;
mod pages;
mod roles;
mod signin;
mod users;
mod view;
mod webhooks;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{Markup, html};
use seatkeeper_core::Permission;
use seatkeeper_store::{Actor, Principal, TokenScope};
use sha2::{Digest, Sha256};

use crate::auth;
use crate::client::Client;
use crate::error::ApiError;
use crate::{AppState, UPLOAD_LIMIT};

pub(crate) const SESSION_COOKIE: &str = "sk_ui";
const PRE_COOKIE: &str = "sk_pre";
const FLASH_COOKIE: &str = "sk_flash";
/// Form bodies are small; CSV and license uploads are multipart and have their own limit.
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// One path of the UI: the page it shows (GET) and the action it takes (POST).
struct UiRoute {
    path: &'static str,
    get: Option<MethodRouter<AppState>>,
    post: Option<MethodRouter<AppState>>,
}

fn at(path: &'static str) -> UiRoute {
    UiRoute {
        path,
        get: None,
        post: None,
    }
}

impl UiRoute {
    fn get<H: Handler<T, AppState>, T: 'static>(mut self, handler: H) -> Self {
        self.get = Some(get(handler));
        self
    }

    fn post<H: Handler<T, AppState>, T: 'static>(mut self, handler: H) -> Self {
        self.post = Some(post(handler));
        self
    }
}

/// Every page of the UI and every action. A new page or action is one line here; the router
/// and `post_routes` (which a test walks) both come from this list.
fn routes() -> Vec<UiRoute> {
    vec![
        at("/").get(|| async { redirect("/ui/") }),
        at("/ui").get(|| async { redirect("/ui/") }),
        at("/ui/").get(overview::page),
        at("/ui/assets/app.css").get(css),
        at("/ui/assets/app.js").get(js),
        at("/ui/login")
            .get(signin::signin_page)
            .post(signin::signin),
        at("/ui/logout").post(signin::signout),
        at("/ui/licenses").get(licenses::page),
        at("/ui/licenses/request").post(licenses::request),
        at("/ui/licenses/upload").post(licenses::upload),
        at("/ui/licenses/import").post(licenses::import),
        at("/ui/licenses/delete")
            .get(licenses::delete_page)
            .post(licenses::delete_all),
        at("/ui/users").get(users::list),
        at("/ui/users/bulk").post(users::bulk),
        at("/ui/users/new").post(users::create),
        at("/ui/users/import").post(users::import_csv),
        at("/ui/users/export.csv").get(users::export_csv),
        at("/ui/users/{login}").get(users::page),
        at("/ui/users/{login}/action").post(users::action),
        at("/ui/roles").get(roles::list),
        at("/ui/roles/{id}").get(roles::page),
        at("/ui/roles/{id}/products").post(roles::bind),
        at("/ui/roles/{id}/members").post(roles::members),
        at("/ui/redistribute/preview").post(roles::preview),
        at("/ui/redistribute/apply").post(roles::apply),
        at("/ui/directory").get(directory::page),
        at("/ui/directory/settings").post(directory::save),
        at("/ui/directory/test").post(directory::test),
        at("/ui/directory/preview").post(directory::preview),
        at("/ui/directory/sync").post(directory::sync),
        at("/ui/folders")
            .get(pages::folders)
            .post(pages::folder_action),
        at("/ui/settings")
            .get(pages::settings)
            .post(pages::save_settings),
        at("/ui/settings/notifications").post(pages::save_notifications),
        at("/ui/settings/test-mail").post(pages::test_mail),
        at("/ui/settings/redeliver").post(pages::redeliver),
        at("/ui/messages")
            .get(pages::messages)
            .post(pages::mark_read),
        at("/ui/audit").get(pages::audit),
        at("/ui/webhooks")
            .get(webhooks::list)
            .post(webhooks::create),
        at("/ui/webhooks/{id}").get(webhooks::page),
        at("/ui/webhooks/{id}/action").post(webhooks::action),
        at("/ui/deliveries/{id}").get(webhooks::delivery),
        at("/ui/deliveries/{id}/redeliver").post(webhooks::redeliver),
    ]
}

/// The UI's router. `GET` pages need a session; every `POST` needs a session and the CSRF
/// token (sign-in: the pre-session token).
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for route in routes() {
        let methods = match (route.get, route.post) {
            (Some(g), Some(p)) => g.merge(p),
            (Some(m), None) | (None, Some(m)) => m,
            (None, None) => continue,
        };
        router = router.route(route.path, methods);
    }
    router
        .layer(from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT))
        .with_state(state)
}

/// Every path that takes a POST, with its parameters filled in (`{login}` as `someone`, any
/// other as `1`), for the test that checks each refuses a request without a session or
/// without the CSRF token.
pub fn post_routes() -> Vec<String> {
    routes()
        .into_iter()
        .filter(|r| r.post.is_some())
        .map(|r| {
            r.path
                .split('/')
                .map(|seg| match seg {
                    "{login}" => "someone",
                    s if s.starts_with('{') => "1",
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

// ── the signed-in administrator ─────────────────────────────────────────────────────────

/// The signed-in administrator and what every page shows in its frame.
#[derive(Clone)]
pub struct Ui {
    pub principal: Principal,
    pub csrf: String,
    pub unread: u64,
    pub flash: Option<Flash>,
    pub secure_cookies: bool,
    /// Where the request came from, for the audit.
    pub client: Client,
}

impl Ui {
    pub fn actor(&self) -> Actor {
        self.client.actor(self.principal.login.clone(), "ui")
    }

    /// Refuses (403 page) when the administrator lacks `p`.
    pub fn require(&self, p: Permission) -> Result<(), UiError> {
        if self.principal.may(p) {
            Ok(())
        } else {
            Err(UiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} does not hold the permission `{p}` this needs",
                    self.principal.login
                ),
            ))
        }
    }

    pub fn may(&self, p: Permission) -> bool {
        self.principal.may(p)
    }

    /// The hidden field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="_csrf" value=(self.csrf); }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ui {
    type Rejection = UiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ui>()
            .cloned()
            .ok_or_else(|| UiError::new(StatusCode::UNAUTHORIZED, "sign in first"))
    }
}

/// A urlencoded form body, already checked for its CSRF token by the guard.
#[derive(Clone, Default, Debug)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Form {
        Form(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `key`, trimmed; `None` when missing or blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank value of `key` (checkbox lists).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Form {
    type Rejection = UiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Form>()
            .cloned()
            .ok_or_else(|| UiError::new(StatusCode::BAD_REQUEST, "this action needs a form"))
    }
}

/// A multipart form (file uploads), read whole and refused unless its `_csrf` field matches.
pub struct Upload {
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Upload {
    pub fn text(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    }
}

impl FromRequest<AppState> for Upload {
    type Rejection = UiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ui = req
            .extensions()
            .get::<Ui>()
            .cloned()
            .ok_or_else(|| UiError::new(StatusCode::UNAUTHORIZED, "sign in first"))?;
        // axum's status tells a body over the limit (413) from a malformed one (400).
        let refused = |status: StatusCode, text: String| {
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                UiError::new(
                    status,
                    format!(
                        "the upload is too large: at most {} MB",
                        UPLOAD_LIMIT / (1024 * 1024)
                    ),
                )
            } else {
                UiError::new(StatusCode::BAD_REQUEST, text)
            }
        };
        let mut mp = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| refused(e.status(), e.body_text()))?;
        let mut fields = Vec::new();
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| refused(e.status(), e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| refused(e.status(), e.body_text()))?;
            fields.push((name, bytes.to_vec()));
        }
        let token = fields
            .iter()
            .find(|(n, _)| n == "_csrf")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned());
        if !token.is_some_and(|t| same(&t, &ui.csrf)) {
            return Err(csrf_refused());
        }
        Ok(Upload { fields })
    }
}

// ── errors and redirects ────────────────────────────────────────────────────────────────

/// A failure shown as a page: the status and a specific message.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        UiError {
            status,
            message: message.into(),
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::new(e.status, e.message)
    }
}

impl From<seatkeeper_store::StoreError> for UiError {
    fn from(e: seatkeeper_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED => "Sign in first",
            s if s.is_server_error() => "Something went wrong",
            _ => "Refused",
        };
        let body = view::bare(
            title,
            html! {
                main.narrow {
                    h1 { (title) }
                    p.error role="alert" { (self.message) }
                    p { a href="/ui/" { "Back to the overview" } }
                }
            },
        );
        (self.status, body).into_response()
    }
}

pub type UiResult<T> = Result<T, UiError>;

fn csrf_refused() -> UiError {
    UiError::new(
        StatusCode::FORBIDDEN,
        "The form's CSRF token is missing or wrong, so nothing was changed. Reload the page and try again.",
    )
}

pub fn redirect(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/ui/")),
        )],
    )
        .into_response()
}

/// A one-time notice shown on the next page (post/redirect/get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// Redirects to `to` with a notice for the next page.
pub fn done(ui: &Ui, to: &str, ok: bool, text: impl Into<String>) -> Response {
    let mut r = redirect(to);
    let text: String = text.into();
    // Cookies are small: a long report is cut, the page it lands on has the detail.
    let cut: String = text.chars().take(1200).collect();
    let value = format!(
        "{}{}",
        if ok { "o" } else { "e" },
        URL_SAFE_NO_PAD.encode(cut.as_bytes())
    );
    if let Ok(v) =
        HeaderValue::from_str(&cookie(FLASH_COOKIE, &value, Some(120), ui.secure_cookies))
    {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

/// Redirects with the outcome of a ledger call: its success text, or its error message.
pub fn outcome<T>(
    ui: &Ui,
    to: &str,
    result: Result<T, seatkeeper_store::StoreError>,
    ok: impl FnOnce(T) -> String,
) -> Response {
    match result {
        Ok(v) => done(ui, to, true, ok(v)),
        Err(e) => done(ui, to, false, ApiError::from(e).message),
    }
}

fn cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c += &format!("; Max-Age={a}");
    }
    if secure {
        c += "; Secure";
    }
    c
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Constant-time comparison, so a token cannot be guessed byte by byte from timings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The CSRF token of a session: derived from its secret, so it needs no storage, differs per
/// session, and cannot be computed by a page that cannot read the HttpOnly cookie.
fn csrf_for(secret: &str) -> String {
    let d = Sha256::digest(format!("seatkeeper-ui-csrf\0{secret}").as_bytes());
    // The first 24 of the digest's 32 bytes (`get` cannot miss; it only avoids a panic path).
    URL_SAFE_NO_PAD.encode(d.get(..24).unwrap_or(&d))
}

/// A cross-site request announces itself by `Origin`; a mismatch is refused outright.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or(origin);
    origin == "null" || bare != host
}

fn security_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

/// In front of every `/ui` route: resolves the session, checks the CSRF token of every POST,
/// hands the page its frame (unread badge, one-time notice), and sets the security headers.
async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let public =
        path == "/ui/login" || path.starts_with("/ui/assets/") || path == "/" || path == "/ui";
    if req.method() == Method::POST && foreign_origin(req.headers()) {
        return csrf_refused().into_response();
    }
    if public {
        let mut r = next.run(req).await;
        security_headers(&mut r);
        return r;
    }
    let principal = match cookie_value(req.headers(), SESSION_COOKIE) {
        Some(secret) => match auth::principal_for(&state, secret).await {
            Ok(Some(p)) if p.scope == TokenScope::Signin => Some((p, csrf_for(secret))),
            Ok(_) => None,
            Err(e) => return UiError::from(e).into_response(),
        },
        None => None,
    };
    let Some((principal, csrf)) = principal else {
        if req.method() == Method::GET {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &target)
                .finish();
            return redirect(&format!("/ui/login?{q}"));
        }
        return UiError::new(
            StatusCode::UNAUTHORIZED,
            "Your session has ended or was never started: sign in again. Nothing was changed.",
        )
        .into_response();
    };
    if req.method() == Method::POST {
        let ctype = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ctype.starts_with("application/x-www-form-urlencoded") {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
                Ok(b) => b,
                Err(_) => {
                    return UiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
                        .into_response();
                }
            };
            let form = Form::parse(&bytes);
            if !form.get("_csrf").is_some_and(|t| same(t, &csrf)) {
                return csrf_refused().into_response();
            }
            req = Request::from_parts(parts, axum::body::Body::from(Bytes::new()));
            req.extensions_mut().insert(form);
        } else if !ctype.starts_with("multipart/form-data") {
            // Only the two form encodings are accepted: anything else (text/plain, JSON) is
            // either a script or a cross-site trick, and the API serves scripts.
            return csrf_refused().into_response();
        }
    }
    let unread = state.ledger.unread_messages().await.unwrap_or(0);
    let flash = flash_of(req.headers());
    let had_flash = flash.is_some();
    let secure_cookies = state.settings.secure_cookies;
    let client = Client::of(
        req.extensions(),
        req.headers(),
        &state.settings.trusted_proxies,
    );
    req.extensions_mut().insert(Ui {
        principal,
        csrf,
        unread,
        flash,
        secure_cookies,
        client,
    });
    let mut r = next.run(req).await;
    // The notice was shown on this page (a redirect passes it on untouched).
    if had_flash
        && !r.status().is_redirection()
        && let Ok(v) = HeaderValue::from_str(&cookie(FLASH_COOKIE, "", Some(0), secure_cookies))
    {
        r.headers_mut().append(SET_COOKIE, v);
    }
    security_headers(&mut r);
    r
}

fn flash_of(headers: &HeaderMap) -> Option<Flash> {
    cookie_value(headers, FLASH_COOKIE).and_then(|v| {
        let (kind, rest) = v.split_at_checked(1)?;
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(rest).ok()?).ok()?;
        Some(Flash {
            ok: kind == "o",
            text,
        })
    })
}

// ── assets ──────────────────────────────────────────────────────────────────────────────

async fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/app.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/app.js"),
    )
        .into_response()
}
