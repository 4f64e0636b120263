//! The audit trail of marks and attendance, for the administration: filtered by student, class, teacher
//! and days, each edit old → new with who made it, from which device and when.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use journal_core::docs::JournalEntry;
use journal_core::{ClassId, MarkPeriod, StudentId};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleError, ConsoleUser, blocking, layout};
use crate::app::App;
use crate::read_model::Scope;
use crate::reports;
use crate::services::audit::{EditFilter, JournalEditEntry};
use crate::store::AccountRole;

/// The most edits one page lists, newest first (a class's term is thousands).
const SHOWN: usize = 500;

/// The filter form as sent; empty fields are absent.
#[derive(Debug, Default, Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    class: String,
    #[serde(default)]
    student: String,
    #[serde(default)]
    teacher: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Names for what the trail holds as ids.
#[derive(Default)]
struct Names {
    classes: Vec<(ClassId, String)>,
    students: Vec<(String, Vec<(StudentId, String)>)>,
    staff: Vec<(String, String)>,
    accounts: HashMap<String, String>,
    devices: HashMap<String, String>,
    subjects: HashMap<String, String>,
    kinds: HashMap<String, String>,
    terms: HashMap<String, String>,
    /// Students no longer on a class list today (they left, or moved), named from the directory.
    former: HashMap<StudentId, String>,
}

impl Names {
    fn of<'a>(map: &'a HashMap<String, String>, id: &'a str) -> &'a str {
        map.get(id).map_or(id, String::as_str)
    }

    fn student<'a>(&'a self, id: &'a StudentId) -> &'a str {
        self.students
            .iter()
            .flat_map(|(_, students)| students.iter())
            .find(|(student, _)| student == id)
            .map(|(_, name)| name.as_str())
            .or_else(|| self.former.get(id).map(String::as_str))
            .unwrap_or(id.as_str())
    }

    fn entry(&self, entry: &JournalEntry) -> String {
        let day = |date: time::Date| {
            format!(
                "{:02}.{:02}.{}",
                date.day(),
                u8::from(date.month()),
                date.year()
            )
        };
        match entry {
            JournalEntry::Mark { date, kind, .. } => format!(
                "отметка ({}) за {}",
                Self::of(&self.kinds, kind.as_str()),
                day(*date)
            ),
            JournalEntry::Attendance { date, period, .. } => {
                format!("посещаемость {}, {period}-й урок", day(*date))
            }
            JournalEntry::FinalMark { period, .. } => match period {
                MarkPeriod::Term(term) => {
                    format!("итоговая за {}", Self::of(&self.terms, term.as_str()))
                }
                MarkPeriod::Year => "годовая".to_owned(),
            },
        }
    }
}

fn chosen<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, ConsoleError> {
    match text.trim() {
        "" => Ok(None),
        typed => typed.parse().map(Some).map_err(|_| {
            ConsoleError::page(
                StatusCode::BAD_REQUEST,
                format!("{what} «{typed}» — выберите из списка."),
            )
        }),
    }
}

fn day(text: &str, what: &str) -> Result<Option<time::Date>, ConsoleError> {
    match text.trim() {
        "" => Ok(None),
        typed => journal_core::parse_date(typed).map(Some).map_err(|_| {
            ConsoleError::page(
                StatusCode::BAD_REQUEST,
                format!("{what}: «{typed}» не похоже на дату ГГГГ-ММ-ДД."),
            )
        }),
    }
}

