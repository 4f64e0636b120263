//! Reports made from what this device holds, offline.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use journal_core::Journal;
use journal_core::reports::format::ReportFormat;
use journal_core::reports::{ReportKind, ReportRequest};

use super::{pick_students, year};

/// What `report` was asked.
pub struct ReportArgs {
    /// Which report.
    pub kind: String,
    /// Class id.
    pub class: Option<String>,
    /// Subject id.
    pub subject: Option<String>,
    /// Term id.
    pub term: Option<String>,
    /// Student id or the start of a name.
    pub student: Option<String>,
    /// File format.
    pub format: String,
    /// Only this table of the report (from 1).
    pub table: Option<usize>,
    /// Where to write it.
    pub out: PathBuf,
}

/// Makes a report and writes it to a file.
pub fn report(journal: &Journal, args: ReportArgs) -> Result<()> {
    let kind: ReportKind = args.kind.parse()?;
    let format: ReportFormat = args.format.parse()?;
    let year = year(journal)?;
    let student = match args.student {
        Some(filter) => {
            let found = pick_students(journal, year, Some(&filter))?;
            Some(found[0].0.clone())
        }
        None if kind == ReportKind::ReportCard => {
            match journal.students_held(year, journal.today()).as_slice() {
                [(only, _)] => Some(only.clone()),
                _ => bail!(
                    "the report card needs --student (one of the children this profile holds)"
                ),
            }
        }
        None => None,
    };
    let request = ReportRequest {
        class: args
            .class
            .map(|c| journal.find_class(year, &c))
            .transpose()?,
        subject: args
            .subject
            .map(|s| journal.find_subject(year, &s))
            .transpose()?,
        term: args.term.map(|t| t.parse()).transpose()?,
        student,
    };
    let doc = journal.report(year, kind, &request, journal.today())?;
    let doc = match args.table {
        Some(number) => doc.with_table(number)?,
        None => {
            if format == ReportFormat::Csv
                && let Some(note) = doc.one_table_note()
            {
                eprintln!("{note}");
            }
            doc
        }
    };
    let bytes = format.render(&doc)?;
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    say!(
        "{}: {} ({} bytes)",
        doc.title,
        args.out.display(),
        bytes.len()
    );
    Ok(())
}
