//! Conversations: starting one, writing and reading messages offline, read state, class announcements and
//! the class teacher's weekly digest to each family (regulation 4.3).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use time::{Date, Duration};

use crate::docs::{ThreadDoc, View};
use crate::domain::model::{Attachment, Message, Participant, ThreadInfo, ThreadKind};
use crate::error::{InputError, Result};
use crate::ids::{ClassId, DocId, MessageId, StudentId, ThreadId, YearId};
use crate::journal::{Journal, unknown};
use crate::roles::AccountRole;
use crate::validate::{MAX_TEXT_CHARS, check_message};

/// A conversation as the list of conversations shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadSummary {
    /// The conversation.
    pub thread: ThreadId,
    /// Its school year.
    pub year: YearId,
    /// Subject line and kind, if the starter set them.
    pub info: Option<ThreadInfo>,
    /// Participants (`account:…`, `guardians:…`, `student:…`).
    pub participants: Vec<String>,
    /// The newest message.
    pub last: Option<ThreadMessage>,
    /// Messages from others this account has not read.
    pub unread: usize,
}

/// One message with what the reader needs around it.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadMessage {
    /// Its id (ids sort in the order messages were written).
    pub id: MessageId,
    /// The message.
    pub message: Message,
    /// Whether this account wrote it.
    pub mine: bool,
    /// Accounts other than the author that have read it.
    pub read_by: Vec<String>,
    /// When the relay took it (Unix seconds, the relay's clock), once it has.
    pub arrived_at: Option<i64>,
}

/// How far an author's clock may be from the relay's before readers see the relay's time instead: a day,
/// so that a message written offline keeps the time it was written.
pub const CLOCK_TRUSTED_WITHIN_SECONDS: i64 = 24 * 3600;

impl ThreadMessage {
    /// When it was written, as readers are shown it: the author's clock, unless that is more than a day
    /// from when the relay took the message (a tablet set years ahead), then the relay's.
    pub fn shown_at(&self) -> i64 {
        match self.arrived_at {
            Some(arrived)
                if self.message.written_at.abs_diff(arrived)
                    > CLOCK_TRUSTED_WITHIN_SECONDS.unsigned_abs() =>
            {
                arrived
            }
            _ => self.message.written_at,
        }
    }
}

/// Who a class announcement goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The families of every student of the class.
    Parents,
    /// Every student of the class.
    Students,
}

fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds encoded at the start of a message id, if it has them.
fn id_millis(id: &MessageId) -> Option<i64> {
    id.as_str().split('-').next()?.parse().ok()
}

/// A new message id that sorts after every message of the thread, even when the clock stepped back.
fn next_message_id(thread: &ThreadDoc) -> MessageId {
    let after = thread
        .messages
        .keys()
        .filter_map(id_millis)
        .max()
        .map_or(0, |m| m + 1);
    let millis = now_millis().max(after);
    MessageId::new(format!("{millis:013}-{}", MessageId::random()))
        .expect("digits, a dash and hex make a valid id")
}

fn check_subject(subject: &str) -> Result<()> {
    if subject.trim().is_empty() {
        return Err(InputError::Invalid("a conversation needs a subject line".to_owned()).into());
    }
    if subject.chars().count() > MAX_TEXT_CHARS {
        return Err(InputError::Invalid(format!(
            "the subject line is longer than {MAX_TEXT_CHARS} characters"
        ))
        .into());
    }
    Ok(())
}

fn new_message(
    doc: &DocId,
    author: &str,
    text: &str,
    attachments: Vec<Attachment>,
) -> Result<Message> {
    if text.trim().is_empty() && attachments.is_empty() {
        return Err(
            InputError::Invalid("a message needs some text or an attachment".to_owned()).into(),
        );
    }
    let message = Message {
        author: author.to_owned(),
        written_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        text: text.to_owned(),
        attachments,
    };
    check_message(doc, &message).map_err(|e| InputError::Invalid(e.reason))?;
    Ok(message)
}

impl Journal {
    fn thread_doc_id(&self, thread: &ThreadId) -> Result<DocId> {
        self.docs
            .keys()
            .rev()
            .find(|id| matches!(id, DocId::Thread(_, t) if t == thread))
            .cloned()
            .ok_or_else(|| unknown("conversation", thread))
    }

    fn thread_view(&self, id: &DocId) -> Result<&ThreadDoc> {
        match self.docs.get(id).map(|d| d.view()) {
            Some(View::Thread(thread)) => Ok(thread),
            _ => Err(unknown("conversation", id)),
        }
    }

