//! The one validator: decides whether a document state is valid. The device runs it on what it receives;
//! the relay runs it on every incoming change before storing it.

use automerge::Automerge;

use crate::docs::{SchoolSettings, View, read_view};
use crate::domain::calendar::format_date;
use crate::error::SchemaError;
use crate::ids::DocId;

/// Longest free text (topic, homework, comment, message) a document may hold, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// What the validator needs besides the document: the school's settings for the document's year.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValidationContext<'a> {
    /// The year's settings (policy, terms). Without them only the schema is checked.
    pub settings: Option<&'a SchoolSettings>,
}

fn check_text(id: &DocId, what: &str, text: &str) -> Result<(), SchemaError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(SchemaError::new(
            id,
            format!("{what} is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a document against the schema of its kind and the school's rules; returns its typed view.
/// Every competing value of a conflict is checked too.
pub fn validate_document(
    id: &DocId,
    doc: &Automerge,
    ctx: &ValidationContext<'_>,
) -> Result<View, SchemaError> {
    let view = read_view(id, doc)?;
    match &view {
        View::School(school) => {
            if let Some(cell) = &school.settings {
                for settings in std::iter::once(&cell.value).chain(&cell.competing) {
                    if settings.year.id != id.year() {
                        return Err(SchemaError::new(
                            id,
                            format!("holds the settings of year {}", settings.year.id),
                        ));
                    }
                    settings
                        .year
                        .check()
                        .map_err(|e| SchemaError::new(id, e.to_string()))?;
                    settings
                        .policy
                        .check()
                        .map_err(|e| SchemaError::new(id, e.to_string()))?;
                }
            }
        }
        View::Class(class) => {
            for lesson in class.lessons.values() {
                if !(1..=12).contains(&lesson.period) {
                    return Err(SchemaError::new(
                        id,
                        format!("lesson {} has period {}", lesson.id, lesson.period),
                    ));
                }
                check_text(id, "a lesson topic", &lesson.topic)?;
                check_text(id, "a homework text", &lesson.homework)?;
                if let Some(settings) = ctx.settings
                    && !settings.year.range().contains(lesson.date)
                {
                    return Err(SchemaError::new(
                        id,
                        format!(
                            "lesson {} on {} is outside the school year",
                            lesson.id,
                            format_date(lesson.date)
                        ),
                    ));
                }
            }
            for texts in class.lesson_conflicts.values() {
                for text in texts {
                    check_text(id, "a lesson text", text)?;
                }
            }
            if let Some(info) = &class.info
                && !(1..=11).contains(&info.value.grade)
            {
                return Err(SchemaError::new(
                    id,
                    format!("grade {} is not 1–11", info.value.grade),
                ));
            }
        }
        View::Student(student) => {
            for cell in student.marks.values() {
                for mark in std::iter::once(&cell.value).chain(&cell.competing) {
                    check_text(id, "a mark comment", &mark.comment)?;
                    if let Some(settings) = ctx.settings {
                        settings
                            .policy
                            .work_kind(&mark.kind)
                            .map_err(|e| SchemaError::new(id, e.to_string()))?;
                        if !settings.year.range().contains(mark.date) {
                            return Err(SchemaError::new(
                                id,
                                format!(
                                    "a mark dated {} is outside the school year",
                                    format_date(mark.date)
                                ),
                            ));
                        }
                    }
                }
            }
            for cell in student.attendance.values() {
                for entry in std::iter::once(&cell.value).chain(&cell.competing) {
                    check_text(id, "an attendance note", &entry.note)?;
                    if let (Some(settings), Some(code)) = (ctx.settings, &entry.code) {
                        settings
                            .policy
                            .attendance_code(code)
                            .map_err(|e| SchemaError::new(id, e.to_string()))?;
                    }
                }
            }
        }
        View::Profile(_) => {}
        View::Thread(thread) => {
            for cell in thread.messages.values() {
                for message in std::iter::once(&cell.value).chain(&cell.competing) {
                    check_text(id, "a message", &message.text)?;
                }
            }
        }
    }
    Ok(view)
}
