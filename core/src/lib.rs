//! The core of the school journal: the domain, typed Automerge documents, the durable local store and the
//! queries apps and reports read.
//!
//! # Data model
//! A school year's journal is cut into documents along access lines (see `ARCHITECTURE.md`): one `school`
//! document, one `class` document per class, and per student a `student` document (marks, attendance) and a
//! `profile` document (personal data), plus `thread` documents for conversations. Every device keeps full
//! replicas of the documents it may read and edits them offline; Automerge merges them.
//!
//! # Conflicts
//! When two devices set the same cell concurrently (one student's attendance at one lesson, one mark), every
//! replica reads the same winning value, and [`docs::Cell::competing`] holds the others until a teacher
//! resolves the conflict with [`Journal::resolve_conflict`].
//!
//! # Durability
//! Every write call of [`Journal`] commits one SQLite transaction before it returns, covering every document
//! it touched.
//!
//! ```
//! use journal_core::{Journal, SchoolSetup, YearId};
//! let mut journal = Journal::open_in_memory()?;
//! journal.set_up_school(&SchoolSetup::standard(YearId(2026), "Школа № 5"))?;
//! let settings = journal.school_settings(YearId(2026)).expect("set up above");
//! assert_eq!(settings.year.terms.len(), 3); // trimesters by default
//! # Ok::<(), journal_core::Error>(())
//! ```

pub mod access_code;
pub mod certificate_pin;
pub mod directory;
pub mod docs;
pub mod domain;
mod error;
mod ids;
mod journal;
pub mod messages;
pub mod news;
pub mod parallel;
pub mod queries;
pub mod reports;
pub mod roles;
pub mod store;
pub mod sync;
pub mod validate;

pub use domain::calendar::{
    Bell, BellSchedule, DateRange, SchoolYear, Term, TermScheme, format_date, parse_date,
};
pub use domain::model::{
    Attachment, Attendance, ClassInfo, Guardian, Lesson, Mark, MarkInput, MarkPeriod, Message,
    NewLesson, Participant, PeriodMark, PlannedTopic, Role, RosterEntry, Staff, StudentProfile,
    Subject, SubjectAssignment, ThreadInfo, ThreadKind,
};
pub use domain::policy::{
    AttendanceCode, DEFAULT_EDIT_LOCK_DAYS, MarkValue, MarkingPolicy, Thresholds, WorkKind,
};
pub use domain::time_zone::SchoolTimeZone;
pub use error::{Error, InputError, Result, SchemaError, StoreError};
pub use ids::{
    ClassId, DocId, DocKind, GuardianId, LessonId, MarkId, MessageId, StaffId, StudentId,
    SubjectId, TermId, ThreadId, WorkKindId, YearId,
};
pub use journal::{AttendanceInput, Conflict, ConflictTarget, Journal, Promotion, SchoolSetup};
pub use roles::{AccountRole, CodeRole};

#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "testing")]
pub mod workload;
