//! The first page: for the administration, the relay's state (live sessions, the last backup, free disk)
//! and this month's activity by class; for a class teacher, their class lists.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, Desk, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::reports;

/// `GET /admin/`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    let body = match &user.desk {
        Desk::School => school(app).await?,
        Desk::Classes(classes) => own_classes(app, classes.clone()).await?,
    };
    let title = if user.is_administration() {
        "Обзор"
    } else {
        "Мой класс"
    };
    Ok(layout::page(Some(&user), title, body))
}

fn megabytes(bytes: u64) -> String {
    if bytes >= 10 << 30 {
        format!("{} ГБ", bytes >> 30)
    } else {
        format!("{} МБ", bytes >> 20)
    }
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 3600 => format!("{} мин назад", s.max(0) / 60),
        s if s < 2 * 86_400 => format!("{} ч назад", s / 3600),
        s => format!("{} дн. назад", s / 86_400),
    }
}

async fn school(app: Arc<App>) -> Result<Markup, ConsoleError> {
    let sessions = app.sessions.open_count();
    blocking(move || {
        let store = app.store().as_ref();
        let now = app.hub.clock().now();
        let dir = app.data_dir.as_deref();
        let backup = dir.and_then(|d| crate::health::newest_backup(&d.join("backups")));
        let disk = dir.and_then(crate::health::disk_space);
        let year = reports::newest_year(store).ok();
        let zone = match year {
            Some(year) => reports::time_zone(store, &app.read_model, year)?,
            None => journal_core::SchoolTimeZone::UTC,
        };
        let activity = match year {
            Some(year) => {
                let today = zone.day_at(now);
                Some(reports::activity(
                    store,
                    &app.read_model,
                    year,
                    today,
                    today,
                )?)
            }
            None => None,
        };
        Ok(html! {
            div.figures {
                div.figure id="sessions" { "Сеансов синхронизации сейчас" b { (sessions) } }
                div.figure id="backup" {
                    "Последняя резервная копия"
                    @match backup {
                        Some(at) => { b { (layout::moment(at, zone)) } span.note { (age(now - at)) } },
                        None => b.error { "ещё не было" },
                    }
                }
                div.figure id="disk" {
                    "Свободно на диске"
                    @match disk {
                        Some(disk) => b { (megabytes(disk.free)) },
                        None => b.muted { "неизвестно" },
                    }
                }
            }
            @match &activity {
                Some(doc) => {
                    h2 { "Активность за месяц по классам" }
                    (layout::report_tables(doc))
                }
                None => p.note { "На сервере ещё нет учебного года." },
            }
        })
    })
    .await
}

async fn own_classes(
    app: Arc<App>,
    classes: Vec<journal_core::ClassId>,
) -> Result<Markup, ConsoleError> {
    blocking(move || {
        let store = app.store().as_ref();
        let year = reports::newest_year(store)?;
        let zone = reports::time_zone(store, &app.read_model, year)?;
        let today = zone.day_at(app.hub.clock().now());
        let lists = app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| {
                classes
                    .iter()
                    .map(|class| {
                        Ok((
                            journal.class_name(year, class),
                            journal.roster(year, class, today)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, journal_core::Error>>()
                    .map_err(reports::ReportError::from)
            },
        )?;
        Ok(html! {
            @for (name, roster) in &lists {
                h2 { "Класс " (name) }
                table {
                    thead { tr { th { "№" } th { "Ученик" } } }
                    tbody {
                        @for (number, (_, student)) in roster.iter().enumerate() {
                            tr { td { (number + 1) } td { (student) } }
                        }
                    }
                }
            }
            p { a href="/admin/codes" { "Коды доступа для семей класса" } " · " a href="/admin/reports" { "Отчёты по классу" } }
        })
    })
    .await
}
