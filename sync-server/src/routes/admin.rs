//! The admin-only HTTP API for provisioning the directory until access codes arrive: accounts, students,
//! class staff, guardians, conversations and devices.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use journal_core::{ClassId, DocId, StudentId, ThreadId, YearId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, AppError, JsonBody};
use crate::app::App;
use crate::services::accounts::AccountForm;
use crate::services::roster::ListFormat;
use crate::store::{Account, AccountRole, AdminLogEntry, AuditEntry, Device};

/// The admin routes, mounted under `/v1/admin`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/accounts", post(put_account).get(list_accounts))
        .route("/accounts/{id}/deactivate", post(deactivate))
        .route("/accounts/{id}/devices", get(devices))
        .route("/students", post(put_student))
        .route("/students/{id}/leave", post(student_leaves))
        .route("/class-staff", post(put_staff))
        .route(
            "/class-staff/{class}/{account}",
            axum::routing::delete(remove_staff),
        )
        .route("/guardians", post(link_guardian))
        .route("/threads", post(put_thread))
        .route("/devices", post(add_device))
        .route("/devices/{id}/revoke", post(revoke))
        .route("/audit", get(audit))
        .route("/profile-edits", get(super::consent::profile_edits))
        .route("/policy", get(policy))
        .route("/policy/edit-lock-days", post(set_edit_lock_days))
        .route("/policy/time-zone", post(set_time_zone))
        .route("/log", get(admin_log))
        .route("/roster", post(import_roster))
        .route("/reports/slips", post(super::reports::slips))
        .route("/reports/{kind}", get(super::reports::report))
}

fn parse<T: std::str::FromStr<Err = journal_core::InputError>>(text: &str) -> Result<T, AppError> {
    text.parse()
        .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))
}

#[derive(Deserialize)]
struct NewAccount {
    id: String,
    name: String,
    role: String,
    student: Option<String>,
}

async fn put_account(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<NewAccount>,
) -> Result<(StatusCode, Json<Account>), AppError> {
    let role: AccountRole = parse(&body.role)?;
    let student = body
        .student
        .as_deref()
        .map(parse::<StudentId>)
        .transpose()?;
    let account = app.services.save_account(
        &who,
        AccountForm {
            id: body.id,
            name: body.name,
            role,
            student,
        },
    )?;
    Ok((StatusCode::CREATED, Json(account)))
}

async fn list_accounts(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
) -> Result<Json<Vec<Account>>, AppError> {
    Ok(Json(app.services.accounts(&who)?))
}

async fn deactivate(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    app.services.deactivate_account(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn devices(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<Device>>, AppError> {
    Ok(Json(app.services.devices_of(&who, &id)?))
}

#[derive(Deserialize)]
struct NewStudent {
    student: String,
    class: String,
    name: String,
}

async fn put_student(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<NewStudent>,
) -> Result<StatusCode, AppError> {
    let (student, class): (StudentId, ClassId) = (parse(&body.student)?, parse(&body.class)?);
    app.services
        .place_student(&who, &student, &class, &body.name)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
struct Leaving {
    /// The student's last day at school (`YYYY-MM-DD`; default today).
    #[serde(default)]
    last_day: Option<String>,
}

async fn student_leaves(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Leaving>,
) -> Result<StatusCode, AppError> {
    let student: StudentId = parse(&id)?;
    let last_day = body
        .last_day
        .map(|d| journal_core::parse_date(&d))
        .transpose()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    app.services.student_leaves(&who, &student, last_day)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Staff {
    class: String,
    account: String,
    #[serde(default)]
    class_teacher: bool,
}

async fn put_staff(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<Staff>,
) -> Result<StatusCode, AppError> {
    let class: ClassId = parse(&body.class)?;
    app.services
        .add_class_staff(&who, &class, &body.account, body.class_teacher)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_staff(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path((class, account)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let class: ClassId = parse(&class)?;
    app.services.remove_class_staff(&who, &class, &account)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Guardian {
    account: String,
    student: String,
}

async fn link_guardian(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<Guardian>,
) -> Result<StatusCode, AppError> {
    let student: StudentId = parse(&body.student)?;
    app.services.link_guardian(&who, &body.account, &student)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Thread {
    thread: String,
    /// The school year (`2026-2027`); the directory's year when absent.
    year: Option<String>,
    participants: Vec<String>,
}

/// `POST /v1/admin/threads`: registers the members of a conversation before it starts.
async fn put_thread(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<Thread>,
) -> Result<StatusCode, AppError> {
    let thread: ThreadId = parse(&body.thread)?;
    let year: Option<YearId> = body.year.as_deref().map(parse).transpose()?;
    app.services
        .register_thread(&who, thread, year, &body.participants)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewDevice {
    account: String,
    label: String,
}

async fn add_device(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<NewDevice>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let issued = app.services.add_device(&who, &body.account, &body.label)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "device": issued.device, "token": issued.token })),
    ))
}

async fn revoke(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    app.services.revoke_device(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn admin_log(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Query(query): Query<LogQuery>,
) -> Result<Json<Vec<AdminLogEntry>>, AppError> {
    Ok(Json(app.services.admin_log(
        &who,
        query.from.unwrap_or(0),
        query.to.unwrap_or(i64::MAX),
    )?))
}

/// `POST /v1/admin/roster`: a class list as CSV (`text/csv`) or XLSX; all rows or none.
async fn import_roster(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let declared_xlsx = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("spreadsheetml") || t.contains("xlsx"));
    let format = if declared_xlsx {
        ListFormat::Xlsx
    } else {
        ListFormat::sniff(&body)
    };
    let imported = app
        .services
        .import_class_lists(&who, &body, format, "class lists")?;
    Ok(Json(
        json!({ "imported": true, "students": imported.students, "guardians": imported.guardians }),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    doc: String,
}

async fn policy(State(app): State<Arc<App>>, Admin(_who): Admin) -> Result<Json<Value>, AppError> {
    let (year, policy) = app.services.marking_policy()?;
    Ok(Json(json!({
        "year": year.to_string(),
        "policy": policy,
        "time_zone": app.services.time_zone()?.to_string(),
        "today": journal_core::format_date(app.services.school_today()?),
    })))
}

#[derive(Deserialize)]
struct TimeZone {
    time_zone: String,
}

async fn set_time_zone(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<TimeZone>,
) -> Result<Json<Value>, AppError> {
    let zone: journal_core::SchoolTimeZone = parse(&body.time_zone)?;
    let replaced = app.services.set_time_zone(&who, zone)?;
    Ok(Json(json!({
        "replaced": replaced.to_string(),
        "time_zone": zone.to_string(),
        "today": journal_core::format_date(app.services.school_today()?),
    })))
}

#[derive(Deserialize)]
struct EditLockDays {
    days: u16,
}

async fn set_edit_lock_days(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    JsonBody(body): JsonBody<EditLockDays>,
) -> Result<Json<Value>, AppError> {
    let replaced = app.services.set_edit_lock_days(&who, body.days)?;
    Ok(Json(json!({ "replaced": replaced, "days": body.days })))
}

async fn audit(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    let doc: DocId = parse(&query.doc)?;
    Ok(Json(app.services.audit_trail(&who, &doc)?))
}
