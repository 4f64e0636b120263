//! Errors of the core: what was wrong with the input, with a document, or with the local database.

use thiserror::Error;

use crate::ids::DocId;

/// Input refused before anything was written; the message names what was wrong.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InputError {
    /// An id with characters or a length that ids may not have.
    #[error("invalid {kind} id {value:?}: use 1–64 ASCII letters, digits, '-' or '_'")]
    InvalidId {
        /// What the id names.
        kind: &'static str,
        /// The refused text (shortened).
        value: String,
    },
    /// A mark outside 1–5, pass and fail.
    #[error("mark {0:?} is not valid: a mark is 1, 2, 3, 4, 5, «зач» (pass) or «незач» (fail)")]
    InvalidMark(String),
    /// An attendance code the school's list does not have.
    #[error("attendance code {code:?} is not in the school's list ({known})")]
    UnknownAttendanceCode {
        /// The refused code.
        code: String,
        /// The codes the school uses, comma-separated.
        known: String,
    },
    /// A kind of work the school's marking policy does not have.
    #[error("kind of work {kind:?} is not in the school's marking policy ({known})")]
    UnknownWorkKind {
        /// The refused kind.
        kind: String,
        /// The kinds the school uses, comma-separated.
        known: String,
    },
    /// A date outside the school year.
    #[error("{what} date {date} is outside the school year {year} ({start} – {end})")]
    OutsideSchoolYear {
        /// What the date belongs to ("lesson", "mark").
        what: &'static str,
        /// The refused date.
        date: String,
        /// The school year, e.g. 2026-2027.
        year: String,
        /// First day of the year.
        start: String,
        /// Last day of the year.
        end: String,
    },
    /// A student who is not (or was not, on that date) on the class roster.
    #[error("student {student} is not in class {class} on {date}")]
    StudentNotInClass {
        /// The student.
        student: String,
        /// The class.
        class: String,
        /// The date of the lesson.
        date: String,
    },
    /// A reference to something this device does not know.
    #[error("unknown {kind} {id}")]
    Unknown {
        /// What was looked up ("lesson", "class", …).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// Something that must be unique already exists.
    #[error("{0}")]
    Duplicate(String),
    /// An entry past the school's edit-lock window (regulation 2.1), changed without the right to.
    #[error(
        "the lesson on {date} is more than {days} days ago: its marks and attendance are changed only by the administration, with a reason (regulation 2.1){}",
        if *administration { "; give the reason" } else { "" }
    )]
    EditLocked {
        /// The lesson's day.
        date: String,
        /// The school's window.
        days: u16,
        /// Whether the writer is the administration, who needs only to give a reason.
        administration: bool,
    },
    /// The device has not signed in, so it does not know whose journal it is.
    #[error("this device does not know its account yet: sign in (redeem an access code) first")]
    NotSignedIn,
    /// A malformed value (date, time, text too long, …).
    #[error("{0}")]
    Invalid(String),
    /// A certificate fingerprint that is not 64 hexadecimal digits.
    #[error(
        "certificate fingerprint {0:?} is not valid: type the 64 hexadecimal digits printed on the access slip"
    )]
    InvalidCertificatePin(String),
}

/// A document whose content breaks the journal's schema or the school's rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("document {doc}: {reason}")]
pub struct SchemaError {
    /// The document.
    pub doc: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SchemaError {
    pub(crate) fn new(doc: &DocId, reason: impl Into<String>) -> Self {
        SchemaError {
            doc: doc.to_string(),
            reason: reason.into(),
        }
    }
}

/// A failure of the device's database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite refused or failed.
    #[error("local database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer version of the app.
    #[error(
        "local database has schema version {found}, newer than this app supports ({supported}); update the app"
    )]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The key is not a usable key.
    #[error("the journal's key is unusable: {0}")]
    BadKey(String),
    /// The key does not open this journal; nothing was read or changed.
    #[error(
        "this key does not open the journal on this device (it was sealed with another key); nothing was changed"
    )]
    WrongKey,
    /// The journal is sealed and no key was given.
    #[error("this journal is sealed: open it with the key the platform keeps for it")]
    KeyNeeded,
    /// A sealed value did not open (tampered with, or moved between rows).
    #[error("stored value {0} does not open under the journal's key")]
    Unsealable(String),
    /// Stored document bytes that Automerge cannot load.
    #[error("stored document {doc} is unreadable: {reason}")]
    Corrupt {
        /// The document.
        doc: String,
        /// Automerge's reason.
        reason: String,
    },
}

/// Any error of the core.
#[derive(Debug, Error)]
pub enum Error {
    /// Bad input; nothing was written.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A document breaks the schema; nothing was written.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The local database failed; the call's changes were not kept.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Automerge refused an operation.
    #[error("document engine: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(StoreError::Sqlite(e))
    }
}

/// Result of the core's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
