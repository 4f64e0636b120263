//! Reports the regulation asks for (2.2, 2.3, 3.4, 6.2, 9.1), computed from the documents, never typed: the
//! class journal, report cards, the summary sheet, the class teacher's term report, journal-keeping
//! control, curriculum progress, profile review and the monthly activity report. Each report is first a
//! typed value (so its figures can be tested), then a [`ReportDoc`]: titled tables that the PDF, XLSX and
//! CSV writers print alike.

mod activity;
mod class_journal;
mod consent;
mod control;
mod marks;
mod performance;

#[cfg(feature = "print")]
pub mod export;
#[cfg(feature = "print")]
pub mod format;
#[cfg(feature = "print")]
pub mod pdf;

use std::fmt;
use std::str::FromStr;

use time::Date;

pub use activity::{ActivityAccount, ActivityReport, ActivityRow, StaffActivity, activity_report};
pub use class_journal::{ClassJournal, JournalRow};
pub use consent::{ConsentGap, GuardianConsent, no_consent_doc};
pub use control::{KeepingRow, ProfileReviewRow};
pub use marks::{ReportCard, SummarySheet};
pub use performance::{
    MarkCounts, Performance, StudentStanding, SubjectPerformance, TermReport, standing,
};

use crate::docs::SchoolSettings;
use crate::domain::calendar::DateRange;
use crate::domain::model::MarkPeriod;
use crate::domain::policy::MarkValue;
use crate::error::{InputError, Result};
use crate::ids::{ClassId, StaffId, StudentId, SubjectId, TermId, WorkKindId, YearId};
use crate::journal::Journal;

/// One cell of a report table.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Nothing.
    Empty,
    /// Text.
    Text(String),
    /// A count.
    Int(i64),
    /// A figure shown with `decimals` digits after the point.
    Number {
        /// The figure.
        value: f64,
        /// Digits after the point.
        decimals: u8,
    },
    /// A day: printed as 01.09.2026, a date cell in a spreadsheet.
    Date(Date),
}

impl Value {
    /// Text, or empty when `text` is.
    pub fn text(text: impl Into<String>) -> Value {
        let text = text.into();
        if text.is_empty() {
            Value::Empty
        } else {
            Value::Text(text)
        }
    }

    /// A figure with one digit after the point.
    pub fn one_decimal(value: f64) -> Value {
        Value::Number { value, decimals: 1 }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty => Ok(()),
            Value::Text(t) => f.write_str(t),
            Value::Int(n) => write!(f, "{n}"),
            Value::Date(date) => f.write_str(&full_date(*date)),
            Value::Number { value, decimals } => {
                // Russian documents write the decimal comma.
                let text = format!("{value:.prec$}", prec = usize::from(*decimals));
                f.write_str(&text.replace('.', ","))
            }
        }
    }
}

/// A table of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Column headings.
    pub columns: Vec<String>,
    /// Rows, one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Leading columns repeated on every page when the table is wider than the paper (the names).
    pub frozen_columns: usize,
}

/// A titled part of a report: a table and lines of text under it.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Heading.
    pub heading: String,
    /// The table.
    pub table: Table,
    /// Lines under the table (legend, totals).
    pub notes: Vec<String>,
}

/// A report ready to print or export.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportDoc {
    /// What it is.
    pub kind: ReportKind,
    /// Title ("Классный журнал: Математика, 1 триместр").
    pub title: String,
    /// The school's name.
    pub school: String,
    /// School year.
    pub year: YearId,
    /// Class, as the school writes it, when the report is of one class.
    pub class: Option<String>,
    /// Day it was made.
    pub printed: Date,
    /// Printed across the page (wide grids).
    pub landscape: bool,
    /// Its parts.
    pub sections: Vec<Section>,
    /// Who signs it ("Учитель", "Классный руководитель", "Директор").
    pub signatures: Vec<String>,
}

