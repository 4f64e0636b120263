//! The façade the Android and iOS apps load through uniffi: a thin layer over `journal-core` that converts
//! types at the boundary and holds no rules of its own. Dates cross it as `YYYY-MM-DD` text.

mod convert;
mod error;
mod listener;

use std::sync::{Arc, Mutex};

use journal_core::certificate_pin::CertificatePin;
use journal_core::reports::{ReportKind, ReportRequest};
use journal_core::sync::client::{
    ClientError, RelayConfig, SignedIn, redeem_code, run_live, sync_now,
};
use journal_core::{
    AttendanceInput, ClassId, DateRange, Journal, LessonId, MarkId, MarkInput, Participant,
    StudentId, ThreadId,
};
use tokio::sync::watch;

pub use convert::*;
pub use error::JournalError;
pub use listener::{SyncEventFfi, SyncListenerFfi};

uniffi::setup_scaffolding!();

type Outcome<T> = Result<T, JournalError>;

/// One journal on the device: its sealed local store, its sign-in, and its background sync.
#[derive(uniffi::Object)]
pub struct JournalHandle {
    journal: Arc<tokio::sync::Mutex<Journal>>,
    runtime: tokio::runtime::Runtime,
    relay: Mutex<Option<RelayConfig>>,
    live: Mutex<Option<watch::Sender<bool>>>,
}

fn date(text: &str) -> Outcome<time::Date> {
    Ok(journal_core::parse_date(text)?)
}

fn period(from: &str, to: &str) -> Outcome<DateRange> {
    Ok(DateRange::new(date(from)?, date(to)?)?)
}

fn parse<T: std::str::FromStr<Err = journal_core::InputError>>(text: &str) -> Outcome<T> {
    Ok(text.parse()?)
}

/// A student, a period and maybe a subject, as the marks queries take them.
fn marks_query(
    student: &str,
    from: &str,
    to: &str,
    subject: Option<&str>,
) -> Outcome<(StudentId, DateRange, Option<journal_core::SubjectId>)> {
    Ok((
        parse(student)?,
        period(from, to)?,
        subject.map(parse).transpose()?,
    ))
}

