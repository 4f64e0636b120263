//! Control of journal keeping (at least once a trimester), curriculum progress, and the review of students'
//! personal data by class teachers.

use std::collections::BTreeMap;

use time::{Date, Duration};

use super::{ReportDoc, ReportKind, Section, Table, Value, full_date, term_of};
use crate::docs::View;
use crate::error::Result;
use crate::ids::{ClassId, DocId, StaffId, StudentId, SubjectId, TermId, YearId};
use crate::journal::Journal;

/// Days after which a profile counts as not reviewed.
pub const PROFILE_REVIEW_DAYS: i64 = 30;

/// How one teacher keeps one subject's journal in one class during a term.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepingRow {
    /// Teacher.
    pub teacher: StaffId,
    /// Class.
    pub class: ClassId,
    /// Subject.
    pub subject: SubjectId,
    /// Lessons held (up to today).
    pub held: u32,
    /// Of those, without a topic.
    pub no_topic: u32,
    /// Without attendance taken.
    pub no_attendance: u32,
    /// Without homework.
    pub no_homework: u32,
    /// Marks given.
    pub marks: u32,
    /// Students counted.
    pub students: u32,
    /// Last day with an entry (topic, attendance or a mark).
    pub last_entry: Option<Date>,
    /// Students with fewer marks than the policy asks for a term mark.
    pub too_few_marks: Vec<String>,
}

impl KeepingRow {
    /// Marks per student (накопляемость).
    pub fn marks_per_student(&self) -> f64 {
        if self.students == 0 {
            0.0
        } else {
            f64::from(self.marks) / f64::from(self.students)
        }
    }
}

/// A student whose personal data the class teacher has not confirmed lately.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileReviewRow {
    /// Class.
    pub class: ClassId,
    /// Student.
    pub student: StudentId,
    /// Name.
    pub name: String,
    /// Last review, if ever.
    pub last_reviewed: Option<Date>,
}

impl Journal {
    /// Journal-keeping control for a term: one row per teacher, class and subject, as of `today`.
    pub fn keeping_control(
        &self,
        year: YearId,
        only: Option<&ClassId>,
        term: &TermId,
        today: Date,
    ) -> Result<Vec<KeepingRow>> {
        let settings = self.settings(year)?;
        let range = term_of(settings, term)?.range();
        let minimum = usize::from(settings.policy.min_marks_for_term);
        let mut rows = Vec::new();
        let classes: Vec<ClassId> = self
            .document_ids(year)
            .into_iter()
            .filter_map(|id| match id {
                DocId::Class(_, class) if only.is_none_or(|c| *c == class) => Some(class),
                _ => None,
            })
            .collect();
        for class in classes {
            let students = self.students_during(year, &class, range)?;
            let mut groups: BTreeMap<(StaffId, SubjectId), Vec<_>> = BTreeMap::new();
            for lesson in self.lessons(year, &class, range)? {
                if lesson.date <= today {
                    groups
                        .entry((lesson.teacher.clone(), lesson.subject.clone()))
                        .or_default()
                        .push(lesson);
                }
            }
            for ((teacher, subject), lessons) in groups {
                let counted: Vec<_> = students
                    .iter()
                    .filter(|(_, _, exempt)| !exempt.contains(&subject))
                    .collect();
                let mut row = KeepingRow {
                    teacher,
                    class: class.clone(),
                    subject: subject.clone(),
                    held: lessons.len() as u32,
                    no_topic: 0,
                    no_attendance: 0,
                    no_homework: 0,
                    marks: 0,
                    students: counted.len() as u32,
                    last_entry: None,
                    too_few_marks: Vec::new(),
                };
                let mut per_student: BTreeMap<&StudentId, usize> = BTreeMap::new();
                for lesson in &lessons {
                    let mut attendance = false;
                    let mut entry = !lesson.topic.is_empty();
                    for (student, _, _) in &counted {
                        let Some(doc) = self.student_doc(year, student) else {
                            continue;
                        };
                        if doc.attendance.contains_key(&lesson.id) {
                            attendance = true;
                        }
                        let marks = doc.marks_by_lesson.get(&lesson.id).map_or(0, |m| m.len());
                        row.marks += marks as u32;
                        *per_student.entry(student).or_default() += marks;
                        entry |= marks > 0;
                    }
                    entry |= attendance;
                    row.no_topic += u32::from(lesson.topic.is_empty());
                    row.no_homework += u32::from(lesson.homework.is_empty());
                    row.no_attendance += u32::from(!attendance);
                    if entry {
                        row.last_entry = row.last_entry.max(Some(lesson.date));
                    }
                }
                row.too_few_marks = counted
                    .iter()
                    .filter(|(student, _, _)| {
                        per_student.get(student).copied().unwrap_or(0) < minimum
                    })
                    .map(|(_, name, _)| name.clone())
                    .collect();
                rows.push(row);
            }
        }
        Ok(rows)
    }

