//! The `class` document: class info, roster, subject teachers and lessons.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, Value, ValueRef};

use super::cell::{Cell, put_json, read_json_cell, read_json_map};
use super::{Document, View, root_map, tx_root_map};
use crate::domain::calendar::{format_date, parse_date};
use crate::domain::model::{ClassInfo, Lesson, PlannedTopic, RosterEntry, SubjectAssignment};
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, LessonId, StudentId, SubjectId, TermId};

pub(super) const MAPS: &[&str] = &["roster", "subjects", "lessons"];

/// A lesson field that teachers edit after the lesson is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LessonField {
    /// The topic.
    Topic,
    /// The homework text.
    Homework,
}

impl LessonField {
    fn key(self) -> &'static str {
        match self {
            LessonField::Topic => "topic",
            LessonField::Homework => "homework",
        }
    }
}

/// Typed content of a `class` document.
#[derive(Clone, Debug, Default)]
pub struct ClassDoc {
    /// Name, grade and class teacher, once set.
    pub info: Option<Cell<ClassInfo>>,
    /// Students, including those who left (with their last day).
    pub roster: BTreeMap<StudentId, Cell<RosterEntry>>,
    /// Who teaches each subject.
    pub subjects: BTreeMap<SubjectId, Cell<SubjectAssignment>>,
    /// Lessons by id.
    pub lessons: BTreeMap<LessonId, Lesson>,
    /// Topic or homework texts written concurrently on other devices that lost to the value in `lessons`.
    pub lesson_conflicts: BTreeMap<(LessonId, LessonField), Vec<String>>,
    /// The thematic plan per subject and term.
    pub plan: BTreeMap<(SubjectId, TermId), Cell<Vec<PlannedTopic>>>,
}

