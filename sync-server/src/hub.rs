//! The document hub: the relay's documents in memory (a cache over the store), where every incoming sync
//! message is checked against the account's grants and the core validator before anything is stored.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::ActorId;
use automerge::sync;
use journal_core::docs::{Document, SchoolSettings, View, sync_message_has_changes};
use journal_core::sync::protocol::IndexEntry;
use journal_core::validate::{ThreadGuard, ValidationContext};
use journal_core::{DocId, Error as CoreError};
use thiserror::Error;
use tokio::sync::{Mutex, broadcast};
use tracing::{debug, info, warn};

use crate::acl::Grants;
use crate::store::{Attribution, FirstChanges, RelayStore, StoreError, new_changes, stored_heads};

/// Changes stored after a document's snapshot before the relay writes a new snapshot.
const SNAPSHOT_AFTER_CHANGES: i64 = 256;

/// What happened on the relay, for live sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubEvent {
    /// A document accepted changes delivered by session `origin`.
    Changed {
        /// The document.
        doc: DocId,
        /// The session that delivered them (0: not a session).
        origin: u64,
    },
    /// A device was revoked: its sessions close.
    DeviceRevoked {
        /// The device.
        device: String,
    },
    /// The directory changed: sessions recompute their grants.
    DirectoryChanged,
}

/// The hub's answer to a sync message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the reply to send, if any.
    Reply(Option<Vec<u8>>),
    /// A new conversation was accepted and its members registered: the session's grants are stale.
    Created(Option<Vec<u8>>),
    /// No such document for this account (missing or not readable: indistinguishable on purpose).
    Unavailable,
    /// Refused; nothing was stored. The reason names the document.
    Refused(String),
    /// The peer holds nothing of the document: here it is saved whole (shared by every such peer).
    Snapshot(Arc<Vec<u8>>),
}

impl Outcome {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Reply(Some(_)) => "reply",
            Outcome::Reply(None) => "nothing to say",
            Outcome::Created(_) => "created a conversation",
            Outcome::Snapshot(_) => "snapshot",
            Outcome::Unavailable => "unavailable",
            Outcome::Refused(_) => "refused",
        }
    }
}

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

type Entry = Arc<Mutex<Document>>;

/// The store's outside-write counter when the heads were read, and every document's heads.
type HeadsCache = (i64, HashMap<String, Vec<String>>);

/// A document saved whole, and the heads it was saved at.
type SavedWhole = (Vec<automerge::ChangeHash>, Arc<Vec<u8>>);

