//! The document hub: the relay's documents in memory (a cache over the store), where every incoming sync
//! message is checked against the account's grants and the core validator before anything is stored.
//!
//! What the hub refuses, besides what the grants and the validator refuse: any document of a school year
//! the relay does not know (no `school` document with settings), a document that would grow beyond its
//! size limit, and a change to an archived year. A document created by a message that is then refused is
//! never stored nor shown to anyone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use automerge::ActorId;
use automerge::sync;
use journal_core::docs::{Document, SchoolSettings, View, sync_message_has_changes};
use journal_core::sync::peer::{Ask, Outcome};
use journal_core::sync::protocol::IndexEntry;
use journal_core::validate::{EditWindow, ValidationContext, WriterGuard};
use journal_core::{DocId, Error as CoreError, MessageId, SubjectId, YearId};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::acl::Grants;
use crate::clock::{Clock, SystemClock};
use crate::services::events::{EventBus, RelayEvent};
use crate::store::{Attribution, FirstChanges, RelayStore, StoreError, stored_heads};

/// Changes stored after a document's snapshot before the relay writes a new snapshot.
const SNAPSHOT_AFTER_CHANGES: i64 = 256;

/// The account the audit trail names for the relay's own changes (the arrival stamps of messages).
pub const RELAY_ACCOUNT: &str = "relay";

