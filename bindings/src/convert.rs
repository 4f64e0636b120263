//! The records that cross the boundary, and their conversions from the core's types.

use base64::Engine;
use journal_core::directory::{Child, MyDirectory};
use journal_core::messages::Audience;
use journal_core::messages::{ThreadMessage, ThreadSummary};
use journal_core::news::{NewsItem, NewsNames};
use journal_core::queries::{AbsenceRow, HomeworkItem, MarkRow, SubjectAverage};
use journal_core::sync::RefusedEdit;
use journal_core::sync::client::SyncReport;
use journal_core::{
    Attachment, ClassId, Conflict, ConflictTarget, Journal, Lesson, StudentId, YearId, format_date,
};

/// What redeeming a code gave: who signed in, and the token for the platform to keep.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SignIn {
    /// Account id.
    pub account: String,
    /// `administration`, `teacher`, `student` or `parent`.
    pub role: String,
    /// Display name.
    pub name: String,
    /// The device token (keep it in the Keystore or Keychain).
    pub token: String,
    /// The fingerprint of the relay's certificate this device trusts alone, when it signed in with one
    /// (keep it with the token).
    pub pin: Option<String>,
}

/// The signed-in account, as of the last sync.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Me {
    /// Account id.
    pub account: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Accounts this one may start a conversation with.
    pub contacts: Vec<String>,
}

impl From<MyDirectory> for Me {
    fn from(d: MyDirectory) -> Self {
        Me {
            account: d.account,
            name: d.name,
            role: d.role.to_string(),
            contacts: d.contacts.into_iter().map(|c| c.account).collect(),
        }
    }
}

/// A parent's child.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ChildInfo {
    /// Student id.
    pub student: String,
    /// Class id.
    pub class_id: String,
    /// Name.
    pub name: String,
}

impl From<Child> for ChildInfo {
    fn from(c: Child) -> Self {
        ChildInfo {
            student: c.student.to_string(),
            class_id: c.class.to_string(),
            name: c.name,
        }
    }
}

/// A lesson.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LessonInfo {
    /// Lesson id.
    pub id: String,
    /// Class id.
    pub class_id: String,
    /// Class name ("5А").
    pub class_name: String,
    /// Day.
    pub date: String,
    /// Period.
    pub period: u8,
    /// Subject id.
    pub subject: String,
    /// Subject name.
    pub subject_name: String,
    /// Teacher id.
    pub teacher: String,
    /// Topic.
    pub topic: String,
    /// Homework.
    pub homework: String,
}

impl LessonInfo {
    pub(crate) fn new(j: &Journal, year: YearId, class: &ClassId, lesson: &Lesson) -> Self {
        LessonInfo {
            id: lesson.id.to_string(),
            class_id: class.to_string(),
            class_name: j.class_name(year, class),
            date: format_date(lesson.date),
            period: lesson.period,
            subject: lesson.subject.to_string(),
            subject_name: j.subject_name(year, &lesson.subject),
            teacher: lesson.teacher.to_string(),
            topic: lesson.topic.clone(),
            homework: lesson.homework.clone(),
        }
    }
}

/// A student on a class list.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StudentInfo {
    /// Student id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One student's attendance at a lesson.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AttendanceEntry {
    /// Student id.
    pub student: String,
    /// The school's code ("н", "б", "у", "о"); `None`: present.
    pub code: Option<String>,
    /// A note.
    pub note: String,
}

/// A mark.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct MarkInfo {
    /// Mark id.
    pub id: String,
    /// Student id.
    pub student: String,
    /// Subject id.
    pub subject: String,
    /// Subject name.
    pub subject_name: String,
    /// Day it counts for.
    pub date: String,
    /// "5", "4", …, "зач", "незач".
    pub value: String,
    /// Kind of work (its id).
    pub kind: String,
    /// Kind of work, as the school names it («Устный ответ»).
    pub kind_name: String,
    /// Teacher's comment.
    pub comment: String,
    /// Values set concurrently on other devices, if any.
    pub competing: Vec<String>,
}