impl JournalHandle {
    /// Puts a mark typed as text, as a correction when `reason` is given; returns its id.
    fn put_mark_giving(
        &self,
        student: &str,
        lesson: &str,
        value: &str,
        kind: &str,
        comment: String,
        reason: Option<&str>,
    ) -> Outcome<String> {
        let student: StudentId = parse(student)?;
        let lesson: LessonId = parse(lesson)?;
        let input = MarkInput {
            value: parse(value)?,
            kind: parse(kind)?,
            comment,
        };
        let put = |j: &mut Journal| j.put_mark(&student, &lesson, &input);
        self.with(|j| match reason {
            Some(reason) => j.with_reason(reason, put),
            None => put(j),
        })
        .map(|id| id.to_string())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Journal) -> journal_core::Result<T>) -> Outcome<T> {
        let mut journal = self.journal.blocking_lock();
        Ok(f(&mut journal)?)
    }

    fn relay(&self) -> Outcome<RelayConfig> {
        self.relay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| JournalError::SignInRequired {
                message: "this device is not signed in: redeem an access code first".into(),
            })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl JournalHandle {
    /// Opens (or creates) the journal at `path`, sealed under the platform's 32-byte `key`.
    #[uniffi::constructor]
    pub fn open(path: String, key: Vec<u8>) -> Outcome<Arc<Self>> {
        let journal = Journal::open_sealed(std::path::Path::new(&path), &key)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| JournalError::Storage {
                message: format!("could not start the sync runtime: {e}"),
            })?;
        Ok(Arc::new(JournalHandle {
            journal: Arc::new(tokio::sync::Mutex::new(journal)),
            runtime,
            relay: Mutex::new(None),
            live: Mutex::new(None),
        }))
    }

    /// Uses a sign-in the platform kept (relay address, device token, and the certificate fingerprint if
    /// it signed in with one) for the next syncs.
    #[uniffi::method(default(pin = None))]
    pub fn sign_in(&self, server: String, token: String, pin: Option<String>) -> Outcome<()> {
        let pin = pin.map(|p| p.parse::<CertificatePin>()).transpose()?;
        *self.relay.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(RelayConfig::new(&server, &token).pinned(pin));
        Ok(())
    }

    /// Redeems an access code; the returned token is for the platform to keep (Keystore, Keychain).
    /// `pin` is the certificate fingerprint printed on the access slip, for a relay that made its own
    /// certificate: the device then trusts that certificate only.
    #[uniffi::method(default(pin = None))]
    pub async fn redeem(
        &self,
        server: String,
        code: String,
        label: String,
        pin: Option<String>,
    ) -> Outcome<SignIn> {
        let pin = pin.map(|p| p.parse::<CertificatePin>()).transpose()?;
        let signed_in = self.relay.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let server_for_task = server.clone();
        let journal = self.journal.clone();
        let redeemed = self
            .runtime
            .spawn(async move {
                let token = signed_in.as_ref().map(|c| c.token.clone());
                let mut journal = journal.lock().await;
                let redeemed = redeem_code(
                    &server_for_task,
                    &code,
                    &label,
                    token.as_deref().map(|token| SignedIn {
                        token,
                        keep_account: None,
                    }),
                    pin.as_ref(),
                    Some(&mut journal),
                )
                .await?;
                let token = redeemed.device_token(token.as_deref())?;
                Ok::<_, ClientError>((redeemed, token))
            })
            .await
            .map_err(JournalError::from_join)??;
        let (redeemed, token) = redeemed;
        *self.relay.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(RelayConfig::new(&server, &token).pinned(pin));
        Ok(SignIn {
            account: redeemed.account,
            role: redeemed.role.to_string(),
            name: redeemed.name,
            token,
            pin: pin.map(|p| p.to_string()),
        })
    }

    /// Syncs every document once. Offline is not an error for the journal: edits stay and go out later.
    pub async fn sync_now(
        &self,
        listener: Option<Arc<dyn SyncListenerFfi>>,
    ) -> Outcome<SyncSummary> {
        let config = self.relay()?;
        let journal = self.journal.clone();
        let report = self
            .runtime
            .spawn(async move {
                let mut journal = journal.lock().await;
                let listener = listener::Forward(listener);
                sync_now(&mut journal, &config, &listener).await
            })
            .await
            .map_err(JournalError::from_join)??;
        Ok(report.into())
    }

    /// Keeps the journal in step with the relay in the background until [`JournalHandle::stop_live_sync`]:
    /// progress, per-document status and new-item events go to `listener`.
    pub fn start_live_sync(&self, listener: Arc<dyn SyncListenerFfi>) -> Outcome<()> {
        let config = self.relay()?;
        self.stop_live_sync();
        let (stop, stopped) = watch::channel(false);
        let forward: Arc<dyn journal_core::sync::client::SyncListener> =
            Arc::new(listener::Forward(Some(listener)));
        self.runtime
            .spawn(run_live(self.journal.clone(), config, forward, stopped));
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop);
        Ok(())
    }

    /// Stops the background sync.
    pub fn stop_live_sync(&self) {
        if let Some(stop) = self.live.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(true);
        }
    }

    /// Who is signed in, and whom they may write to (as of the last sync).
    pub fn me(&self) -> Outcome<Option<Me>> {
        self.with(|j| Ok(j.my_directory()?.map(Me::from)))
    }

    /// A parent's children (or a student themself).
    pub fn children(&self) -> Outcome<Vec<ChildInfo>> {
        self.with(|j| {
            Ok(j.my_directory()?
                .map(|me| me.children)
                .unwrap_or_default()
                .into_iter()
                .map(ChildInfo::from)
                .collect())
        })
    }

    /// Lessons on a day: a teacher's own, or every lesson of the classes this device holds.
    pub fn lessons_on(&self, day: String) -> Outcome<Vec<LessonInfo>> {
        let day = date(&day)?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(j.my_lessons(year, DateRange::new(day, day)?)?
                .iter()
                .map(|(class, lesson)| LessonInfo::new(j, year, class, lesson))
                .collect())
        })
    }

    /// The students of a lesson's class on its day, by name.
    pub fn lesson_students(&self, lesson: String) -> Outcome<Vec<StudentInfo>> {
        let lesson: LessonId = parse(&lesson)?;
        self.with(|j| {
            let (year, class, found) = j.lesson(&lesson)?;
            let day = found.date;
            Ok(j.roster(year, &class, day)?
                .into_iter()
                .map(|(id, name)| StudentInfo {
                    id: id.to_string(),
                    name,
                })
                .collect())
        })
    }

    /// Marks attendance for a lesson in one transaction (a code per absent or late student; `None`: present).
    pub fn mark_attendance(&self, lesson: String, entries: Vec<AttendanceEntry>) -> Outcome<()> {
        let lesson: LessonId = parse(&lesson)?;
        let entries = entries
            .into_iter()
            .map(|e| {
                Ok(AttendanceInput {
                    student: parse(&e.student)?,
                    code: e.code,
                    note: e.note,
                })
            })
            .collect::<Outcome<Vec<_>>>()?;
        self.with(|j| j.mark_attendance(&lesson, &entries))
    }

    /// Puts or changes a mark; returns its id.
    pub fn put_mark(
        &self,
        student: String,
        lesson: String,
        value: String,
        kind: String,
        comment: String,
    ) -> Outcome<String> {
        self.put_mark_giving(&student, &lesson, &value, &kind, comment, None)
    }

    /// Puts or changes a mark as a correction that gives `reason` (the administration's way to change an
    /// entry past the edit-lock window); returns its id.
    pub fn correct_mark(
        &self,
        student: String,
        lesson: String,
        value: String,
        kind: String,
        reason: String,
    ) -> Outcome<String> {
        self.put_mark_giving(
            &student,
            &lesson,
            &value,
            &kind,
            String::new(),
            Some(&reason),
        )
    }

    /// Corrects one student's attendance at a lesson with a reason (a sick note); `code` `None` marks
    /// them present.
    pub fn correct_attendance(
        &self,
        lesson: String,
        student: String,
        code: Option<String>,
        reason: String,
    ) -> Outcome<()> {
        let lesson: LessonId = parse(&lesson)?;
        let student: StudentId = parse(&student)?;
        self.with(|j| j.correct_attendance(&lesson, &student, code.as_deref(), &reason))
    }

    /// Removes a mark.
    pub fn remove_mark(&self, student: String, mark: String) -> Outcome<()> {
        let student: StudentId = parse(&student)?;
        let mark: MarkId = parse(&mark)?;
        self.with(|j| {
            let year = j.current_year()?;
            j.remove_mark(year, &student, &mark)
        })
    }

    /// Sets a lesson's topic.
    pub fn set_topic(&self, lesson: String, topic: String) -> Outcome<()> {
        let lesson: LessonId = parse(&lesson)?;
        self.with(|j| j.set_topic(&lesson, &topic))
    }

    /// Sets a lesson's homework, with an optional due date.
    pub fn set_homework(&self, lesson: String, text: String, due: Option<String>) -> Outcome<()> {
        let lesson: LessonId = parse(&lesson)?;
        let due = due.as_deref().map(date).transpose()?;
        self.with(|j| j.set_homework(&lesson, &text, due))
    }

    /// Cells two devices set differently; the first value is the one every device shows now.
    pub fn conflicts(&self) -> Outcome<Vec<ConflictInfo>> {
        self.with(|j| Ok(j.conflicts().into_iter().map(ConflictInfo::from).collect()))
    }

    /// Keeps value `choice` of the conflict `key` (from [`JournalHandle::conflicts`]).
    pub fn resolve_conflict(&self, key: String, choice: u32) -> Outcome<()> {
        self.with(|j| {
            let target = j
                .conflicts()
                .into_iter()
                .find(|c| ConflictInfo::key_of(&c.target) == key)
                .map(|c| c.target)
                .ok_or_else(|| {
                    journal_core::InputError::Invalid(format!(
                        "no conflict {key} (already resolved?)"
                    ))
                })?;
            j.resolve_conflict(&target, choice as usize)
        })
    }

    /// A student's marks in a period, optionally of one subject.
    pub fn marks(
        &self,
        student: String,
        from: String,
        to: String,
        subject: Option<String>,
    ) -> Outcome<Vec<MarkInfo>> {
        let (student, range, subject) = marks_query(&student, &from, &to, subject.as_deref())?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(
                j.student_marks(year, &student, Some(range), subject.as_ref())?
                    .into_iter()
                    .map(|row| MarkInfo::new(j, year, &student, row))
                    .collect(),
            )
        })
    }

    /// A student's average per subject in a period, optionally of one subject, as the journal weighs
    /// the marks.
    pub fn subject_averages(
        &self,
        student: String,
        from: String,
        to: String,
        subject: Option<String>,
    ) -> Outcome<Vec<SubjectAverageInfo>> {
        let (student, range, subject) = marks_query(&student, &from, &to, subject.as_deref())?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(
                j.subject_averages(year, &student, Some(range), subject.as_ref())?
                    .into_iter()
                    .map(|average| SubjectAverageInfo::new(j, year, average))
                    .collect(),
            )
        })
    }

    /// A student's absences and late arrivals in a period.
    pub fn absences(&self, student: String, from: String, to: String) -> Outcome<Vec<AbsenceInfo>> {
        let student: StudentId = parse(&student)?;
        let range = period(&from, &to)?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(j.student_absences(year, &student, range)?
                .into_iter()
                .map(|row| AbsenceInfo::new(j, year, row))
                .collect())
        })
    }

    /// A student's homework in a period.
    pub fn homework(
        &self,
        student: String,
        from: String,
        to: String,
    ) -> Outcome<Vec<HomeworkInfo>> {
        let student: StudentId = parse(&student)?;
        let range = period(&from, &to)?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(j.student_homework(year, &student, range)?
                .into_iter()
                .map(|item| HomeworkInfo::new(j, year, item))
                .collect())
        })
    }

    /// Edits the relay refused, kept for the user to see.
    pub fn refused_edits(&self) -> Outcome<Vec<RefusedEditInfo>> {
        self.with(|j| {
            Ok(j.refused_edits()?
                .into_iter()
                .map(RefusedEditInfo::from)
                .collect())
        })
    }

    /// Puts refused edit `number` back to go out at the next sync (after the school changed what made the
    /// relay refuse it); returns the document it is in.
    pub fn retry_refused_edit(&self, number: i64) -> Outcome<String> {
        self.with(|j| Ok(j.retry_refused_edit(number)?.to_string()))
    }

    /// Lets refused edit `number` go: it is no longer kept on the device.
    pub fn discard_refused_edit(&self, number: i64) -> Outcome<()> {
        self.with(|j| j.discard_refused_edit(number))
    }

    /// What is new since the user last looked.
    pub fn news(&self) -> Outcome<Vec<NewsInfo>> {
        self.with(|j| {
            // Nothing synced yet: nothing is new.
            let Ok(year) = j.current_year() else {
                return Ok(Vec::new());
            };
            Ok(j.news()?
                .into_iter()
                .map(|item| NewsInfo::new(j, year, item))
                .collect())
        })
    }

    /// Marks the feed seen.
    pub fn mark_news_seen(&self) -> Outcome<()> {
        self.with(|j| j.mark_news_seen())
    }

    /// The conversations on this device, newest first.
    pub fn threads(&self) -> Outcome<Vec<ThreadSummaryInfo>> {
        self.with(|j| {
            Ok(j.threads()?
                .into_iter()
                .map(|t| ThreadSummaryInfo::new(j, t))
                .collect())
        })
    }

    /// The messages of a conversation, in the order written.
    pub fn thread_messages(&self, thread: String) -> Outcome<Vec<MessageInfo>> {
        let thread: ThreadId = parse(&thread)?;
        self.with(|j| {
            let year = j.current_year()?;
            Ok(j.thread_messages(&thread)?
                .into_iter()
                .map(|m| MessageInfo::new(j, year, m))
                .collect())
        })
    }

    /// Starts a conversation (`to`: `account:<id>`, or for staff `guardians:<student>`) with files if any;
    /// returns its id.
    pub fn start_conversation(
        &self,
        to: Vec<String>,
        subject: String,
        text: String,
        attachments: Vec<AttachmentInfo>,
    ) -> Outcome<String> {
        let to = to
            .iter()
            .map(|p| parse::<Participant>(p))
            .collect::<Outcome<Vec<_>>>()?;
        let files = attachments.into_iter().map(Into::into).collect();
        self.with(|j| j.start_conversation(&to, &subject, &text, files))
            .map(|t| t.to_string())
    }

    /// Writes in a conversation, with files if any; delivered at the next sync.
    pub fn send_message(
        &self,
        thread: String,
        text: String,
        attachments: Vec<AttachmentInfo>,
    ) -> Outcome<()> {
        let thread: ThreadId = parse(&thread)?;
        let files = attachments.into_iter().map(Into::into).collect();
        self.with(|j| j.send_message(&thread, &text, files).map(|_| ()))
    }

    /// Records that the user has read a conversation.
    pub fn mark_thread_read(&self, thread: String) -> Outcome<()> {
        let thread: ThreadId = parse(&thread)?;
        self.with(|j| j.mark_thread_read(&thread))
    }

    /// A class teacher's announcement to every family, or every student, of the class, one conversation
    /// each; returns how many were written.
    pub fn announce(
        &self,
        class: String,
        audience: AnnouncementAudience,
        subject: String,
        text: String,
    ) -> Outcome<u32> {
        let class: ClassId = parse(&class)?;
        self.with(|j| {
            let year = j.current_year()?;
            j.announce(year, &class, audience.into(), &subject, &text)
                .map(|t| t.len() as u32)
        })
    }

    /// The class teacher's weekly digest of the week holding `day` (YYYY-MM-DD): each family of the
    /// class gets their child's marks, absences and teachers' notes; returns how many families.
    pub fn weekly_digest(&self, class: String, day: String) -> Outcome<u32> {
        let class: ClassId = parse(&class)?;
        let day = date(&day)?;
        self.with(|j| {
            let year = j.current_year()?;
            j.weekly_digest(year, &class, day)
                .map(|sent| sent.len() as u32)
        })
    }

    /// A report made on the device as a PDF (`kind`: class-journal, report-card, summary, term-report,
    /// control, progress, profile-review).
    pub fn report_pdf(
        &self,
        kind: String,
        class: Option<String>,
        subject: Option<String>,
        term: Option<String>,
        student: Option<String>,
    ) -> Outcome<Vec<u8>> {
        let kind: ReportKind = parse(&kind)?;
        let request = ReportRequest {
            class: class.as_deref().map(parse).transpose()?,
            subject: subject.as_deref().map(parse).transpose()?,
            term: term.as_deref().map(parse).transpose()?,
            student: student.as_deref().map(parse).transpose()?,
        };
        let doc = self.with(|j| {
            let year = j.current_year()?;
            j.report(year, kind, &request, j.today())
        })?;
        journal_core::reports::pdf::report_pdf(&doc).map_err(|e| JournalError::Storage {
            message: e.to_string(),
        })
    }
}

impl Drop for JournalHandle {
    fn drop(&mut self) {
        self.stop_live_sync();
    }
}
