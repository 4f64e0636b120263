//! The commands, one file per group: signing in and syncing, lessons, what families read, reports,
//! messages and the edits the relay refused.

pub mod lessons;
pub mod messages;
pub mod records;
pub mod refused;
pub mod reports;
pub mod school;
pub mod sync;

use anyhow::{Context, Result, bail};
use journal_core::{ClassId, Journal, StudentId, YearId};

/// The school year the journal holds (the newest).
pub fn year(journal: &Journal) -> Result<YearId> {
    journal
        .current_year()
        .context("this profile holds no journal yet: run `journal sync` while connected")
}

/// The classes whose documents this device holds.
pub fn classes(journal: &Journal, year: YearId) -> Vec<ClassId> {
    journal
        .classes(year)
        .into_iter()
        .map(|(class, _)| class)
        .collect()
}

/// The students this device holds whose id is `filter` or whose name starts with it (all without one).
pub fn pick_students(
    journal: &Journal,
    year: YearId,
    filter: Option<&str>,
) -> Result<Vec<(StudentId, String)>> {
    let all = journal.students_held(year, journal.today());
    let Some(filter) = filter else { return Ok(all) };
    let lower = filter.to_lowercase();
    let found: Vec<_> = all
        .into_iter()
        .filter(|(id, name)| id.as_str() == filter || name.to_lowercase().starts_with(&lower))
        .collect();
    if found.is_empty() {
        bail!(
            "no student here matches {filter:?}; `journal marks` lists the children this profile holds"
        );
    }
    Ok(found)
}