impl MarkInfo {
    pub(crate) fn new(j: &Journal, year: YearId, student: &StudentId, row: MarkRow) -> Self {
        MarkInfo {
            id: row.id.to_string(),
            student: student.to_string(),
            subject_name: j.subject_name(year, &row.mark.subject),
            subject: row.mark.subject.to_string(),
            date: format_date(row.mark.date),
            value: row.mark.value.to_string(),
            kind_name: j.work_kind_name(year, &row.mark.kind),
            kind: row.mark.kind.to_string(),
            comment: row.mark.comment,
            competing: row.competing.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A student's average in one subject.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SubjectAverageInfo {
    /// Subject id.
    pub subject: String,
    /// Subject name.
    pub subject_name: String,
    /// The average with two decimals ("4.60"), or "—" when no mark counts (only «зач»).
    pub average: String,
    /// How many marks it is drawn from.
    pub marks: u32,
}

impl SubjectAverageInfo {
    pub(crate) fn new(j: &Journal, year: YearId, average: SubjectAverage) -> Self {
        SubjectAverageInfo {
            subject_name: j.subject_name(year, &average.subject),
            subject: average.subject.to_string(),
            average: average.shown(),
            marks: u32::try_from(average.marks).unwrap_or(u32::MAX),
        }
    }
}

/// A missed lesson or a late arrival.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AbsenceInfo {
    /// Day.
    pub date: String,
    /// Period.
    pub period: u8,
    /// Subject name.
    pub subject_name: String,
    /// Code.
    pub code: String,
    /// Note.
    pub note: String,
}

impl AbsenceInfo {
    pub(crate) fn new(j: &Journal, year: YearId, row: AbsenceRow) -> Self {
        AbsenceInfo {
            date: format_date(row.date),
            period: row.period,
            subject_name: j.subject_name(year, &row.subject),
            code: row.code,
            note: row.note,
        }
    }
}

/// Homework.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HomeworkInfo {
    /// Lesson id.
    pub lesson: String,
    /// Day of the lesson.
    pub date: String,
    /// Subject name.
    pub subject_name: String,
    /// Text.
    pub text: String,
    /// Due date, if given.
    pub due: Option<String>,
}

impl HomeworkInfo {
    pub(crate) fn new(j: &Journal, year: YearId, item: HomeworkItem) -> Self {
        HomeworkInfo {
            lesson: item.lesson.to_string(),
            date: format_date(item.date),
            subject_name: j.subject_name(year, &item.subject),
            text: item.text,
            due: item.due.map(format_date),
        }
    }
}

/// A conflict between devices.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ConflictInfo {
    /// Pass it back to resolve the conflict.
    pub key: String,
    /// What is in conflict, readable.
    pub description: String,
    /// The values; the first is shown everywhere now.
    pub values: Vec<String>,
}

impl ConflictInfo {
    pub(crate) fn key_of(target: &ConflictTarget) -> String {
        format!("{target:?}")
    }
}

impl From<Conflict> for ConflictInfo {
    fn from(c: Conflict) -> Self {
        ConflictInfo {
            key: ConflictInfo::key_of(&c.target),
            description: c.target.to_string(),
            values: c.values,
        }
    }
}

/// Edits the relay refused.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RefusedEditInfo {
    /// Its number, to retry or discard it.
    pub number: i64,
    /// Document.
    pub document: String,
    /// The relay's reason.
    pub reason: String,
    /// When (Unix seconds).
    pub refused_at: i64,
    /// The edits, one line each.
    pub edits: Vec<String>,
}

impl From<RefusedEdit> for RefusedEditInfo {
    fn from(r: RefusedEdit) -> Self {
        RefusedEditInfo {
            number: r.id,
            document: r.document,
            reason: r.reason,
            refused_at: r.refused_at,
            edits: r.edits,
        }
    }
}

/// One item of the "what is new" feed.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NewsInfo {
    /// `mark`, `absence`, `homework` or `message`.
    pub kind: String,
    /// Student (or class, or conversation) it concerns: its id.
    pub about: String,
    /// The same by name: the student's, the class's («5А») or the conversation's subject line.
    pub about_name: String,
    /// Subject (or author): the id.
    pub subject: String,
    /// The same by name: «Русский язык», or the author's name.
    pub subject_name: String,
    /// Day, where there is one.
    pub date: Option<String>,
    /// What is new ("3 → 4", "н", the homework, the message).
    pub text: String,
}

impl NewsInfo {
    pub(crate) fn new(j: &Journal, year: YearId, item: NewsItem) -> Self {
        let NewsNames {
            about: about_name,
            subject: subject_name,
        } = j.news_names(year, &item);
        match item {
            NewsItem::Mark {
                student,
                subject,
                date,
                value,
                previous,
            } => NewsInfo {
                kind: "mark".into(),
                about_name,
                subject_name,
                about: student.to_string(),
                subject: subject.to_string(),
                date: Some(format_date(date)),
                text: match previous {
                    Some(old) => format!("{old} → {value}"),
                    None => value.to_string(),
                },
            },
            NewsItem::Absence {
                student,
                subject,
                date,
                code,
            } => NewsInfo {
                kind: "absence".into(),
                about_name,
                subject_name,
                about: student.to_string(),
                subject: subject.to_string(),
                date: Some(format_date(date)),
                text: code,
            },
            NewsItem::Homework {
                class,
                subject,
                date,
                text,
                ..
            } => NewsInfo {
                kind: "homework".into(),
                about_name,
                subject_name,
                about: class.to_string(),
                subject: subject.to_string(),
                date: Some(format_date(date)),
                text,
            },
            NewsItem::Message {
                thread,
                author,
                text,
            } => NewsInfo {
                kind: "message".into(),
                about_name,
                subject_name,
                about: thread.to_string(),
                subject: author,
                date: None,
                text,
            },
        }
    }
}

