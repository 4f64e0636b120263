//! HTTP and WebSocket endpoints.

pub mod admin;
pub mod batch;
pub mod codes;
pub mod consent;
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

/// `GET /healthz`: `200` when the store takes writes and the disk is not nearly full, else `503` with
/// the reasons; either way the free disk and the age of the newest backup.
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let checked = app.clone();
    let found = tokio::task::spawn_blocking(move || {
        let dir = checked.data_dir.as_deref();
        let problems = crate::health::problems(
            checked.store().as_ref(),
            dir,
            checked.min_free_disk,
            checked.hub.clock().now(),
        );
        let disk = dir.and_then(crate::health::disk_space);
        let backup = dir.and_then(|d| crate::health::newest_backup(&d.join("backups")));
        (problems, disk, backup)
    })
    .await;
    let Ok((problems, disk, backup)) = found else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut body = json!({
        "status": if problems.is_empty() { "ok" } else { "unhealthy" },
        "disk_free_bytes": disk.map(|d| d.free),
        "last_backup_age_seconds": backup.map(|at| app.hub.clock().now() - at),
    });
    if problems.is_empty() {
        Json(body).into_response()
    } else {
        tracing::warn!(problems = ?problems, "health check failed");
        body["reasons"] = json!(problems);
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// `GET /readyz`: `200` while the relay takes syncs (its store takes writes and it is not shutting down),
/// for a load balancer to send devices elsewhere otherwise.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    if *app.shutdown.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting down" })),
        )
            .into_response();
    }
    let probed = app.clone();
    let writes =
        tokio::task::spawn_blocking(move || probed.store().probe_write(probed.hub.clock().now()))
            .await;
    match writes {
        Ok(Ok(())) => Json(json!({ "status": "ready" })).into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "the store cannot write" })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: the relay's counters in Prometheus text, for this machine's monitoring (and others'
/// with `--metrics-public`).
pub async fn metrics(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
) -> Response {
    if !app.metrics_public && !client.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to this machine only; start the relay with --metrics-public to open them",
        )
            .into_response();
    }
    let read = app.clone();
    let readings = tokio::task::spawn_blocking(move || {
        let dir = read.data_dir.as_deref();
        crate::metrics::Readings {
            store_bytes: read.store().stored_bytes().ok(),
            disk_free_bytes: dir.and_then(crate::health::disk_space).map(|d| d.free),
            backup_age_seconds: dir.map(|d| {
                read.hub.clock().now()
                    - crate::health::newest_backup(&d.join("backups")).unwrap_or(0)
            }),
        }
    })
    .await
    .unwrap_or_default();
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        app.metrics.render(&readings),
    )
        .into_response()
}

/// Why an HTTP answer was a refusal, as a fixed word for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct Refusal(pub &'static str);

/// Counts the refusals the routes answered with, by reason.
pub async fn count_refusal(State(app): State<Arc<App>>, response: Response) -> Response {
    if let Some(Refusal(reason)) = response.extensions().get::<Refusal>() {
        app.metrics.refused(reason);
    }
    response
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
    /// A request that conflicts with what is there.
    Conflict(String),
    /// Too many requests; retry after this many seconds.
    TooMany(u64),
    /// A request that failed checks, with every reason.
    Unprocessable(serde_json::Value),
    /// The relay's database cannot be reached now (the detail is for the log).
    Unavailable(String),
    /// The relay's database cannot take writes now, its disk full (the detail is for the log).
    CannotStore(String),
    /// The relay failed.
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            StoreError::Invalid(reason) => AppError::BadRequest(reason),
            StoreError::Unavailable(detail) => AppError::Unavailable(detail),
            StoreError::CannotWrite(detail) => AppError::CannotStore(detail),
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
            HubError::Store(e) => e.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl AppError {
    /// The refusal's reason, for the metrics.
    fn reason(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::BadRequest(_) => "bad_request",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::TooMany(_) => "rate_limited",
            AppError::Unprocessable(_) => "invalid_rows",
            AppError::Unavailable(_) => "database_unavailable",
            AppError::CannotStore(_) => "cannot_store",
            AppError::Internal(_) => "relay_failed",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let reason = Refusal(self.reason());
        let mut response = self.response();
        response.extensions_mut().insert(reason);
        response
    }
}

impl AppError {
    fn response(self) -> Response {
        let (status, message) = match self {
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, AuthError::Refused.to_string()),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AppError::Conflict(m) => (StatusCode::CONFLICT, m),
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
            AppError::CannotStore(detail) => {
                tracing::error!(error = %detail, "the relay's database cannot store anything now");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    journal_core::sync::peer::CANNOT_STORE.to_owned(),
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
            other @ (ServiceError::Journal(_)
            | ServiceError::Archive(_)
            | ServiceError::Backup(_)) => AppError::Internal(other.to_string()),
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
            other @ CodeError::OtherAccount { .. } => AppError::Conflict(other.to_string()),
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
        app.hub.clock().now(),
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::app::Limits;
    use crate::hub::Hub;
    use crate::secrets::HashKey;
    use crate::store::sqlite::SqliteStore;

    fn relay(metrics_public: bool) -> Arc<App> {
        let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let hub = Arc::new(Hub::new(
            store,
            Arc::new(crate::services::events::LocalBus::default()),
        ));
        let mut app = App::new(
            hub,
            Limits::default(),
            shutdown,
            "relay".into(),
            HashKey::random(),
        );
        app.metrics_public = metrics_public;
        Arc::new(app)
    }

    async fn metrics_status(app: &Arc<App>, from: &str) -> StatusCode {
        let mut request = Request::get("/metrics")
            .body(Body::empty())
            .expect("request");
        let from: SocketAddr = from.parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(from));
        crate::build_router(app.clone())
            .oneshot(request)
            .await
            .expect("response")
            .status()
    }

    #[tokio::test]
    async fn metrics_answer_this_machine_and_others_only_when_opened() {
        let closed = relay(false);
        assert_eq!(
            metrics_status(&closed, "127.0.0.1:5000").await,
            StatusCode::OK
        );
        assert_eq!(metrics_status(&closed, "[::1]:5000").await, StatusCode::OK);
        assert_eq!(
            metrics_status(&closed, "10.0.0.7:5000").await,
            StatusCode::FORBIDDEN
        );
        let opened = relay(true);
        assert_eq!(
            metrics_status(&opened, "10.0.0.7:5000").await,
            StatusCode::OK
        );
    }
}
