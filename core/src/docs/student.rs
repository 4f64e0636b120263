//! The `student` document: one student's marks, attendance and final (term and year) marks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};

use super::cell::{Cell, put_json, read_json_map};
use super::{Document, View, root_map, root_str, tx_root_map};
use crate::domain::model::{Attendance, Mark, MarkPeriod, PeriodMark};
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{ClassId, DocId, LessonId, MarkId, SubjectId, WorkKindId};

pub(super) const MAPS: &[&str] = &["marks", "attendance", "final_marks"];

/// Which final mark: a subject and a term, or a subject for the year.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FinalMarkKey {
    /// The subject.
    pub subject: SubjectId,
    /// Term or year.
    pub period: MarkPeriod,
}

impl fmt::Display for FinalMarkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.period {
            MarkPeriod::Term(term) => write!(f, "{}/term/{}", self.subject, term),
            MarkPeriod::Year => write!(f, "{}/year", self.subject),
        }
    }
}

impl FromStr for FinalMarkKey {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        let bad = || InputError::Invalid(format!("final mark key {s:?} is malformed"));
        let mut parts = s.split('/');
        let subject = parts.next().ok_or_else(bad)?.parse()?;
        let period = match (parts.next(), parts.next(), parts.next()) {
            (Some("year"), None, None) => MarkPeriod::Year,
            (Some("term"), Some(term), None) => MarkPeriod::Term(term.parse()?),
            _ => return Err(bad()),
        };
        Ok(FinalMarkKey { subject, period })
    }
}

/// The id of the mark a student gets in a lesson for a kind of work: one cell per lesson and kind, so that
/// two teachers entering that mark offline meet as a conflict instead of leaving two marks.
pub fn mark_id(lesson: &LessonId, kind: &WorkKindId) -> MarkId {
    MarkId::new(format!("{lesson}_{kind}")).unwrap_or_else(|_| MarkId::random())
}

/// Typed content of a `student` document.
#[derive(Clone, Debug, Default)]
pub struct StudentDoc {
    /// The student's class this year, once set.
    pub class: Option<ClassId>,
    /// Marks by id.
    pub marks: BTreeMap<MarkId, Cell<Mark>>,
    /// Attendance by lesson.
    pub attendance: BTreeMap<LessonId, Cell<Attendance>>,
    /// Term and year marks set by teachers.
    pub final_marks: BTreeMap<FinalMarkKey, Cell<PeriodMark>>,
    /// Marks of each lesson, for the class grid.
    pub marks_by_lesson: BTreeMap<LessonId, BTreeSet<MarkId>>,
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<StudentDoc, SchemaError> {
    let marks_obj = root_map(id, doc, "marks")?;
    let attendance_obj = root_map(id, doc, "attendance")?;
    let final_obj = root_map(id, doc, "final_marks")?;
    let class = match root_str(id, doc, "class") {
        Ok(text) => Some(
            text.parse()
                .map_err(|e: InputError| SchemaError::new(id, e.to_string()))?,
        ),
        Err(_) => None,
    };
    let marks: BTreeMap<MarkId, Cell<Mark>> = read_json_map(id, doc, &marks_obj, "mark")?;
    let mut marks_by_lesson: BTreeMap<LessonId, BTreeSet<MarkId>> = BTreeMap::new();
    for (mark_id, cell) in &marks {
        marks_by_lesson
            .entry(cell.value.lesson.clone())
            .or_default()
            .insert(mark_id.clone());
    }
    Ok(StudentDoc {
        class,
        marks,
        attendance: read_json_map(id, doc, &attendance_obj, "attendance")?,
        final_marks: read_json_map(id, doc, &final_obj, "final mark")?,
        marks_by_lesson,
    })
}

impl Document {
    fn student_view(&mut self) -> Result<&mut StudentDoc> {
        match &mut self.view {
            View::Student(s) => Ok(s),
            _ => Err(InputError::Invalid(format!("{} is not a student document", self.id)).into()),
        }
    }

    /// Records the student's class for the year.
    pub fn set_student_class(&mut self, class: &ClassId) -> Result<()> {
        self.student_view()?;
        self.edit(|tx| {
            tx.put(ROOT, "class", class.as_str())?;
            Ok(())
        })?;
        self.student_view()?.class = Some(class.clone());
        Ok(())
    }

    /// Sets the student's attendance at a lesson.
    pub fn put_attendance(&mut self, lesson: &LessonId, attendance: &Attendance) -> Result<()> {
        self.student_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "attendance")?;
            put_json(tx, &map, lesson.as_str(), attendance)
        })?;
        self.student_view()?
            .attendance
            .insert(lesson.clone(), Cell::single(attendance.clone()));
        Ok(())
    }

    /// Puts or changes a mark.
    pub fn put_mark(&mut self, id: &MarkId, mark: &Mark) -> Result<()> {
        self.student_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "marks")?;
            put_json(tx, &map, id.as_str(), mark)
        })?;
        let view = self.student_view()?;
        if let Some(old) = view.marks.insert(id.clone(), Cell::single(mark.clone()))
            && old.value.lesson != mark.lesson
            && let Some(set) = view.marks_by_lesson.get_mut(&old.value.lesson)
        {
            set.remove(id);
        }
        view.marks_by_lesson
            .entry(mark.lesson.clone())
            .or_default()
            .insert(id.clone());
        Ok(())
    }

    /// Removes a mark.
    pub fn delete_mark(&mut self, id: &MarkId) -> Result<()> {
        let view = self.student_view()?;
        let Some(old) = view.marks.get(id).map(|c| c.value.lesson.clone()) else {
            return Err(InputError::Unknown {
                kind: "mark",
                id: id.to_string(),
            }
            .into());
        };
        self.edit(|tx| {
            let map = tx_root_map(tx, "marks")?;
            tx.delete(&map, id.as_str())?;
            Ok(())
        })?;
        let view = self.student_view()?;
        view.marks.remove(id);
        if let Some(set) = view.marks_by_lesson.get_mut(&old) {
            set.remove(id);
        }
        Ok(())
    }

    /// Sets a term or year mark.
    pub fn put_final_mark(&mut self, key: &FinalMarkKey, mark: &PeriodMark) -> Result<()> {
        self.student_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "final_marks")?;
            put_json(tx, &map, &key.to_string(), mark)
        })?;
        self.student_view()?
            .final_marks
            .insert(key.clone(), Cell::single(mark.clone()));
        Ok(())
    }
}
