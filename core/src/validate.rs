//! The one validator: decides whether a document state is valid. The device runs it on what it receives;
//! the relay runs it on every incoming change before storing it.

use automerge::Automerge;
use base64::Engine;

use crate::docs::{SchoolSettings, ThreadDoc, View, read_view};
use crate::domain::calendar::format_date;
use crate::domain::model::{Message, Participant};
use crate::error::SchemaError;
use crate::ids::DocId;

/// Longest free text (topic, homework, comment, message) a document may hold, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Largest total size of the files attached to one message, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 512 * 1024;

/// What the validator needs besides the document: the school's settings for the document's year.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValidationContext<'a> {
    /// The year's settings (policy, terms). Without them only the schema is checked.
    pub settings: Option<&'a SchoolSettings>,
    /// On the relay, for a conversation: who delivers the change and what the thread was before it.
    pub thread_guard: Option<ThreadGuard<'a>>,
}

/// What a participant may change in a conversation: their own new messages and their own read state.
/// Participants and heading, once set, and messages already written stay as they are.
#[derive(Clone, Copy, Debug)]
pub struct ThreadGuard<'a> {
    /// The account delivering the change.
    pub author: &'a str,
    /// The thread before the change.
    pub before: &'a ThreadDoc,
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

fn check_thread(
    id: &DocId,
    thread: &ThreadDoc,
    guard: Option<&ThreadGuard<'_>>,
) -> Result<(), SchemaError> {
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
    let Some(guard) = guard else {
        return Ok(());
    };
    let before = guard.before;
    if !before.participants.is_empty() && thread.participants != before.participants {
        return Err(SchemaError::new(
            id,
            "the participants of a conversation cannot change",
        ));
    }
    if before.info.is_some() && thread.info != before.info {
        return Err(SchemaError::new(
            id,
            "the subject of a conversation cannot change",
        ));
    }
    for (key, cell) in &thread.messages {
        match before.messages.get(key) {
            Some(old) if old == cell => {}
            Some(_) => {
                return Err(SchemaError::new(
                    id,
                    format!("message {key} was already sent and cannot change"),
                ));
            }
            None => {
                if let Some(message) = std::iter::once(&cell.value)
                    .chain(&cell.competing)
                    .find(|m| m.author != guard.author)
                {
                    return Err(SchemaError::new(
                        id,
                        format!(
                            "message {key} names {:?} as its author; only {:?} may deliver it",
                            message.author, guard.author
                        ),
                    ));
                }
            }
        }
    }
    if before
        .messages
        .keys()
        .any(|k| !thread.messages.contains_key(k))
    {
        return Err(SchemaError::new(id, "a sent message cannot be deleted"));
    }
    for (account, last) in &thread.read {
        if before.read.get(account) != Some(last) && account != guard.author {
            return Err(SchemaError::new(
                id,
                format!("only {account:?} may record what {account:?} has read"),
            ));
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
        View::Thread(thread) => check_thread(id, thread, ctx.thread_guard.as_ref())?,
    }
    Ok(view)
}