    /// The newest school year this device holds.
    pub fn current_year(&self) -> Result<YearId> {
        self.docs
            .keys()
            .filter_map(|id| match id {
                DocId::School(year) => Some(*year),
                _ => None,
            })
            .max()
            .ok_or_else(|| {
                InputError::Invalid("this device holds no school year yet: sync first".to_owned())
                    .into()
            })
    }

    /// Checks, before anything is written, what the relay would refuse: parents and students write only
    /// to the staff their directory copy lists.
    fn check_recipients(&self, to: &[Participant]) -> Result<()> {
        let Some(me) = self.my_directory()? else {
            return Ok(());
        };
        if !me.role.is_family() {
            return Ok(());
        }
        for participant in to {
            let allowed = match participant {
                Participant::Account(account) => me.contacts.iter().any(|c| &c.account == account),
                _ => false,
            };
            if !allowed {
                let who = if me.role == AccountRole::Parent {
                    "the teachers of your children and the administration"
                } else {
                    "your teachers"
                };
                return Err(InputError::Invalid(format!(
                    "you can write to {who}; {participant} is not one of them"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Starts a conversation with `to` and writes its first message; delivered at the next sync.
    pub fn start_conversation(
        &mut self,
        to: &[Participant],
        subject: &str,
        text: &str,
        attachments: Vec<Attachment>,
    ) -> Result<ThreadId> {
        let me = self.my_account()?;
        if to.is_empty() {
            return Err(
                InputError::Invalid("a conversation needs someone to write to".to_owned()).into(),
            );
        }
        check_subject(subject)?;
        self.check_recipients(to)?;
        let year = self.current_year()?;
        let thread = ThreadId::random();
        let id = DocId::Thread(year, thread.clone());
        let message = new_message(&id, &me, text, attachments)?;
        let info = ThreadInfo {
            subject: subject.to_owned(),
            kind: ThreadKind::Conversation,
            started_by: me.clone(),
            started_at: message.written_at,
        };
        let mut participants: BTreeSet<Participant> = to.iter().cloned().collect();
        participants.insert(Participant::Account(me));
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            for participant in &participants {
                doc.add_participant(&participant.to_string())?;
            }
            doc.set_thread_info(&info)?;
            let View::Thread(view) = doc.view() else {
                return Err(unknown("conversation", &id));
            };
            let message_id = next_message_id(view);
            doc.put_message(&message_id, &message)
        })?;
        Ok(thread)
    }

    /// Writes a message in a conversation this device holds; delivered at the next sync.
    pub fn send_message(
        &mut self,
        thread: &ThreadId,
        text: &str,
        attachments: Vec<Attachment>,
    ) -> Result<MessageId> {
        let me = self.my_account()?;
        let id = self.thread_doc_id(thread)?;
        let message = new_message(&id, &me, text, attachments)?;
        let message_id = next_message_id(self.thread_view(&id)?);
        self.change(|j, touched| {
            let doc = j.doc_mut(&id, touched)?;
            doc.put_message(&message_id, &message)?;
            // Writing in a thread means having read it.
            doc.set_read(&me, &message_id)
        })?;
        Ok(message_id)
    }

    /// Records that this account has read every message of the conversation.
    pub fn mark_thread_read(&mut self, thread: &ThreadId) -> Result<()> {
        let me = self.my_account()?;
        let id = self.thread_doc_id(thread)?;
        let view = self.thread_view(&id)?;
        let Some(last) = view.messages.keys().next_back().cloned() else {
            return Ok(());
        };
        if view.read.get(&me) == Some(&last) {
            return Ok(());
        }
        self.change(|j, touched| j.doc_mut(&id, touched)?.set_read(&me, &last))
    }

    /// The conversations on this device, newest activity first.
    pub fn threads(&self) -> Result<Vec<ThreadSummary>> {
        let me = self.my_directory()?.map(|d| d.account).unwrap_or_default();
        let mut out = Vec::new();
        for (id, doc) in &self.docs {
            let (DocId::Thread(year, thread), View::Thread(view)) = (id, doc.view()) else {
                continue;
            };
            let messages = messages_of(view, &me);
            let unread = messages
                .iter()
                .filter(|m| !m.mine && !is_read(view, &me, &m.id))
                .count();
            out.push(ThreadSummary {
                thread: thread.clone(),
                year: *year,
                info: view.info.as_ref().map(|c| c.value.clone()),
                participants: view.participants.iter().cloned().collect(),
                last: messages.into_iter().next_back(),
                unread,
            });
        }
        // By the time readers are shown, so a message from a clock years ahead does not stay on top.
        out.sort_by(|a, b| {
            let key = |s: &ThreadSummary| s.last.as_ref().map(|m| (m.shown_at(), m.id.clone()));
            key(b).cmp(&key(a))
        });
        Ok(out)
    }

    /// How a participant (`account:…`, `guardians:…`, `student:…`) reads for people: a name from this
    /// device's directory copy (staff, and for staff the families of their students) or the school's
    /// documents; the account id where neither names it.
    pub fn participant_name(&self, year: YearId, participant: &str) -> String {
        let student_name = |id: &str| -> Option<String> {
            let student: StudentId = id.parse().ok()?;
            self.docs
                .values()
                .find_map(|doc| match (doc.id(), doc.view()) {
                    (DocId::Class(y, _), View::Class(class)) if *y == year => {
                        class.roster.get(&student).map(|e| e.value.name.clone())
                    }
                    _ => None,
                })
        };
        let directory = self.my_directory().ok().flatten();
        match participant.split_once(':') {
            Some(("account", account)) => directory
                .as_ref()
                .and_then(|d| {
                    (d.account == account)
                        .then(|| d.name.clone())
                        .or_else(|| {
                            d.contacts
                                .iter()
                                .find(|c| c.account == account)
                                .map(|c| c.name.clone())
                        })
                        .or_else(|| {
                            d.families
                                .iter()
                                .find(|f| f.account == account)
                                .map(|f| f.name.clone())
                        })
                })
                .or_else(|| {
                    self.school_doc(year)
                        .and_then(|s| s.staff.get(account).cloned())
                })
                .unwrap_or_else(|| account.to_owned()),
            Some(("guardians", student)) => format!(
                "родители: {}",
                student_name(student).unwrap_or_else(|| student.to_owned())
            ),
            Some(("student", student)) => {
                student_name(student).unwrap_or_else(|| student.to_owned())
            }
            _ => participant.to_owned(),
        }
    }

    /// The messages of a conversation, in the order they were written.
    pub fn thread_messages(&self, thread: &ThreadId) -> Result<Vec<ThreadMessage>> {
        let me = self.my_directory()?.map(|d| d.account).unwrap_or_default();
        let id = self.thread_doc_id(thread)?;
        Ok(messages_of(self.thread_view(&id)?, &me))
    }

    /// The class teacher's announcement to every family (or every student) of a class: one conversation
    /// each, so a reply reaches the teacher and nobody else. Returns the conversations made.
    pub fn announce(
        &mut self,
        year: YearId,
        class: &ClassId,
        audience: Audience,
        subject: &str,
        text: &str,
    ) -> Result<Vec<ThreadId>> {
        check_subject(subject)?;
        let students = self.current_students(year, class)?;
        let bodies = students
            .into_iter()
            .map(|student| (student, text.to_owned()))
            .collect();
        self.send_to_families(
            year,
            class,
            audience,
            ThreadKind::Announcement,
            subject,
            bodies,
        )
    }

    /// The class teacher's weekly digest: for each student of the class, a message to the family with the
    /// week's marks, absences and teachers' notes. `week_start` is any day of the week.
    pub fn weekly_digest(
        &mut self,
        year: YearId,
        class: &ClassId,
        week_start: Date,
    ) -> Result<Vec<(StudentId, ThreadId)>> {
        let monday =
            week_start - Duration::days(i64::from(week_start.weekday().number_days_from_monday()));
        let subject = format!(
            "Итоги недели {} – {}",
            format_date_ru(monday),
            format_date_ru(monday + Duration::days(6))
        );
        let students = self.current_students(year, class)?;
        let mut bodies = Vec::new();
        for student in students {
            let text = self.digest_text(year, class, &student, monday)?;
            bodies.push((student, text));
        }
        let ids: Vec<StudentId> = bodies.iter().map(|(s, _)| s.clone()).collect();
        let threads = self.send_to_families(
            year,
            class,
            Audience::Parents,
            ThreadKind::Digest,
            &subject,
            bodies,
        )?;
        Ok(ids.into_iter().zip(threads).collect())
    }

    /// The text of one student's weekly digest, in Russian: the week that contains `day`.
    pub fn digest_text(
        &self,
        year: YearId,
        class: &ClassId,
        student: &StudentId,
        day: Date,
    ) -> Result<String> {
        let monday = day - Duration::days(i64::from(day.weekday().number_days_from_monday()));
        let sunday = monday + Duration::days(6);
        let settings = self.settings(year)?;
        let school = self.school_doc(year);
        let subject_name = |subject: &crate::ids::SubjectId| {
            school
                .and_then(|s| s.subjects.get(subject))
                .map_or_else(|| subject.to_string(), |c| c.value.name.clone())
        };
        let class_doc = self.class_doc(year, class)?;
        let name = class_doc
            .roster
            .get(student)
            .map_or_else(|| student.to_string(), |c| c.value.name.clone());
        let class_name = class_doc
            .info
            .as_ref()
            .map_or_else(|| class.to_string(), |c| c.value.name.clone());
        let in_week = |d: Date| monday <= d && d <= sunday;

        let mut marks: Vec<_> = self
            .student_doc(year, student)
            .map(|doc| {
                doc.marks
                    .values()
                    .map(|c| &c.value)
                    .filter(|m| in_week(m.date))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        marks.sort_by(|a, b| (a.date, &a.subject).cmp(&(b.date, &b.subject)));
        let mut absences: Vec<_> = self
            .student_doc(year, student)
            .map(|doc| {
                doc.attendance
                    .values()
                    .map(|c| &c.value)
                    .filter(|a| in_week(a.date) && a.code.is_some())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        absences.sort_by_key(|a| (a.date, a.period));

        let mut text = String::new();
        let _ = writeln!(text, "{name}, {class_name} класс");
        let _ = writeln!(
            text,
            "Неделя {} – {}",
            format_date_ru(monday),
            format_date_ru(sunday)
        );
        text.push_str("\nОценки:\n");
        if marks.is_empty() {
            text.push_str("  оценок за неделю нет\n");
        }
        for mark in &marks {
            let kind = settings
                .policy
                .work_kind(&mark.kind)
                .map_or_else(|_| mark.kind.to_string(), |k| k.name.clone());
            let _ = writeln!(
                text,
                "  {} {}: {} ({kind})",
                format_day_ru(mark.date),
                subject_name(&mark.subject),
                mark.value
            );
        }
        text.push_str("\nПропуски и опоздания:\n");
        if absences.is_empty() {
            text.push_str("  пропусков нет\n");
        }
        for absence in &absences {
            let code = absence.code.as_deref().unwrap_or_default();
            let meaning = settings
                .policy
                .attendance_code(code)
                .map_or_else(|_| code.to_owned(), |c| c.name.clone());
            let _ = writeln!(
                text,
                "  {} {}, {}-й урок: {code} ({meaning})",
                format_day_ru(absence.date),
                subject_name(&absence.subject),
                absence.period
            );
        }
        let mut notes: Vec<(Date, String)> = marks
            .iter()
            .filter(|m| !m.comment.is_empty())
            .map(|m| (m.date, &m.subject, &m.comment))
            .chain(
                absences
                    .iter()
                    .filter(|a| !a.note.is_empty())
                    .map(|a| (a.date, &a.subject, &a.note)),
            )
            .map(|(date, subject, note)| {
                (
                    date,
                    format!(
                        "  {} {}: {note}",
                        format_day_ru(date),
                        subject_name(subject)
                    ),
                )
            })
            .collect();
        notes.sort();
        if !notes.is_empty() {
            text.push_str("\nЗамечания учителей:\n");
            for (_, note) in notes {
                text.push_str(&note);
                text.push('\n');
            }
        }
        Ok(text)
    }

    /// Students on the class list today (or, outside the year, at its last day).
    fn current_students(&self, year: YearId, class: &ClassId) -> Result<Vec<StudentId>> {
        let range = self.settings(year)?.year.range();
        let day = self.today().clamp(range.from, range.to);
        Ok(self
            .class_doc(year, class)?
            .roster
            .iter()
            .filter(|(_, entry)| entry.value.active_on(day))
            .map(|(student, _)| student.clone())
            .collect())
    }

    /// One new conversation per student, all written in one transaction.
    fn send_to_families(
        &mut self,
        year: YearId,
        class: &ClassId,
        audience: Audience,
        kind: ThreadKind,
        subject: &str,
        bodies: Vec<(StudentId, String)>,
    ) -> Result<Vec<ThreadId>> {
        let me = self.my_account()?;
        let may = self.my_directory()?.is_some_and(|directory| {
            directory.role == AccountRole::Administration
                || directory
                    .classes
                    .iter()
                    .any(|c| &c.class == class && c.class_teacher)
        });
        if !may {
            return Err(InputError::Invalid(format!(
                "only the class teacher of {class} or the administration writes to all of its families"
            ))
            .into());
        }
        let mut planned = Vec::new();
        for (student, body) in bodies {
            let thread = ThreadId::random();
            let id = DocId::Thread(year, thread.clone());
            let message = new_message(&id, &me, &body, Vec::new())?;
            let recipient = match audience {
                Audience::Parents => Participant::Guardians(student),
                Audience::Students => Participant::Student(student),
            };
            planned.push((thread, id, recipient, message));
        }
        let info = |at: i64| ThreadInfo {
            subject: subject.to_owned(),
            kind,
            started_by: me.clone(),
            started_at: at,
        };
        self.change(|j, touched| {
            for (_, id, recipient, message) in &planned {
                let doc = j.doc_mut(id, touched)?;
                doc.add_participant(&Participant::Account(me.clone()).to_string())?;
                doc.add_participant(&recipient.to_string())?;
                doc.set_thread_info(&info(message.written_at))?;
                let View::Thread(view) = doc.view() else {
                    return Err(unknown("conversation", id));
                };
                let message_id = next_message_id(view);
                doc.put_message(&message_id, message)?;
            }
            Ok(())
        })?;
        Ok(planned.into_iter().map(|(thread, ..)| thread).collect())
    }
}

fn is_read(view: &ThreadDoc, account: &str, message: &MessageId) -> bool {
    view.read.get(account).is_some_and(|last| message <= last)
}

fn messages_of(view: &ThreadDoc, me: &str) -> Vec<ThreadMessage> {
    view.messages
        .iter()
        .map(|(id, cell)| ThreadMessage {
            id: id.clone(),
            mine: cell.value.author == me,
            read_by: view
                .read
                .iter()
                .filter(|(account, last)| **account != cell.value.author && id <= *last)
                .map(|(account, _)| account.clone())
                .collect(),
            message: cell.value.clone(),
            arrived_at: view.arrived.get(id).copied(),
        })
        .collect()
}

/// `07.09.2026`.
fn format_date_ru(date: Date) -> String {
    format!(
        "{:02}.{:02}.{}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// `пн 07.09`.
fn format_day_ru(date: Date) -> String {
    const DAYS: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
    format!(
        "{} {:02}.{:02}",
        DAYS[usize::from(date.weekday().number_days_from_monday())],
        date.day(),
        u8::from(date.month())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_read_as_names_from_the_school_documents() {
        use crate::testing::{self, YEAR};
        let mut j = Journal::open_in_memory().expect("journal");
        testing::school(&mut j).expect("school");
        let class = testing::class_with_students(&mut j, "5a", 1).expect("class");
        let student = class.students[0].as_str();
        assert_eq!(
            j.participant_name(YEAR, &format!("guardians:{student}")),
            "родители: Ученик 00"
        );
        assert_eq!(
            j.participant_name(YEAR, &format!("student:{student}")),
            "Ученик 00"
        );
        let teacher = format!("account:{}", class.teacher);
        assert_eq!(j.participant_name(YEAR, &teacher), class.teacher.as_str());
        j.set_staff_name(YEAR, class.teacher.as_str(), "Соколова Елена Игоревна")
            .expect("name");
        assert_eq!(
            j.participant_name(YEAR, &teacher),
            "Соколова Елена Игоревна"
        );
    }

    #[test]
    fn message_ids_sort_in_writing_order_even_when_the_clock_steps_back() {
        let mut thread = ThreadDoc::default();
        let future = MessageId::new(format!("{:013}-ab", now_millis() + 60_000)).expect("id");
        thread.messages.insert(
            future.clone(),
            crate::docs::Cell::single(Message {
                author: "a".into(),
                written_at: 0,
                text: "x".into(),
                attachments: Vec::new(),
            }),
        );
        let next = next_message_id(&thread);
        assert!(next > future, "{next} sorts after {future}");
    }

    #[test]
    fn dates_are_written_the_russian_way() {
        let date = Date::from_calendar_date(2026, time::Month::September, 7).expect("date");
        assert_eq!(format_date_ru(date), "07.09.2026");
        assert_eq!(format_day_ru(date), "пн 07.09");
    }
}
