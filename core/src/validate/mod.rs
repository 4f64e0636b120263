//! The one validator: decides whether a document state is valid. The device runs it on what it receives;
//! the relay runs it on every incoming change before storing it, with the writer's identity, so that
//! changes are also judged by who makes them ([`WriterGuard`]).
//!
//! Three layers, in order: the document's shape (`shape`: known keys only, bounded sizes), the typed view
//! and the school's rules (marks, codes, dates inside the year), and what the writer may change
//! (`writer`: their own messages, marks signed by themselves or in a subject they teach).

mod edit_lock;
mod shape;
mod writer;

use automerge::Automerge;
use base64::Engine;

use crate::docs::{SchoolSettings, ThreadDoc, View, read_view};
use crate::domain::calendar::format_date;
use crate::domain::model::{Message, Participant};
use crate::error::SchemaError;
use crate::ids::DocId;

pub(crate) use edit_lock::check_edit_lock;
pub use edit_lock::{EditWindow, first_open_day, reason_of};
pub use shape::{
    MAX_ENTRY_BYTES, MAX_KEY_BYTES, MAX_MESSAGE_BYTES, MAX_PLAN_BYTES, MAX_SETTINGS_BYTES,
    check_shape,
};
pub use writer::WriterGuard;

/// Longest free text (topic, homework, comment, message) a document may hold, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Largest total size of the files attached to one message, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 512 * 1024;

/// What the validator needs besides the document: the school's settings for the document's year.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValidationContext<'a> {
    /// The year's settings (policy, terms). Without them only the schema is checked.
    pub settings: Option<&'a SchoolSettings>,
    /// On the relay: who delivers the change, and the document before it.
    pub writer: Option<WriterGuard<'a>>,
}

impl<'a> ValidationContext<'a> {
    /// The context of a device: the year's settings, no writer to check.
    pub fn with_settings(settings: Option<&'a SchoolSettings>) -> Self {
        ValidationContext {
            settings,
            writer: None,
        }
    }
}

/// Checks one message's text and attachments.
pub fn check_message(id: &DocId, message: &Message) -> Result<(), SchemaError> {
    check_text(id, "a message", &message.text)?;
    let mut total = 0usize;
    for file in &message.attachments {
        if file.name.is_empty() || file.name.chars().count() > 200 {
            return Err(SchemaError::new(
                id,
                "an attachment needs a file name of 1–200 characters",
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&file.data)
            .map_err(|e| {
                SchemaError::new(id, format!("attachment {:?} is not base64: {e}", file.name))
            })?;
        total += bytes.len();
    }
    if total > MAX_ATTACHMENT_BYTES {
        return Err(SchemaError::new(
            id,
            format!(
                "a message's attachments take {} KiB; the limit is {} KiB",
                total.div_ceil(1024),
                MAX_ATTACHMENT_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

fn check_thread(id: &DocId, thread: &ThreadDoc) -> Result<(), SchemaError> {
    for participant in &thread.participants {
        participant
            .parse::<Participant>()
            .map_err(|e| SchemaError::new(id, e.to_string()))?;
    }
    if let Some(info) = &thread.info {
        for info in std::iter::once(&info.value).chain(&info.competing) {
            check_text(id, "a subject line", &info.subject)?;
        }
    }
    for cell in thread.messages.values() {
        for message in std::iter::once(&cell.value).chain(&cell.competing) {
            check_message(id, message)?;
        }
    }
    Ok(())
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
/// Every competing value of a conflict is checked too. With a writer in `ctx`, the whole document counts as
/// theirs to have written (a new document).
pub fn validate_document(
    id: &DocId,
    doc: &Automerge,
    ctx: &ValidationContext<'_>,
) -> Result<View, SchemaError> {
    validate_change(id, &View::empty(id.kind()), doc, ctx)
}

/// Checks a document that was `before` and is now `doc`, as [`validate_document`] does; the writer in
/// `ctx`, if any, answers for what changed.
pub fn validate_change(
    id: &DocId,
    before: &View,
    doc: &Automerge,
    ctx: &ValidationContext<'_>,
) -> Result<View, SchemaError> {
    // Which document this claims to be comes first: a shape is judged against the right kind.
    crate::docs::check_header(id, doc)?;
    check_shape(id, doc)?;
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
        View::Thread(thread) => check_thread(id, thread)?,
    }
    if let Some(writer) = &ctx.writer {
        writer.check(id, before, &view)?;
    }
    Ok(view)
}
