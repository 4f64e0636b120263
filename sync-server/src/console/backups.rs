//! Backups, for the administration: the snapshots with their age and size, taking one now, and verifying
//! one against its manifest with the relay's backup key.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;
use crate::services::ServiceError;

fn data_dir(app: &App) -> Result<std::path::PathBuf, ConsoleError> {
    app.data_dir.clone().ok_or_else(|| {
        ConsoleError::page(
            StatusCode::NOT_FOUND,
            "У этого сервера нет папки данных для резервных копий.",
        )
    })
}

/// `GET /admin/backups`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let body = backups_body(app, &user, html! {}).await?;
    Ok(layout::page(Some(&user), "Резервные копии", body))
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} МБ", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} КБ", bytes.div_ceil(1024))
    }
}

async fn backups_body(
    app: Arc<App>,
    user: &ConsoleUser,
    outcome: Markup,
) -> Result<Markup, ConsoleError> {
    let who = user.who.clone();
    let (snapshots, zone, now) = blocking(move || {
        let dir = data_dir(&app)?;
        let snapshots = app.services.backups(&who, &dir)?;
        let zone = app.services.time_zone().unwrap_or_default();
        Ok((snapshots, zone, app.hub.clock().now()))
    })
    .await?;
    Ok(html! {
        (outcome)
        form.panel method="post" action="/admin/backups" {
            (layout::form_token(user))
            p { "Сервер сам делает копию по расписанию. Перед важными изменениями (импорт списков, закрытие года) сделайте копию вручную." }
            button type="submit" { "Сделать копию сейчас" }
        }
        @if snapshots.is_empty() {
            p.error { "Резервных копий ещё нет." }
        } @else {
            table id="backups" {
                thead { tr { th { "Сделана" } th { "Давность" } th { "Документов" } th { "Размер" } th { "Файл" } th {} } }
                tbody {
                    @for snapshot in &snapshots {
                        @let file = snapshot.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                        tr {
                            td { (layout::moment(snapshot.manifest.created_at, zone)) }
                            td { ((now - snapshot.manifest.created_at).max(0) / 3600) " ч" }
                            td { (snapshot.manifest.documents.len()) }
                            td { (size(snapshot.bytes)) }
                            td { code { (file) } }
                            td {
                                form.inline method="post" action="/admin/backups/verify" {
                                    (layout::form_token(user))
                                    input type="hidden" name="file" value=(file);
                                    button type="submit" { "Проверить" }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// `POST /admin/backups`: a snapshot now.
pub async fn take(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let who = posted.user.who.clone();
    let manifest = blocking({
        let app = app.clone();
        move || {
            let dir = data_dir(&app)?;
            Ok(app
                .services
                .take_backup(&who, &dir, app.postgres.as_deref())?)
        }
    })
    .await?;
    let outcome = html! { p.ok id="outcome" { "Копия сделана: " (manifest.file) ", документов — " (manifest.documents.len()) "." } };
    let body = backups_body(app, &posted.user, outcome).await?;
    Ok(layout::page(Some(&posted.user), "Резервные копии", body).into_response())
}

/// `POST /admin/backups/verify`: decrypts a snapshot and checks every hash.
pub async fn verify(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let who = posted.user.who.clone();
    let file = posted.field("file").to_owned();
    let checked = blocking({
        let app = app.clone();
        let file = file.clone();
        move || {
            let dir = data_dir(&app)?;
            match app.services.verify_backup(&who, &dir, &file) {
                Ok(manifest) => Ok(Ok(manifest.documents.len())),
                Err(ServiceError::Backup(e)) => Ok(Err(e.to_string())),
                Err(other) => Err(other.into()),
            }
        }
    })
    .await?;
    let (status, outcome) = match checked {
        Ok(documents) => (
            StatusCode::OK,
            html! { p.ok id="outcome" { "Копия " (file) " исправна: расшифрована, все " (documents) " документов совпадают с описью." } },
        ),
        Err(problem) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! { p.error id="outcome" { "Копия " (file) " не прошла проверку: " (problem) } },
        ),
    };
    let body = backups_body(app, &posted.user, outcome).await?;
    Ok((
        status,
        layout::page(Some(&posted.user), "Резервные копии", body),
    )
        .into_response())
}
