//! The relay's durable state behind one trait: documents and their change log (the attested audit trail),
//! sync states, the directory and the session log. SQLite is the embedded default; every backend passes the
//! same conformance suite (`conformance.rs`).

pub mod audit_log;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod postgres;
pub mod sqlite;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use journal_core::{AccountRole, CodeRole};
use journal_core::{ClassId, DocId, StudentId};

/// A failure of the relay's store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed; the backend's own error says how.
    #[error("relay database: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached now; the relay retries by itself.
    #[error("the relay's database is unavailable: {0}")]
    Unavailable(String),
    /// The database cannot take writes now (its disk is full, or read-only); nothing was written.
    #[error("the relay's database cannot store anything now: {0}")]
    CannotWrite(String),
    /// A document was written from a copy that missed changes stored since; nothing was written.
    #[error("document {0} changed in the store since this copy was read")]
    Stale(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// A referenced record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database was written by a newer relay.
    #[error(
        "relay database has schema version {found}, newer than this relay supports ({supported})"
    )]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// An account of the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: AccountRole,
    /// Whether the account may sign in (a student who left is deactivated).
    pub active: bool,
    /// For a student account, the student it is.
    pub student: Option<StudentId>,
}

/// A device signed in to an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Stable id (the public half of its token).
    pub id: String,
    /// Owner.
    pub account: String,
    /// What the owner calls it ("tablet of 5A").
    pub label: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// Who delivered a change, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// Account.
    pub account: String,
    /// Device.
    pub device: String,
    /// Unix seconds.
    pub at: i64,
}

/// One accepted change.
pub type NewChange = journal_core::docs::ChangeRecord;

/// A change stored after a document's snapshot, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChange {
    /// Change hash (hex).
    pub hash: String,
    /// Raw change bytes.
    pub bytes: Vec<u8>,
}

/// The changes a peer lacks, and the document's heads once it has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingChanges {
    /// The changes, oldest first.
    pub changes: Vec<StoredChange>,
    /// The stored heads (sorted hex) when the changes were read.
    pub heads: Vec<String>,
}

/// An entry of the attested audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Change hash (hex).
    pub hash: String,
    /// Account that delivered it.
    pub account: String,
    /// Device that delivered it.
    pub device: String,
    /// When it arrived (Unix seconds).
    pub received_at: i64,
    /// Why it was made, when its author gave a reason (a correction's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One sync session, for the activity report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Id.
    pub id: i64,
    /// Account.
    pub account: String,
    /// Device.
    pub device: String,
    /// Start (Unix seconds).
    pub started_at: i64,
    /// End, once over.
    pub ended_at: Option<i64>,
    /// Documents exchanged.
    pub documents_synced: i64,
}

/// An issued access code, as stored (the code itself is not: only its keyed hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeRecord {
    /// Public id of the code (for lists and the audit log).
    pub id: String,
    /// Whom it signs in.
    pub role: CodeRole,
    /// The staff account, or the parent account gaining a child.
    pub account: Option<String>,
    /// The student, for student and parent codes.
    pub student: Option<StudentId>,
    /// Who issued it.
    pub issued_by: String,
    /// When (Unix seconds).
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub spent_at: Option<i64>,
    /// The device its redemption added, if it added one.
    pub spent_by_device: Option<String>,
}

/// What a redemption creates, all in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redemption {
    /// The code being spent.
    pub code_id: String,
    /// An account to create first (a student's or a new parent's).
    pub new_account: Option<Account>,
    /// A guardianship to add.
    pub guardian_of: Option<(String, StudentId)>,
    /// A device to add, with its token hash; `None` when an already signed-in device gains a child.
    pub device: Option<(Device, Vec<u8>)>,
    /// When.
    pub at: i64,
}

/// One line of the administration's audit log. Never holds a code or a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdminLogEntry {
    /// When (Unix seconds).
    pub at: i64,
    /// The account that acted (or `cli` for the command line).
    pub actor: String,
    /// What it did: `issue-code`, `redeem-code`, `revoke-device`, `deactivate-account`, `import-roster`, ….
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// Details.
    pub detail: String,
}

