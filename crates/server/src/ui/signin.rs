//! The UI's sign-in and sign-out: the form (with its pre-session CSRF token), the session
//! cookie, and where a fresh session lands. The checks and limits are
//! `crate::auth::signin`'s, shared with the API's sign-in.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use seatkeeper_core::Permission;
use seatkeeper_store::TokenScope;

use super::{
    FLASH_COOKIE, Flash, Form, PRE_COOKIE, SESSION_COOKIE, Ui, UiError, UiResult, cookie,
    cookie_value, csrf_refused, done, flash_of, redirect, same, security_headers, view,
};
use crate::AppState;
use crate::auth;
use crate::client::Client;

#[derive(serde::Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// Only a path inside the UI: an open redirect would let a link send a fresh session elsewhere.
fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\'))
        .map(str::to_string)
}

pub(super) async fn signin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> UiResult<Response> {
    if let Some(secret) = cookie_value(&headers, SESSION_COOKIE)
        && let Ok(Some(p)) = auth::principal_for(&state, secret).await
        && p.scope == TokenScope::Signin
    {
        return Ok(redirect("/ui/"));
    }
    // The notice of the page that sent here (e.g. "Signed out."), shown once.
    let notice = flash_of(&headers);
    let mut r = signin_form_with(
        &state,
        q.next.as_deref(),
        None,
        notice.as_ref(),
        StatusCode::OK,
    )?;
    if notice.is_some()
        && let Ok(v) = HeaderValue::from_str(&cookie(
            FLASH_COOKIE,
            "",
            Some(0),
            state.settings.secure_cookies,
        ))
    {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}

fn signin_form(
    state: &AppState,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, UiError> {
    signin_form_with(state, next, error, None, status)
}

fn signin_form_with(
    state: &AppState,
    next: Option<&str>,
    error: Option<&str>,
    notice: Option<&Flash>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let pre = auth::new_secret(TokenScope::Signin)?;
    let body = view::bare(
        "Sign in",
        html! {
            main.narrow.signin {
                h1 { "Seatkeeper" }
                p.lead { "Sign in to manage licenses." }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                @if let Some(f) = notice { p.flash role="status" { (f.text) } }
                form #signin method="post" action="/ui/login" {
                    input type="hidden" name="_csrf" value=(pre);
                    @if let Some(n) = safe_next(next) { input type="hidden" name="next" value=(n); }
                    label for="login" { "Login" }
                    input #login name="login" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button.primary type="submit" { "Sign in" }
                }
            }
        },
    );
    let mut r = (status, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie(
        PRE_COOKIE,
        &pre,
        Some(3600),
        state.settings.secure_cookies,
    )) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    security_headers(&mut r);
    Ok(r)
}

pub(super) async fn signin(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    let form = Form::parse(&body);
    // Login CSRF: the form's token must equal the pre-session cookie set with the form.
    let pre = cookie_value(&headers, PRE_COOKIE);
    if !matches!((pre, form.get("_csrf")), (Some(c), Some(f)) if same(c, f)) {
        return Err(csrf_refused());
    }
    let login = form.get("login").unwrap_or_default().to_string();
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let next = form.get("next").map(str::to_string);
    let (secret, principal) =
        match crate::auth::signin::authenticate(&state, &client, &login, &password, "ui:signin")
            .await
        {
            Ok(v) => v,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                return signin_form(
                    &state,
                    next.as_deref(),
                    Some("Wrong login or password."),
                    StatusCode::UNAUTHORIZED,
                );
            }
            // The same limits as the API's sign-in: the page says when to try again.
            Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
                let wait = e.retry_after.unwrap_or(60);
                let mut r = signin_form(
                    &state,
                    next.as_deref(),
                    Some(&format!(
                        "Too many sign-in attempts. Sign-in is refused for {}, even with \
                         the right password; try again later.",
                        crate::auth::signin::human(wait)
                    )),
                    StatusCode::TOO_MANY_REQUESTS,
                )?;
                r.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, wait.into());
                return Ok(r);
            }
            Err(e) => return Err(e.into()),
        };
    // An administrator whose licenses have all expired (or who has none) is taken to the
    // license manager, where the fix is.
    let summary = state.ledger.summary(time::Duration::days(30)).await?;
    let in_force = summary.products.iter().any(|p| p.total > 0);
    let to = if !in_force && principal.may(Permission::ViewLicenses) {
        "/ui/licenses".to_string()
    } else {
        safe_next(next.as_deref()).unwrap_or_else(|| "/ui/".into())
    };
    let mut r = redirect(&to);
    let secure = state.settings.secure_cookies;
    let ttl = state.settings.signin_ttl.whole_seconds();
    for c in [
        cookie(SESSION_COOKIE, &secret, Some(ttl), secure),
        cookie(PRE_COOKIE, "", Some(0), secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    if !in_force {
        let ui = Ui {
            principal,
            csrf: String::new(),
            unread: 0,
            flash: None,
            secure_cookies: secure,
            client,
        };
        let text = if summary.licenses_loaded {
            "Every license has expired: only administrators can sign in to the application. Upload a renewal below."
        } else {
            "No license is loaded yet: generate a license request, send it to your vendor, and upload the file you get back."
        };
        let mut d = done(&ui, &to, false, text);
        for v in r.headers().get_all(SET_COOKIE) {
            d.headers_mut().append(SET_COOKIE, v.clone());
        }
        return Ok(d);
    }
    Ok(r)
}

pub(super) async fn signout(State(state): State<AppState>, ui: Ui) -> UiResult<Response> {
    state.ledger.delete_signin(ui.principal.token_id).await?;
    state.principals.clear();
    let mut r = done(&ui, "/ui/login", true, "Signed out.");
    if let Ok(v) = HeaderValue::from_str(&cookie(SESSION_COOKIE, "", Some(0), ui.secure_cookies)) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}
