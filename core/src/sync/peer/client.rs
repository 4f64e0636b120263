//! The client's side of a sync session as a state machine without I/O: protocol messages in, protocol
//! messages out, the journal updated in between. The WebSocket and HTTP transports both drive it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use thiserror::Error;

use crate::error::Error as CoreError;
use crate::ids::DocId;
use crate::journal::Journal;
use crate::sync::protocol::{
    IndexEntry, JOURNAL_EXTENSIONS, PROTOCOL_VERSION, PeerMetadata, WireMessage,
};

/// Where one document stands in the current session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocStatus {
    /// Messages are still being exchanged.
    Syncing,
    /// The device and the relay hold the same state.
    InSync,
    /// The relay has no such document for this account.
    Unavailable,
    /// The relay refused this device's edits; they are in the refused list and the relay's copy is coming.
    Refused(String),
}

/// What the session reports to its listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncEvent {
    /// A document's status changed.
    Document {
        /// The document.
        id: DocId,
        /// Its status.
        status: DocStatus,
    },
    /// Documents settled out of those this session had to sync.
    Progress {
        /// Settled.
        done: usize,
        /// In all.
        total: usize,
    },
    /// New data arrived from the relay in a document.
    Received {
        /// The document.
        id: DocId,
    },
    /// The "what is new" feed grew: the app may notify.
    NewsGrew {
        /// Items now in the feed.
        items: usize,
    },
}

/// A sync session failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The relay reported a protocol error and closed.
    #[error("the relay closed the session: {0}")]
    Relay(String),
    /// The relay sent something this client does not understand.
    #[error("unexpected message from the relay: {0}")]
    Unexpected(String),
    /// The journal refused what the relay sent.
    #[error(transparent)]
    Journal(#[from] CoreError),
}

/// The client's sync session with one relay.
#[derive(Debug)]
pub struct ClientPeer {
    peer_id: String,
    storage_id: String,
    relay_peer: String,
    status: BTreeMap<DocId, DocStatus>,
    events: Vec<SyncEvent>,
    joined: bool,
    news: Option<usize>,
    /// Documents whose local edits this session sent to the relay.
    sent: BTreeSet<DocId>,
    /// Whether the relay said it takes several messages as one bundle.
    relay_takes_bundles: bool,
    /// Whole documents of the bundle being handled, loaded in parallel ahead of their turn.
    preloaded: HashMap<DocId, Result<crate::docs::Document, CoreError>>,
    /// The device's last session with the relay was cut short: the index should carry every head.
    resuming: bool,
    /// This session has recorded on the device that it has edits out not yet confirmed.
    unsettled: bool,
}

/// Key under which the device keeps its sync state with the relay.
pub const RELAY_PEER: &str = "relay";

/// Most bytes of messages (before compression) one bundle to the relay carries: about a second of a 2G
/// link once compressed, so a cut loses little, and every bundle that arrived whole is stored and kept.
pub const SEND_BUNDLE_BYTES: usize = 16 << 10;

impl ClientPeer {
    /// A session for a device whose persistent storage is `storage_id`.
    pub fn new(storage_id: &str) -> Self {
        ClientPeer {
            // Short: automerge-repo repeats peer ids in every message; the storage id travels once, in `join`.
            peer_id: crate::ids::random_id(),
            storage_id: storage_id.to_owned(),
            relay_peer: String::new(),
            status: BTreeMap::new(),
            events: Vec::new(),
            joined: false,
            news: None,
            sent: BTreeSet::new(),
            relay_takes_bundles: false,
            preloaded: HashMap::new(),
            resuming: false,
            unsettled: false,
        }
    }

    /// The same session, for a device whose last session with the relay was cut short (see
    /// [`Journal::session_unsettled`]): it asks for the heads of every document, so that it sends only
    /// what did not get through.
    pub fn resuming(mut self, resuming: bool) -> Self {
        self.resuming = resuming;
        self
    }

    /// Whether this session asks for the heads of every document.
    pub fn is_resuming(&self) -> bool {
        self.resuming
    }

