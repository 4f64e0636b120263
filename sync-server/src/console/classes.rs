//! Classes and class lists, for the administration: the classes with their sizes, and importing class
//! lists from CSV or XLSX, all rows or none, with every bad row shown by its number.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, Posted, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::reports;
use crate::roster::RowError;
use crate::services::ServiceError;
use crate::services::roster::ListFormat;

/// `GET /admin/classes`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let body = classes_body(app, &user, html! {}).await?;
    Ok(layout::page(Some(&user), "Классы и списки", body))
}

async fn classes_body(
    app: Arc<App>,
    user: &ConsoleUser,
    outcome: Markup,
) -> Result<Markup, ConsoleError> {
    let classes = blocking(move || {
        let store = app.store().as_ref();
        let Ok(year) = reports::newest_year(store) else {
            return Ok(Vec::new());
        };
        let zone = reports::time_zone(store, &app.read_model, year)?;
        let today = zone.day_at(app.hub.clock().now());
        Ok(app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| {
                journal
                    .classes(year)
                    .into_iter()
                    .map(|(class, name)| Ok((name, journal.roster(year, &class, today)?.len())))
                    .collect::<Result<Vec<_>, journal_core::Error>>()
                    .map_err(reports::ReportError::from)
            },
        )?)
    })
    .await?;
    Ok(html! {
        (outcome)
        form.panel method="post" action="/admin/classes/import" enctype="multipart/form-data" {
            p { "Загрузите списки классов: файл CSV или XLSX со столбцами "
                code { "class, student_id, student_name, guardian_id, guardian_name" }
                ". Если хоть одна строка с ошибкой, не загружается ничего, а ошибки показываются по номерам строк." }
            (layout::form_token(user))
            label { "Файл " input type="file" name="list" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"; }
            button type="submit" { "Загрузить" }
        }
        table id="classes" {
            thead { tr { th { "Класс" } th { "Учеников" } } }
            tbody {
                @for (name, size) in &classes { tr { td { (name) } td { (size) } } }
            }
        }
    })
}

/// `POST /admin/classes/import`: the uploaded list, imported whole or not at all.
pub async fn import(State(app): State<Arc<App>>, posted: Posted) -> Result<Response, ConsoleError> {
    posted.user.administration_only()?;
    let Some((file_name, bytes)) = posted.file.clone() else {
        return Err(ConsoleError::page(
            StatusCode::BAD_REQUEST,
            "Выберите файл со списками классов.",
        ));
    };
    let who = posted.user.who.clone();
    let imported = blocking({
        let app = app.clone();
        move || {
            let format = if file_name.to_lowercase().ends_with(".xlsx") {
                ListFormat::Xlsx
            } else {
                ListFormat::sniff(&bytes)
            };
            let source = format!("console upload {file_name:?}");
            match app
                .services
                .import_class_lists(&who, &bytes, format, &source)
            {
                Ok(imported) => Ok(Ok(imported)),
                Err(ServiceError::Rows(rows)) => Ok(Err(rows)),
                Err(other) => Err(other.into()),
            }
        }
    })
    .await?;
    let (status, outcome) = match imported {
        Ok(imported) => (
            StatusCode::OK,
            html! { p.ok id="outcome" { "Списки загружены: учеников — " (imported.students)
            ", связей с родителями — " (imported.guardians) "." } },
        ),
        Err(rows) => (StatusCode::UNPROCESSABLE_ENTITY, bad_rows(&rows)),
    };
    let body = classes_body(app, &posted.user, outcome).await?;
    Ok((
        status,
        layout::page(Some(&posted.user), "Классы и списки", body),
    )
        .into_response())
}

fn bad_rows(rows: &[RowError]) -> Markup {
    html! {
        div.panel id="outcome" {
            p.error { "Ничего не загружено: исправьте строки ниже и загрузите файл снова." }
            table id="bad-rows" {
                thead { tr { th { "Строка" } th { "Что не так" } } }
                tbody { @for row in rows { tr { td { (row.row) } td { (row.reason) } } } }
            }
        }
    }
}