impl ReportDoc {
    /// The headings of the report's tables, in order (table 1 first).
    pub fn table_names(&self) -> Vec<String> {
        self.sections.iter().map(|s| s.heading.clone()).collect()
    }

    /// The same report with only its table `number` (from 1): what one CSV file holds.
    pub fn with_table(&self, number: usize) -> Result<ReportDoc, InputError> {
        let Some(section) = number.checked_sub(1).and_then(|i| self.sections.get(i)) else {
            return Err(InputError::Invalid(format!(
                "{} has no table {number}; its tables: {}",
                self.title,
                self.table_list()
            )));
        };
        Ok(ReportDoc {
            sections: vec![section.clone()],
            ..self.clone()
        })
    }

    /// What a command line says when it writes this report as one CSV file and the report has more
    /// tables than the one it holds; `None` for a report of one table.
    pub fn one_table_note(&self) -> Option<String> {
        (self.sections.len() > 1).then(|| {
            format!(
                "{} has {} tables: {}; a CSV file holds one, table 1 here (--table N for another)",
                self.title,
                self.sections.len(),
                self.table_list()
            )
        })
    }

    /// "1 «Успеваемость», 2 «Пропуски»".
    pub fn table_list(&self) -> String {
        self.table_names()
            .iter()
            .enumerate()
            .map(|(i, name)| match name.as_str() {
                "" => (i + 1).to_string(),
                name => format!("{} «{name}»", i + 1),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The signature lines every printed document carries (teacher, class teacher, director, as the regulation
/// asks), with `extra` (a deputy director who checks the journal) before the director.
pub(crate) fn signature_lines(extra: &[&str]) -> Vec<String> {
    ["Учитель", "Классный руководитель"]
        .into_iter()
        .chain(extra.iter().copied())
        .chain(["Директор"])
        .map(str::to_owned)
        .collect()
}

/// The kinds of report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// Class journal for a subject and term.
    ClassJournal,
    /// One student's report card (табель).
    ReportCard,
    /// Summary sheet (сводная ведомость) of a class.
    Summary,
    /// The class teacher's term report.
    TermReport,
    /// Journal-keeping control.
    Control,
    /// Curriculum progress: planned against held.
    Progress,
    /// Profiles not reviewed in the last 30 days.
    ProfileReview,
    /// Monthly user activity (made on the relay, from its session log).
    Activity,
    /// Students whose guardians have no consent to processing personal data in force (made on the
    /// relay, from its consent register).
    NoConsent,
}

impl ReportKind {
    /// Every kind, with its command-line name.
    pub const ALL: [(ReportKind, &'static str); 9] = [
        (ReportKind::ClassJournal, "class-journal"),
        (ReportKind::ReportCard, "report-card"),
        (ReportKind::Summary, "summary"),
        (ReportKind::TermReport, "term-report"),
        (ReportKind::Control, "control"),
        (ReportKind::Progress, "progress"),
        (ReportKind::ProfileReview, "profile-review"),
        (ReportKind::Activity, "activity"),
        (ReportKind::NoConsent, "no-consent"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("report", |(_, n)| n)
    }
}

impl FromStr for ReportKind {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                InputError::Invalid(format!(
                    "unknown report {s:?}; the reports are {}",
                    Self::ALL.map(|(_, n)| n).join(", ")
                ))
            })
    }
}

/// What a report is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRequest {
    /// The class (every report but the report card, control and profile review, which may cover all).
    pub class: Option<ClassId>,
    /// The subject (class journal).
    pub subject: Option<SubjectId>,
    /// The term; `None` means the whole year where a report allows it.
    pub term: Option<TermId>,
    /// The student (report card).
    pub student: Option<StudentId>,
}

fn missing(what: &str, kind: ReportKind) -> crate::error::Error {
    InputError::Invalid(format!("the {} report needs {what}", kind.name())).into()
}

impl Journal {
    /// Builds a report from the documents this device holds, dated `today`.
    pub fn report(
        &self,
        year: YearId,
        kind: ReportKind,
        request: &ReportRequest,
        today: Date,
    ) -> Result<ReportDoc> {
        let class = || {
            request
                .class
                .as_ref()
                .ok_or_else(|| missing("--class", kind))
        };
        let term = || request.term.as_ref().ok_or_else(|| missing("--term", kind));
        // Families print their child's report card; the journal's other reports are the staff's.
        if let Some(me) = self.my_directory()?
            && me.role.is_family()
            && kind != ReportKind::ReportCard
        {
            return Err(InputError::Invalid(format!(
                "a {} may print the report card only; {} is for the school's staff",
                me.role,
                kind.name()
            ))
            .into());
        }
        match kind {
            ReportKind::ClassJournal => {
                let subject = request
                    .subject
                    .as_ref()
                    .ok_or_else(|| missing("--subject", kind))?;
                Ok(self
                    .class_journal(year, class()?, subject, term()?)?
                    .to_doc(self, year, today))
            }
            ReportKind::ReportCard => {
                let student = request
                    .student
                    .as_ref()
                    .ok_or_else(|| missing("--student", kind))?;
                Ok(self.report_card(year, student)?.to_doc(self, year, today))
            }
            ReportKind::Summary => Ok(self
                .summary_sheet(year, class()?, request.term.as_ref())?
                .to_doc(self, year, today)),
            ReportKind::TermReport => Ok(self
                .term_report(year, class()?, term()?)?
                .to_doc(self, year, today)),
            ReportKind::Control => {
                self.keeping_control_doc(year, request.class.as_ref(), term()?, today)
            }
            ReportKind::Progress => self.progress_doc(year, class()?, term()?, today),
            ReportKind::ProfileReview => {
                self.profile_review_doc(year, request.class.as_ref(), today)
            }
            ReportKind::Activity => Err(InputError::Invalid(
                "the activity report is made on the relay, from its session log".to_owned(),
            )
            .into()),
            ReportKind::NoConsent => Err(InputError::Invalid(
                "the no-consent report is made on the relay, from its consent register".to_owned(),
            )
            .into()),
        }
    }

    /// A report's frame: school, year, class and date.
    pub(crate) fn report_frame(
        &self,
        year: YearId,
        kind: ReportKind,
        title: String,
        class: Option<&ClassId>,
        today: Date,
    ) -> ReportDoc {
        let school = self
            .school_settings(year)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        ReportDoc {
            kind,
            title,
            school,
            year,
            class: class.map(|c| self.class_name(year, c)),
            printed: today,
            landscape: false,
            sections: Vec::new(),
            signatures: signature_lines(&[]),
        }
    }

    /// A class's name as the school writes it ("5А").
    pub fn class_name(&self, year: YearId, class: &ClassId) -> String {
        self.class_doc(year, class)
            .ok()
            .and_then(|c| c.info.as_ref())
            .map_or_else(|| class.to_string(), |i| i.value.name.clone())
    }

    /// A staff member's name as the school's document has it, or their account id before it does.
    pub fn staff_name(&self, year: YearId, staff: &StaffId) -> String {
        self.school_doc(year)
            .and_then(|s| s.staff.get(staff.as_str()))
            .map_or_else(|| staff.to_string(), Clone::clone)
    }

    /// A kind of work's name from the school's marking policy («Устный ответ»).
    pub fn work_kind_name(&self, year: YearId, kind: &WorkKindId) -> String {
        self.school_doc(year)
            .and_then(|s| s.settings.as_ref())
            .and_then(|s| s.value.policy.work_kinds.get(kind))
            .map_or_else(|| kind.to_string(), |k| k.name.clone())
    }

    /// A subject's name from the school's catalogue.
    pub fn subject_name(&self, year: YearId, subject: &SubjectId) -> String {
        self.school_doc(year)
            .and_then(|s| s.subjects.get(subject))
            .map_or_else(|| subject.to_string(), |c| c.value.name.clone())
    }

    /// The term mark that counts: the one the teacher set, else the one computed from the marks under
    /// the school's policy.
    pub fn effective_term_mark(
        &self,
        year: YearId,
        student: &StudentId,
        subject: &SubjectId,
        term: &TermId,
    ) -> Result<Option<MarkValue>> {
        let found = self.term_suggestion(year, student, subject, term)?;
        Ok(found.set.map(|m| m.value).or(found.suggested))
    }

    /// The year mark that counts: the one set, else the term marks' average rounded under the policy.
    pub fn effective_year_mark(
        &self,
        year: YearId,
        student: &StudentId,
        subject: &SubjectId,
    ) -> Result<Option<MarkValue>> {
        let settings = self.settings(year)?;
        if let Some(set) = self.student_doc(year, student).and_then(|d| {
            d.final_marks.get(&crate::docs::FinalMarkKey {
                subject: subject.clone(),
                period: MarkPeriod::Year,
            })
        }) {
            return Ok(Some(set.value.value));
        }
        let mut grades = Vec::new();
        for term in &settings.year.terms {
            if let Some(MarkValue::Grade(g)) =
                self.effective_term_mark(year, student, subject, &term.id)?
            {
                grades.push(u32::from(g));
            }
        }
        if grades.is_empty() {
            return Ok(None);
        }
        let hundredths = grades.iter().sum::<u32>() * 100 / grades.len() as u32;
        Ok(Some(
            settings
                .policy
                .thresholds
                .round(u16::try_from(hundredths).unwrap_or(u16::MAX)),
        ))
    }

    /// Subjects of a class: those assigned to a teacher, then any with lessons.
    pub(crate) fn class_subjects(&self, year: YearId, class: &ClassId) -> Result<Vec<SubjectId>> {
        let doc = self.class_doc(year, class)?;
        let mut subjects: Vec<SubjectId> = doc.subjects.keys().cloned().collect();
        for lesson in doc.lessons.values() {
            if !subjects.contains(&lesson.subject) {
                subjects.push(lesson.subject.clone());
            }
        }
        Ok(subjects)
    }

    /// Students on the class list at any time during `range`, by name, with their exemptions.
    pub(crate) fn students_during(
        &self,
        year: YearId,
        class: &ClassId,
        range: DateRange,
    ) -> Result<Vec<(StudentId, String, std::collections::BTreeSet<SubjectId>)>> {
        let mut students: Vec<_> = self
            .class_doc(year, class)?
            .roster
            .iter()
            .filter(|(_, e)| {
                e.value.joined <= range.to && e.value.left.is_none_or(|left| left >= range.from)
            })
            .map(|(id, e)| (id.clone(), e.value.name.clone(), e.value.exempt.clone()))
            .collect();
        students.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(students)
    }
}

/// A term's name ("1 триместр"), or its id when the settings do not know it.
pub(crate) fn term_name(journal: &Journal, year: YearId, term: &TermId) -> String {
    journal
        .settings(year)
        .ok()
        .and_then(|s| term_of(s, term).ok())
        .map_or_else(|| term.to_string(), |t| t.name.clone())
}

pub(crate) fn term_of<'a>(
    settings: &'a SchoolSettings,
    term: &TermId,
) -> Result<&'a crate::domain::calendar::Term> {
    settings.year.term(term).ok_or_else(|| {
        InputError::Unknown {
            kind: "term",
            id: term.to_string(),
        }
        .into()
    })
}

/// `07.09`.
pub(crate) fn day_month(date: Date) -> String {
    format!("{:02}.{:02}", date.day(), u8::from(date.month()))
}

/// `07.09.2026`.
pub(crate) fn full_date(date: Date) -> String {
    format!(
        "{:02}.{:02}.{}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}
