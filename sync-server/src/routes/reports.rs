//! Reports over the admin HTTP API: `GET /v1/admin/reports/{kind}` returns the file, and
//! `POST /v1/admin/reports/slips` issues fresh codes for a class and returns their slips as a PDF.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Admin, AppError};
use crate::app::App;
use crate::reports::{self, ReportError, ReportFormat, ReportQuery};

/// The query string of a report request.
#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    class: Option<String>,
    subject: Option<String>,
    term: Option<String>,
    student: Option<String>,
    year: Option<u16>,
    month: Option<String>,
    format: Option<String>,
    /// Only this table of the report (from 1); a CSV holds the first unless this says.
    table: Option<usize>,
    valid_days: Option<u32>,
}

impl From<ReportError> for AppError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid(m) => AppError::BadRequest(m),
            ReportError::Core(journal_core::Error::Input(e)) => AppError::BadRequest(e.to_string()),
            ReportError::Code(e) => e.into(),
            ReportError::Store(e) => e.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

fn parse<T: std::str::FromStr<Err = journal_core::InputError>>(
    text: Option<String>,
) -> Result<Option<T>, AppError> {
    text.map(|t| {
        t.parse()
            .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))
    })
    .transpose()
}

/// A report's bytes as a download named `name` with the format's extension.
pub(crate) fn file(bytes: Vec<u8>, format: ReportFormat, name: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{name}.{}\"",
        format.extension()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `GET /v1/admin/reports/{kind}?class=&subject=&term=&student=&year=&month=YYYY-MM&format=pdf|xlsx|csv`.
pub async fn report(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    Path(kind): Path<String>,
    Query(params): Query<ReportParams>,
) -> Result<Response, AppError> {
    let kind: journal_core::reports::ReportKind = kind
        .parse()
        .map_err(|e: journal_core::InputError| AppError::NotFound(e.to_string()))?;
    let format: ReportFormat = params
        .format
        .as_deref()
        .unwrap_or("pdf")
        .parse()
        .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))?;
    let month = params
        .month
        .map(|m| {
            journal_core::parse_date(&format!("{m}-01"))
                .map_err(|_| AppError::BadRequest(format!("month {m:?} is not YYYY-MM")))
        })
        .transpose()?;
    let query = ReportQuery {
        year: params.year.map(journal_core::YearId),
        request: journal_core::reports::ReportRequest {
            class: parse(params.class)?,
            subject: parse(params.subject)?,
            term: parse(params.term)?,
            student: parse(params.student)?,
        },
        month,
    };
    let store = app.store().clone();
    let model = app.read_model.clone();
    let clock = app.hub.clock().clone();
    let table = params.table;
    // Reading documents and rendering is CPU work: it runs off the async runtime.
    let bytes = tokio::task::spawn_blocking(move || {
        reports::report_file(
            store.as_ref(),
            &model,
            kind,
            &query,
            table,
            format,
            clock.now(),
        )
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(file(bytes, format, kind.name()))
}

/// `POST /v1/admin/reports/slips?class=&valid_days=`: fresh codes for a class, as slips to cut.
pub async fn slips(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Query(params): Query<ReportParams>,
) -> Result<Response, AppError> {
    let class: journal_core::ClassId =
        parse(params.class)?.ok_or_else(|| AppError::BadRequest("slips need ?class=".into()))?;
    let request = reports::SlipRequest {
        year: params.year.map(journal_core::YearId),
        class,
        valid_days: params
            .valid_days
            .unwrap_or(crate::services::codes::DEFAULT_VALID_DAYS),
        certificate: app.certificate_pin,
    };
    let store = app.store().clone();
    let model = app.read_model.clone();
    let clock = app.hub.clock().clone();
    let key = app.secrets.clone();
    let (bytes, count) = tokio::task::spawn_blocking(move || {
        reports::access_slips(store.as_ref(), &model, &key, &who, &request, clock.as_ref())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    tracing::info!(slips = count, "issued access codes as slips");
    Ok(file(bytes, ReportFormat::Pdf, "slips"))
}
