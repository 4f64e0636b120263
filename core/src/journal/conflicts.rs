//! Cells two devices set differently, listed and resolved.

use super::*;

/// Where devices disagree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConflictTarget {
    /// A student's attendance at a lesson.
    Attendance {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Lesson.
        lesson: LessonId,
    },
    /// A mark.
    Mark {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Mark.
        mark: MarkId,
    },
    /// A term or year mark.
    FinalMark {
        /// School year.
        year: YearId,
        /// Student.
        student: StudentId,
        /// Subject and period.
        key: FinalMarkKey,
    },
    /// A lesson's topic or homework.
    Lesson {
        /// School year.
        year: YearId,
        /// Class.
        class: ClassId,
        /// Lesson.
        lesson: LessonId,
        /// Which text.
        field: LessonField,
    },
}

impl std::fmt::Display for ConflictTarget {
    /// Where the conflict is, in words a teacher can follow ("the mark m1 of s5a1").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConflictTarget::Attendance {
                student, lesson, ..
            } => write!(f, "attendance of {student} at lesson {lesson}"),
            ConflictTarget::Mark { student, mark, .. } => write!(f, "mark {mark} of {student}"),
            ConflictTarget::FinalMark { student, key, .. } => {
                write!(f, "final mark {key} of {student}")
            }
            ConflictTarget::Lesson {
                class,
                lesson,
                field,
                ..
            } => {
                let what = match field {
                    LessonField::Topic => "topic",
                    LessonField::Homework => "homework",
                };
                write!(f, "{what} of lesson {lesson} in class {class}")
            }
        }
    }
}

/// A conflict to show a teacher: the value every device reads first, then the competing ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// What is in conflict.
    pub target: ConflictTarget,
    /// Readable values; index 0 is the current winner. Pass an index to [`Journal::resolve_conflict`].
    pub values: Vec<String>,
}

fn attendance_text(a: &Attendance) -> String {
    a.code.clone().unwrap_or_else(|| "present".to_owned())
}

fn mark_text(m: &Mark) -> String {
    format!("{} ({})", m.value, m.kind)
}

fn cell_texts<T>(cell: &Cell<T>, show: impl Fn(&T) -> String) -> Vec<String> {
    std::iter::once(&cell.value)
        .chain(&cell.competing)
        .map(show)
        .collect()
}

impl Journal {
    /// Every cell two devices set differently, for the teacher to resolve.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        for (id, doc) in &self.docs {
            match (id, doc.view()) {
                (DocId::Student(year, student), View::Student(s)) => {
                    for (lesson, cell) in s.attendance.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::Attendance {
                                year: *year,
                                student: student.clone(),
                                lesson: lesson.clone(),
                            },
                            values: cell_texts(cell, attendance_text),
                        });
                    }
                    for (mark, cell) in s.marks.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::Mark {
                                year: *year,
                                student: student.clone(),
                                mark: mark.clone(),
                            },
                            values: cell_texts(cell, mark_text),
                        });
                    }
                    for (key, cell) in s.final_marks.iter().filter(|(_, c)| c.is_conflicted()) {
                        out.push(Conflict {
                            target: ConflictTarget::FinalMark {
                                year: *year,
                                student: student.clone(),
                                key: key.clone(),
                            },
                            values: cell_texts(cell, |m: &PeriodMark| m.value.to_string()),
                        });
                    }
                }
                (DocId::Class(year, class), View::Class(c)) => {
                    for ((lesson, field), losers) in &c.lesson_conflicts {
                        let Some(l) = c.lessons.get(lesson) else {
                            continue;
                        };
                        let winner = match field {
                            LessonField::Topic => l.topic.clone(),
                            LessonField::Homework => l.homework.clone(),
                        };
                        out.push(Conflict {
                            target: ConflictTarget::Lesson {
                                year: *year,
                                class: class.clone(),
                                lesson: lesson.clone(),
                                field: *field,
                            },
                            values: std::iter::once(winner)
                                .chain(losers.iter().cloned())
                                .collect(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Resolves a conflict by keeping the value at `choice` (an index into [`Conflict::values`]).
    pub fn resolve_conflict(&mut self, target: &ConflictTarget, choice: usize) -> Result<()> {
        fn pick<T: Clone>(cell: Option<&Cell<T>>, choice: usize) -> Result<T> {
            let cell = cell.ok_or_else(|| unknown("conflict", "entry"))?;
            std::iter::once(&cell.value)
                .chain(&cell.competing)
                .nth(choice)
                .cloned()
                .ok_or_else(|| {
                    InputError::Invalid(format!("there is no value number {choice} to keep")).into()
                })
        }
        match target {
            ConflictTarget::Attendance {
                year,
                student,
                lesson,
            } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.attendance.get(lesson)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_attendance(lesson, &chosen))
            }
            ConflictTarget::Mark {
                year,
                student,
                mark,
            } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.marks.get(mark)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_mark(mark, &chosen))
            }
            ConflictTarget::FinalMark { year, student, key } => {
                let chosen = pick(
                    self.student_doc(*year, student)
                        .and_then(|s| s.final_marks.get(key)),
                    choice,
                )?;
                let id = DocId::Student(*year, student.clone());
                self.change(|j, touched| j.doc_mut(&id, touched)?.put_final_mark(key, &chosen))
            }
            ConflictTarget::Lesson {
                year,
                class,
                lesson,
                field,
            } => {
                let doc = self.class_doc(*year, class)?;
                let current = doc
                    .lessons
                    .get(lesson)
                    .ok_or_else(|| unknown("lesson", lesson))?;
                let winner = match field {
                    LessonField::Topic => current.topic.clone(),
                    LessonField::Homework => current.homework.clone(),
                };
                let due = current.homework_due;
                let losers = doc
                    .lesson_conflicts
                    .get(&(lesson.clone(), *field))
                    .cloned()
                    .unwrap_or_default();
                let chosen = pick(
                    Some(&Cell {
                        value: winner,
                        competing: losers,
                    }),
                    choice,
                )?;
                let id = DocId::Class(*year, class.clone());
                self.change(|j, touched| {
                    j.doc_mut(&id, touched)?
                        .set_lesson_text(lesson, *field, &chosen, due)
                })
            }
        }
    }
}
