//! What a family reads: the news feed, marks with averages, absences with totals; and the cells two
//! devices set differently.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use journal_core::{DateRange, Journal, format_date};
use serde::Serialize;

use super::sync::news_rows;
use super::{pick_students, year};
use crate::output::{date_arg, emit};

/// What is new since the last look; marks it seen unless `keep`.
pub fn news(journal: &mut Journal, keep: bool, json: bool) -> Result<()> {
    let rows = news_rows(journal)?;
    emit(
        json,
        &rows,
        &[
            ("what", "kind"),
            ("who / class", "student"),
            ("date", "date"),
            ("subject", "subject"),
            ("news", "text"),
        ],
    )?;
    if !keep {
        journal.mark_news_seen()?;
    }
    Ok(())
}

/// The cells two devices set differently.
pub fn conflicts(journal: &Journal, json: bool) -> Result<()> {
    let conflicts: Vec<serde_json::Value> = journal
        .conflicts()
        .into_iter()
        .map(|c| serde_json::json!({ "where": c.target.to_string(), "values": c.values }))
        .collect();
    emit(
        json,
        &conflicts,
        &[
            ("where", "where"),
            ("values (first is shown everywhere)", "values"),
        ],
    )
}

#[derive(Serialize)]
struct MarkRow {
    student: String,
    date: String,
    subject: String,
    subject_name: String,
    mark: String,
    kind: String,
    kind_name: String,
    comment: String,
}

#[derive(Serialize)]
struct AverageRow {
    student: String,
    subject: String,
    subject_name: String,
    average: String,
    marks: usize,
}

#[derive(Serialize)]
struct MarksOutput {
    marks: Vec<MarkRow>,
    averages: Vec<AverageRow>,
}

/// Which marks or absences to show: a child and a period.
pub struct Filter {
    /// Only this child (id or start of the name).
    pub child: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
}

/// Marks, with each subject's weighted average.
pub fn marks(journal: &Journal, filter: Filter, subject: Option<String>, json: bool) -> Result<()> {
    let year = year(journal)?;
    let settings = journal
        .school_settings(year)
        .context("the school's settings have not synced yet")?;
    let period = match (filter.from, filter.to) {
        (None, None) => None,
        (from, to) => Some(DateRange::new(
            date_arg(from.as_deref(), settings.year.start)?,
            date_arg(to.as_deref(), settings.year.end)?,
        )?),
    };
    let subject = subject
        .map(|s| journal.find_subject(year, &s))
        .transpose()?;
    let mut output = MarksOutput {
        marks: Vec::new(),
        averages: Vec::new(),
    };
    for (student, name) in pick_students(journal, year, filter.child.as_deref())? {
        for row in journal.student_marks(year, &student, period, subject.as_ref())? {
            output.marks.push(MarkRow {
                student: name.clone(),
                date: format_date(row.mark.date),
                subject_name: journal.subject_name(year, &row.mark.subject),
                subject: row.mark.subject.to_string(),
                mark: row.mark.value.to_string(),
                kind_name: journal.work_kind_name(year, &row.mark.kind),
                kind: row.mark.kind.to_string(),
                comment: row.mark.comment,
            });
        }
        for average in journal.subject_averages(year, &student, period, subject.as_ref())? {
            output.averages.push(AverageRow {
                student: name.clone(),
                subject_name: journal.subject_name(year, &average.subject),
                subject: average.subject.to_string(),
                average: average.shown(),
                marks: average.marks,
            });
        }
    }
    if json {
        say!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    emit(
        false,
        &output.marks,
        &[
            ("student", "student"),
            ("date", "date"),
            ("subject", "subject_name"),
            ("mark", "mark"),
            ("kind of work", "kind_name"),
            ("comment", "comment"),
        ],
    )?;
    emit(
        false,
        &output.averages,
        &[
            ("student", "student"),
            ("subject", "subject_name"),
            ("average", "average"),
            ("marks", "marks"),
        ],
    )
}

#[derive(Serialize)]
struct AbsenceRow {
    student: String,
    date: String,
    period: u8,
    subject: String,
    subject_name: String,
    code: String,
    note: String,
}

/// Absences and lateness, with each student's totals.
pub fn attendance(journal: &Journal, filter: Filter, json: bool) -> Result<()> {
    let year = year(journal)?;
    let settings = journal
        .school_settings(year)
        .context("the school's settings have not synced yet")?;
    let range = DateRange::new(
        date_arg(filter.from.as_deref(), settings.year.start)?,
        date_arg(filter.to.as_deref(), settings.year.end)?,
    )?;
    let mut rows = Vec::new();
    for (student, name) in pick_students(journal, year, filter.child.as_deref())? {
        for absence in journal.student_absences(year, &student, range)? {
            rows.push(AbsenceRow {
                student: name.clone(),
                date: format_date(absence.date),
                period: absence.period,
                subject_name: journal.subject_name(year, &absence.subject),
                subject: absence.subject.to_string(),
                code: absence.code,
                note: absence.note,
            });
        }
    }
    emit(
        json,
        &rows,
        &[
            ("student", "student"),
            ("date", "date"),
            ("period", "period"),
            ("subject", "subject_name"),
            ("code", "code"),
            ("note", "note"),
        ],
    )?;
    if !json {
        for line in absence_totals(&rows) {
            say!("{line}");
        }
    }
    Ok(())
}

/// One line per student: how many lessons missed or late in all, and how many under each code.
fn absence_totals(rows: &[AbsenceRow]) -> Vec<String> {
    let mut totals: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for row in rows {
        *totals
            .entry(&row.student)
            .or_default()
            .entry(&row.code)
            .or_default() += 1;
    }
    totals
        .into_iter()
        .map(|(student, codes)| {
            let all: usize = codes.values().sum();
            let by_code: Vec<String> = codes
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            format!("total for {student}: {all} ({})", by_code.join(", "))
        })
        .collect()
}
