//! The class journal for a subject and term: the grid of students × lesson dates with marks and attendance
//! codes, the term marks, and the pages of lessons with date, topic and homework.

use time::Date;

use super::{ReportDoc, ReportKind, Section, Table, Value, day_month, term_name};
use crate::domain::model::Lesson;
use crate::domain::policy::MarkValue;
use crate::error::Result;
use crate::ids::{ClassId, StudentId, SubjectId, TermId, YearId};
use crate::journal::Journal;

/// One student's line of the journal.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalRow {
    /// The student.
    pub student: StudentId,
    /// Name.
    pub name: String,
    /// Per lesson: marks and the attendance code, as written in the paper journal ("н", "5", "н 4").
    pub cells: Vec<String>,
    /// The term mark that counts (set, else computed).
    pub term_mark: Option<MarkValue>,
}

/// The class journal of one subject and term.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassJournal {
    /// Class.
    pub class: ClassId,
    /// Subject.
    pub subject: SubjectId,
    /// Term.
    pub term: TermId,
    /// Lessons in date and period order.
    pub lessons: Vec<Lesson>,
    /// Students by name.
    pub rows: Vec<JournalRow>,
}

impl Journal {
    /// The class journal of a subject for a term.
    pub fn class_journal(
        &self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        term: &TermId,
    ) -> Result<ClassJournal> {
        let grid = self.class_grid(year, class, subject, term)?;
        let mut rows = Vec::new();
        for row in grid.rows {
            let cells = row
                .cells
                .iter()
                .map(|cell| {
                    let mut parts: Vec<String> = cell.code.iter().cloned().collect();
                    parts.extend(cell.marks.iter().map(ToString::to_string));
                    parts.join(" ")
                })
                .collect();
            rows.push(JournalRow {
                term_mark: self.effective_term_mark(year, &row.student, subject, term)?,
                student: row.student,
                name: row.name,
                cells,
            });
        }
        Ok(ClassJournal {
            class: class.clone(),
            subject: subject.clone(),
            term: term.clone(),
            lessons: grid.lessons,
            rows,
        })
    }
}

impl ClassJournal {
    /// The printable journal.
    pub fn to_doc(&self, journal: &Journal, year: YearId, today: Date) -> ReportDoc {
        let term_name = term_name(journal, year, &self.term);
        let subject = journal.subject_name(year, &self.subject);
        let mut doc = journal.report_frame(
            year,
            ReportKind::ClassJournal,
            format!("Классный журнал: {subject}, {term_name}"),
            Some(&self.class),
            today,
        );
        doc.landscape = true;
        let mut columns = vec!["№".to_owned(), "Ученик".to_owned()];
        columns.extend(self.lessons.iter().map(|l| day_month(l.date)));
        columns.push("Итог".into());
        let rows = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut values = vec![Value::Int(i as i64 + 1), Value::text(&row.name)];
                values.extend(row.cells.iter().map(Value::text));
                values.push(
                    row.term_mark
                        .map_or(Value::Empty, |m| Value::text(m.to_string())),
                );
                values
            })
            .collect();
        doc.sections.push(Section {
            heading: "Успеваемость и посещаемость".into(),
            table: Table {
                columns,
                rows,
                frozen_columns: 2,
            },
            notes: vec![
                "н — отсутствовал, б — болел, у — по уважительной причине, о — опоздал; «Итог» — отметка за период (выставленная учителем, иначе вычисленная по правилам школы).".into(),
            ],
        });
        doc.sections.push(Section {
            heading: "Записи уроков".into(),
            table: Table {
                columns: vec![
                    "Дата".into(),
                    "Урок".into(),
                    "Тема урока".into(),
                    "Домашнее задание".into(),
                ],
                rows: self
                    .lessons
                    .iter()
                    .map(|l| {
                        vec![
                            Value::Date(l.date),
                            Value::Int(i64::from(l.period)),
                            Value::text(&l.topic),
                            Value::text(match l.homework_due {
                                Some(due) if !l.homework.is_empty() => {
                                    format!("{} (к {})", l.homework, day_month(due))
                                }
                                _ => l.homework.clone(),
                            }),
                        ]
                    })
                    .collect(),
                frozen_columns: 1,
            },
            notes: Vec::new(),
        });
        doc
    }
}
