//! Queries the apps and reports read, all answered from the in-memory read model without touching Automerge.

use std::collections::BTreeMap;

use time::Date;

use crate::docs::FinalMarkKey;
use crate::domain::calendar::DateRange;
use crate::domain::model::{Lesson, Mark, MarkPeriod, PeriodMark, PlannedTopic};
use crate::domain::policy::MarkValue;
use crate::error::{InputError, Result};
use crate::ids::{ClassId, DocId, LessonId, MarkId, StudentId, SubjectId, TermId, YearId};
use crate::journal::Journal;

/// One mark as a parent or student sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkRow {
    /// The mark's id.
    pub id: MarkId,
    /// The mark.
    pub mark: Mark,
    /// Values other devices set concurrently, if any.
    pub competing: Vec<MarkValue>,
}

/// A student's weighted average in one subject, as the school's marking policy weighs the kinds of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectAverage {
    /// The subject.
    pub subject: SubjectId,
    /// The average in hundredths (460 = 4,60); `None` when no mark counts (only «зач»).
    pub average: Option<u16>,
    /// How many marks it is drawn from.
    pub marks: usize,
}

impl SubjectAverage {
    /// The average with two decimals ("4.60"), or "—".
    pub fn shown(&self) -> String {
        self.average
            .map_or_else(|| "—".to_owned(), |a| format!("{}.{:02}", a / 100, a % 100))
    }
}

/// Missed lessons under one attendance code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeTotal {
    /// Lessons with this code.
    pub lessons: u32,
    /// Their length in minutes, from the bell schedule.
    pub minutes: u32,
}

/// Attendance over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttendanceTotals {
    /// Per code.
    pub by_code: BTreeMap<String, CodeTotal>,
    /// Lessons missed (codes that count as missed; lateness does not).
    pub lessons_missed: u32,
    /// Minutes missed.
    pub minutes_missed: u32,
    /// Lessons for which attendance was recorded.
    pub lessons_recorded: u32,
}

impl AttendanceTotals {
    /// Hours missed.
    pub fn hours_missed(&self) -> f64 {
        f64::from(self.minutes_missed) / 60.0
    }
}

/// How far a subject's programme has gone in a term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectProgress {
    /// The subject.
    pub subject: SubjectId,
    /// Lessons the thematic plan provides for the term.
    pub planned: u32,
    /// Lessons held so far in the term.
    pub held: u32,
}

/// A lesson a student missed or was late for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsenceRow {
    /// The lesson.
    pub lesson: LessonId,
    /// Its day.
    pub date: Date,
    /// Its period.
    pub period: u8,
    /// Its subject.
    pub subject: SubjectId,
    /// The school's code.
    pub code: String,
    /// Why, if noted.
    pub note: String,
}

/// One cell of the class grid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GridCell {
    /// Marks given in the lesson.
    pub marks: Vec<MarkValue>,
    /// Attendance code, `None` when present or not recorded.
    pub code: Option<String>,
    /// Whether attendance was recorded for the student.
    pub recorded: bool,
    /// Whether devices disagree about this cell.
    pub conflicted: bool,
}

/// One student's row of the class grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridRow {
    /// The student.
    pub student: StudentId,
    /// Name from the roster.
    pub name: String,
    /// One cell per lesson, in the order of [`ClassGrid::lessons`].
    pub cells: Vec<GridCell>,
}

/// The class journal page for a subject and term: students × lessons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassGrid {
    /// Lessons in date and period order.
    pub lessons: Vec<Lesson>,
    /// Students on the roster during the term, by name.
    pub rows: Vec<GridRow>,
}

/// Homework set in a lesson.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HomeworkItem {
    /// Lesson.
    pub lesson: LessonId,
    /// Day of the lesson.
    pub date: Date,
    /// Subject.
    pub subject: SubjectId,
    /// Text.
    pub text: String,
    /// Due date, if given.
    pub due: Option<Date>,
}

/// A lesson whose journal entry is incomplete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonGap {
    /// The lesson.
    pub lesson: Lesson,
    /// No topic written.
    pub no_topic: bool,
    /// No attendance recorded for any student.
    pub no_attendance: bool,
}

/// A term mark computed from the marks, for the teacher to confirm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermSuggestion {
    /// Graded marks counted.
    pub marks: u32,
    /// Weighted average in hundredths, when there are graded marks.
    pub average: Option<u16>,
    /// Suggested mark, when there are at least the policy's minimum of marks.
    pub suggested: Option<MarkValue>,
    /// The mark the teacher set, if any.
    pub set: Option<PeriodMark>,
}