/// A validated class list, applied as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterImport {
    /// Students with their class and name.
    pub students: Vec<(StudentId, ClassId, String)>,
    /// Parent accounts (id, name) and the student each is a guardian of.
    pub guardians: Vec<(String, String, StudentId)>,
}

/// The directory facts that decide what one account may read and write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessFacts {
    /// The account, if it exists.
    pub account: Option<Account>,
    /// Classes the account teaches in, with whether it is their class teacher.
    pub staff_classes: Vec<(ClassId, bool)>,
    /// Students of those classes.
    pub class_students: Vec<(StudentId, ClassId)>,
    /// For a parent, their children and each child's class.
    pub children: Vec<(StudentId, ClassId)>,
    /// For a student account, its class.
    pub own_class: Option<ClassId>,
    /// Conversation documents the account takes part in (`<year>/thread/<id>`).
    pub threads: Vec<DocId>,
    /// Students of the classes it is class teacher of whose guardians' consent to processing their
    /// personal data is in force.
    pub consented: Vec<StudentId>,
}

/// The students whose profiles a class teacher (`?1`/`$1`, the account) may read: those of their classes
/// with a guardian whose newest consent entry gives consent.
pub(crate) const CONSENTED_STUDENTS: &str = "SELECT DISTINCT c.student_id FROM consents c
     JOIN students s ON s.student_id = c.student_id
     JOIN class_staff cs ON cs.class_id = s.class_id AND cs.class_teacher
     JOIN guardians g ON g.student_id = c.student_id AND g.account_id = c.guardian_id
     WHERE cs.account_id = $1 AND c.given
       AND c.seq = (SELECT max(l.seq) FROM consents l
                    WHERE l.student_id = c.student_id AND l.guardian_id = c.guardian_id)";

/// The students with a linked guardian whose newest entry in `records` (oldest first, as
/// [`DirectoryStore::consents`] gives them) gives consent.
pub fn students_with_consent(
    records: &[ConsentRecord],
    links: &[(String, StudentId)],
) -> std::collections::HashSet<StudentId> {
    let mut newest: std::collections::HashMap<(&StudentId, &str), bool> =
        std::collections::HashMap::new();
    for record in records {
        newest.insert((&record.student, record.guardian.as_str()), record.given);
    }
    links
        .iter()
        .filter(|(guardian, student)| newest.get(&(student, guardian.as_str())) == Some(&true))
        .map(|(_, student)| student.clone())
        .collect()
}

/// One entry of the consent register: a guardian gave or withdrew consent to the processing of a
/// student's personal data (Federal Law 152-FZ). Entries are only added; the newest for a student and
/// guardian is the one in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentRecord {
    /// The student.
    pub student: StudentId,
    /// The guardian's account.
    pub guardian: String,
    /// Given (`true`) or withdrawn.
    pub given: bool,
    /// The date on the signed form (YYYY-MM-DD).
    pub signed_on: String,
    /// The version of the consent text the guardian signed.
    pub text_version: String,
    /// The account that recorded it.
    pub recorded_by: String,
    /// When it was recorded (Unix seconds).
    pub recorded_at: i64,
}

/// Staff rows (an account and one class it teaches, if any), ordered by account, grouped by account.
pub fn group_staff(
    rows: impl IntoIterator<Item = (Account, Option<String>)>,
) -> Vec<(Account, Vec<ClassId>)> {
    let mut staff: Vec<(Account, Vec<ClassId>)> = Vec::new();
    for (account, class) in rows {
        if staff.last().is_none_or(|(last, _)| last.id != account.id) {
            staff.push((account, Vec::new()));
        }
        if let (Some(class), Some((_, classes))) = (class, staff.last_mut()) {
            classes.extend(class.parse().ok());
        }
    }
    staff
}