/// Root key of a plan cell: `plan/<subject>/<term>`. Plans are root cells, not a map, so documents made
/// before plans existed read and write them alike.
fn plan_key(subject: &SubjectId, term: &TermId) -> String {
    format!("plan/{subject}/{term}")
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<ClassDoc, SchemaError> {
    let roster = root_map(id, doc, "roster")?;
    let subjects = root_map(id, doc, "subjects")?;
    let lessons_obj = root_map(id, doc, "lessons")?;
    let mut class = ClassDoc {
        info: read_json_cell(id, doc, &ROOT, "info")?,
        roster: read_json_map(id, doc, &roster, "roster entry")?,
        subjects: read_json_map(id, doc, &subjects, "subject assignment")?,
        ..ClassDoc::default()
    };
    for item in doc.map_range(ROOT, "plan/".to_owned().."plan0".to_owned()) {
        let mut parts = item.key.splitn(3, '/').skip(1);
        let (Some(subject), Some(term)) = (parts.next(), parts.next()) else {
            return Err(SchemaError::new(
                id,
                format!("plan key {:?} is malformed", item.key),
            ));
        };
        let key = (
            subject
                .parse()
                .map_err(|e: InputError| SchemaError::new(id, e.to_string()))?,
            term.parse()
                .map_err(|e: InputError| SchemaError::new(id, e.to_string()))?,
        );
        if let Some(cell) = read_json_cell(id, doc, &ROOT, &item.key)? {
            class.plan.insert(key, cell);
        }
    }
    for item in doc.map_range(&lessons_obj, ..) {
        let lesson_id: LessonId = item
            .key
            .parse()
            .map_err(|_| SchemaError::new(id, format!("lesson key {:?} is malformed", item.key)))?;
        if item.value != ValueRef::Object(ObjType::Map) {
            return Err(SchemaError::new(
                id,
                format!("lesson {lesson_id} is not a map"),
            ));
        }
        let obj = item.id();
        let (lesson, conflicts) = read_lesson(id, doc, &obj, lesson_id.clone())?;
        for (field, values) in conflicts {
            class
                .lesson_conflicts
                .insert((lesson_id.clone(), field), values);
        }
        class.lessons.insert(lesson_id, lesson);
    }
    Ok(class)
}

type LessonConflicts = Vec<(LessonField, Vec<String>)>;

fn read_lesson(
    id: &DocId,
    doc: &Automerge,
    obj: &ObjId,
    lesson_id: LessonId,
) -> Result<(Lesson, LessonConflicts), SchemaError> {
    let bad = |what: &str| SchemaError::new(id, format!("lesson {lesson_id}: {what}"));
    let text = |key: &str| -> Result<Option<String>, SchemaError> {
        match doc.get(obj, key).map_err(|e| bad(&e.to_string()))? {
            None => Ok(None),
            Some((value, _)) => value
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| bad(&format!("{key} is not text"))),
        }
    };
    let required = |key: &str| text(key)?.ok_or_else(|| bad(&format!("has no {key}")));
    let date = parse_date(&required("date")?).map_err(|e| bad(&e.to_string()))?;
    let period = match doc.get(obj, "period").map_err(|e| bad(&e.to_string()))? {
        Some((value, _)) => value
            .as_u64()
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(|| bad("period is not a small number"))?,
        None => return Err(bad("has no period")),
    };
    let homework_due = text("homework_due")?
        .filter(|t| !t.is_empty())
        .map(|t| parse_date(&t).map_err(|e| bad(&e.to_string())))
        .transpose()?;
    let lesson = Lesson {
        id: lesson_id.clone(),
        date,
        period,
        subject: required("subject")?
            .parse()
            .map_err(|e: InputError| bad(&e.to_string()))?,
        teacher: required("teacher")?
            .parse()
            .map_err(|e: InputError| bad(&e.to_string()))?,
        topic: text("topic")?.unwrap_or_default(),
        homework: text("homework")?.unwrap_or_default(),
        homework_due,
    };
    let mut conflicts = Vec::new();
    for field in [LessonField::Topic, LessonField::Homework] {
        let all = doc
            .get_all(obj, field.key())
            .map_err(|e| bad(&e.to_string()))?;
        if all.len() > 1 {
            let (_, winner) = doc
                .get(obj, field.key())
                .map_err(|e| bad(&e.to_string()))?
                .ok_or_else(|| bad("conflict without a winner"))?;
            let losers = all
                .iter()
                .filter(|(_, op)| *op != winner)
                .map(|(v, _)| match v {
                    Value::Scalar(s) => s.as_str().map(str::to_owned),
                    Value::Object(_) => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(&format!("{} is not text", field.key())))?;
            conflicts.push((field, losers));
        }
    }
    Ok((lesson, conflicts))
}

impl Document {
    fn class_view(&mut self) -> Result<&mut ClassDoc> {
        match &mut self.view {
            View::Class(c) => Ok(c),
            _ => Err(InputError::Invalid(format!("{} is not a class document", self.id)).into()),
        }
    }

    /// Sets the class's name, grade and class teacher.
    pub fn set_class_info(&mut self, info: &ClassInfo) -> Result<()> {
        self.class_view()?;
        self.edit(|tx| put_json(tx, &ROOT, "info", info))?;
        self.class_view()?.info = Some(Cell::single(info.clone()));
        Ok(())
    }

    /// Adds a student to the roster or updates their entry (a move out sets `left`).
    pub fn put_roster_entry(&mut self, student: &StudentId, entry: &RosterEntry) -> Result<()> {
        self.class_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "roster")?;
            put_json(tx, &map, student.as_str(), entry)
        })?;
        self.class_view()?
            .roster
            .insert(student.clone(), Cell::single(entry.clone()));
        Ok(())
    }

    /// Assigns the teacher of a subject in this class.
    pub fn put_subject_assignment(
        &mut self,
        subject: &SubjectId,
        assignment: &SubjectAssignment,
    ) -> Result<()> {
        self.class_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "subjects")?;
            put_json(tx, &map, subject.as_str(), assignment)
        })?;
        self.class_view()?
            .subjects
            .insert(subject.clone(), Cell::single(assignment.clone()));
        Ok(())
    }

    /// Adds a lesson.
    pub fn put_lesson(&mut self, lesson: &Lesson) -> Result<()> {
        self.class_view()?;
        self.edit(|tx| {
            let lessons = tx_root_map(tx, "lessons")?;
            let obj = tx.put_object(&lessons, lesson.id.as_str(), ObjType::Map)?;
            tx.put(&obj, "date", format_date(lesson.date))?;
            tx.put(&obj, "period", u64::from(lesson.period))?;
            tx.put(&obj, "subject", lesson.subject.as_str())?;
            tx.put(&obj, "teacher", lesson.teacher.as_str())?;
            tx.put(&obj, "topic", lesson.topic.as_str())?;
            tx.put(&obj, "homework", lesson.homework.as_str())?;
            if let Some(due) = lesson.homework_due {
                tx.put(&obj, "homework_due", format_date(due))?;
            }
            Ok(())
        })?;
        self.class_view()?
            .lessons
            .insert(lesson.id.clone(), lesson.clone());
        Ok(())
    }

    /// Sets the thematic plan of a subject for a term.
    pub fn set_plan(
        &mut self,
        subject: &SubjectId,
        term: &TermId,
        topics: &[PlannedTopic],
    ) -> Result<()> {
        self.class_view()?;
        let key = plan_key(subject, term);
        let topics = topics.to_vec();
        self.edit(|tx| put_json(tx, &ROOT, &key, &topics))?;
        self.class_view()?
            .plan
            .insert((subject.clone(), term.clone()), Cell::single(topics));
        Ok(())
    }

    /// Sets a lesson's topic or homework text (and the homework's due date), superseding concurrent values.
    pub fn set_lesson_text(
        &mut self,
        lesson: &LessonId,
        field: LessonField,
        text: &str,
        homework_due: Option<time::Date>,
    ) -> Result<()> {
        let view = self.class_view()?;
        if !view.lessons.contains_key(lesson) {
            return Err(InputError::Unknown {
                kind: "lesson",
                id: lesson.to_string(),
            }
            .into());
        }
        self.edit(|tx| {
            let lessons = tx_root_map(tx, "lessons")?;
            let obj = match tx.get(&lessons, lesson.as_str())? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => {
                    return Err(InputError::Unknown {
                        kind: "lesson",
                        id: lesson.to_string(),
                    }
                    .into());
                }
            };
            tx.put(&obj, field.key(), text)?;
            if field == LessonField::Homework {
                tx.put(
                    &obj,
                    "homework_due",
                    homework_due.map(format_date).unwrap_or_default(),
                )?;
            }
            Ok(())
        })?;
        let view = self.class_view()?;
        view.lesson_conflicts.remove(&(lesson.clone(), field));
        if let Some(entry) = view.lessons.get_mut(lesson) {
            match field {
                LessonField::Topic => entry.topic = text.to_owned(),
                LessonField::Homework => {
                    entry.homework = text.to_owned();
                    entry.homework_due = homework_due;
                }
            }
        }
        Ok(())
    }
}
