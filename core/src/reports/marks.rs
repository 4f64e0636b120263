//! The report card (табель) of one student and the summary sheet (сводная ведомость) of a class.

use time::Date;

use super::{ReportDoc, ReportKind, Section, Table, Value, term_name, term_of};
use crate::domain::policy::MarkValue;
use crate::error::{InputError, Result};
use crate::ids::{ClassId, StudentId, SubjectId, TermId, YearId};
use crate::journal::Journal;

/// A student's term and year marks per subject.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportCard {
    /// The student.
    pub student: StudentId,
    /// Name.
    pub name: String,
    /// Class.
    pub class: ClassId,
    /// Term names, in order.
    pub terms: Vec<String>,
    /// Per subject (name): a mark per term, then the year mark. Exempt subjects are left out.
    pub rows: Vec<(String, Vec<Option<MarkValue>>, Option<MarkValue>)>,
}

/// Students × subjects for a term or the year.
#[derive(Clone, Debug, PartialEq)]
pub struct SummarySheet {
    /// Class.
    pub class: ClassId,
    /// The term, or `None` for the year.
    pub term: Option<TermId>,
    /// Subject names, in column order.
    pub subjects: Vec<String>,
    /// Per student (name): a mark per subject; `None` where there is none, or the student is exempt.
    pub rows: Vec<(String, Vec<Option<MarkValue>>)>,
}

fn show(mark: Option<MarkValue>) -> Value {
    mark.map_or(Value::Empty, |m| Value::text(m.to_string()))
}

impl Journal {
    /// A student's report card for the year.
    pub fn report_card(&self, year: YearId, student: &StudentId) -> Result<ReportCard> {
        let settings = self.settings(year)?;
        let class = self
            .student_doc(year, student)
            .and_then(|d| d.class.clone())
            .ok_or_else(|| InputError::Unknown {
                kind: "student",
                id: student.to_string(),
            })?;
        let entry = self
            .class_doc(year, &class)?
            .roster
            .get(student)
            .map(|c| c.value.clone());
        let exempt = entry.as_ref().map(|e| e.exempt.clone()).unwrap_or_default();
        let mut rows = Vec::new();
        for subject in self.class_subjects(year, &class)? {
            if exempt.contains(&subject) {
                continue;
            }
            let mut terms = Vec::new();
            for term in &settings.year.terms {
                terms.push(self.effective_term_mark(year, student, &subject, &term.id)?);
            }
            rows.push((
                self.subject_name(year, &subject),
                terms,
                self.effective_year_mark(year, student, &subject)?,
            ));
        }
        Ok(ReportCard {
            student: student.clone(),
            name: entry.map_or_else(|| student.to_string(), |e| e.name),
            class,
            terms: settings.year.terms.iter().map(|t| t.name.clone()).collect(),
            rows,
        })
    }

    /// The summary sheet of a class for a term (`Some`) or the year (`None`).
    pub fn summary_sheet(
        &self,
        year: YearId,
        class: &ClassId,
        term: Option<&TermId>,
    ) -> Result<SummarySheet> {
        let settings = self.settings(year)?;
        let range = match term {
            Some(term) => term_of(settings, term)?.range(),
            None => settings.year.range(),
        };
        let subjects: Vec<SubjectId> = self.class_subjects(year, class)?;
        let mut rows = Vec::new();
        for (student, name, exempt) in self.students_during(year, class, range)? {
            let mut marks = Vec::new();
            for subject in &subjects {
                marks.push(if exempt.contains(subject) {
                    None
                } else {
                    match term {
                        Some(term) => self.effective_term_mark(year, &student, subject, term)?,
                        None => self.effective_year_mark(year, &student, subject)?,
                    }
                });
            }
            rows.push((name, marks));
        }
        Ok(SummarySheet {
            class: class.clone(),
            term: term.cloned(),
            subjects: subjects
                .iter()
                .map(|s| self.subject_name(year, s))
                .collect(),
            rows,
        })
    }
}

impl ReportCard {
    /// The printable card.
    pub fn to_doc(&self, journal: &Journal, year: YearId, today: Date) -> ReportDoc {
        let mut doc = journal.report_frame(
            year,
            ReportKind::ReportCard,
            format!("Табель успеваемости: {}", self.name),
            Some(&self.class),
            today,
        );
        let mut columns = vec!["Предмет".to_owned()];
        columns.extend(self.terms.iter().cloned());
        columns.push("Год".into());
        doc.sections.push(Section {
            heading: String::new(),
            table: Table {
                columns,
                rows: self
                    .rows
                    .iter()
                    .map(|(subject, terms, year_mark)| {
                        let mut row = vec![Value::text(subject)];
                        row.extend(terms.iter().map(|m| show(*m)));
                        row.push(show(*year_mark));
                        row
                    })
                    .collect(),
                frozen_columns: 1,
            },
            notes: Vec::new(),
        });
        doc
    }
}

impl SummarySheet {
    /// The printable sheet.
    pub fn to_doc(&self, journal: &Journal, year: YearId, today: Date) -> ReportDoc {
        let period = match &self.term {
            Some(term) => term_name(journal, year, term),
            None => "учебный год".to_owned(),
        };
        let mut doc = journal.report_frame(
            year,
            ReportKind::Summary,
            format!("Сводная ведомость: {period}"),
            Some(&self.class),
            today,
        );
        doc.landscape = self.subjects.len() > 8;
        let mut columns = vec!["№".to_owned(), "Ученик".to_owned()];
        columns.extend(self.subjects.iter().cloned());
        doc.sections.push(Section {
            heading: String::new(),
            table: Table {
                columns,
                rows: self
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, (name, marks))| {
                        let mut row = vec![Value::Int(i as i64 + 1), Value::text(name)];
                        row.extend(marks.iter().map(|m| show(*m)));
                        row
                    })
                    .collect(),
                frozen_columns: 2,
            },
            notes: Vec::new(),
        });
        doc
    }
}