/// The ids of a conversation's messages (none for another kind of document).
fn thread_messages(doc: &Document) -> BTreeSet<MessageId> {
    match doc.view() {
        View::Thread(thread) => thread.messages.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// How long one sync may take from its first contact: contacts this recent do not bound when its edits
/// were made (see [`EditWindow::previous_contact`]).
const SYNC_GRACE_SECONDS: i64 = 600;

/// Largest document the relay keeps, saved whole, in bytes: a year of a class's lessons or of a student's
/// marks takes well under 1 MiB.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Largest conversation, saved whole, in bytes: about twenty messages with the largest attachments. It
/// must fit one WebSocket frame (16 MiB) when sent whole to a new device.
pub const MAX_THREAD_BYTES: usize = 12 * 1024 * 1024;

/// A failure that is not the client's fault to fix by editing.
#[derive(Debug, Error)]
pub enum HubError {
    /// The message was not a sync message.
    #[error("{0}")]
    Malformed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document could not be loaded.
    #[error("stored document {doc} is unreadable: {reason}")]
    Corrupt {
        /// The document.
        doc: String,
        /// Why.
        reason: String,
    },
}

/// A document in memory and an upper bound of its size saved whole.
#[derive(Debug)]
struct Slot {
    doc: Document,
    /// Bytes: what was loaded plus every change since; recomputed exactly when it nears the limit.
    bytes: usize,
}

type Entry = Arc<std::sync::Mutex<Slot>>;

/// What a sync message offers the relay of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offer {
    /// No change the relay lacks.
    Nothing,
    /// Changes the relay lacks, all written by accounts other than the sender's.
    OtherAuthors,
    /// Changes the relay lacks that are, or may be, the sender's own edits.
    Own,
}

/// Every stored document's heads, read from the store once and kept in step with each write.
#[derive(Debug)]
struct HeadsCache {
    /// The store's outside-write counter when the heads were read.
    version: i64,
    /// Heads (sorted hex) by document id.
    heads: HashMap<String, Vec<String>>,
    /// The newest school year with a `school` document: the year the directory describes.
    newest_year: Option<YearId>,
    /// Every stored document by its automerge-repo id, for stock peers.
    by_repo_id: HashMap<String, DocId>,
}

impl HeadsCache {
    fn note(&mut self, id: &DocId, heads: &[String]) {
        if let DocId::School(year) = id {
            self.newest_year = self.newest_year.max(Some(*year));
        }
        if self.heads.insert(id.to_string(), heads.to_vec()).is_none() {
            self.by_repo_id.insert(id.repo_id(), id.clone());
        }
    }
}

/// A document saved whole, and the heads it was saved at.
type SavedWhole = (Vec<automerge::ChangeHash>, Arc<Vec<u8>>);

/// The relay's documents.
pub struct Hub {
    store: Arc<dyn RelayStore>,
    docs: std::sync::Mutex<HashMap<DocId, Entry>>,
    /// Every stored document's heads, so building a session's index reads no table.
    heads: std::sync::RwLock<Option<HeadsCache>>,
    /// The school's and classes' documents saved whole at their current heads, made once and sent to
    /// every peer that has none of them (the first day of school: a thousand phones asking for the same
    /// class document).
    snapshots: std::sync::Mutex<HashMap<DocId, SavedWhole>>,
    bus: Arc<dyn EventBus>,
    actor: ActorId,
    /// One permit per core for the work that takes milliseconds of CPU or disk (loading, merging and
    /// storing documents), handed out in arrival order.
    heavy: tokio::sync::Semaphore,
    /// What time it is (a test sets its own).
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

/// The size limit of a document.
fn size_limit(id: &DocId) -> usize {
    match id {
        DocId::Thread(..) => MAX_THREAD_BYTES,
        _ => MAX_DOCUMENT_BYTES,
    }
}

fn not_open(id: &DocId) -> Outcome {
    Outcome::Refused(format!(
        "document {id}: the school year {} is not open on this relay (it has no school document for it)",
        id.year()
    ))
}

fn archived(id: &DocId) -> Outcome {
    Outcome::Refused(format!(
        "document {id}: the school year {} is archived and can no longer be changed",
        id.year()
    ))
}

impl Hub {
    /// A hub over `store`, telling live sessions what changed through `bus`.
    pub fn new(store: Arc<dyn RelayStore>, bus: Arc<dyn EventBus>) -> Self {
        Hub {
            store,
            docs: std::sync::Mutex::new(HashMap::new()),
            heads: std::sync::RwLock::new(None),
            heavy: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            snapshots: std::sync::Mutex::new(HashMap::new()),
            bus,
            actor: ActorId::random(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same hub on `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// What time it is for the relay.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RelayStore> {
        &self.store
    }

    /// Live events.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RelayEvent> {
        self.bus.subscribe()
    }

    /// Announces an event to live sessions.
    pub fn announce(&self, event: RelayEvent) {
        self.bus.publish(event);
    }

    /// Hears of an event from another process (a command run beside the relay): a document changed there
    /// is read again from the store before anyone is answered from it, then the event goes to live
    /// sessions.
    pub fn hear(&self, event: RelayEvent) {
        match &event {
            RelayEvent::Changed { doc, .. } => self.forget(doc),
            RelayEvent::Missed => self.forget_all(),
            _ => {}
        }
        // Only here: the other processes heard it where it was published.
        self.bus.tell_here(event);
    }

    /// Forgets what this relay holds of a document in memory (and every document's heads), so the next
    /// use reads it from the store.
    pub fn forget(&self, doc: &DocId) {
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(doc);
        self.snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(doc);
        *self.heads.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Forgets every document held in memory: after events may have been missed (a lost connection to
    /// the other relays' events), nothing is answered from a copy that could be stale.
    pub fn forget_all(&self) {
        self.docs.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.heads.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The grants of `account` for the year the directory describes; `None` when it is not active.
    pub fn grants(&self, account: &str) -> Result<Option<Grants>, HubError> {
        let year = self.directory_year()?;
        Ok(Grants::load(self.store.as_ref(), account, year)?)
    }

    /// The school year the directory describes: the newest with a `school` document.
    pub fn directory_year(&self) -> Result<Option<YearId>, HubError> {
        self.with_heads(|cache| cache.newest_year)
    }

    /// The stored document a stock automerge-repo id stands for.
    pub fn resolve_repo_id(&self, repo_id: &str) -> Result<Option<DocId>, HubError> {
        self.with_heads(|cache| cache.by_repo_id.get(repo_id).cloned())
    }

    /// What a person would call a document: the school's name, the class's, the student's, a
    /// conversation's subject.
    pub fn title(&self, id: &DocId) -> Result<String, HubError> {
        let student_name = |student: &journal_core::StudentId| -> Result<String, HubError> {
            Ok(self
                .store
                .student(student)?
                .map_or_else(|| student.to_string(), |(_, name)| name))
        };
        let view = |id: &DocId| -> Result<Option<View>, HubError> {
            Ok(self.entry(id)?.map(|entry| {
                entry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .doc
                    .view()
                    .clone()
            }))
        };
        Ok(match id {
            DocId::School(year) => match view(id)? {
                Some(View::School(school)) => school.settings.map_or_else(
                    || format!("Школа, {year}"),
                    |s| format!("{}, {year}", s.value.name),
                ),
                _ => format!("Школа, {year}"),
            },
            DocId::Class(year, class) => match view(id)? {
                Some(View::Class(doc)) => match doc.info {
                    Some(info) => format!("Класс {}, {year}", info.value.name),
                    None => format!("Класс {class}, {year}"),
                },
                _ => format!("Класс {class}, {year}"),
            },
            DocId::Student(year, student) => {
                format!("{}: оценки и посещаемость, {year}", student_name(student)?)
            }
            DocId::Profile(year, student) => {
                format!("{}: личные данные, {year}", student_name(student)?)
            }
            DocId::Thread(..) => match view(id)? {
                Some(View::Thread(thread)) => thread
                    .info
                    .map_or_else(|| "Переписка".to_owned(), |info| info.value.subject),
                _ => "Переписка".to_owned(),
            },
        })
    }

    /// The documents `grants` may read, sorted by id.
    pub fn readable(&self, grants: &Grants) -> Result<Vec<DocId>, HubError> {
        let mut ids: Vec<DocId> = self.with_heads(|cache| {
            cache
                .heads
                .keys()
                .filter_map(|id| id.parse::<DocId>().ok())
                .filter(|id| grants.can_read(id))
                .collect()
        })?;
        ids.sort_by_key(ToString::to_string);
        Ok(ids)
    }

    /// The documents `grants` may read, with the relay's heads, omitted where they equal the heads the
    /// relay shared with `device` at the end of their last sync, unless `every_head` (the device's last
    /// session was cut short, and its idea of what was shared may be behind the relay's).
    pub fn index(
        &self,
        grants: &Grants,
        device: &str,
        every_head: bool,
    ) -> Result<Vec<IndexEntry>, HubError> {
        let readable: Vec<(DocId, Vec<String>)> = self.with_heads(|cache| {
            cache
                .heads
                .iter()
                .filter_map(|(id, heads)| {
                    let id: DocId = id.parse().ok()?;
                    grants.can_read(&id).then(|| (id, heads.clone()))
                })
                .collect()
        })?;
        let mut entries = Vec::new();
        for (id, heads) in readable {
            let mut heads: Vec<automerge::ChangeHash> =
                heads.iter().filter_map(|h| h.parse().ok()).collect();
            heads.sort();
            let omit = !every_head && {
                let mut shared = self.load_state(device, &id)?.shared_heads;
                shared.sort();
                shared == heads
            };
            let heads = (!omit).then(|| {
                heads
                    .iter()
                    .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
                    .collect()
            });
            entries.push(IndexEntry {
                document_id: id.to_string(),
                heads,
            });
        }
        entries.sort_by(|a, b| a.document_id.cmp(&b.document_id));
        Ok(entries)
    }

    /// Runs `read` over the heads cache, refreshed first if another process wrote to the store.
    fn with_heads<T>(&self, read: impl FnOnce(&HeadsCache) -> T) -> Result<T, HubError> {
        let version = self.store.outside_writes()?;
        {
            let cache = self.heads.read().unwrap_or_else(|p| p.into_inner());
            if let Some(cache) = cache.as_ref()
                && cache.version == version
            {
                return Ok(read(cache));
            }
        }
        let heads: HashMap<String, Vec<String>> =
            self.store.document_heads()?.into_iter().collect();
        let ids: Vec<DocId> = heads.keys().filter_map(|id| id.parse().ok()).collect();
        let newest_year = ids
            .iter()
            .filter_map(|id| match id {
                DocId::School(year) => Some(*year),
                _ => None,
            })
            .max();
        let by_repo_id = ids.into_iter().map(|id| (id.repo_id(), id)).collect();
        let cache = HeadsCache {
            version,
            heads,
            newest_year,
            by_repo_id,
        };
        let out = read(&cache);
        *self.heads.write().unwrap_or_else(|p| p.into_inner()) = Some(cache);
        Ok(out)
    }

    /// Records a document's heads after a write to the store.
    fn note_heads(&self, id: &DocId, heads: &[String]) {
        if let Some(cache) = self
            .heads
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            cache.note(id, heads);
        }
    }

    /// The document, from memory or the store; `None` when it is not stored.
    fn entry(&self, id: &DocId) -> Result<Option<Entry>, HubError> {
        if let Some(entry) = self.cached(id) {
            if !self.stale(id, &entry)? {
                return Ok(Some(entry));
            }
            // A command beside this relay stored changes that its mail has not brought yet: the copy in
            // memory would answer a device with the document as it was.
            debug!(doc = %id, "changed by another process; reading it again");
            self.docs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
        let Some(bytes) = self.store.load_document(&id.to_string())? else {
            return Ok(None);
        };
        debug!(doc = %id, bytes = bytes.len(), "loading a document from the store");
        let doc =
            Document::load(id.clone(), &bytes, &self.actor).map_err(|e| HubError::Corrupt {
                doc: id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(self.cache(
            id,
            Slot {
                doc,
                bytes: bytes.len(),
            },
        )))
    }

    /// Whether the store holds other heads for a document than this relay's copy in memory: another
    /// process wrote to it since (read from the heads, which follow the store's outside writes).
    fn stale(&self, id: &DocId, entry: &Entry) -> Result<bool, HubError> {
        let key = id.to_string();
        let Some(stored) = self.with_heads(|cache| cache.heads.get(&key).cloned())? else {
            return Ok(false);
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        Ok(!slot.doc.never_saved() && stored_heads(&slot.doc) != stored)
    }

    fn cached(&self, id: &DocId) -> Option<Entry> {
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn cache(&self, id: &DocId, slot: Slot) -> Entry {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = docs
            .entry(id.clone())
            .or_insert_with(|| Arc::new(std::sync::Mutex::new(slot)))
            .clone();
        evict_idle(&mut docs);
        entry
    }

    /// Forgets a document from memory if nothing of it was ever stored (a creation that was refused).
    fn forget_unsaved(&self, id: &DocId, entry: &Entry) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if docs
            .get(id)
            .is_some_and(|cached| Arc::ptr_eq(cached, entry))
        {
            docs.remove(id);
        }
    }

    /// Runs `work` (SQLite and Automerge, which block) without stalling the runtime: at most one such job
    /// per core at a time, first come first served, each on a thread the runtime has handed its other tasks
    /// away from. In a burst the sessions queue for the cores instead of all slowing down together, and
    /// accepting connections and answering light requests go on meanwhile.
    pub async fn off_runtime<T>(&self, work: impl FnOnce() -> T) -> T {
        // The semaphore is never closed, so a permit always comes.
        let _permit = self.heavy.acquire().await.ok();
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
            _ => work(),
        }
    }

    /// The school's settings for a year, which the validator needs for every other document; `None` when
    /// the relay does not know the year.
    pub fn school_settings(&self, year: YearId) -> Result<Option<SchoolSettings>, HubError> {
        let Some(entry) = self.entry(&DocId::School(year))? else {
            return Ok(None);
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match slot.doc.view() {
            View::School(school) => school.settings.as_ref().map(|c| c.value.clone()),
            _ => None,
        })
    }

    /// Subjects `author` teaches in a class, from the class document of that year.
    fn subjects_taught(
        &self,
        year: YearId,
        class: &journal_core::ClassId,
        author: &str,
    ) -> Result<BTreeSet<SubjectId>, HubError> {
        let Some(entry) = self.entry(&DocId::Class(year, class.clone()))? else {
            return Ok(BTreeSet::new());
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match slot.doc.view() {
            View::Class(class) => class
                .subjects
                .iter()
                .filter(|(_, cell)| cell.value.teacher.as_str() == author)
                .map(|(subject, _)| subject.clone())
                .collect(),
            _ => BTreeSet::new(),
        })
    }

    /// A sync state for a device and document, as stored.
    pub fn load_state(&self, device: &str, id: &DocId) -> Result<sync::State, HubError> {
        Ok(match self.store.sync_state(device, &id.to_string())? {
            Some(bytes) => sync::State::decode(&bytes).unwrap_or_default(),
            None => sync::State::new(),
        })
    }

    /// Saves a device's sync state for a document.
    pub fn save_state(
        &self,
        device: &str,
        id: &DocId,
        state: &sync::State,
    ) -> Result<(), HubError> {
        Ok(self
            .store
            .put_sync_state(device, &id.to_string(), &state.encode())?)
    }

    /// Applies a sync message from `by` to a document, if the account may, and returns what to answer.
    /// A missing document is created only when `create` is set (a `sync` message from a writer); a
    /// `request` for it is answered as unavailable, as automerge-repo peers expect.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &self,
        grants: &Grants,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        message: &[u8],
        ask: Ask,
    ) -> Result<Outcome, HubError> {
        match self.receive_once(grants, by, origin, state, id, message, ask) {
            // Another relay (or a command beside this one) stored changes this copy had not seen: the
            // document is read again and the message judged afresh against it, once.
            Err(HubError::Store(StoreError::Stale(_))) => {
                debug!(doc = %id, "the document changed elsewhere; reading it again");
                self.receive_once(grants, by, origin, state, id, message, ask)
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn receive_once(
        &self,
        grants: &Grants,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        message: &[u8],
        ask: Ask,
    ) -> Result<Outcome, HubError> {
        // The administration corrects the student records that exist; the class lists open new ones.
        let create = ask.create && !(grants.is_admin() && matches!(id, DocId::Student(..)));
        let writes =
            sync_message_has_changes(message).map_err(|e| HubError::Malformed(e.to_string()))?;
        if !grants.can_read(id) {
            return match id {
                // A conversation the account is not in: answered alike whether or not the id is taken,
                // so a guess learns nothing. Only changes may start a new one.
                DocId::Thread(..) if create && writes => {
                    self.start_thread(grants, by, origin, state, id, message)
                }
                DocId::Thread(..) if create => answer_from_nothing(id, &self.actor, state, message),
                _ => Ok(Outcome::Unavailable),
            };
        }
        if !create
            && !writes
            && ask.whole
            && let Some(snapshot) = self.snapshot_for_empty_peer(id, message)?
        {
            return Ok(Outcome::Snapshot(snapshot));
        }
        let settings = match id {
            DocId::School(_) => None,
            _ => match self.school_settings(id.year())? {
                Some(settings) => Some(settings),
                None if create => return Ok(not_open(id)),
                None => return Ok(Outcome::Unavailable),
            },
        };
        // Whether the changes a message carries may be taken is judged only where they would be refused:
        // from a reader, or for an archived year. Changes the relay already holds are no edit at all (a
        // device that never heard the relay's answer offers them again) and are never refused.
        let frozen = writes && self.store.is_frozen(id.year())?;
        let offer = if !writes {
            Offer::Nothing
        } else if grants.can_write(id) && !frozen {
            Offer::Own
        } else {
            self.judge_offer(grants, id, message)?
        };
        let writes = offer != Offer::Nothing;
        if offer == Offer::OtherAuthors {
            info!(doc = %id, "a reader's device offered other authors' changes the relay lacks; left aside");
            state.set_read_only(true);
        }
        if offer == Offer::Own && frozen {
            info!(doc = %id, "refused a write to an archived year");
            return Ok(archived(id));
        }
        if offer == Offer::Own && !grants.can_write(id) {
            info!(doc = %id, "refused a write from an account that may only read");
            return Ok(Outcome::Refused(format!(
                "document {id}: your account may read this document but not change it"
            )));
        }
        let subjects_taught = match id {
            DocId::Student(year, student) if writes => {
                match grants.class_of_taught_student(student) {
                    Some(class) => self.subjects_taught(*year, class, &grants.account().id)?,
                    None => BTreeSet::new(),
                }
            }
            _ => BTreeSet::new(),
        };
        // A reader the store can answer from the changes after its heads needs no document in memory.
        if !writes
            && self.cached(id).is_none()
            && let Ok(decoded) = journal_core::docs::decode_sync_message(message)
            && let Some(reply) =
                crate::known_peer::answer(self.store.as_ref(), &id.to_string(), state, &decoded)?
        {
            debug!(doc = %id, "answered from the stored changes");
            return Ok(Outcome::Reply(reply));
        }
        let entry = match self.entry(id)? {
            Some(entry) => entry,
            None if create && writes => {
                let doc = Document::create(id.clone(), &self.actor)
                    .map_err(|e| HubError::Malformed(e.to_string()))?;
                self.cache(id, Slot { doc, bytes: 0 })
            }
            // The opening of a new document's exchange names heads only: answered as an empty document
            // would, keeping nothing, so the writer sends the changes the checks then judge.
            None if create && grants.can_write(id) => {
                return answer_from_nothing(id, &self.actor, state, message);
            }
            None => return Ok(Outcome::Unavailable),
        };
        // Looked up only for a change that reaches back past the edit-lock window. A contact in the last
        // minutes may be this very sync (over HTTP, each batch is one), which need not have carried it all.
        let previous_contact = || {
            self.store
                .contact_before(&by.device, by.at - SYNC_GRACE_SECONDS)
                .unwrap_or_else(|e| {
                    warn!(error = %e, "could not read the device's last contact");
                    None
                })
        };
        // The lessons of the class the writer teaches the student in, from the relay's class document.
        let lessons_of = match id {
            DocId::Student(year, student) => grants
                .class_of_taught_student(student)
                .map(|class| DocId::Class(*year, class.clone())),
            _ => None,
        };
        let lesson_day = |lesson: &journal_core::LessonId| {
            let entry = self.entry(lessons_of.as_ref()?).ok().flatten()?;
            let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
            match slot.doc.view() {
                View::Class(class) => class.lessons.get(lesson).map(|l| l.date),
                _ => None,
            }
        };
        let edits = matches!(id, DocId::Student(..)).then_some(EditWindow {
            now: by.at,
            previous_contact: &previous_contact,
            administration: grants.is_admin(),
            lesson_day: &lesson_day,
        });
        let mut slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        if slot.doc.never_saved() && !(create && writes) {
            // Someone else's creation, not stored (yet, or ever): nothing to show.
            return Ok(Outcome::Unavailable);
        }
        let outcome = self.apply(
            &mut slot,
            by,
            origin,
            state,
            id,
            message,
            &ValidationContext {
                settings: settings.as_ref(),
                writer: Some(WriterGuard {
                    author: &grants.account().id,
                    subjects_taught: &subjects_taught,
                    edits,
                }),
            },
        );
        if slot.doc.never_saved() {
            drop(slot);
            self.forget_unsaved(id, &entry);
        }
        outcome
    }

    /// What `message` offers of a document, against the relay's copy and its audit trail: nothing new,
    /// to a reader only changes the relay lacks whose authors are other accounts (its device received
    /// them before the relay lost them), or the caller's own edits.
    fn judge_offer(&self, grants: &Grants, id: &DocId, message: &[u8]) -> Result<Offer, HubError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(Offer::Own);
        };
        let actors = {
            let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
            slot.doc
                .actors_offered(message)
                .map_err(|e| HubError::Malformed(e.to_string()))?
        };
        if actors.is_empty() {
            return Ok(Offer::Nothing);
        }
        // A writer (here: to an archived year) answers for whatever it offers.
        if grants.can_write(id) {
            return Ok(Offer::Own);
        }
        let trail = self.store.audit_trail(&id.to_string())?;
        let caller = &grants.account().id;
        let others = actors.iter().all(|actor| {
            let delivered: Vec<_> = trail
                .iter()
                .filter(|d| d.actor == actor.to_bytes())
                .collect();
            !delivered.is_empty() && delivered.iter().all(|d| &d.account != caller)
        });
        Ok(if others {
            Offer::OtherAuthors
        } else {
            Offer::Own
        })
    }

    /// Applies a checked sync message to a document in memory and stores what it adds, in one step: a
    /// document refused or failing to store is left as it was on disk.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        slot: &mut Slot,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        message: &[u8],
        ctx: &ValidationContext<'_>,
    ) -> Result<Outcome, HubError> {
        if let Some(reason) = self.too_large(slot, id, message.len()) {
            info!(doc = %id, "refused a change that would make the document too large");
            return Ok(Outcome::Refused(reason));
        }
        let base = (!slot.doc.never_saved()).then(|| stored_heads(&slot.doc));
        let known_messages = thread_messages(&slot.doc);
        let mut next = state.clone();
        if let Some(refused) = merge_checked(&mut slot.doc, &mut next, message, ctx)? {
            return Ok(refused);
        }
        self.persist(slot, id, by, origin, base.as_deref())?;
        self.stamp_arrivals(slot, id, &known_messages, by.at, origin)?;
        *state = next;
        Ok(Outcome::Reply(slot.doc.generate_sync_message(state)))
    }

    /// Stamps the messages of a conversation that are new since `known` with the time the relay took
    /// them, as its own change, stored apart from the delivery (the audit trail names the relay for it).
    /// Readers order conversations by it when an author's clock is far off.
    fn stamp_arrivals(
        &self,
        slot: &mut Slot,
        id: &DocId,
        known: &BTreeSet<MessageId>,
        at: i64,
        origin: u64,
    ) -> Result<(), HubError> {
        let View::Thread(thread) = slot.doc.view() else {
            return Ok(());
        };
        let new: Vec<MessageId> = thread
            .messages
            .keys()
            .filter(|m| !known.contains(*m) && !thread.arrived.contains_key(*m))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let base = stored_heads(&slot.doc);
        slot.doc
            .stamp_arrivals(&new, at)
            .map_err(|e| HubError::Malformed(e.to_string()))?;
        self.persist(
            slot,
            id,
            &attribution(RELAY_ACCOUNT, RELAY_ACCOUNT, at),
            origin,
            Some(&base),
        )
    }

    /// Stores what `slot`'s document gained since it was last saved (changes after `base`, the heads
    /// stored before), and tells live sessions; a store that changed meanwhile forgets the copy and fails
    /// with `Stale`.
    fn persist(
        &self,
        slot: &mut Slot,
        id: &DocId,
        by: &Attribution,
        origin: u64,
        base: Option<&[String]>,
    ) -> Result<(), HubError> {
        let changes = slot.doc.changes_since_saved();
        if !changes.is_empty() {
            let key = id.to_string();
            let heads = stored_heads(&slot.doc);
            let stored_before = if slot.doc.never_saved() {
                0
            } else {
                self.store.changes_since_snapshot(&key)?
            };
            let snapshot = (slot.doc.never_saved()
                || stored_before + changes.len() as i64 >= SNAPSHOT_AFTER_CHANGES)
                .then(|| slot.doc.snapshot());
            if let Err(e) =
                self.store
                    .append_changes(&key, &changes, &heads, by, snapshot.as_deref(), base)
            {
                if !matches!(e, StoreError::Stale(_)) {
                    warn!(doc = %id, error = %e, "could not store accepted changes; reloading the document");
                }
                self.forget(id);
                return Err(e.into());
            }
            slot.bytes = match &snapshot {
                Some(whole) => whole.len(),
                None => slot.bytes + changes.iter().map(|c| c.bytes.len()).sum::<usize>(),
            };
            slot.doc.mark_saved();
            self.note_heads(id, &heads);
            debug!(doc = %id, changes = changes.len(), "stored changes");
            self.announce(RelayEvent::Changed {
                doc: id.clone(),
                origin,
            });
        }
        Ok(())
    }

    /// Merges a document changed on the relay's own behalf (the administration's class lists) into the
    /// relay's copy, checked by the validator, and stores what it adds; a document the relay lacks is
    /// stored whole.
    pub fn merge_in(&self, doc: &Document, by: &Attribution) -> Result<(), HubError> {
        let id = doc.id().clone();
        let settings = match &id {
            DocId::School(_) => None,
            _ => self.school_settings(id.year())?,
        };
        let ctx = ValidationContext::with_settings(settings.as_ref());
        for attempt in 0..2 {
            let Some(entry) = self.entry(&id)? else {
                return self.import(doc, by);
            };
            let mut slot = entry.lock().unwrap_or_else(|p| p.into_inner());
            if slot.doc.never_saved() {
                drop(slot);
                self.forget(&id);
                return self.import(doc, by);
            }
            let base = stored_heads(&slot.doc);
            slot.doc.merge(doc, &ctx).map_err(|e| match e {
                CoreError::Schema(e) => HubError::Malformed(e.to_string()),
                other => HubError::Malformed(other.to_string()),
            })?;
            match self.persist(&mut slot, &id, by, 0, Some(&base)) {
                // Another process stored changes meanwhile: merged again into a fresh copy, once.
                Err(HubError::Store(StoreError::Stale(_))) if attempt == 0 => continue,
                other => return other,
            }
        }
        Ok(())
    }

    /// The relay's copy of a document saved whole, if it holds one.
    pub fn saved_whole(&self, id: &DocId) -> Result<Option<Vec<u8>>, HubError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(None);
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        Ok((!slot.doc.never_saved()).then(|| slot.doc.snapshot()))
    }

    /// Why a message of `incoming` bytes would make the document too large, if it would. The running
    /// estimate overcounts (changes stored apart take more room than saved together), so near the limit
    /// the document is measured saved whole.
    fn too_large(&self, slot: &mut Slot, id: &DocId, incoming: usize) -> Option<String> {
        let limit = size_limit(id);
        if slot.bytes + incoming <= limit {
            return None;
        }
        slot.bytes = slot.doc.snapshot().len();
        (slot.bytes + incoming > limit).then(|| {
            let what = match id {
                DocId::Thread(..) => "this conversation is full; start a new one",
                _ => "the document has reached its size limit",
            };
            format!(
                "document {id}: {what} ({} MiB, the limit is {} MiB)",
                (slot.bytes + incoming).div_ceil(1 << 20),
                limit >> 20
            )
        })
    }

    /// A conversation the relay has never seen: accepted only when its year is open, the author lists
    /// themself, everyone else is someone they may write to, and every message is theirs; then its members
    /// are registered and its first changes stored in one transaction.
    fn start_thread(
        &self,
        grants: &Grants,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        message: &[u8],
    ) -> Result<Outcome, HubError> {
        if self.entry(id)?.is_some() {
            // Taken, and not the account's: the same answer as for any conversation it may not read.
            return Ok(Outcome::Unavailable);
        }
        if self.school_settings(id.year())?.is_none() {
            return Ok(not_open(id));
        }
        if self.store.is_frozen(id.year())? {
            return Ok(archived(id));
        }
        let mut slot = Slot {
            doc: Document::create(id.clone(), &self.actor)
                .map_err(|e| HubError::Malformed(e.to_string()))?,
            bytes: 0,
        };
        if let Some(reason) = self.too_large(&mut slot, id, message.len()) {
            return Ok(Outcome::Refused(reason));
        }
        let none = BTreeSet::new();
        let ctx = ValidationContext {
            settings: None,
            writer: Some(WriterGuard {
                author: &grants.account().id,
                subjects_taught: &none,
                edits: None,
            }),
        };
        let mut next = state.clone();
        if let Some(refused) = merge_checked(&mut slot.doc, &mut next, message, &ctx)? {
            return Ok(refused);
        }
        let View::Thread(view) = slot.doc.view() else {
            return Ok(Outcome::Unavailable);
        };
        if let Err(reason) = grants.may_start_thread(self.store.as_ref(), &view.participants)? {
            info!(doc = %id, "refused a conversation the account may not start");
            return Ok(Outcome::Refused(format!("document {id}: {reason}")));
        }
        let members: Vec<String> = view.participants.iter().cloned().collect();
        let changes = slot.doc.changes_since_saved();
        let heads = stored_heads(&slot.doc);
        let key = id.to_string();
        let snapshot = slot.doc.snapshot();
        let created = self.store.create_thread(
            &members,
            &FirstChanges {
                id: &key,
                changes: &changes,
                heads: &heads,
                snapshot: &snapshot,
            },
            by,
        )?;
        if !created {
            // Started meanwhile by someone else, or its members were registered in advance.
            return Ok(Outcome::Unavailable);
        }
        slot.bytes = snapshot.len();
        slot.doc.mark_saved();
        self.note_heads(id, &heads);
        self.stamp_arrivals(&mut slot, id, &BTreeSet::new(), by.at, origin)?;
        *state = next;
        let reply = slot.doc.generate_sync_message(state);
        self.cache(id, slot);
        info!(doc = %id, members = members.len(), "started a conversation");
        // Live sessions of the members reload their grants before they hear of the new document.
        self.announce(RelayEvent::DirectoryChanged);
        self.announce(RelayEvent::Changed {
            doc: id.clone(),
            origin,
        });
        Ok(Outcome::Created(reply))
    }

    /// The document saved whole, when `message` (a `request`) comes from a peer that has none of it.
    fn snapshot_for_empty_peer(
        &self,
        id: &DocId,
        message: &[u8],
    ) -> Result<Option<Arc<Vec<u8>>>, HubError> {
        // A peer that holds nothing has at most the document's skeleton, which every replica writes alike.
        let Ok(decoded) = journal_core::docs::decode_sync_message(message) else {
            return Ok(None);
        };
        let empty = decoded.heads.is_empty()
            || Document::create(id.clone(), &self.actor)
                .is_ok_and(|skeleton| skeleton.heads() == decoded.heads);
        if !empty {
            return Ok(None);
        }
        // A family's own documents are asked for by one or two devices: their stored form (the snapshot
        // and the few changes after it) goes out as it is, without loading the document. The school's and
        // classes' documents, which every device asks for, are saved whole once per heads and shared.
        if personal(id) {
            return Ok(self
                .store
                .load_document(&id.to_string())?
                .filter(|bytes| !bytes.is_empty())
                .map(Arc::new));
        }
        let Some(entry) = self.entry(id)? else {
            return Ok(None);
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        if slot.doc.never_saved() {
            return Ok(None);
        }
        let heads = slot.doc.heads();
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, bytes)) = snapshots.get(id)
            && *at == heads
        {
            return Ok(Some(bytes.clone()));
        }
        let bytes = Arc::new(slot.doc.snapshot());
        snapshots.insert(id.clone(), (heads, bytes.clone()));
        Ok(Some(bytes))
    }

    /// The next message for a peer about a document it may read; `None` if there is nothing to say.
    pub fn generate(
        &self,
        id: &DocId,
        state: &mut sync::State,
    ) -> Result<Option<Vec<u8>>, HubError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(None);
        };
        let slot = entry.lock().unwrap_or_else(|p| p.into_inner());
        if slot.doc.never_saved() {
            return Ok(None);
        }
        Ok(slot.doc.generate_sync_message(state))
    }

    /// Stores a document made on the relay itself (demo seeding, imports), attributed to `by`.
    pub fn import(&self, doc: &Document, by: &Attribution) -> Result<(), HubError> {
        let id = doc.id().clone();
        let changes = doc.all_changes();
        let heads = stored_heads(doc);
        self.store.append_changes(
            &id.to_string(),
            &changes,
            &heads,
            by,
            Some(&doc.snapshot()),
            None,
        )?;
        self.note_heads(&id, &heads);
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.announce(RelayEvent::Changed { doc: id, origin: 0 });
        Ok(())
    }
}

/// Merges a sync message into `doc` under the validator: `None` when accepted, the refusal otherwise (the
/// document and `state` then stay as they were).
fn merge_checked(
    doc: &mut Document,
    state: &mut sync::State,
    message: &[u8],
    ctx: &ValidationContext<'_>,
) -> Result<Option<Outcome>, HubError> {
    match doc.receive_sync_message(state, message, ctx) {
        Ok(()) => Ok(None),
        Err(CoreError::Schema(e)) => {
            let author = ctx.writer.map(|w| w.author).unwrap_or_default();
            info!(doc = %doc.id(), account = %author, reason = %e.reason, "refused a change that breaks the document's rules");
            Ok(Some(Outcome::Refused(e.to_string())))
        }
        Err(e) => Err(HubError::Malformed(e.to_string())),
    }
}

/// The answer to a `sync` without changes about a document that is not stored, or a conversation the
/// account is not in: what an empty document would say, keeping nothing. Whether a conversation's id is
/// taken stays unknown, and a writer starting a new document is asked for the changes the checks judge.
fn answer_from_nothing(
    id: &DocId,
    actor: &ActorId,
    state: &mut sync::State,
    message: &[u8],
) -> Result<Outcome, HubError> {
    let mut empty =
        Document::create(id.clone(), actor).map_err(|e| HubError::Malformed(e.to_string()))?;
    empty
        .receive_sync_message(state, message, &ValidationContext::default())
        .map_err(|e| HubError::Malformed(e.to_string()))?;
    Ok(Outcome::Reply(empty.generate_sync_message(state)))
}

/// Student, profile and conversation documents the relay keeps in memory beyond those in use; school and
/// class documents, few and shared by many sessions, always stay.
const IDLE_DOCUMENTS_KEPT: usize = 100;

/// Whether a document belongs to one student or conversation (few devices read it), rather than to the
/// school or a class (which many do).
fn personal(id: &DocId) -> bool {
    !matches!(id, DocId::School(_) | DocId::Class(..))
}

/// Drops documents nobody is using (only the cache holds them) once there are too many. A document in use
/// stays: dropping it could leave two copies in memory.
fn evict_idle(docs: &mut HashMap<DocId, Entry>) {
    let count = docs.keys().filter(|id| personal(id)).count();
    if count <= IDLE_DOCUMENTS_KEPT {
        return;
    }
    let idle: Vec<DocId> = docs
        .iter()
        .filter(|(id, entry)| personal(id) && Arc::strong_count(entry) == 1)
        .map(|(id, _)| id.clone())
        .take(count - IDLE_DOCUMENTS_KEPT / 2)
        .collect();
    for id in idle {
        docs.remove(&id);
    }
}

/// Attribution of a delivery at `at`.
pub fn attribution(account: &str, device: &str, at: i64) -> Attribution {
    Attribution {
        account: account.to_owned(),
        device: device.to_owned(),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &DocId) -> Entry {
        Arc::new(std::sync::Mutex::new(Slot {
            doc: Document::create(id.clone(), &ActorId::random()).expect("document"),
            bytes: 0,
        }))
    }

    #[test]
    fn idle_personal_documents_leave_memory_and_documents_in_use_stay() {
        let mut docs = HashMap::new();
        let class: DocId = "2026-2027/class/5a".parse().expect("id");
        docs.insert(class.clone(), entry(&class));
        let mut held = Vec::new();
        for i in 0..150 {
            let id: DocId = format!("2026-2027/student/s{i}").parse().expect("id");
            let e = entry(&id);
            if i < 10 {
                held.push((id.clone(), e.clone()));
            }
            docs.insert(id, e);
        }
        evict_idle(&mut docs);
        let personal = docs
            .keys()
            .filter(|id| matches!(id, DocId::Student(..)))
            .count();
        assert_eq!(
            personal,
            IDLE_DOCUMENTS_KEPT / 2,
            "down to half the allowance"
        );
        assert!(docs.contains_key(&class), "class documents stay");
        for (id, _) in &held {
            assert!(docs.contains_key(id), "{id} is in use and stays");
        }
    }
}
