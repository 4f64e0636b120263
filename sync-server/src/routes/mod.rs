//! HTTP and WebSocket endpoints.

pub mod admin;
pub mod batch;
pub mod codes;
pub mod directory;
pub mod reports;
pub mod ws;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::{self, AuthError, Principal};
use crate::hub::HubError;
use crate::store::StoreError;

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
    /// The relay failed.
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
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

impl From<crate::codes::CodeError> for AppError {
    fn from(e: crate::codes::CodeError) -> Self {
        use crate::codes::CodeError;
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
    Ok(auth::authenticate(app.store().as_ref(), token)?)
}
