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
use crate::auth::issue_device;
use crate::hub::HubEvent;
use crate::roster;
use crate::store::{Account, AccountRole, AdminLogEntry, AuditEntry, Device};

/// The admin routes, mounted under `/v1/admin`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/accounts", post(put_account).get(list_accounts))
        .route("/accounts/{id}/deactivate", post(deactivate))
        .route("/accounts/{id}/devices", get(devices))
        .route("/students", post(put_student))
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
        .route("/log", get(admin_log))
        .route("/roster", post(import_roster))
        .route("/reports/slips", post(super::reports::slips))
        .route("/reports/{kind}", get(super::reports::report))
}

fn parse<T: std::str::FromStr<Err = journal_core::InputError>>(text: &str) -> Result<T, AppError> {
    text.parse()
        .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
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
    Admin(_): Admin,
    JsonBody(body): JsonBody<NewAccount>,
) -> Result<(StatusCode, Json<Account>), AppError> {
    let role = AccountRole::parse(&body.role).ok_or_else(|| {
        AppError::BadRequest(format!(
            "role {:?} is not one of administration, teacher, student, parent",
            body.role
        ))
    })?;
    if body.id.trim().is_empty() || body.id.len() > 64 || body.name.trim().is_empty() {
        return Err(AppError::BadRequest(
            "an account needs an id (up to 64 characters) and a name".into(),
        ));
    }
    let student = body
        .student
        .as_deref()
        .map(parse::<StudentId>)
        .transpose()?;
    if (role == AccountRole::Student) != student.is_some() {
        return Err(AppError::BadRequest(
            "a student account names its student, and only a student account does".into(),
        ));
    }
    let account = Account {
        id: body.id,
        name: body.name,
        role,
        active: true,
        student,
    };
    app.store().put_account(&account)?;
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok((StatusCode::CREATED, Json(account)))
}

async fn list_accounts(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
) -> Result<Json<Vec<Account>>, AppError> {
    Ok(Json(app.store().accounts()?))
}

async fn deactivate(
    State(app): State<Arc<App>>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let mut account = app
        .store()
        .account(&id)?
        .ok_or_else(|| AppError::NotFound(format!("account {id} not found")))?;
    account.active = false;
    app.store().put_account(&account)?;
    log(
        &app,
        &who.account.id,
        "deactivate-account",
        format!("account {id}"),
        String::new(),
    )?;
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok(StatusCode::NO_CONTENT)
}

async fn devices(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<Device>>, AppError> {
    Ok(Json(app.store().devices_of(&id)?))
}

#[derive(Deserialize)]
struct NewStudent {
    student: String,
    class: String,
    name: String,
}

async fn put_student(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    JsonBody(body): JsonBody<NewStudent>,
) -> Result<StatusCode, AppError> {
    let (student, class): (StudentId, ClassId) = (parse(&body.student)?, parse(&body.class)?);
    app.store()
        .put_student(&student, &class, body.name.trim())?;
    app.hub.announce(HubEvent::DirectoryChanged);
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
    Admin(_): Admin,
    JsonBody(body): JsonBody<Staff>,
) -> Result<StatusCode, AppError> {
    let class: ClassId = parse(&body.class)?;
    app.store()
        .put_class_staff(&class, &body.account, body.class_teacher)?;
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_staff(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    Path((class, account)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let class: ClassId = parse(&class)?;
    app.store().remove_class_staff(&class, &account)?;
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Guardian {
    account: String,
    student: String,
}

async fn link_guardian(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    JsonBody(body): JsonBody<Guardian>,
) -> Result<StatusCode, AppError> {
    let student: StudentId = parse(&body.student)?;
    app.store().link_guardian(&body.account, &student)?;
    app.hub.announce(HubEvent::DirectoryChanged);
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
    Admin(_): Admin,
    JsonBody(body): JsonBody<Thread>,
) -> Result<StatusCode, AppError> {
    let id: ThreadId = parse(&body.thread)?;
    let year: YearId = match &body.year {
        Some(year) => parse(year)?,
        None => app.hub.directory_year()?.ok_or_else(|| {
            AppError::BadRequest("the relay knows no school year yet; name the year".into())
        })?,
    };
    let thread = DocId::Thread(year, id);
    for account in &body.participants {
        if app.store().account(account)?.is_none() {
            return Err(AppError::BadRequest(format!("account {account} not found")));
        }
    }
    for account in &body.participants {
        app.store()
            .add_thread_member(&thread, &format!("account:{account}"))?;
    }
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewDevice {
    account: String,
    label: String,
}

async fn add_device(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    JsonBody(body): JsonBody<NewDevice>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let issued = issue_device(
        app.store().as_ref(),
        &app.secrets,
        &body.account,
        body.label.trim(),
        now(),
    )?;
    tracing::info!(device = %issued.device.id, account = %issued.device.account, "added a device");
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
    if !app.store().revoke_device(&id, now())? {
        return Err(AppError::NotFound(format!("device {id} not found")));
    }
    log(
        &app,
        &who.account.id,
        "revoke-device",
        format!("device {id}"),
        "by the administration".into(),
    )?;
    tracing::info!(device = %id, "revoked a device");
    app.sessions
        .close_device(&id, "this device was revoked; sign it in again");
    Ok(StatusCode::NO_CONTENT)
}

fn log(
    app: &App,
    actor: &str,
    action: &str,
    target: String,
    detail: String,
) -> Result<(), AppError> {
    app.store().log_admin(&AdminLogEntry {
        at: now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target,
        detail,
    })?;
    Ok(())
}

#[derive(Deserialize)]
struct LogQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn admin_log(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    Query(query): Query<LogQuery>,
) -> Result<Json<Vec<AdminLogEntry>>, AppError> {
    Ok(Json(app.store().admin_log(
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
    let is_xlsx = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("spreadsheetml") || t.contains("xlsx"))
        || body.starts_with(b"PK\x03\x04");
    let rows = if is_xlsx {
        roster::xlsx_rows(&body)
    } else {
        roster::csv_rows(&body)
    };
    let rows =
        rows.map_err(|e| AppError::Unprocessable(json!({ "imported": false, "errors": [e] })))?;
    let import = roster::validate(&rows, app.store().as_ref())?.map_err(|errors| {
        AppError::Unprocessable(json!({ "imported": false, "errors": errors }))
    })?;
    app.store().import_roster(&import)?;
    let detail = format!(
        "{} students, {} guardian links",
        import.students.len(),
        import.guardians.len()
    );
    log(
        &app,
        &who.account.id,
        "import-roster",
        "class lists".into(),
        detail.clone(),
    )?;
    app.hub.announce(HubEvent::DirectoryChanged);
    Ok(Json(
        json!({ "imported": true, "students": import.students.len(), "guardians": import.guardians.len() }),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    doc: String,
}

async fn audit(
    State(app): State<Arc<App>>,
    Admin(_): Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    let doc: journal_core::DocId = parse(&query.doc)?;
    Ok(Json(app.store().audit_trail(&doc.to_string())?))
}
