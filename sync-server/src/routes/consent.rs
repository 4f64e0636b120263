//! `POST /v1/consents` and `GET /v1/consents?student=`: the consent register, for the administration and a
//! student's class teacher. `GET /v1/admin/profile-edits?student=`: a profile's edit log, old → new.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use journal_core::{StudentId, YearId};
use serde::Deserialize;

use super::{Admin, AppError, Caller, JsonBody};
use crate::app::App;
use crate::services::consent::{ConsentForm, ProfileEditEntry};
use crate::store::ConsentRecord;

/// A consent form as the request carries it.
#[derive(Deserialize)]
pub struct ConsentBody {
    student: String,
    guardian: String,
    given: bool,
    /// YYYY-MM-DD.
    signed_on: String,
    text_version: String,
}

fn student(text: &str) -> Result<StudentId, AppError> {
    text.parse()
        .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))
}

/// `POST /v1/consents`: records a consent given or withdrawn.
pub async fn record(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<ConsentBody>,
) -> Result<Json<ConsentRecord>, AppError> {
    let form = ConsentForm {
        student: student(&body.student)?,
        guardian: body.guardian,
        given: body.given,
        signed_on: journal_core::parse_date(&body.signed_on)
            .map_err(|e| AppError::BadRequest(format!("signed_on: {e}")))?,
        text_version: body.text_version,
    };
    Ok(Json(app.services.record_consent(&who, &form)?))
}

/// Whose register, or whose profile.
#[derive(Deserialize)]
pub struct StudentQuery {
    student: String,
    /// School year, e.g. 2026 for 2026-2027 (default: the newest).
    year: Option<u16>,
}

/// `GET /v1/consents?student=`: the student's register entries, oldest first.
pub async fn register(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    Query(query): Query<StudentQuery>,
) -> Result<Json<Vec<ConsentRecord>>, AppError> {
    Ok(Json(
        app.services
            .consent_register(&who, &student(&query.student)?)?,
    ))
}

/// `GET /v1/admin/profile-edits?student=[&year=]`: the profile's edit log.
pub async fn profile_edits(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Query(query): Query<StudentQuery>,
) -> Result<Json<Vec<ProfileEditEntry>>, AppError> {
    let year = match query.year {
        Some(year) => YearId(year),
        None => crate::reports::newest_year(app.store().as_ref())
            .map_err(|e| AppError::BadRequest(e.to_string()))?,
    };
    Ok(Json(app.services.profile_edits(
        &who,
        year,
        &student(&query.student)?,
    )?))
}