/// The relay's documents.
pub struct Hub {
    store: Arc<dyn RelayStore>,
    docs: std::sync::Mutex<HashMap<DocId, Entry>>,
    /// Every stored document's heads (sorted hex), read from the store once and kept in step with each
    /// write, so building a session's index reads no table.
    heads: std::sync::RwLock<Option<HeadsCache>>,
    /// The school's and classes' documents saved whole at their current heads, made once and sent to
    /// every peer that has none of them (the first day of school: a thousand phones asking for the same
    /// class document).
    snapshots: std::sync::Mutex<HashMap<DocId, SavedWhole>>,
    events: broadcast::Sender<HubEvent>,
    actor: ActorId,
    /// One permit per core for the work that takes milliseconds of CPU or disk (loading, merging and
    /// storing documents), handed out in arrival order.
    heavy: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Hub {
    /// A hub over `store`.
    pub fn new(store: Arc<dyn RelayStore>) -> Self {
        let (events, _) = broadcast::channel(4096);
        Hub {
            store,
            docs: std::sync::Mutex::new(HashMap::new()),
            heads: std::sync::RwLock::new(None),
            heavy: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            snapshots: std::sync::Mutex::new(HashMap::new()),
            events,
            actor: ActorId::random(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RelayStore> {
        &self.store
    }

    /// Live events.
    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    /// Announces an event to live sessions.
    pub fn announce(&self, event: HubEvent) {
        // No receiver means no live session: nothing to tell.
        let _ = self.events.send(event);
    }

    /// The documents `grants` may read, with the relay's heads, omitted where they equal the heads the
    /// relay shared with `device` at the end of their last sync.
    pub fn index(&self, grants: &Grants, device: &str) -> Result<Vec<IndexEntry>, HubError> {
        let mut entries = Vec::new();
        for (document_id, heads) in self.all_heads()? {
            let Ok(id) = document_id.parse::<DocId>() else {
                continue;
            };
            if !grants.can_read(&id) {
                continue;
            }
            let mut heads: Vec<automerge::ChangeHash> =
                heads.iter().filter_map(|h| h.parse().ok()).collect();
            heads.sort();
            let mut shared = self.load_state(device, &id)?.shared_heads;
            shared.sort();
            let heads = (shared != heads).then(|| {
                heads
                    .iter()
                    .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
                    .collect()
            });
            entries.push(IndexEntry { document_id, heads });
        }
        Ok(entries)
    }

    fn all_heads(&self) -> Result<Vec<(String, Vec<String>)>, HubError> {
        let version = self.store.outside_writes()?;
        if let Some((at, heads)) = self
            .heads
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && *at == version
        {
            return Ok(heads.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        let loaded: HashMap<String, Vec<String>> =
            self.store.document_heads()?.into_iter().collect();
        let out = loaded.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        *self.heads.write().unwrap_or_else(|p| p.into_inner()) = Some((version, loaded));
        Ok(out)
    }

    /// Records a document's heads after a write to the store.
    fn note_heads(&self, id: &DocId, heads: &[String]) {
        if let Some((_, all)) = self
            .heads
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            all.insert(id.to_string(), heads.to_vec());
        }
    }

    async fn entry(&self, id: &DocId) -> Result<Option<Entry>, HubError> {
        if let Some(entry) = self.cached(id) {
            return Ok(Some(entry));
        }
        let Some(bytes) = self.store.load_document(&id.to_string())? else {
            return Ok(None);
        };
        let doc =
            Document::load(id.clone(), &bytes, &self.actor).map_err(|e| HubError::Corrupt {
                doc: id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(self.cache(id, doc)))
    }

    fn cached(&self, id: &DocId) -> Option<Entry> {
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn cache(&self, id: &DocId, doc: Document) -> Entry {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = docs
            .entry(id.clone())
            .or_insert_with(|| Arc::new(Mutex::new(doc)))
            .clone();
        evict_idle(&mut docs);
        entry
    }

    /// Runs `work` (SQLite and Automerge) without stalling the runtime: at most one such job per core at a
    /// time, first come first served, each on a thread the runtime has handed its other tasks away from.
    /// In a burst the sessions queue for the cores instead of all slowing down together, and accepting
    /// connections and answering light requests go on meanwhile.
    pub async fn off_runtime<F: std::future::Future>(&self, work: F) -> F::Output {
        // The semaphore is never closed, so a permit always comes.
        let _permit = self.heavy.acquire().await.ok();
        let runtime = tokio::runtime::Handle::current();
        match runtime.runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| runtime.block_on(work))
            }
            _ => work.await,
        }
    }

    /// The school's settings for a year, which the validator needs for every other document.
    pub async fn school_settings(
        &self,
        year: journal_core::YearId,
    ) -> Result<Option<SchoolSettings>, HubError> {
        let Some(entry) = self.entry(&DocId::School(year)).await? else {
            return Ok(None);
        };
        let doc = entry.lock().await;
        Ok(match doc.view() {
            View::School(school) => school.settings.as_ref().map(|c| c.value.clone()),
            _ => None,
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
    pub async fn receive(
        &self,
        grants: &Grants,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        message: &[u8],
        create: bool,
    ) -> Result<Outcome, HubError> {
        let writes =
            sync_message_has_changes(message).map_err(|e| HubError::Malformed(e.to_string()))?;
        if !grants.can_read(id) {
            if let DocId::Thread(_, thread) = id
                && create
                && self.entry(id).await?.is_none()
            {
                return self
                    .start_thread(grants, by, origin, state, id, thread, message, writes)
                    .await;
            }
            return Ok(Outcome::Unavailable);
        }
        if !create
            && !writes
            && let Some(snapshot) = self.snapshot_for_empty_peer(id, message).await?
        {
            return Ok(Outcome::Snapshot(snapshot));
        }
        if writes && self.store.is_frozen(id.year())? {
            info!(doc = %id, "refused a write to an archived year");
            return Ok(Outcome::Refused(format!(
                "document {id}: the school year {} is archived and can no longer be changed",
                id.year()
            )));
        }
        if writes && !grants.can_write(id) {
            info!(doc = %id, "refused a write from an account that may only read");
            return Ok(Outcome::Refused(format!(
                "document {id}: your account may read this document but not change it"
            )));
        }
        let entry = match self.entry(id).await? {
            Some(entry) => entry,
            None if create && grants.can_write(id) => {
                let doc = Document::create(id.clone(), &self.actor)
                    .map_err(|e| HubError::Malformed(e.to_string()))?;
                self.cache(id, doc)
            }
            None => return Ok(Outcome::Unavailable),
        };
        let settings = match id {
            DocId::School(_) => None,
            _ => self.school_settings(id.year()).await?,
        };
        let mut doc = entry.lock().await;
        let thread_before = match doc.view() {
            View::Thread(thread) => Some(thread.clone()),
            _ => None,
        };
        let ctx = ValidationContext {
            settings: settings.as_ref(),
            thread_guard: thread_before.as_ref().map(|before| ThreadGuard {
                author: &grants.account().id,
                before,
            }),
        };
        match doc.receive_sync_message(state, message, &ctx) {
            Ok(()) => {}
            Err(CoreError::Schema(e)) => {
                info!(doc = %id, reason = %e.reason, "refused a change that breaks the document's rules");
                return Ok(Outcome::Refused(e.to_string()));
            }
            Err(e) => return Err(HubError::Malformed(e.to_string())),
        }
        let changes = new_changes(doc.changes_since_saved());
        if !changes.is_empty() {
            let key = id.to_string();
            let heads = stored_heads(&doc);
            let snapshot = (self.store.changes_since_snapshot(&key)? + changes.len() as i64
                >= SNAPSHOT_AFTER_CHANGES)
                .then(|| doc.snapshot());
            if let Err(e) =
                self.store
                    .append_changes(&key, &changes, &heads, by, snapshot.as_deref())
            {
                warn!(doc = %id, error = %e, "could not store accepted changes; reloading the document");
                self.docs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(id);
                return Err(e.into());
            }
            doc.mark_saved();
            self.note_heads(id, &heads);
            debug!(doc = %id, changes = changes.len(), "stored changes");
            self.announce(HubEvent::Changed {
                doc: id.clone(),
                origin,
            });
        }
        Ok(Outcome::Reply(doc.generate_sync_message(state)))
    }

    /// A conversation the relay has never seen: accepted only when the author lists themself, everyone
    /// else is someone they may write to, and every message is theirs; then its members are registered and
    /// its first changes stored in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn start_thread(
        &self,
        grants: &Grants,
        by: &Attribution,
        origin: u64,
        state: &mut sync::State,
        id: &DocId,
        thread: &journal_core::ThreadId,
        message: &[u8],
        writes: bool,
    ) -> Result<Outcome, HubError> {
        if !writes {
            // The opening of the exchange only names heads: answer it from an empty document, keeping
            // nothing, so the client sends the changes that the checks below can judge.
            let mut empty = Document::create(id.clone(), &self.actor)
                .map_err(|e| HubError::Malformed(e.to_string()))?;
            empty
                .receive_sync_message(state, message, &ValidationContext::default())
                .map_err(|e| HubError::Malformed(e.to_string()))?;
            return Ok(Outcome::Reply(empty.generate_sync_message(state)));
        }
        if self.store.is_frozen(id.year())? {
            return Ok(Outcome::Refused(format!(
                "document {id}: the school year {} is archived and can no longer be changed",
                id.year()
            )));
        }
        let mut doc = Document::create(id.clone(), &self.actor)
            .map_err(|e| HubError::Malformed(e.to_string()))?;
        let empty = journal_core::docs::ThreadDoc::default();
        let ctx = ValidationContext {
            settings: None,
            thread_guard: Some(ThreadGuard {
                author: &grants.account().id,
                before: &empty,
            }),
        };
        let mut next = state.clone();
        match doc.receive_sync_message(&mut next, message, &ctx) {
            Ok(()) => {}
            Err(CoreError::Schema(e)) => {
                info!(doc = %id, reason = %e.reason, "refused a new conversation that breaks the rules");
                return Ok(Outcome::Refused(e.to_string()));
            }
            Err(e) => return Err(HubError::Malformed(e.to_string())),
        }
        let View::Thread(view) = doc.view() else {
            return Ok(Outcome::Unavailable);
        };
        if let Err(reason) = grants.may_start_thread(self.store.as_ref(), &view.participants)? {
            info!(doc = %id, "refused a conversation the account may not start");
            return Ok(Outcome::Refused(format!("document {id}: {reason}")));
        }
        let members: Vec<String> = view.participants.iter().cloned().collect();
        let changes = new_changes(doc.changes_since_saved());
        let heads = stored_heads(&doc);
        let key = id.to_string();
        self.store.create_thread(
            thread,
            &members,
            &FirstChanges {
                id: &key,
                changes: &changes,
                heads: &heads,
                snapshot: &doc.snapshot(),
            },
            by,
        )?;
        doc.mark_saved();
        self.note_heads(id, &heads);
        *state = next;
        let reply = doc.generate_sync_message(state);
        self.cache(id, doc);
        info!(doc = %id, members = members.len(), "started a conversation");
        // Live sessions of the members reload their grants before they hear of the new document.
        self.announce(HubEvent::DirectoryChanged);
        self.announce(HubEvent::Changed {
            doc: id.clone(),
            origin,
        });
        Ok(Outcome::Created(reply))
    }

    /// The document saved whole, when `message` (a `request`) comes from a peer that has none of it.
    async fn snapshot_for_empty_peer(
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
        let Some(entry) = self.entry(id).await? else {
            return Ok(None);
        };
        let doc = entry.lock().await;
        let heads = doc.heads();
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, bytes)) = snapshots.get(id)
            && *at == heads
        {
            return Ok(Some(bytes.clone()));
        }
        let bytes = Arc::new(doc.snapshot());
        snapshots.insert(id.clone(), (heads, bytes.clone()));
        Ok(Some(bytes))
    }

    /// The next message for a peer about a document it may read; `None` if there is nothing to say.
    pub async fn generate(
        &self,
        id: &DocId,
        state: &mut sync::State,
    ) -> Result<Option<Vec<u8>>, HubError> {
        let Some(entry) = self.entry(id).await? else {
            return Ok(None);
        };
        let doc = entry.lock().await;
        Ok(doc.generate_sync_message(state))
    }

    /// Stores a document made on the relay itself (demo seeding, imports), attributed to `by`.
    pub async fn import(&self, doc: Document, by: &Attribution) -> Result<(), HubError> {
        let id = doc.id().clone();
        let changes = new_changes(doc.all_changes());
        let heads = stored_heads(&doc);
        self.store
            .append_changes(&id.to_string(), &changes, &heads, by, Some(&doc.snapshot()))?;
        self.note_heads(&id, &heads);
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.announce(HubEvent::Changed { doc: id, origin: 0 });
        Ok(())
    }
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

/// Attribution of a delivery now.
pub fn attribution(account: &str, device: &str) -> Attribution {
    Attribution {
        account: account.to_owned(),
        device: device.to_owned(),
        at: now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &DocId) -> Entry {
        Arc::new(Mutex::new(
            Document::create(id.clone(), &ActorId::random()).expect("document"),
        ))
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
