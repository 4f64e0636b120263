//! Reports, each kind as PDF, XLSX or CSV, with the class, subject, term and student picked from lists of
//! names: the administration for the whole school, a class teacher for their own class.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, Response};
use journal_core::reports::{ReportKind, ReportRequest};
use journal_core::{ClassId, StudentId, SubjectId, TermId};
use maud::html;
use serde::Deserialize;

use super::{ConsoleError, ConsoleUser, Desk, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::reports::{self, ReportFormat, ReportQuery};

/// The kinds of report the console offers, with how the school calls them.
const KINDS: [(ReportKind, &str); 9] = [
    (ReportKind::ClassJournal, "Классный журнал по предмету"),
    (ReportKind::Summary, "Сводная ведомость класса"),
    (
        ReportKind::TermReport,
        "Отчёт классного руководителя за период",
    ),
    (ReportKind::ReportCard, "Табель успеваемости ученика"),
    (ReportKind::Progress, "Выполнение учебной программы"),
    (ReportKind::Control, "Контроль ведения журнала"),
    (
        ReportKind::ProfileReview,
        "Личные дела без проверки за 30 дней",
    ),
    (ReportKind::Activity, "Активность пользователей за месяц"),
    (
        ReportKind::NoConsent,
        "Ученики без согласия на обработку данных",
    ),
];

/// The kinds a class teacher gets for their own class.
const CLASS_TEACHER_KINDS: [ReportKind; 5] = [
    ReportKind::ClassJournal,
    ReportKind::Summary,
    ReportKind::TermReport,
    ReportKind::ReportCard,
    ReportKind::Progress,
];

fn offered(desk: &Desk, kind: ReportKind) -> bool {
    matches!(desk, Desk::School) || CLASS_TEACHER_KINDS.contains(&kind)
}

/// What the form's lists offer.
struct Choices {
    classes: Vec<(ClassId, String)>,
    subjects: Vec<(SubjectId, String)>,
    terms: Vec<(TermId, String)>,
    students: Vec<(String, Vec<(StudentId, String)>)>,
}

/// `GET /admin/reports`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
) -> Result<Html<String>, ConsoleError> {
    let desk = user.desk.clone();
    let choices = blocking(move || {
        let store = app.store().as_ref();
        let Ok(year) = reports::newest_year(store) else {
            return Ok(None);
        };
        let zone = reports::time_zone(store, &app.read_model, year)?;
        let today = zone.day_at(app.hub.clock().now());
        let choices = app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| {
                let classes: Vec<(ClassId, String)> = journal
                    .classes(year)
                    .into_iter()
                    .filter(|(class, _)| desk.covers(class))
                    .collect();
                let mut students = Vec::new();
                for (class, name) in &classes {
                    students.push((name.clone(), journal.roster(year, class, today)?));
                }
                Ok(Choices {
                    subjects: journal.subjects(year),
                    terms: journal
                        .school_settings(year)
                        .map(|s| {
                            s.year
                                .terms
                                .iter()
                                .map(|t| (t.id.clone(), t.name.clone()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    classes,
                    students,
                })
            },
        )?;
        Ok(Some(choices))
    })
    .await?;
    let Some(choices) = choices else {
        let body = html! { p.note { "На сервере ещё нет учебного года." } };
        return Ok(layout::page(Some(&user), "Отчёты", body));
    };
    let body = html! {
        form.panel id="report" method="get" action="/admin/reports/file" {
            p { "Выберите отчёт и то, о чём он: класс нужен всем отчётам, кроме табеля, контроля и личных дел; предмет — классному журналу; ученик — табелю; месяц — отчёту об активности." }
            div { label { "Отчёт "
                select name="kind" {
                    @for (kind, name) in KINDS { @if offered(&user.desk, kind) { option value=(kind.name()) { (name) } } }
                }
            } }
            div {
                label { "Класс "
                    select name="class" {
                        @if user.is_administration() { option value="" { "—" } }
                        @for (class, name) in &choices.classes { option value=(class) { (name) } }
                    }
                }
                label { "Предмет "
                    select name="subject" {
                        option value="" { "—" }
                        @for (subject, name) in &choices.subjects { option value=(subject) { (name) } }
                    }
                }
                label { "Период "
                    select name="term" {
                        option value="" { "весь год" }
                        @for (term, name) in &choices.terms { option value=(term) { (name) } }
                    }
                }
            }
            div {
                label { "Ученик "
                    select name="student" {
                        option value="" { "—" }
                        @for (class, students) in &choices.students {
                            optgroup label=(class) {
                                @for (student, name) in students { option value=(student) { (name) } }
                            }
                        }
                    }
                }
                label { "Месяц " input type="month" name="month"; }
                label { "Формат "
                    select name="format" {
                        option value="pdf" { "PDF" }
                        option value="xlsx" { "XLSX" }
                        option value="csv" { "CSV" }
                    }
                }
            }
            button type="submit" { "Скачать отчёт" }
        }
    };
    Ok(layout::page(Some(&user), "Отчёты", body))
}

/// The report form as sent; empty fields are absent.
#[derive(Debug, Default, Deserialize)]
pub struct ReportForm {
    kind: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    term: String,
    #[serde(default)]
    student: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    format: String,
}

fn chosen<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, ConsoleError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        ConsoleError::page(
            StatusCode::BAD_REQUEST,
            format!("{what} «{text}» не найден; выберите из списка."),
        )
    })
}

