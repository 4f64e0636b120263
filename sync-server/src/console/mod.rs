//! The school's web console at `/admin`: pages rendered on the relay, in Russian, for the administration
//! (the whole school) and class teachers (their own classes). Every action goes through the service layer.
//!
//! The console signs in as a device of the account: its cookie holds that device's token, so the token's
//! hash is all the relay keeps, and revoking the device or deactivating the account ends the session. Every
//! form carries a token bound to the cookie, checked in constant time.

mod accounts;
mod audit;
mod backups;
mod classes;
mod codes;
mod dashboard;
mod layout;
mod policy;
mod reports;
mod sign_in;
mod year;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::App;
use crate::auth::{self, AuthError, Principal};
use crate::routes::AppError;
use crate::services::ServiceError;
pub use crate::services::console::Desk;

/// The name of the console's session cookie.
pub const COOKIE: &str = "journal_console";

/// The console's routes, mounted under `/admin`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/style.css", get(layout::stylesheet))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/accounts", get(accounts::list))
        .route("/accounts/{id}", get(accounts::account))
        .route("/accounts/{id}/deactivate", post(accounts::deactivate))
        .route("/devices/{id}/revoke", post(accounts::revoke))
        .route("/classes", get(classes::page))
        .route("/classes/import", post(classes::import))
        .route("/codes", get(codes::page))
        .route("/codes/slips", post(codes::slips))
        .route("/reports", get(reports::page))
        .route("/reports/file", get(reports::file))
        .route("/audit", get(audit::page))
        .route("/backups", get(backups::page).post(backups::take))
        .route("/backups/verify", post(backups::verify))
        .route("/year", get(year::page))
        .route("/year/freeze", post(year::freeze))
        .route("/year/rollover", post(year::rollover))
        .route("/policy", get(policy::page).post(policy::save))
}

/// The device token in the console's cookie, if the request has one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// A signed-in console user with their desk. Without a valid cookie the request is sent to the sign-in
/// page; a signed-in parent, student or subject teacher gets `403`.
pub struct ConsoleUser {
    /// Who it is.
    pub who: Principal,
    /// What they look after.
    pub desk: Desk,
    /// The token this user's forms carry.
    pub form_token: String,
    token: String,
}

impl ConsoleUser {
    /// Whether the user is the school's administration.
    pub fn is_administration(&self) -> bool {
        self.desk == Desk::School
    }

    /// Refuses anyone but the administration with `403`.
    pub fn administration_only(&self) -> Result<(), ConsoleError> {
        if self.is_administration() {
            Ok(())
        } else {
            Err(ConsoleError::page(
                StatusCode::FORBIDDEN,
                "Эта страница доступна только администрации школы.",
            ))
        }
    }
}

impl FromRequestParts<Arc<App>> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ConsoleError> {
        let token = cookie_token(&parts.headers).ok_or(ConsoleError::SignIn)?;
        let now = app.hub.clock().now();
        let who = match auth::authenticate(app.store().as_ref(), &app.secrets, &token, now) {
            Ok(who) => who,
            Err(AuthError::Refused) => return Err(ConsoleError::SignIn),
            Err(AuthError::Store(e)) => return Err(AppError::from(e).into()),
        };
        let desk = app.services.console_desk(&who.account)?;
        Ok(ConsoleUser {
            form_token: app.secrets.form_token(&token),
            who,
            desk,
            token,
        })
    }
}

/// A posted console form (URL-encoded, or multipart with one file) whose form token was checked.
pub struct Posted {
    /// Who posted it.
    pub user: ConsoleUser,
    fields: HashMap<String, String>,
    /// The uploaded file's name and bytes, if the form had one.
    pub file: Option<(String, Vec<u8>)>,
}

impl Posted {
    /// A field's value, trimmed; empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |v| v.trim())
    }
}

impl FromRequest<Arc<App>> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let user = ConsoleUser::from_request_parts(&mut parts, app).await?;
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("multipart/form-data"));
        let request = Request::from_parts(parts, body);
        let bad = |e: String| {
            ConsoleError::page(
                StatusCode::BAD_REQUEST,
                format!("Форму не удалось прочитать: {e}"),
            )
        };
        let mut fields = HashMap::new();
        let mut file = None;
        if multipart {
            let mut form = Multipart::from_request(request, app)
                .await
                .map_err(|e| bad(e.body_text()))?;
            while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
                let name = field.name().unwrap_or_default().to_owned();
                match field.file_name().map(str::to_owned) {
                    Some(file_name) => {
                        let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                        file = Some((file_name, bytes.to_vec()));
                    }
                    None => {
                        let text = field.text().await.map_err(|e| bad(e.body_text()))?;
                        fields.insert(name, text);
                    }
                }
            }
        } else {
            let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(request, app)
                .await
                .map_err(|e| bad(e.body_text()))?;
            fields.extend(pairs);
        }
        let given = fields.get("csrf").map_or("", String::as_str);
        if !app.secrets.form_token_matches(&user.token, given) {
            tracing::warn!(device = %user.who.device.id, "a console form came without its form token");
            return Err(ConsoleError::page(
                StatusCode::FORBIDDEN,
                "Форма отправлена не со страницы консоли или устарела. Откройте страницу заново и повторите.",
            ));
        }
        Ok(Posted { user, fields, file })
    }
}

/// Why a console request was not answered with its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// No valid session: to the sign-in page.
    SignIn,
    /// A page that says what went wrong, with its status.
    Page {
        /// The status.
        status: StatusCode,
        /// What to tell the user.
        message: String,
    },
}

impl ConsoleError {
    /// An error page with `status` and `message`.
    pub fn page(status: StatusCode, message: impl Into<String>) -> Self {
        ConsoleError::Page {
            status,
            message: message.into(),
        }
    }
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        let (status, message) = match e {
            AppError::Unauthorized => return ConsoleError::SignIn,
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AppError::Conflict(m) => (StatusCode::CONFLICT, m),
            AppError::TooMany(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Слишком много попыток. Повторите через {seconds} с."),
            ),
            AppError::Unprocessable(body) => (StatusCode::UNPROCESSABLE_ENTITY, body.to_string()),
            AppError::Unavailable(detail) | AppError::CannotStore(detail) => {
                tracing::error!(error = %detail, "the console could not reach the relay's database");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "База данных сервера сейчас недоступна. Повторите позже.".to_owned(),
                )
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "a console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "На сервере произошла ошибка; подробности — в журнале сервера у ИТ-специалиста."
                        .to_owned(),
                )
            }
        };
        ConsoleError::Page { status, message }
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        AppError::from(e).into()
    }
}

impl From<crate::reports::ReportError> for ConsoleError {
    fn from(e: crate::reports::ReportError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn => Redirect::to("/admin/sign-in").into_response(),
            ConsoleError::Page { status, message } => {
                (status, layout::message_page(status, &message)).into_response()
            }
        }
    }
}

/// Runs blocking store and document work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ConsoleError::from(AppError::Internal(e.to_string())))?
}
