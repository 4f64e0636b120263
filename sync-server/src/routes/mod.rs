//! HTTP and WebSocket endpoints.

pub mod admin;
pub mod batch;
pub mod codes;
pub mod directory;
pub mod reports;
pub mod ws;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::app::App;
use crate::auth::{self, AuthError, Principal};
use crate::hub::HubError;
use crate::services::ServiceError;
use crate::store::{AccountRole, StoreError};

/// `GET /healthz`: the relay answers and its store reads.
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store().document_heads() {
        Ok(docs) => Json(json!({ "status": "ok", "documents": docs.len() })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "store unavailable" })),
            )
                .into_response()
        }
    }
}

/// The one error type of the HTTP routes. Client errors say what was wrong; server errors hide details,
/// which go to the log.
#[derive(Debug)]
pub enum AppError {
    /// No valid token.
    Unauthorized,
    /// A valid token without the right.
    Forbidden(String),
    /// Bad input.
    BadRequest(String),
    /// A missing record.
    NotFound(String),
    /// Too many requests; retry after this many seconds.
    TooMany(u64),
    /// A request that failed checks, with every reason.
    Unprocessable(serde_json::Value),
    /// The relay's database cannot be reached now (the detail is for the log).
    Unavailable(String),
    /// The relay failed.
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            StoreError::Invalid(reason) => AppError::BadRequest(reason),
            StoreError::Unavailable(detail) => AppError::Unavailable(detail),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused => AppError::Unauthorized,
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<HubError> for AppError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Malformed(m) => AppError::BadRequest(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, AuthError::Refused.to_string()),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AppError::TooMany(seconds) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(
                        json!({ "error": format!("too many attempts; try again in {seconds} s") }),
                    ),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_str(&seconds.to_string())
                        .expect("digits are a valid header"),
                );
                return response;
            }
            AppError::Unprocessable(body) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            AppError::Unavailable(detail) => {
                tracing::error!(error = %detail, "the relay's database is unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    journal_core::sync::peer::DATABASE_UNAVAILABLE.to_owned(),
                )
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the relay failed; the IT officer can find details in its log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotAllowed(m) => AppError::Forbidden(m),
            ServiceError::Invalid(m) => AppError::BadRequest(m),
            ServiceError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            ServiceError::Rows(errors) => {
                AppError::Unprocessable(json!({ "imported": false, "errors": errors }))
            }
            ServiceError::Code(e) => e.into(),
            ServiceError::Journal(journal_core::Error::Input(e)) => {
                AppError::BadRequest(e.to_string())
            }
            ServiceError::Hub(e) => e.into(),
            ServiceError::Store(e) => e.into(),
            other @ (ServiceError::Journal(_) | ServiceError::Archive(_)) => {
                AppError::Internal(other.to_string())
            }
        }
    }
}

impl From<crate::services::codes::CodeError> for AppError {
    fn from(e: crate::services::codes::CodeError) -> Self {
        use crate::services::codes::CodeError;
        match e {
            CodeError::NotAllowed(m) => AppError::Forbidden(m),
            CodeError::Invalid(m) => AppError::BadRequest(m),
            CodeError::Refused => AppError::BadRequest(CodeError::Refused.to_string()),
            CodeError::Store(e) => e.into(),
        }
    }
}

/// The caller of a request, from its bearer token.
pub fn principal(app: &App, headers: &HeaderMap) -> Result<Principal, AppError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = auth::bearer(header).ok_or(AppError::Unauthorized)?;
    Ok(auth::authenticate(
        app.store().as_ref(),
        &app.secrets,
        token,
    )?)
}

/// The signed-in caller of a request. As an extractor it runs before the body is read, so a request
/// without a valid token gets 401 whatever its body holds.
#[derive(Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        principal(app, &parts.headers).map(Caller)
    }
}

/// A caller from the school's administration (401 without a valid token, 403 for anyone else), checked
/// before the body is read.
#[derive(Debug)]
pub struct Admin(pub Principal);

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let who = principal(app, &parts.headers)?;
        if who.account.role == AccountRole::Administration {
            Ok(Admin(who))
        } else {
            Err(AppError::Forbidden(
                "only the school's administration may do this".into(),
            ))
        }
    }
}

/// A JSON body whose faults are answered in the relay's own error format.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(AppError::BadRequest(rejection.body_text())),
        }
    }
}