/// `GET /admin/reports/file?kind=&class=&subject=&term=&student=&month=YYYY-MM&format=`.
pub async fn file(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
    Query(form): Query<ReportForm>,
) -> Result<Response, ConsoleError> {
    let kind: ReportKind = form.kind.parse().map_err(|_| {
        ConsoleError::page(
            StatusCode::NOT_FOUND,
            "Такого отчёта нет; выберите из списка.",
        )
    })?;
    let format: ReportFormat = match form.format.as_str() {
        "" => ReportFormat::Pdf,
        typed => typed.parse().map_err(|_| {
            ConsoleError::page(StatusCode::BAD_REQUEST, "Формат: PDF, XLSX или CSV.")
        })?,
    };
    let month = match form.month.trim() {
        "" => None,
        typed => Some(
            journal_core::parse_date(&format!("{typed}-01")).map_err(|_| {
                ConsoleError::page(
                    StatusCode::BAD_REQUEST,
                    format!("Месяц «{typed}» не похож на ГГГГ-ММ."),
                )
            })?,
        ),
    };
    let request = ReportRequest {
        class: chosen(&form.class, "Класс")?,
        subject: chosen(&form.subject, "Предмет")?,
        term: chosen(&form.term, "Период")?,
        student: chosen(&form.student, "Ученик")?,
    };
    if !offered(&user.desk, kind) {
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "Этот отчёт получает администрация школы.",
        ));
    }
    let desk = user.desk.clone();
    let bytes = blocking(move || {
        let store = app.store().as_ref();
        if let Desk::Classes(_) = desk {
            let class = match (&kind, &request.student) {
                (ReportKind::ReportCard, Some(student)) => store
                    .student(student)
                    .map_err(crate::routes::AppError::from)?
                    .map(|(class, _)| class),
                _ => request.class.clone(),
            };
            if !class.is_some_and(|class| desk.covers(&class)) {
                return Err(ConsoleError::page(
                    StatusCode::FORBIDDEN,
                    "Классный руководитель получает отчёты только по своему классу.",
                ));
            }
        }
        let query = ReportQuery {
            year: None,
            request,
            month,
        };
        Ok(reports::report_file(
            store,
            &app.read_model,
            kind,
            &query,
            None,
            format,
            app.hub.clock().now(),
        )?)
    })
    .await?;
    Ok(crate::routes::reports::file(bytes, format, kind.name()))
}