    pub(super) fn keeping_control_doc(
        &self,
        year: YearId,
        only: Option<&ClassId>,
        term: &TermId,
        today: Date,
    ) -> Result<ReportDoc> {
        let rows = self.keeping_control(year, only, term, today)?;
        let settings = self.settings(year)?;
        let term_name = term_of(settings, term)?.name.clone();
        let mut doc = self.report_frame(
            year,
            ReportKind::Control,
            format!("Контроль ведения журнала: {term_name}"),
            only,
            today,
        );
        doc.landscape = true;
        doc.signatures = super::signature_lines(&["Заместитель директора"]);
        doc.sections.push(Section {
            heading: String::new(),
            table: Table {
                columns: [
                    "Учитель",
                    "Класс",
                    "Предмет",
                    "Уроков",
                    "Без темы",
                    "Без посещ.",
                    "Без д/з",
                    "Оценок",
                    "Оценок на ученика",
                    "Последняя запись",
                    "Мало оценок для аттестации",
                ]
                .map(str::to_owned)
                .to_vec(),
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Value::text(self.staff_name(year, &r.teacher)),
                            Value::text(self.class_name(year, &r.class)),
                            Value::text(self.subject_name(year, &r.subject)),
                            Value::Int(i64::from(r.held)),
                            Value::Int(i64::from(r.no_topic)),
                            Value::Int(i64::from(r.no_attendance)),
                            Value::Int(i64::from(r.no_homework)),
                            Value::Int(i64::from(r.marks)),
                            Value::one_decimal(r.marks_per_student()),
                            r.last_entry.map_or(Value::Empty, Value::Date),
                            Value::text(r.too_few_marks.join(", ")),
                        ]
                    })
                    .collect(),
                frozen_columns: 3,
            },
            notes: vec![format!(
                "Для отметки за период нужно не менее {} оценок.",
                settings.policy.min_marks_for_term
            )],
        });
        Ok(doc)
    }

    pub(super) fn progress_doc(
        &self,
        year: YearId,
        class: &ClassId,
        term: &TermId,
        today: Date,
    ) -> Result<ReportDoc> {
        let progress = self.curriculum_progress(year, class, term, today)?;
        let term_name = term_of(self.settings(year)?, term)?.name.clone();
        let mut doc = self.report_frame(
            year,
            ReportKind::Progress,
            format!("Выполнение программы: {term_name}"),
            Some(class),
            today,
        );
        doc.sections.push(Section {
            heading: String::new(),
            table: Table {
                columns: ["Предмет", "По плану", "Проведено", "%"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: progress
                    .iter()
                    .map(|p| {
                        vec![
                            Value::text(self.subject_name(year, &p.subject)),
                            Value::Int(i64::from(p.planned)),
                            Value::Int(i64::from(p.held)),
                            if p.planned == 0 {
                                Value::Empty
                            } else {
                                Value::one_decimal(f64::from(p.held) * 100.0 / f64::from(p.planned))
                            },
                        ]
                    })
                    .collect(),
                frozen_columns: 1,
            },
            notes: Vec::new(),
        });
        Ok(doc)
    }

    /// Students whose profile was not reviewed by the class teacher in the last 30 days.
    pub fn profile_review(
        &self,
        year: YearId,
        only: Option<&ClassId>,
        today: Date,
    ) -> Vec<ProfileReviewRow> {
        let since = today - Duration::days(PROFILE_REVIEW_DAYS);
        let mut rows = Vec::new();
        for (id, doc) in &self.docs {
            let (DocId::Class(y, class), View::Class(view)) = (id, doc.view()) else {
                continue;
            };
            if *y != year || only.is_some_and(|c| c != class) {
                continue;
            }
            for (student, entry) in &view.roster {
                if entry.value.left.is_some_and(|left| left < today) {
                    continue;
                }
                let last = match self
                    .docs
                    .get(&DocId::Profile(year, student.clone()))
                    .map(|d| d.view())
                {
                    Some(View::Profile(profile)) => profile.last_reviewed,
                    _ => None,
                };
                if last.is_none_or(|d| d < since) {
                    rows.push(ProfileReviewRow {
                        class: class.clone(),
                        student: student.clone(),
                        name: entry.value.name.clone(),
                        last_reviewed: last,
                    });
                }
            }
        }
        rows.sort_by(|a, b| (&a.class, &a.name).cmp(&(&b.class, &b.name)));
        rows
    }

    pub(super) fn profile_review_doc(
        &self,
        year: YearId,
        only: Option<&ClassId>,
        today: Date,
    ) -> Result<ReportDoc> {
        let rows = self.profile_review(year, only, today);
        let mut doc = self.report_frame(
            year,
            ReportKind::ProfileReview,
            format!("Анкетные данные, не проверенные за {PROFILE_REVIEW_DAYS} дней"),
            only,
            today,
        );
        doc.signatures = super::signature_lines(&["Заместитель директора"]);
        doc.sections.push(Section {
            heading: String::new(),
            table: Table {
                columns: ["Класс", "Ученик", "Последняя проверка"]
                    .map(str::to_owned)
                    .to_vec(),
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Value::text(self.class_name(year, &r.class)),
                            Value::text(&r.name),
                            Value::text(
                                r.last_reviewed
                                    .map_or_else(|| "никогда".to_owned(), full_date),
                            ),
                        ]
                    })
                    .collect(),
                frozen_columns: 2,
            },
            notes: Vec::new(),
        });
        Ok(doc)
    }
}