    /// The first message to send.
    pub fn join(&self) -> WireMessage {
        WireMessage::Join {
            sender_id: self.peer_id.clone(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
            metadata: Some(PeerMetadata {
                storage_id: Some(self.storage_id.clone()),
                is_ephemeral: false,
                journal_extensions: JOURNAL_EXTENSIONS.iter().map(|e| (*e).to_owned()).collect(),
                resuming: self.resuming,
            }),
        }
    }

    /// `messages` as they go to the relay: several as one bundle when the relay takes bundles, each
    /// bundle small enough that a link cut mid-way loses only the one in flight.
    pub fn outgoing(&self, messages: Vec<WireMessage>) -> Vec<WireMessage> {
        crate::sync::protocol::bundled_up_to(
            messages,
            self.relay_takes_bundles,
            &self.peer_id,
            &self.relay_peer,
            SEND_BUNDLE_BYTES,
        )
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<SyncEvent> {
        std::mem::take(&mut self.events)
    }

    /// Whether the relay has answered `join` and sent the index.
    pub fn is_joined(&self) -> bool {
        self.joined
    }

    /// Whether every document of the session has settled.
    pub fn is_settled(&self) -> bool {
        self.joined && self.status.values().all(|s| *s != DocStatus::Syncing)
    }

    /// Per-document status.
    pub fn statuses(&self) -> &BTreeMap<DocId, DocStatus> {
        &self.status
    }

    /// Documents whose local edits this session has sent to the relay.
    pub fn sent(&self) -> &BTreeSet<DocId> {
        &self.sent
    }

    fn set_status(&mut self, id: &DocId, status: DocStatus) {
        if self.status.get(id) != Some(&status) {
            self.status.insert(id.clone(), status.clone());
            self.events.push(SyncEvent::Document {
                id: id.clone(),
                status,
            });
            let total = self.status.len();
            let done = self
                .status
                .values()
                .filter(|s| **s != DocStatus::Syncing)
                .count();
            self.events.push(SyncEvent::Progress { done, total });
        }
    }

    fn message_for(
        &mut self,
        journal: &mut Journal,
        id: &DocId,
        first: bool,
    ) -> Result<Option<WireMessage>, SyncError> {
        let Some((data, carries_changes)) = journal.next_sync_message(id, RELAY_PEER)? else {
            return Ok(None);
        };
        if carries_changes {
            self.sent.insert(id.clone());
            if !self.unsettled {
                // Before the edits leave: if the session ends before the relay confirms them, the next
                // one asks what reached it instead of sending them all again.
                journal.note_session(RELAY_PEER, true)?;
                self.unsettled = true;
            }
        }
        Ok(Some(WireMessage::sync_or_request(
            !first,
            id.to_string(),
            self.peer_id.clone(),
            self.relay_peer.clone(),
            data,
        )))
    }

    fn settle(&mut self, journal: &mut Journal, id: &DocId) -> Result<(), SyncError> {
        if journal.confirm_synced_with(id, RELAY_PEER)? {
            self.set_status(id, DocStatus::InSync);
        }
        Ok(())
    }

    /// Starts syncing the documents whose heads differ from the index, and offers the relay every local
    /// document it did not list (new ones this device created).
    pub fn on_index(
        &mut self,
        journal: &mut Journal,
        documents: &[IndexEntry],
    ) -> Result<Vec<WireMessage>, SyncError> {
        let mut out = Vec::new();
        let mut listed = BTreeSet::new();
        for entry in documents {
            let Ok(id) = entry.document_id.parse::<DocId>() else {
                tracing::warn!(doc = %entry.document_id, "the relay listed a malformed document id");
                continue;
            };
            listed.insert(id.clone());
            if journal.is_current_with(&id, RELAY_PEER, entry.heads.as_deref()) {
                self.set_status(&id, DocStatus::InSync);
                continue;
            }
            self.set_status(&id, DocStatus::Syncing);
            let first = journal.document(&id).is_none();
            // Local edits on a document the relay has nothing new in go out in the first message.
            if !first {
                journal.assume_peer_holds(&id, RELAY_PEER, entry.heads.as_deref())?;
            }
            if let Some(msg) = self.message_for(journal, &id, first)? {
                out.push(msg);
            }
        }
        let unlisted: Vec<DocId> = journal
            .documents()
            .map(|d| d.id().clone())
            .filter(|id| !listed.contains(id))
            .collect();
        for id in unlisted {
            self.set_status(&id, DocStatus::Syncing);
            // `sync`, not `request`: the relay creates a document it lacks only for a writer's `sync`.
            if let Some(msg) = self.message_for(journal, &id, false)? {
                out.push(msg);
            }
        }
        Ok(out)
    }

    /// Handles one message from the relay and returns the replies.
    pub fn handle(
        &mut self,
        journal: &mut Journal,
        message: WireMessage,
    ) -> Result<Vec<WireMessage>, SyncError> {
        let replies = self.handle_one(journal, message)?;
        if (self.unsettled || self.resuming) && self.is_settled() {
            journal.note_session(RELAY_PEER, false)?;
            self.unsettled = false;
            self.resuming = false;
        }
        Ok(replies)
    }

    fn handle_one(
        &mut self,
        journal: &mut Journal,
        message: WireMessage,
    ) -> Result<Vec<WireMessage>, SyncError> {
        match message {
            WireMessage::Peer {
                sender_id,
                metadata,
                ..
            } => {
                self.relay_peer = sender_id;
                self.relay_takes_bundles =
                    metadata.is_some_and(|m| m.understands("x-journal-bundle"));
                Ok(Vec::new())
            }
            WireMessage::Bundle { packed, .. } => {
                let messages = crate::sync::protocol::unpack_bundle(&packed)
                    .map_err(|e| SyncError::Unexpected(e.to_string()))?;
                // School documents first: the others are validated against their settings. Then the
                // whole documents are loaded together, in parallel, and stored in the bundle's order.
                let (school, rest): (Vec<_>, Vec<_>) =
                    messages.into_iter().partition(is_school_document);
                let mut out = Vec::new();
                for message in school {
                    out.extend(self.handle_one(journal, message)?);
                }
                self.preload(journal, &rest);
                let handled = rest.into_iter().try_for_each(|message| {
                    out.extend(self.handle_one(journal, message)?);
                    Ok(())
                });
                self.preloaded.clear();
                handled.map(|()| out)
            }
            index @ WireMessage::Index { .. } => {
                let documents = index
                    .index_documents()
                    .unwrap_or_else(|| Ok(Vec::new()))
                    .map_err(|e| SyncError::Unexpected(e.to_string()))?;
                self.joined = true;
                let out = self.on_index(journal, &documents)?;
                self.events.push(SyncEvent::Progress {
                    done: self
                        .status
                        .values()
                        .filter(|s| **s != DocStatus::Syncing)
                        .count(),
                    total: self.status.len(),
                });
                Ok(out)
            }
            WireMessage::Sync {
                document_id, data, ..
            }
            | WireMessage::Request {
                document_id, data, ..
            } => {
                let id = document(&document_id)?;
                let before = journal.heads_hex(&id);
                self.count_feed_once(journal)?;
                journal.receive_sync_message(&id, RELAY_PEER, &data)?;
                self.after_receiving(journal, &id, before)
            }
            WireMessage::Snapshot {
                document_id, data, ..
            } => {
                let id = document(&document_id)?;
                let before = journal.heads_hex(&id);
                self.count_feed_once(journal)?;
                match self.preloaded.remove(&id) {
                    Some(loaded) => journal.receive_loaded_snapshot(&id, &data, loaded)?,
                    None => journal.receive_snapshot(&id, &data)?,
                }
                self.after_receiving(journal, &id, before)
            }
            WireMessage::DocUnavailable { document_id, .. } => {
                if let Ok(id) = document_id.parse::<DocId>() {
                    // The relay no longer shares this document with the account (a teacher moved off a
                    // class): the device lets go of its copy, keeping any unsent edits in the refused list.
                    if journal.document(&id).is_some() {
                        journal.give_up_document(
                            &id,
                            RELAY_PEER,
                            "the relay no longer shares this document with your account",
                        )?;
                    }
                    self.set_status(&id, DocStatus::Unavailable);
                }
                Ok(Vec::new())
            }
            WireMessage::Refused {
                document_id,
                reason,
                ..
            } => {
                let id = document(&document_id)?;
                if journal.document(&id).is_some() {
                    journal.give_up_document(&id, RELAY_PEER, &reason)?;
                }
                self.events.push(SyncEvent::Document {
                    id: id.clone(),
                    status: DocStatus::Refused(reason),
                });
                self.status.insert(id.clone(), DocStatus::Syncing);
                Ok(self.message_for(journal, &id, true)?.into_iter().collect())
            }
            WireMessage::Error { message } => Err(SyncError::Relay(message)),
            WireMessage::Join { .. }
            | WireMessage::Leave { .. }
            | WireMessage::Ephemeral { .. }
            | WireMessage::RemoteSubscriptionChange { .. }
            | WireMessage::RemoteHeadsChanged { .. } => Ok(Vec::new()),
        }
    }

    /// Loads the whole documents among `messages` in parallel, for their turn in [`Self::handle`].
    fn preload(&mut self, journal: &Journal, messages: &[WireMessage]) {
        let mut snapshots: Vec<(DocId, &[u8])> = messages
            .iter()
            .filter_map(|m| match m {
                WireMessage::Snapshot {
                    document_id, data, ..
                } => Some((document_id.parse().ok()?, data.as_slice())),
                _ => None,
            })
            .collect();
        // A document sent whole twice in one bundle is loaded at its turn each time instead.
        let mut seen = BTreeMap::new();
        for (id, _) in &snapshots {
            *seen.entry(id.clone()).or_insert(0) += 1;
        }
        snapshots.retain(|(id, _)| seen[id] == 1);
        if snapshots.len() < 2 {
            return;
        }
        let loaded = journal.load_snapshots(&snapshots);
        self.preloaded = snapshots
            .into_iter()
            .map(|(id, _)| id)
            .zip(loaded)
            .collect();
    }

    /// Counts the feed before the session's first merge, so "the feed grew" means new items arrived, not
    /// that unseen ones were already there.
    fn count_feed_once(&mut self, journal: &Journal) -> Result<(), SyncError> {
        if self.news.is_none() {
            self.news = Some(journal.news()?.len());
        }
        Ok(())
    }

    /// Events for what arrived in a document, and the next message about it.
    fn after_receiving(
        &mut self,
        journal: &mut Journal,
        id: &DocId,
        before: Vec<String>,
    ) -> Result<Vec<WireMessage>, SyncError> {
        if journal.heads_hex(id) != before {
            self.events.push(SyncEvent::Received { id: id.clone() });
            let items = journal.news()?.len();
            if items > self.news.unwrap_or(0) {
                self.events.push(SyncEvent::NewsGrew { items });
            }
            self.news = Some(items);
        }
        self.status.entry(id.clone()).or_insert(DocStatus::Syncing);
        let reply = self.message_for(journal, id, false)?;
        self.settle(journal, id)?;
        Ok(reply.into_iter().collect())
    }

    /// Messages for documents edited locally while the session is live.
    pub fn local_changes(
        &mut self,
        journal: &mut Journal,
        changed: &[DocId],
    ) -> Result<Vec<WireMessage>, SyncError> {
        let mut out = Vec::new();
        for id in changed {
            let first = !self.status.contains_key(id);
            if let Some(msg) = self.message_for(journal, id, first)? {
                self.set_status(id, DocStatus::Syncing);
                out.push(msg);
            }
        }
        Ok(out)
    }
}

/// Whether a message is about a school document, whose settings the other documents are checked against.
fn is_school_document(message: &WireMessage) -> bool {
    let id = match message {
        WireMessage::Sync { document_id, .. }
        | WireMessage::Request { document_id, .. }
        | WireMessage::Snapshot { document_id, .. } => document_id,
        _ => return false,
    };
    matches!(id.parse::<DocId>(), Ok(DocId::School(_)))
}

/// A document id the relay sent.
fn document(id: &str) -> Result<DocId, SyncError> {
    id.parse()
        .map_err(|_| SyncError::Unexpected(format!("document id {id:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::Document;
    use crate::sync::protocol::pack_bundle;
    use crate::testing;

    /// A school with one class of students and four weeks of lessons, as the relay holds it.
    fn relay_journal() -> Journal {
        relay_fixture().0
    }

    fn relay_fixture() -> (Journal, testing::FixtureClass, Vec<crate::ids::LessonId>) {
        let mut journal = Journal::open_in_memory().expect("journal");
        testing::school(&mut journal).expect("school");
        let class = testing::class_with_students(&mut journal, "5a", 6).expect("class");
        let lessons = testing::schedule_weeks(&mut journal, &class, 4).expect("lessons");
        testing::fill_lessons(&mut journal, &class, &lessons, 7).expect("marks");
        (journal, class, lessons)
    }

    fn whole(doc: &Document) -> WireMessage {
        WireMessage::Snapshot {
            document_id: doc.id().to_string(),
            sender_id: "relay".into(),
            target_id: "me".into(),
            data: doc.snapshot(),
        }
    }

    fn bundle(messages: &[WireMessage]) -> WireMessage {
        WireMessage::Bundle {
            sender_id: "relay".into(),
            target_id: "me".into(),
            packed: serde_bytes::ByteBuf::from(pack_bundle(messages)),
        }
    }

    /// A first sync's bundle of whole documents, the school's last, leaves the device with every
    /// document as the relay has it: the school's settings are taken first, the rest loaded together.
    #[test]
    fn whole_documents_in_a_bundle_are_all_taken_whatever_their_order() {
        let relay = relay_journal();
        let mut messages: Vec<WireMessage> = relay
            .documents()
            .filter(|d| !matches!(d.id(), DocId::School(_)))
            .map(whole)
            .collect();
        messages.extend(
            relay
                .documents()
                .filter(|d| matches!(d.id(), DocId::School(_)))
                .map(whole),
        );
        assert!(messages.len() > 3);
        let mut device = Journal::open_in_memory().expect("device");
        let mut peer = ClientPeer::new("device");
        peer.handle(&mut device, bundle(&messages)).expect("taken");
        for doc in relay.documents() {
            assert_eq!(
                device.heads_hex(doc.id()),
                relay.heads_hex(doc.id()),
                "{}",
                doc.id()
            );
        }
        let received = peer
            .take_events()
            .iter()
            .filter(|e| matches!(e, SyncEvent::Received { .. }))
            .count();
        assert_eq!(received, messages.len());
    }

    /// One session between a device and an in-memory relay, to the end; the most `sync` messages the
    /// device sent about any one document.
    fn session(device: &mut Journal, relay: &mut crate::sync::peer::MemoryRelay) -> usize {
        use crate::sync::peer::ServerPeer;
        device.begin_sync_session(RELAY_PEER);
        let mut client = ClientPeer::new("device");
        let mut server = ServerPeer::new("relay", 1_000);
        let mut exchanges: BTreeMap<String, usize> = BTreeMap::new();
        let mut to_relay = vec![client.join()];
        for _ in 0..20 {
            let mut to_device = Vec::new();
            for message in to_relay.drain(..) {
                to_device.extend(
                    server
                        .on_message(relay, message)
                        .expect("the relay answers"),
                );
            }
            for message in to_device {
                for reply in client.handle(device, message).expect("the device takes it") {
                    if let WireMessage::Sync { document_id, .. }
                    | WireMessage::Request { document_id, .. } = &reply
                    {
                        *exchanges.entry(document_id.clone()).or_default() += 1;
                    }
                    to_relay.push(reply);
                }
            }
            if to_relay.is_empty() {
                assert!(client.is_settled(), "{:?}", client.statuses());
                return exchanges.values().copied().max().unwrap_or(0);
            }
            to_relay = client.outgoing(to_relay);
        }
        panic!("the session did not settle");
    }

    /// A lesson marked offline on a device that synced before goes out in each document's first
    /// message: one exchange per document, and the relay holds it all.
    #[test]
    fn offline_edits_go_out_in_the_first_message_of_each_document() {
        use crate::sync::peer::MemoryRelay;
        let (source, class, lessons) = relay_fixture();
        let mut relay = MemoryRelay::new(
            class.teacher.as_str(),
            source.school_settings(testing::YEAR).cloned(),
        );
        for doc in source.documents() {
            let copy = Document::load(
                doc.id().clone(),
                &doc.snapshot(),
                &automerge::ActorId::random(),
            )
            .expect("copy");
            relay.readable.insert(doc.id().clone());
            relay.writable.insert(doc.id().clone());
            relay.documents.insert(doc.id().clone(), copy);
        }
        let mut device = Journal::open_in_memory().expect("device");
        session(&mut device, &mut relay);
        // The last week's lessons marked again, differently, offline.
        testing::fill_lessons(&mut device, &class, &lessons[lessons.len() - 30..], 11)
            .expect("marks");
        let edited: Vec<DocId> = relay
            .documents
            .keys()
            .filter(|id| device.heads_hex(id) != heads_of(&relay.documents[*id]))
            .cloned()
            .collect();
        assert!(edited.len() > 3, "{edited:?}");
        assert_eq!(
            session(&mut device, &mut relay),
            1,
            "one message a document"
        );
        for (id, doc) in &relay.documents {
            assert_eq!(device.heads_hex(id), heads_of(doc), "{id}");
        }
    }

    /// Heads the relay does not hold on the device are not assumed: nothing is changed.
    #[test]
    fn heads_the_device_lacks_are_not_assumed() {
        let mut device = relay_journal();
        let id = device.documents().next().expect("a document").id().clone();
        let unknown = [serde_bytes::ByteBuf::from(vec![7u8; 32])];
        assert!(
            !device
                .assume_peer_holds(&id, RELAY_PEER, Some(&unknown))
                .expect("checked")
        );
        let before = device
            .generate_sync_message(&id, RELAY_PEER)
            .expect("message");
        let first = crate::docs::decode_sync_message(&before.expect("a message")).expect("decodes");
        assert!(
            first.changes.is_empty(),
            "the usual opening: heads and have only"
        );
    }

    /// A document the relay announced before sending it whole (news pushed while the device asked for
    /// it) ends the session in step: the next session, told "unchanged", sends nothing about it.
    #[test]
    fn a_document_announced_before_it_arrived_whole_is_shared_at_its_heads() {
        let mut relay = relay_journal();
        let school = relay
            .documents()
            .find(|d| matches!(d.id(), DocId::School(_)))
            .expect("school");
        let id = school.id().clone();
        let sent_whole = whole(school);
        let announced = relay
            .generate_sync_message(&id, "device")
            .expect("generated")
            .expect("a message");
        let mut device = Journal::open_in_memory().expect("device");
        let mut peer = ClientPeer::new("device");
        peer.handle(
            &mut device,
            WireMessage::Sync {
                document_id: id.to_string(),
                sender_id: "relay".into(),
                target_id: "device".into(),
                data: announced,
            },
        )
        .expect("announced");
        peer.handle(&mut device, sent_whole).expect("whole");
        assert_eq!(peer.statuses().get(&id), Some(&DocStatus::InSync));

        device.begin_sync_session(RELAY_PEER);
        assert!(
            device.is_current_with(&id, RELAY_PEER, None),
            "the heads the relay confirmed are the ones the two share"
        );
    }

    fn heads_of(doc: &Document) -> Vec<String> {
        let mut heads: Vec<String> = doc.heads().iter().map(ToString::to_string).collect();
        heads.sort();
        heads
    }

    /// A damaged document in a bundle stops the bundle at its turn, as it did one by one: what came
    /// before it is stored, it and what follows are not.
    #[test]
    fn a_damaged_whole_document_stops_the_bundle_at_its_turn() {
        let relay = relay_journal();
        let mut device = Journal::open_in_memory().expect("device");
        let mut peer = ClientPeer::new("device");
        let school: Vec<WireMessage> = relay
            .documents()
            .filter(|d| matches!(d.id(), DocId::School(_)))
            .map(whole)
            .collect();
        peer.handle(&mut device, bundle(&school)).expect("school");
        let students: Vec<&Document> = relay
            .documents()
            .filter(|d| matches!(d.id(), DocId::Student(..)))
            .take(3)
            .collect();
        let mut messages: Vec<WireMessage> = students.iter().map(|d| whole(d)).collect();
        if let WireMessage::Snapshot { data, .. } = &mut messages[1] {
            data.truncate(data.len() / 2);
        }
        peer.handle(&mut device, bundle(&messages))
            .expect_err("a damaged document");
        assert!(device.document(students[0].id()).is_some());
        assert!(device.document(students[1].id()).is_none());
        assert!(device.document(students[2].id()).is_none());
    }
}
