//! Signing in to the console with a one-time access code or the token of a device the user already has,
//! rate-limited as code redemption is, and signing out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use maud::html;
use serde::Deserialize;

use super::{COOKIE, ConsoleError, Posted, layout};
use crate::app::App;
use crate::auth::{self, AuthError};
use crate::routes::AppError;
use crate::services::codes::TypedCode;
use crate::services::console::{CONSOLE_DEVICE, CodeOwner};

/// `GET /admin/sign-in`.
pub async fn form() -> Response {
    sign_in_page(StatusCode::OK, None)
}

fn sign_in_page(status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        @if let Some(problem) = problem { p.error { (problem) } }
        form.panel method="post" action="/admin/sign-in" {
            p { "Консоль — рабочее место администрации школы и классных руководителей." }
            label { "Код доступа " input type="text" name="code" autocomplete="off" autofocus; }
            button type="submit" { "Войти" }
        }
        form.panel method="post" action="/admin/sign-in" {
            p { "Или войдите ключом устройства, которое уже подключено к журналу." }
            label { "Ключ устройства " input type="password" name="token" autocomplete="off"; }
            button type="submit" { "Войти" }
        }
    };
    (status, layout::page(None, "Вход в консоль", body)).into_response()
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    code: String,
    #[serde(default)]
    token: String,
}

const FOR_STAFF: &str = "Консоль — для администрации школы и классных руководителей. Родители и ученики \
                         пользуются приложением журнала.";

/// `POST /admin/sign-in`: a code is checked before it is spent, so a family's code or a subject
/// teacher's is refused unspent.
pub async fn submit(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Ok(sign_in_page(
            StatusCode::FORBIDDEN,
            Some("Вход возможен только со страницы входа этой консоли."),
        ));
    }
    let code = form.code.trim().to_owned();
    let token = form.token.trim().to_owned();
    let admitted = if code.is_empty() {
        app.redeem_limits.admit_device_key(client.ip())
    } else {
        let canonical = code
            .parse::<journal_core::access_code::AccessCode>()
            .map(|c| c.canonical())
            .unwrap_or_default();
        app.redeem_limits.admit(client.ip(), &canonical)
    };
    if let Err(wait) = admitted {
        tracing::warn!(client = %client.ip(), "console sign-in rate limit reached");
        return Err(AppError::TooMany(wait.as_secs().max(1)).into());
    }
    let signed_in = super::blocking({
        let app = app.clone();
        move || {
            if code.is_empty() {
                sign_in_with_token(&app, &token)
            } else {
                sign_in_with_code(&app, &code)
            }
        }
    })
    .await;
    let issued = match signed_in {
        Ok(issued) => issued,
        Err(ConsoleError::Page { status, message }) => {
            return Ok(sign_in_page(status, Some(&message)));
        }
        Err(other) => return Err(other),
    };
    let cookie = Cookie::build((COOKIE, issued))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.secure_cookies)
        .max_age(cookie::time::Duration::seconds(
            auth::CONSOLE_SESSION_SECONDS,
        ))
        .build();
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Whether a sign-in was posted from the console's own page: a browser says where a form came from
/// (`Sec-Fetch-Site`, `Origin`), so another site cannot sign a visitor in to an account of its choosing.
/// `Sec-Fetch-Site` is trusted alone when sent: behind a proxy that rewrites `Host`, `Origin` and `Host`
/// differ for the console's own page. Clients that are not browsers say neither and are let through.
fn same_origin(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (value("origin"), value("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Redeems a staff member's code for a new console device; returns its token.
fn sign_in_with_code(app: &App, code: &str) -> Result<String, ConsoleError> {
    let account = match app.services.code_owner(code)? {
        CodeOwner::Staff(account) => account,
        CodeOwner::Family => return Err(ConsoleError::page(StatusCode::FORBIDDEN, FOR_STAFF)),
        CodeOwner::Unknown => {
            return Err(ConsoleError::page(
                StatusCode::BAD_REQUEST,
                "Код не подходит: он введён с ошибкой, уже использован или просрочен.",
            ));
        }
    };
    if app.services.console_desk(&account).is_err() {
        return Err(ConsoleError::page(StatusCode::FORBIDDEN, FOR_STAFF));
    }
    let typed = TypedCode {
        code,
        label: CONSOLE_DEVICE,
        secret: None,
        keep_account: None,
    };
    let redeemed = app.services.redeem_code(&typed, None)?;
    let issued = redeemed.token.ok_or_else(|| {
        ConsoleError::from(AppError::Internal(
            "a staff code was redeemed without a device token".into(),
        ))
    })?;
    Ok(issued.token)
}

/// Signs in a device's holder: the console gets a device of its own for the same account.
fn sign_in_with_token(app: &App, token: &str) -> Result<String, ConsoleError> {
    let now = app.hub.clock().now();
    let who = match auth::authenticate(app.store().as_ref(), &app.secrets, token, now) {
        Ok(who) => who,
        Err(AuthError::Refused) => {
            return Err(ConsoleError::page(
                StatusCode::BAD_REQUEST,
                "Ключ устройства не подходит: он введён с ошибкой, или устройство отключено.",
            ));
        }
        Err(AuthError::Store(e)) => return Err(AppError::from(e).into()),
    };
    if who.device.label == CONSOLE_DEVICE {
        // Otherwise a console's key would open the next console, and the working day never ends.
        return Err(ConsoleError::page(
            StatusCode::BAD_REQUEST,
            "Это ключ веб-консоли: войдите кодом или ключом планшета или телефона.",
        ));
    }
    if app.services.console_desk(&who.account).is_err() {
        return Err(ConsoleError::page(StatusCode::FORBIDDEN, FOR_STAFF));
    }
    Ok(app.services.open_console_device(&who)?.token)
}

/// `POST /admin/sign-out`: the console's device is revoked and its cookie cleared.
pub async fn sign_out(
    State(app): State<Arc<App>>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let who = posted.user.who;
    super::blocking({
        let app = app.clone();
        move || Ok(app.services.revoke_device(&who, &who.device.id)?)
    })
    .await?;
    let cleared = Cookie::build((COOKIE, ""))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.secure_cookies)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut response = Redirect::to("/admin/sign-in").into_response();
    if let Ok(value) = HeaderValue::from_str(&cleared.to_string()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