fn term_range(settings: &crate::docs::SchoolSettings, term: &TermId) -> Result<DateRange> {
    Ok(settings
        .year
        .term(term)
        .ok_or_else(|| InputError::Unknown {
            kind: "term",
            id: term.to_string(),
        })?
        .range())
}

impl Journal {
    fn student_view(&self, year: YearId, student: &StudentId) -> Result<&crate::docs::StudentDoc> {
        self.student_doc(year, student).ok_or_else(|| {
            InputError::Unknown {
                kind: "student",
                id: student.to_string(),
            }
            .into()
        })
    }

    /// A student's marks in a period (or the whole year), in one subject or all, by date.
    pub fn student_marks(
        &self,
        year: YearId,
        student: &StudentId,
        period: Option<DateRange>,
        subject: Option<&SubjectId>,
    ) -> Result<Vec<MarkRow>> {
        let doc = self.student_view(year, student)?;
        let mut rows: Vec<MarkRow> = doc
            .marks
            .iter()
            .filter(|(_, c)| period.is_none_or(|p| p.contains(c.value.date)))
            .filter(|(_, c)| subject.is_none_or(|s| &c.value.subject == s))
            .map(|(id, c)| MarkRow {
                id: id.clone(),
                mark: c.value.clone(),
                competing: c.competing.iter().map(|m| m.value).collect(),
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.mark.date, &a.mark.subject, &a.id).cmp(&(b.mark.date, &b.mark.subject, &b.id))
        });
        Ok(rows)
    }

    /// The students whose records this device holds, with their names from the class lists on `on` (the
    /// id where no list names them), by id.
    pub fn students_held(&self, year: YearId, on: Date) -> Vec<(StudentId, String)> {
        let ids = self.document_ids(year);
        let mut names = BTreeMap::new();
        for id in &ids {
            if let DocId::Class(_, class) = id
                && let Ok(roster) = self.roster(year, class, on)
            {
                names.extend(roster);
            }
        }
        ids.into_iter()
            .filter_map(|id| match id {
                DocId::Student(_, student) => {
                    let name = names
                        .remove(&student)
                        .unwrap_or_else(|| student.to_string());
                    Some((student, name))
                }
                _ => None,
            })
            .collect()
    }

    /// A student's weighted average in each subject over a period (or the whole year), by subject.
    pub fn subject_averages(
        &self,
        year: YearId,
        student: &StudentId,
        period: Option<DateRange>,
        subject: Option<&SubjectId>,
    ) -> Result<Vec<SubjectAverage>> {
        let policy = &self.settings(year)?.policy;
        let mut by_subject: BTreeMap<SubjectId, Vec<Mark>> = BTreeMap::new();
        for row in self.student_marks(year, student, period, subject)? {
            by_subject
                .entry(row.mark.subject.clone())
                .or_default()
                .push(row.mark);
        }
        Ok(by_subject
            .into_iter()
            .map(|(subject, marks)| SubjectAverage {
                average: policy.weighted_average(marks.iter().map(|m| (m.value, &m.kind))),
                marks: marks.len(),
                subject,
            })
            .collect())
    }

    /// A student's attendance totals over a period, per code, in lessons and minutes.
    pub fn attendance_totals(
        &self,
        year: YearId,
        student: &StudentId,
        period: DateRange,
    ) -> Result<AttendanceTotals> {
        let settings = self.settings(year)?;
        let doc = self.student_view(year, student)?;
        let mut totals = AttendanceTotals::default();
        for cell in doc.attendance.values() {
            let entry = &cell.value;
            if !period.contains(entry.date) {
                continue;
            }
            totals.lessons_recorded += 1;
            let Some(code) = &entry.code else { continue };
            let minutes = u32::from(settings.bells.minutes(entry.period));
            let total = totals.by_code.entry(code.clone()).or_default();
            total.lessons += 1;
            total.minutes += minutes;
            let missed = settings
                .policy
                .attendance_codes
                .iter()
                .find(|c| &c.code == code)
                .is_none_or(|c| c.missed);
            if missed {
                totals.lessons_missed += 1;
                totals.minutes_missed += minutes;
            }
        }
        Ok(totals)
    }

    /// A student's absences and late arrivals in a period, by date and period.
    pub fn student_absences(
        &self,
        year: YearId,
        student: &StudentId,
        period: DateRange,
    ) -> Result<Vec<AbsenceRow>> {
        let doc = self.student_view(year, student)?;
        let mut rows: Vec<AbsenceRow> = doc
            .attendance
            .iter()
            .filter(|(_, c)| period.contains(c.value.date))
            .filter_map(|(lesson, c)| {
                let entry = &c.value;
                entry.code.as_ref().map(|code| AbsenceRow {
                    lesson: lesson.clone(),
                    date: entry.date,
                    period: entry.period,
                    subject: entry.subject.clone(),
                    code: code.clone(),
                    note: entry.note.clone(),
                })
            })
            .collect();
        rows.sort_by_key(|r| (r.date, r.period));
        Ok(rows)
    }

    /// Planned against held lessons per subject of a class in a term, counting lessons up to `as_of`.
    pub fn curriculum_progress(
        &self,
        year: YearId,
        class: &ClassId,
        term: &TermId,
        as_of: Date,
    ) -> Result<Vec<SubjectProgress>> {
        let range = term_range(self.settings(year)?, term)?;
        let doc = self.class_doc(year, class)?;
        let mut progress: BTreeMap<SubjectId, SubjectProgress> = BTreeMap::new();
        for ((subject, plan_term), cell) in &doc.plan {
            if plan_term == term {
                progress
                    .entry(subject.clone())
                    .or_insert_with(|| SubjectProgress {
                        subject: subject.clone(),
                        planned: 0,
                        held: 0,
                    })
                    .planned = cell.value.iter().map(|t| u32::from(t.lessons)).sum();
            }
        }
        for lesson in doc
            .lessons
            .values()
            .filter(|l| range.contains(l.date) && l.date <= as_of)
        {
            progress
                .entry(lesson.subject.clone())
                .or_insert_with(|| SubjectProgress {
                    subject: lesson.subject.clone(),
                    planned: 0,
                    held: 0,
                })
                .held += 1;
        }
        Ok(progress.into_values().collect())
    }

    /// The thematic plan of a subject in a class for a term: topics and the lessons each is given, in order.
    pub fn thematic_plan(
        &self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        term: &TermId,
    ) -> Result<Vec<PlannedTopic>> {
        Ok(self
            .class_doc(year, class)?
            .plan
            .get(&(subject.clone(), term.clone()))
            .map(|cell| cell.value.clone())
            .unwrap_or_default())
    }

    /// Lessons of a class in a period, in date and period order.
    pub fn lessons(&self, year: YearId, class: &ClassId, period: DateRange) -> Result<Vec<Lesson>> {
        let mut lessons: Vec<Lesson> = self
            .class_doc(year, class)?
            .lessons
            .values()
            .filter(|l| period.contains(l.date))
            .cloned()
            .collect();
        lessons.sort_by_key(|l| (l.date, l.period));
        Ok(lessons)
    }

    /// Lessons in a period that the user of this device works with: a teacher's own; for anyone else
    /// (administration, a parent, a student), every lesson of the classes on the device. In date, period
    /// and class order.
    pub fn my_lessons(&self, year: YearId, period: DateRange) -> Result<Vec<(ClassId, Lesson)>> {
        let teacher = self
            .my_directory()?
            .filter(|me| me.role == crate::roles::AccountRole::Teacher)
            .map(|me| me.account);
        let mut out = Vec::new();
        for id in self.document_ids(year) {
            let DocId::Class(_, class) = id else {
                continue;
            };
            for lesson in self.lessons(year, &class, period)? {
                if teacher
                    .as_deref()
                    .is_none_or(|t| lesson.teacher.as_str() == t)
                {
                    out.push((class.clone(), lesson));
                }
            }
        }
        out.sort_by(|(class_a, a), (class_b, b)| {
            (a.date, a.period, class_a).cmp(&(b.date, b.period, class_b))
        });
        Ok(out)
    }

    /// The class grid for one subject and term.
    pub fn class_grid(
        &self,
        year: YearId,
        class: &ClassId,
        subject: &SubjectId,
        term: &TermId,
    ) -> Result<ClassGrid> {
        let range = term_range(self.settings(year)?, term)?;
        let lessons: Vec<Lesson> = self
            .lessons(year, class, range)?
            .into_iter()
            .filter(|l| &l.subject == subject)
            .collect();
        let class_doc = self.class_doc(year, class)?;
        let mut rows = Vec::new();
        for (student, entry) in &class_doc.roster {
            let entry = &entry.value;
            let overlaps =
                entry.joined <= range.to && entry.left.is_none_or(|left| left >= range.from);
            if !overlaps {
                continue;
            }
            let doc = self.student_doc(year, student);
            let cells = lessons
                .iter()
                .map(|lesson| {
                    let Some(doc) = doc else {
                        return GridCell::default();
                    };
                    let attendance = doc.attendance.get(&lesson.id);
                    let marks: Vec<_> = doc
                        .marks_by_lesson
                        .get(&lesson.id)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| doc.marks.get(id))
                        .collect();
                    GridCell {
                        marks: marks.iter().map(|c| c.value.value).collect(),
                        code: attendance.and_then(|a| a.value.code.clone()),
                        recorded: attendance.is_some(),
                        conflicted: attendance.is_some_and(|a| a.is_conflicted())
                            || marks.iter().any(|c| c.is_conflicted()),
                    }
                })
                .collect();
            rows.push(GridRow {
                student: student.clone(),
                name: entry.name.clone(),
                cells,
            });
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.student.cmp(&b.student)));
        Ok(ClassGrid { lessons, rows })
    }

    /// Homework set in a class's lessons in a period.
    pub fn class_homework(
        &self,
        year: YearId,
        class: &ClassId,
        period: DateRange,
    ) -> Result<Vec<HomeworkItem>> {
        Ok(self
            .lessons(year, class, period)?
            .into_iter()
            .filter(|l| !l.homework.is_empty())
            .map(|l| HomeworkItem {
                lesson: l.id,
                date: l.date,
                subject: l.subject,
                text: l.homework,
                due: l.homework_due,
            })
            .collect())
    }

    /// Homework for a student's class in a period.
    pub fn student_homework(
        &self,
        year: YearId,
        student: &StudentId,
        period: DateRange,
    ) -> Result<Vec<HomeworkItem>> {
        let class = self
            .student_view(year, student)?
            .class
            .clone()
            .ok_or_else(|| InputError::Unknown {
                kind: "class of student",
                id: student.to_string(),
            })?;
        self.class_homework(year, &class, period)
    }

    /// Lessons of a class in a period that have no topic or no attendance taken.
    pub fn lessons_missing_entries(
        &self,
        year: YearId,
        class: &ClassId,
        period: DateRange,
    ) -> Result<Vec<LessonGap>> {
        let class_doc = self.class_doc(year, class)?;
        let mut gaps = Vec::new();
        for lesson in self.lessons(year, class, period)? {
            let no_topic = lesson.topic.trim().is_empty();
            let no_attendance = !class_doc.roster.keys().any(|student| {
                self.student_doc(year, student)
                    .is_some_and(|doc| doc.attendance.contains_key(&lesson.id))
            });
            if no_topic || no_attendance {
                gaps.push(LessonGap {
                    lesson,
                    no_topic,
                    no_attendance,
                });
            }
        }
        Ok(gaps)
    }

    /// The computed term mark for a student in a subject, beside the one the teacher set.
    pub fn term_suggestion(
        &self,
        year: YearId,
        student: &StudentId,
        subject: &SubjectId,
        term: &TermId,
    ) -> Result<TermSuggestion> {
        let settings = self.settings(year)?;
        let range = term_range(settings, term)?;
        let doc = self.student_view(year, student)?;
        let marks: Vec<&Mark> = doc
            .marks
            .values()
            .map(|c| &c.value)
            .filter(|m| &m.subject == subject && range.contains(m.date))
            .collect();
        let graded = marks.iter().filter(|m| m.value.grade().is_some()).count();
        let average = settings
            .policy
            .weighted_average(marks.iter().map(|m| (m.value, &m.kind)));
        let enough = graded >= usize::from(settings.policy.min_marks_for_term);
        let set = doc
            .final_marks
            .get(&FinalMarkKey {
                subject: subject.clone(),
                period: MarkPeriod::Term(term.clone()),
            })
            .map(|c| c.value.clone());
        Ok(TermSuggestion {
            marks: u32::try_from(graded).unwrap_or(u32::MAX),
            average,
            suggested: average
                .filter(|_| enough)
                .map(|a| settings.policy.thresholds.round(a)),
            set,
        })
    }

    /// Students of a class on a date, by name.
    pub fn roster(
        &self,
        year: YearId,
        class: &ClassId,
        on: Date,
    ) -> Result<Vec<(StudentId, String)>> {
        let mut students: Vec<(StudentId, String)> = self
            .class_doc(year, class)?
            .roster
            .iter()
            .filter(|(_, e)| e.value.active_on(on))
            .map(|(id, e)| (id.clone(), e.value.name.clone()))
            .collect();
        students.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(students)
    }

    /// Ids of the documents this device holds, of one year.
    pub fn document_ids(&self, year: YearId) -> Vec<DocId> {
        self.docs
            .keys()
            .filter(|id| id.year() == year)
            .cloned()
            .collect()
    }
}
