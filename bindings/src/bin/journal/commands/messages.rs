//! Conversations on the command line: listing, reading, sending (offline, delivered at the next sync),
//! class announcements and the weekly digest.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine;
use journal_core::messages::Audience;
use journal_core::{Attachment, ClassId, Journal, Participant, ThreadId, parse_date};
use serde::Serialize;

use super::year;
use crate::output::emit;

#[derive(Serialize)]
struct ThreadRow {
    thread: String,
    subject: String,
    with: String,
    last: String,
    unread: usize,
}

#[derive(Serialize)]
struct MessageRow {
    id: String,
    from: String,
    from_name: String,
    written: String,
    text: String,
    attachments: Vec<String>,
    read_by: Vec<String>,
    read_by_names: Vec<String>,
}

#[derive(Serialize)]
struct ContactRow {
    account: String,
    name: String,
    role: String,
    classes: String,
}

/// A message's time on the school's clock.
fn written(zone: journal_core::SchoolTimeZone, unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(zone.offset()))
        .map(|t| {
            format!(
                "{} {:02}:{:02}",
                journal_core::format_date(t.date()),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// `journal messages [THREAD]`: the conversations, or one conversation (which marks it read).
pub fn list(journal: &mut Journal, thread: Option<&str>, json: bool) -> Result<()> {
    let Some(thread) = thread else {
        let me = journal
            .my_directory()?
            .map(|d| d.account)
            .unwrap_or_default();
        let rows: Vec<ThreadRow> = journal
            .threads()?
            .into_iter()
            .map(|t| ThreadRow {
                thread: t.thread.to_string(),
                subject: t.info.map(|i| i.subject).unwrap_or_default(),
                with: t
                    .participants
                    .iter()
                    .filter(|p| **p != format!("account:{me}"))
                    .map(|p| journal.participant_name(t.year, p))
                    .collect::<Vec<_>>()
                    .join(", "),
                last: t.last.map(|m| m.message.text).unwrap_or_default(),
                unread: t.unread,
            })
            .collect();
        return emit(
            json,
            &rows,
            &[
                ("conversation", "thread"),
                ("subject", "subject"),
                ("with", "with"),
                ("unread", "unread"),
                ("last message", "last"),
            ],
        );
    };
    let thread: ThreadId = thread.parse()?;
    let year = year(journal)?;
    let zone = journal.time_zone();
    let rows: Vec<MessageRow> = journal
        .thread_messages(&thread)?
        .into_iter()
        .map(|m| MessageRow {
            written: written(zone, m.shown_at()),
            id: m.id.to_string(),
            from_name: journal.participant_name(year, &format!("account:{}", m.message.author)),
            from: m.message.author,
            text: m.message.text,
            attachments: m.message.attachments.into_iter().map(|a| a.name).collect(),
            read_by_names: m
                .read_by
                .iter()
                .map(|account| journal.participant_name(year, &format!("account:{account}")))
                .collect(),
            read_by: m.read_by,
        })
        .collect();
    emit(
        json,
        &rows,
        &[
            ("from", "from_name"),
            ("written", "written"),
            ("message", "text"),
            ("files", "attachments"),
            ("read by", "read_by_names"),
        ],
    )?;
    journal.mark_thread_read(&thread)?;
    Ok(())
}

/// `journal contacts`: whom this account may write to.
pub fn contacts(journal: &Journal, json: bool) -> Result<()> {
    let directory = journal
        .my_directory()?
        .context("this profile has not synced yet: run `journal sync` while connected")?;
    let rows: Vec<ContactRow> = directory
        .contacts
        .into_iter()
        .map(|c| ContactRow {
            account: c.account,
            name: c.name,
            role: c.role.to_string(),
            classes: c
                .classes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    emit(
        json,
        &rows,
        &[
            ("account", "account"),
            ("name", "name"),
            ("role", "role"),
            ("classes", "classes"),
        ],
    )
}

fn attachments(files: &[PathBuf]) -> Result<Vec<Attachment>> {
    files
        .iter()
        .map(|path| {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_owned());
            let mime = match path.extension().and_then(|e| e.to_str()) {
                Some("jpg" | "jpeg") => "image/jpeg",
                Some("png") => "image/png",
                Some("pdf") => "application/pdf",
                Some("txt") => "text/plain",
                _ => "application/octet-stream",
            };
            Ok(Attachment {
                name,
                mime: mime.to_owned(),
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
            })
        })
        .collect()
}

/// Who `to` names: a conversation to answer, or people to start one with.
enum Recipient {
    Thread(ThreadId),
    People(Vec<Participant>),
}

fn recipient(journal: &Journal, to: &str) -> Result<Recipient> {
    if let Ok(thread) = to.parse::<ThreadId>()
        && journal.threads()?.iter().any(|t| t.thread == thread)
    {
        return Ok(Recipient::Thread(thread));
    }
    if to.contains(':') {
        return Ok(Recipient::People(vec![to.parse()?]));
    }
    let contacts = journal
        .my_directory()?
        .map(|d| d.contacts)
        .unwrap_or_default();
    let lower = to.to_lowercase();
    let found: Vec<_> = contacts
        .iter()
        .filter(|c| c.account == to || c.name.to_lowercase().starts_with(&lower))
        .collect();
    match found.as_slice() {
        [one] => Ok(Recipient::People(vec![Participant::Account(
            one.account.clone(),
        )])),
        [] => bail!(
            "nobody you may write to matches {to:?}: `journal contacts` lists them, `journal messages` the conversations"
        ),
        many => bail!(
            "{to:?} matches {}; use the account id",
            many.iter()
                .map(|c| format!("{} ({})", c.name, c.account))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `journal send TO TEXT`: answers a conversation or starts one; saved now, delivered at the next sync.
pub fn send(
    journal: &mut Journal,
    to: &str,
    text: &str,
    subject: Option<&str>,
    files: &[PathBuf],
) -> Result<()> {
    let files = attachments(files)?;
    match recipient(journal, to)? {
        Recipient::Thread(thread) => {
            journal.send_message(&thread, text, files)?;
            say!("saved in conversation {thread}; it goes out with the next `journal sync`");
        }
        Recipient::People(people) => {
            let subject = subject
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(60).collect());
            let thread = journal.start_conversation(&people, &subject, text, files)?;
            say!("started conversation {thread}; it goes out with the next `journal sync`");
        }
    }
    Ok(())
}

/// `journal announce CLASS TEXT`: a class teacher's message to every family (or student) of the class.
pub fn announce(
    journal: &mut Journal,
    class: &str,
    text: &str,
    subject: &str,
    students: bool,
) -> Result<()> {
    let year = year(journal)?;
    let class: ClassId = journal.find_class(year, class)?;
    let audience = if students {
        Audience::Students
    } else {
        Audience::Parents
    };
    let threads = journal.announce(year, &class, audience, subject, text)?;
    say!(
        "announcement saved for {} {}; it goes out with the next `journal sync`",
        threads.len(),
        if students { "students" } else { "families" }
    );
    Ok(())
}

/// `journal digest CLASS [DAY]`: the week's digest to every family of the class.
pub fn digest(journal: &mut Journal, class: &str, day: Option<&str>) -> Result<()> {
    let year = year(journal)?;
    let class: ClassId = journal.find_class(year, class)?;
    let day = match day {
        Some(text) => parse_date(text)?,
        None => journal.today(),
    };
    let sent = journal.weekly_digest(year, &class, day)?;
    say!(
        "weekly digest saved for {} families; it goes out with the next `journal sync`",
        sent.len()
    );
    Ok(())
}