/// Where the rollover moves each class (`None`: it graduated); classes it does not name stay.
#[derive(Debug)]
pub struct ClassMoves<'a>(std::collections::HashMap<&'a str, Option<&'a str>>);

impl<'a> ClassMoves<'a> {
    /// The moves of a rollover.
    pub fn new(classes: &'a [(ClassId, Option<ClassId>)]) -> Self {
        ClassMoves(
            classes
                .iter()
                .map(|(old, new)| (old.as_str(), new.as_ref().map(ClassId::as_str)))
                .collect(),
        )
    }

    /// The class a staff member of `class` is on next year; `None` when it graduated.
    pub fn staff_class(&self, class: &str) -> Option<String> {
        match self.0.get(class) {
            Some(Some(new)) => Some((*new).to_owned()),
            Some(None) => None,
            None => Some(class.to_owned()),
        }
    }

    /// The class a student of `class` is in next year (`graduated` when it graduated).
    pub fn student_class(&self, class: &str) -> String {
        self.staff_class(class)
            .unwrap_or_else(|| "graduated".to_owned())
    }
}

/// Heads as a `heads` column keeps them (hex joined by commas), split.
pub fn split_heads(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A document's heads as the store keeps them: hex, sorted.
pub fn stored_heads(doc: &journal_core::docs::Document) -> Vec<String> {
    let mut heads: Vec<String> = doc.heads().iter().map(ToString::to_string).collect();
    heads.sort();
    heads
}

/// A new document's first changes, its heads and its snapshot.
#[derive(Clone, Copy, Debug)]
pub struct FirstChanges<'a> {
    /// Document id.
    pub id: &'a str,
    /// The changes.
    pub changes: &'a [NewChange],
    /// Heads after them (hex).
    pub heads: &'a [String],
    /// The document saved whole.
    pub snapshot: &'a [u8],
}