/// `GET /admin/audit?class=&student=&teacher=&from=&to=`.
pub async fn page(
    State(app): State<Arc<App>>,
    user: ConsoleUser,
    Query(form): Query<AuditForm>,
) -> Result<Html<String>, ConsoleError> {
    user.administration_only()?;
    let filter = EditFilter {
        student: chosen(&form.student, "Ученик")?,
        class: chosen(&form.class, "Класс")?,
        teacher: Some(form.teacher.trim().to_owned()).filter(|t| !t.is_empty()),
        from: day(&form.from, "С")?,
        to: day(&form.to, "По")?,
    };
    let who = user.who.clone();
    let (names, edits, zone) = blocking(move || {
        let store = app.store().as_ref();
        let Ok(year) = reports::newest_year(store) else {
            return Ok((Names::default(), None, journal_core::SchoolTimeZone::UTC));
        };
        let zone = reports::time_zone(store, &app.read_model, year)?;
        let today = zone.day_at(app.hub.clock().now());
        let mut names = app.read_model.read(
            store,
            year,
            |_| Scope::Classes,
            |journal| {
                let classes = journal.classes(year);
                let mut students = Vec::new();
                for (class, name) in &classes {
                    students.push((name.clone(), journal.roster(year, class, today)?));
                }
                let terms = journal
                    .school_settings(year)
                    .map(|s| {
                        s.year
                            .terms
                            .iter()
                            .map(|t| (t.id.to_string(), t.name.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Names {
                    classes,
                    students,
                    subjects: journal
                        .subjects(year)
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), name))
                        .collect(),
                    kinds: journal
                        .work_kinds(year)
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), name))
                        .collect(),
                    terms,
                    ..Names::default()
                })
            },
        )?;
        let accounts = app.services.accounts(&who)?;
        for account in &accounts {
            if matches!(
                account.role,
                AccountRole::Teacher | AccountRole::Administration
            ) {
                names.staff.push((account.id.clone(), account.name.clone()));
            }
        }
        names.accounts = accounts.into_iter().map(|a| (a.id, a.name)).collect();
        let edits = if filter.student.is_some() || filter.class.is_some() {
            let edits = app.services.journal_edits(&who, year, &filter)?;
            let mut seen: Vec<&str> = edits.iter().filter_map(|e| e.account.as_deref()).collect();
            seen.sort_unstable();
            seen.dedup();
            for account in seen {
                for device in app.services.devices_of(&who, account)? {
                    names.devices.insert(device.id, device.label);
                }
            }
            for edit in &edits {
                let listed = names
                    .students
                    .iter()
                    .any(|(_, students)| students.iter().any(|(s, _)| s == &edit.student));
                if !listed
                    && let Some((_, name)) = app
                        .store()
                        .student(&edit.student)
                        .map_err(crate::routes::AppError::from)?
                {
                    names.former.insert(edit.student.clone(), name);
                }
            }
            Some(edits)
        } else {
            None
        };
        Ok((names, edits, zone))
    })
    .await?;
    let body = html! {
        (filter_form(&form, &names))
        @match &edits {
            None => p.note { "Выберите класс или ученика, чтобы увидеть изменения отметок и посещаемости." },
            Some(edits) => (edits_table(edits, &names, zone)),
        }
    };
    Ok(layout::page(Some(&user), "Журнал изменений", body))
}

fn filter_form(form: &AuditForm, names: &Names) -> Markup {
    html! {
        form.panel id="audit" method="get" action="/admin/audit" {
            label { "Класс "
                select name="class" {
                    option value="" { "—" }
                    @for (class, name) in &names.classes {
                        option value=(class) selected[form.class == class.as_str()] { (name) }
                    }
                }
            }
            label { "Ученик "
                select name="student" {
                    option value="" { "—" }
                    @for (class, students) in &names.students {
                        optgroup label=(class) {
                            @for (student, name) in students {
                                option value=(student) selected[form.student == student.as_str()] { (name) }
                            }
                        }
                    }
                }
            }
            label { "Кто "
                select name="teacher" {
                    option value="" { "все" }
                    @for (account, name) in &names.staff {
                        option value=(account) selected[&form.teacher == account] { (name) }
                    }
                }
            }
            label { "С " input type="date" name="from" value=(form.from); }
            label { "по " input type="date" name="to" value=(form.to); }
            button type="submit" { "Показать" }
        }
    }
}

fn edits_table(
    edits: &[JournalEditEntry],
    names: &Names,
    zone: journal_core::SchoolTimeZone,
) -> Markup {
    html! {
        p.note {
            "Изменений: " (edits.len())
            @if edits.len() > SHOWN { ". Показаны " (SHOWN) " последних; сузьте отбор по ученику, учителю или дням, чтобы увидеть остальные." }
        }
        table id="edits" {
            thead { tr {
                th { "Когда" } th { "Кто" } th { "Устройство" } th { "Ученик" } th { "Предмет" }
                th { "Запись" } th { "Было → стало" } th { "Причина" }
            } }
            tbody {
                @for edit in edits.iter().take(SHOWN) {
                    tr {
                        td { @match edit.at { Some(at) => (layout::moment(at, zone)), None => span.muted { "не записано" } } }
                        td { @match &edit.account { Some(account) => (Names::of(&names.accounts, account)), None => span.muted { "неизвестно" } } }
                        td { @match &edit.device { Some(device) => (Names::of(&names.devices, device)), None => span.muted { "неизвестно" } } }
                        td { (names.student(&edit.student)) }
                        td { (Names::of(&names.subjects, edit.edit.entry.subject().as_str())) }
                        td { (names.entry(&edit.edit.entry)) }
                        td { (edit.edit.old.as_deref().unwrap_or("—")) " → " (edit.edit.new.as_deref().unwrap_or("—")) }
                        td { (edit.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}
