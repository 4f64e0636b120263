//! What can be typed where a command asks for a class, a subject or a student: the year's, as this
//! profile holds them.

use anyhow::Result;
use journal_core::Journal;
use serde::Serialize;

use super::year;
use crate::output::emit;

/// One class, subject or student: what to type, and its name.
#[derive(Serialize)]
struct Named {
    id: String,
    name: String,
}

fn named<T: ToString>(rows: Vec<(T, String)>) -> Vec<Named> {
    rows.into_iter()
        .map(|(id, name)| Named {
            id: id.to_string(),
            name,
        })
        .collect()
}

/// `journal classes`: the classes this profile holds.
pub fn classes(journal: &Journal, json: bool) -> Result<()> {
    let year = year(journal)?;
    emit(
        json,
        &named(journal.classes(year)),
        &[("Класс", "name"), ("id", "id")],
    )
}

/// `journal subjects`: the school's subjects.
pub fn subjects(journal: &Journal, json: bool) -> Result<()> {
    let year = year(journal)?;
    emit(
        json,
        &named(journal.subjects(year)),
        &[("Предмет", "name"), ("id", "id")],
    )
}

/// `journal students [CLASS]`: the students of a class today, or every student this profile holds.
pub fn students(journal: &Journal, class: Option<&str>, json: bool) -> Result<()> {
    let year = year(journal)?;
    let rows = match class {
        Some(class) => journal.roster(year, &journal.find_class(year, class)?, journal.today())?,
        None => journal.students_held(year, journal.today()),
    };
    emit(json, &named(rows), &[("Ученик", "name"), ("id", "id")])
}