/// The journal's documents: each as a snapshot and the changes after it, with who delivered every change (the attested audit trail), each device's sync state, and the years frozen against change.
pub trait DocumentStore: Send + Sync {
    /// A document's bytes (snapshot and the changes after it), if stored.
    fn load_document(&self, id: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Every stored document with its heads (hex).
    fn document_heads(&self) -> StoreResult<Vec<(String, Vec<String>)>>;

    /// What a peer whose heads are exactly `heads` (sorted hex) lacks: nothing when they are the stored
    /// heads, else the changes stored after the point where the document had those heads; with the heads
    /// the document has now. `None` when those heads were never indexed, or some of those changes are now
    /// kept only inside the snapshot.
    fn changes_after_heads(
        &self,
        id: &str,
        heads: &[String],
    ) -> StoreResult<Option<MissingChanges>>;

    /// A number that changes when another process (the command line) has written to the store, so
    /// what the relay keeps in memory can be refreshed.
    fn outside_writes(&self) -> StoreResult<i64>;

    /// Appends accepted changes with who delivered them, sets the heads, and optionally replaces the
    /// snapshot (compaction); one transaction. With `base` (the heads the writer's copy had before these
    /// changes), nothing is written unless the stored heads are exactly those: a copy that missed another
    /// writer's changes gets [`StoreError::Stale`] and must be read again, so it never overwrites them.
    fn append_changes(
        &self,
        id: &str,
        changes: &[NewChange],
        heads: &[String],
        by: &Attribution,
        snapshot: Option<&[u8]>,
        base: Option<&[String]>,
    ) -> StoreResult<()>;

    /// Every delivery of changes to a document, oldest first.
    fn audit_trail(&self, id: &str) -> StoreResult<Vec<audit_log::Delivery>>;

    /// Number of changes stored after the snapshot.
    fn changes_since_snapshot(&self, id: &str) -> StoreResult<i64>;

    /// The sync state of a device for a document.
    fn sync_state(&self, device: &str, doc: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Saves the sync state of a device for a document.
    fn put_sync_state(&self, device: &str, doc: &str, state: &[u8]) -> StoreResult<()>;

    /// Registers a new conversation's members and stores its first changes, in one transaction; `false`
    /// (and nothing written) when the document or members for it already exist.
    fn create_thread(
        &self,
        members: &[String],
        first: &FirstChanges<'_>,
        by: &Attribution,
    ) -> StoreResult<bool>;

    /// Freezes a school year: its documents become read-only.
    fn freeze_year(&self, year: journal_core::YearId, at: i64) -> StoreResult<()>;

    /// Whether a school year is frozen.
    fn is_frozen(&self, year: journal_core::YearId) -> StoreResult<bool>;
}

/// The directory: accounts, students and their classes, class staff, guardians, conversation members, devices with their token hashes, and access codes.
pub trait DirectoryStore: Send + Sync {
    /// Adds or updates an account.
    fn put_account(&self, account: &Account) -> StoreResult<()>;

    /// One account.
    fn account(&self, id: &str) -> StoreResult<Option<Account>>;

    /// All accounts, by id.
    fn accounts(&self) -> StoreResult<Vec<Account>>;

    /// Active teachers and administration, by id, each with the classes they teach.
    fn staff(&self) -> StoreResult<Vec<(Account, Vec<ClassId>)>>;

    /// Adds or moves a student (history stays in their documents).
    fn put_student(&self, student: &StudentId, class: &ClassId, name: &str) -> StoreResult<()>;

    /// Puts an account on a class's staff (as class teacher or not).
    fn put_class_staff(
        &self,
        class: &ClassId,
        account: &str,
        class_teacher: bool,
    ) -> StoreResult<()>;

    /// Takes an account off a class's staff.
    fn remove_class_staff(&self, class: &ClassId, account: &str) -> StoreResult<()>;

    /// Links a parent account to a student.
    fn link_guardian(&self, account: &str, student: &StudentId) -> StoreResult<()>;

    /// Adds a member (`account:<id>`, `guardians:<student>`, `student:<student>`) to a conversation document.
    fn add_thread_member(&self, thread: &DocId, member: &str) -> StoreResult<()>;

    /// What decides an account's access.
    fn access_facts(&self, account: &str) -> StoreResult<AccessFacts>;

    /// Adds a device with the hash of its token.
    fn add_device(&self, device: &Device, token_hash: &[u8]) -> StoreResult<()>;

    /// A device and its token hash.
    fn device_auth(&self, device: &str) -> StoreResult<Option<(Device, Vec<u8>)>>;

    /// Devices of an account.
    fn devices_of(&self, account: &str) -> StoreResult<Vec<Device>>;

    /// Revokes a device; false if it does not exist.
    fn revoke_device(&self, device: &str, at: i64) -> StoreResult<bool>;

    /// A student's class and name.
    fn student(&self, student: &StudentId) -> StoreResult<Option<(ClassId, String)>>;

    /// Applies a class list in one transaction: students added or moved, parent accounts created,
    /// guardianships linked.
    fn import_roster(&self, roster: &RosterImport) -> StoreResult<()>;

    /// Stores a new code (by its hash); unspent codes for the same person are retired.
    fn put_code(&self, code: &CodeRecord, hash: &[u8]) -> StoreResult<()>;

    /// The code with this hash.
    fn code_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(CodeRecord, Vec<u8>)>>;

    /// Spends a code and creates what it grants in one transaction; false if it was spent meanwhile.
    fn redeem(&self, redemption: &Redemption) -> StoreResult<bool>;

    /// Moves every class of the directory to the class it became at the rollover (`None`: graduated, its
    /// students leave the class lists and its staff the class), all at once and in one transaction.
    fn promote(&self, classes: &[(ClassId, Option<ClassId>)]) -> StoreResult<()>;

    /// Rewrites every stored secret hash (access codes, device tokens) through `wrap`, once: `false` when
    /// this was already done. One transaction.
    fn rekey_secrets(&self, wrap: &dyn Fn(&[u8]) -> Vec<u8>) -> StoreResult<bool>;

    /// Adds an entry to the consent register; the guardian must be linked to the student.
    fn record_consent(&self, record: &ConsentRecord) -> StoreResult<()>;

    /// The consent register, of one student or of all, oldest entry first.
    fn consents(&self, student: Option<&StudentId>) -> StoreResult<Vec<ConsentRecord>>;

    /// Every guardian link: (guardian account, student).
    fn guardian_links(&self) -> StoreResult<Vec<(String, StudentId)>>;
}

/// The administration's log of what was done to the directory, and the log of sync sessions.
pub trait LogStore: Send + Sync {
    /// Writes one small row (the time of this check), to learn whether the store takes writes now.
    fn probe_write(&self, now: i64) -> StoreResult<()>;

    /// Bytes the store's data occupies.
    fn stored_bytes(&self) -> StoreResult<u64>;

    /// Appends to the administration's audit log.
    fn log_admin(&self, entry: &AdminLogEntry) -> StoreResult<()>;

    /// Audit log entries in `[from, to)`, oldest first.
    fn admin_log(&self, from: i64, to: i64) -> StoreResult<Vec<AdminLogEntry>>;

    /// Records the start of a session.
    fn start_session(&self, account: &str, device: &str, at: i64) -> StoreResult<i64>;

    /// Records its end.
    fn end_session(&self, id: i64, at: i64, documents_synced: i64) -> StoreResult<()>;

    /// Sessions that started in `[from, to)`.
    fn sessions_between(&self, from: i64, to: i64) -> StoreResult<Vec<SessionRecord>>;

    /// When a device last started a session (Unix seconds); `None` if it never synced.
    fn last_seen(&self, device: &str) -> StoreResult<Option<i64>>;

    /// When a device last started a session before `before` (Unix seconds); `None` if it had none.
    fn contact_before(&self, device: &str, before: i64) -> StoreResult<Option<i64>>;
}

/// The mailbox through which commands run beside a serving relay tell it what they changed.
pub trait MailStore: Send + Sync {
    /// Posts mail for a serving relay (what a command beside it changed), deleting mail posted before
    /// `expired_before`; one transaction.
    fn post_mail(&self, payload: &str, at: i64, expired_before: i64) -> StoreResult<()>;

    /// The number of the newest mail (0: none yet).
    fn last_mail(&self) -> StoreResult<i64>;

    /// Mail numbered after `seq`, oldest first.
    fn mail_after(&self, seq: i64) -> StoreResult<Vec<(i64, String)>>;
}

/// Rate limits that hold for every relay of one database: a token bucket per key (GCRA).
pub trait LimitStore: Send + Sync {
    /// Takes one request of `key`'s bucket at `now_ms`, for a rate of one per `interval_ms` with `burst`
    /// at once: `None` when admitted, or how many milliseconds until it would be. One transaction; keys
    /// whose bucket has long refilled are forgotten meanwhile.
    fn take_token(
        &self,
        key: &str,
        now_ms: i64,
        interval_ms: i64,
        burst: u32,
    ) -> StoreResult<Option<i64>>;
}

/// The GCRA decision for `cost` requests of a key whose next request was due at `tat_ms` (its theoretical
/// arrival time), at a rate of one per `interval_ms` with `burst` at once: the new arrival time when
/// admitted, or the wait in milliseconds. The one rate limiter of the relay, in memory and in the store.
pub fn gcra(
    tat_ms: Option<i64>,
    now_ms: i64,
    interval_ms: i64,
    burst: u32,
    cost: u32,
) -> Result<i64, i64> {
    let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
    let next = tat + interval_ms * i64::from(cost);
    let limit = now_ms + interval_ms * i64::from(burst.max(1));
    if next > limit {
        Err(next - limit)
    } else {
        Ok(next)
    }
}

/// The relay's storage, every concern of it. Implementations must be safe to share between sessions and
/// pass the conformance suite.
pub trait RelayStore: DocumentStore + DirectoryStore + LogStore + MailStore + LimitStore {}

impl<T: DocumentStore + DirectoryStore + LogStore + MailStore + LimitStore> RelayStore for T {}