/// A conversation in the list.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ThreadSummaryInfo {
    /// Conversation id.
    pub thread: String,
    /// Subject line.
    pub subject: String,
    /// Participants (`account:…`, `guardians:…`, `student:…`).
    pub participants: Vec<String>,
    /// The same by name («Соколова Елена Игоревна», «родители: Иванов Иван»).
    pub participant_names: Vec<String>,
    /// The newest message's text.
    pub last_text: Option<String>,
    /// Unread messages from others.
    pub unread: u32,
}

impl ThreadSummaryInfo {
    pub(crate) fn new(j: &Journal, t: ThreadSummary) -> Self {
        ThreadSummaryInfo {
            thread: t.thread.to_string(),
            subject: t.info.map(|i| i.subject).unwrap_or_default(),
            participant_names: t
                .participants
                .iter()
                .map(|p| j.participant_name(t.year, p))
                .collect(),
            participants: t.participants,
            last_text: t.last.map(|m| m.message.text),
            unread: t.unread as u32,
        }
    }
}

/// A message.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct MessageInfo {
    /// Message id.
    pub id: String,
    /// Author's account.
    pub author: String,
    /// Author's name.
    pub author_name: String,
    /// When written (Unix seconds): the author's clock, or when the relay took it if that clock was more
    /// than a day off.
    pub written_at: i64,
    /// Text.
    pub text: String,
    /// Whether this account wrote it.
    pub mine: bool,
    /// Who else has read it.
    pub read_by: Vec<String>,
    /// Files sent with it.
    pub attachments: Vec<AttachmentInfo>,
}

/// A file sent with a message (a photo of a sick note); 512 KiB in all per message.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInfo {
    /// File name.
    pub name: String,
    /// Media type ("image/jpeg").
    pub mime: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl From<AttachmentInfo> for Attachment {
    fn from(a: AttachmentInfo) -> Self {
        Attachment {
            name: a.name,
            mime: a.mime,
            data: base64::engine::general_purpose::STANDARD.encode(&a.data),
        }
    }
}

impl From<Attachment> for AttachmentInfo {
    fn from(a: Attachment) -> Self {
        AttachmentInfo {
            name: a.name,
            mime: a.mime,
            // The validator let only well-formed base64 in; anything else shows as an empty file.
            data: base64::engine::general_purpose::STANDARD
                .decode(&a.data)
                .unwrap_or_default(),
        }
    }
}

/// Who a class announcement goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum AnnouncementAudience {
    /// The families of every student of the class (a reply reaches only the class teacher).
    Parents,
    /// Every student of the class.
    Students,
}

impl From<AnnouncementAudience> for Audience {
    fn from(a: AnnouncementAudience) -> Self {
        match a {
            AnnouncementAudience::Parents => Audience::Parents,
            AnnouncementAudience::Students => Audience::Students,
        }
    }
}

impl MessageInfo {
    pub(crate) fn new(j: &Journal, year: YearId, m: ThreadMessage) -> Self {
        let written_at = m.shown_at();
        MessageInfo {
            id: m.id.to_string(),
            author_name: j.participant_name(year, &format!("account:{}", m.message.author)),
            author: m.message.author,
            written_at,
            text: m.message.text,
            mine: m.mine,
            read_by: m.read_by,
            attachments: m
                .message
                .attachments
                .into_iter()
                .map(AttachmentInfo::from)
                .collect(),
        }
    }
}

/// What one sync did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Documents covered.
    pub documents: u64,
    /// Documents whose local edits went to the relay.
    pub sent: Vec<String>,
    /// Documents that received new data.
    pub received: Vec<String>,
    /// Documents whose local edits the relay refused.
    pub refused: Vec<String>,
    /// Round trips with the relay.
    pub round_trips: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

impl From<SyncReport> for SyncSummary {
    fn from(r: SyncReport) -> Self {
        SyncSummary {
            documents: r.documents as u64,
            sent: r.sent.iter().map(ToString::to_string).collect(),
            received: r.received.iter().map(ToString::to_string).collect(),
            refused: r.refused.iter().map(ToString::to_string).collect(),
            round_trips: r.round_trips as u64,
            bytes_sent: r.bytes_sent as u64,
            bytes_received: r.bytes_received as u64,
        }
    }
}
