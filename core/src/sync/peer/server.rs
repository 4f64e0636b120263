//! The relay's side of a sync session, without I/O: protocol messages in, messages to send out. The
//! relay's WebSocket and HTTP batch transports drive it; the relay answers its questions (rights,
//! documents, sync states) through [`RelaySide`], one per session.
//!
//! What it decides: the order of a session (`join` first, then the index), which messages go to whom
//! (every push through the account's current rights, after live events were missed too), how the
//! relay's judgement of a message becomes a reply, and how an HTTP batch is checked whole before any of
//! it is applied and bounded in what it answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use automerge::sync;
use thiserror::Error;

use crate::docs::decode_sync_message;
use crate::ids::DocId;
use crate::sync::protocol::{
    BatchRequest, IndexEntry, PROTOCOL_VERSION, PeerMetadata, WireMessage,
};

/// The relay's judgement of one sync message about one document.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (and stored, if it carried changes); the reply to send, if any.
    Reply(Option<Vec<u8>>),
    /// A new conversation was accepted and its members registered: the session's rights are stale.
    Created(Option<Vec<u8>>),
    /// No such document for this account (missing or not readable: indistinguishable on purpose).
    Unavailable,
    /// Refused; nothing was stored. The reason names the document.
    Refused(String),
    /// The peer holds nothing of the document: here it is saved whole.
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

/// A failure on the relay's side while answering.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PeerFault {
    /// The client sent bytes that are not what the protocol carries; its session ends.
    #[error("{0}")]
    Malformed(String),
    /// The relay failed (its store); the session ends and the client comes back later. The detail is for
    /// the relay's log, not for the client.
    #[error("{0}")]
    Relay(String),
    /// The relay's database cannot be reached now; the client keeps its edits and comes back later.
    #[error("{0}")]
    Unavailable(String),
    /// The relay's database cannot take writes now (its disk is full); the client keeps its edits and
    /// comes back later. The detail is for the relay's log.
    #[error("{0}")]
    CannotStore(String),
}

/// What a client is told when the relay's database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str =
    "the relay's database is unavailable; your edits are saved and will sync later";

/// What a client is told when the relay cannot store what it sent.
pub const CANNOT_STORE: &str =
    "the relay cannot store edits right now; yours are saved on this device and will go out later";

/// What the peer needs from the relay for one session: the account's rights, the documents as the relay
/// judges and keeps them, and this device's sync states.
pub trait RelaySide {
    /// Whether the account may read `doc` (or learn that it exists).
    fn can_read(&self, doc: &DocId) -> bool;
    /// Recomputes the account's rights from the directory; `false` when the account is no longer active.
    fn reload_rights(&mut self) -> Result<bool, PeerFault>;
    /// Whether the device was revoked since the session began.
    fn device_revoked(&self) -> Result<bool, PeerFault>;
    /// The documents the account may read, with the relay's heads where this device has not seen them
    /// (`every_head`: every document's, for a device whose last session was cut short).
    fn index(&self, every_head: bool) -> Result<Vec<IndexEntry>, PeerFault>;
    /// The sync state the relay keeps for this device and document.
    fn load_state(&self, doc: &DocId) -> Result<sync::State, PeerFault>;
    /// Keeps the sync state for this device and document.
    fn save_state(&self, doc: &DocId, state: &sync::State) -> Result<(), PeerFault>;
    /// Judges one sync message (rights, the validator) and stores what it adds; `create` when it is a
    /// `sync`, which may create a document, rather than a `request`; `whole` when the peer takes
    /// `x-journal-snapshot` for a document it holds nothing of.
    fn receive(
        &mut self,
        doc: &DocId,
        state: &mut sync::State,
        message: &[u8],
        ask: Ask,
    ) -> Result<Outcome, PeerFault>;
    /// The next message about `doc` for this device; `None` when there is nothing to say.
    fn generate(&self, doc: &DocId, state: &mut sync::State) -> Result<Option<Vec<u8>>, PeerFault>;
    /// The journal document a stock automerge-repo id stands for, among those the relay holds.
    fn resolve_repo_id(&self, repo_id: &str) -> Option<DocId>;
    /// Passes an `ephemeral` message about `doc` on to the relay's other sessions.
    fn publish_ephemeral(&self, doc: &DocId, message: WireMessage);
}

/// How a sync message asks about a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// A `sync`, which may create a document its writer may write, rather than a `request`.
    pub create: bool,
    /// The peer takes the document saved whole (`x-journal-snapshot`) when it holds nothing of it.
    pub whole: bool,
}

/// Why a session ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closing {
    /// The client left.
    Left,
    /// An error to tell the client before closing.
    Error(String),
}

impl From<PeerFault> for Closing {
    fn from(fault: PeerFault) -> Self {
        match fault {
            PeerFault::Malformed(reason) => Closing::Error(reason),
            PeerFault::Relay(_) => Closing::Error("the relay failed; reconnect later".into()),
            PeerFault::Unavailable(_) => Closing::Error(DATABASE_UNAVAILABLE.into()),
            PeerFault::CannotStore(_) => Closing::Error(CANNOT_STORE.into()),
        }
    }
}

/// What becomes of the relay's sync state for a document after an outcome.
enum StateAfter {
    /// Keep the state the exchange reached.
    Keep,
    /// The client starts the document afresh (after a refusal): so does its state here.
    Reset,
    /// The document is not the client's: forget the state.
    Forget,
    /// A snapshot went out: the state stays as it was, so the client's next `sync` starts from its heads.
    Unchanged,
}

/// The wire reply for an outcome, and what becomes of the sync state.
fn reply(
    relay: &str,
    client: &str,
    document_id: String,
    outcome: Outcome,
) -> (Option<WireMessage>, StateAfter) {
    let (sender_id, target_id) = (relay.to_owned(), client.to_owned());
    match outcome {
        Outcome::Reply(data) | Outcome::Created(data) => (
            data.map(|data| WireMessage::Sync {
                document_id,
                sender_id,
                target_id,
                data,
            }),
            StateAfter::Keep,
        ),
        Outcome::Snapshot(data) => (
            Some(WireMessage::Snapshot {
                document_id,
                sender_id,
                target_id,
                data: data.as_ref().clone(),
            }),
            StateAfter::Unchanged,
        ),
        Outcome::Unavailable => (
            Some(WireMessage::DocUnavailable {
                document_id,
                sender_id,
                target_id,
            }),
            StateAfter::Forget,
        ),
        Outcome::Refused(reason) => (
            Some(WireMessage::Refused {
                document_id,
                sender_id,
                target_id,
                reason,
            }),
            StateAfter::Reset,
        ),
    }
}

/// The relay's side of one live session (a WebSocket).
#[derive(Debug)]
pub struct ServerPeer {
    relay: String,
    client: String,
    joined: bool,
    /// What the client announced in `join`: its storage, and the journal's extensions it understands.
    metadata: PeerMetadata,
    /// The id each document goes by in this session: the journal's own, or its automerge-repo id when
    /// the client asked for it that way.
    wire_ids: HashMap<DocId, String>,
    states: HashMap<DocId, sync::State>,
    touched: HashSet<DocId>,
    max_documents: usize,
}

impl ServerPeer {
    /// A session of the relay whose peer id is `relay`, touching at most `max_documents` documents.
    pub fn new(relay: impl Into<String>, max_documents: usize) -> Self {
        ServerPeer {
            relay: relay.into(),
            client: String::new(),
            joined: false,
            metadata: PeerMetadata::default(),
            wire_ids: HashMap::new(),
            states: HashMap::new(),
            touched: HashSet::new(),
            max_documents,
        }
    }

    /// Whether the client has joined.
    pub fn is_joined(&self) -> bool {
        self.joined
    }

    /// Documents exchanged in this session.
    pub fn touched(&self) -> usize {
        self.touched.len()
    }

    /// Whether the client announced the journal's extension message `name` in `join`.
    fn understands(&self, name: &str) -> bool {
        self.metadata.understands(name)
    }

    /// Whether the client speaks only stock automerge-repo (it announced none of the journal's extensions).
    pub fn is_stock(&self) -> bool {
        self.metadata.journal_extensions.is_empty()
    }

    /// Handles one message from the client; returns what to send, or why the session ends.
    pub fn on_message(
        &mut self,
        side: &mut dyn RelaySide,
        message: WireMessage,
    ) -> Result<Vec<WireMessage>, Closing> {
        match message {
            WireMessage::Join {
                sender_id,
                supported_protocol_versions,
                metadata,
            } => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    return Err(Closing::Error(format!(
                        "unsupported protocol version; this relay speaks {PROTOCOL_VERSION}"
                    )));
                }
                if self.joined {
                    return Ok(Vec::new());
                }
                self.client = sender_id.chars().take(200).collect();
                self.metadata = metadata.unwrap_or_default();
                self.joined = true;
                let mut out = vec![WireMessage::Peer {
                    sender_id: self.relay.clone(),
                    selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                    target_id: self.client.clone(),
                    metadata: Some(PeerMetadata {
                        storage_id: Some(self.relay.clone()),
                        is_ephemeral: false,
                        // What the relay sends only to clients that understand it is announced back,
                        // so the client knows it may send it too.
                        journal_extensions: ["x-journal-bundle"]
                            .into_iter()
                            .filter(|e| self.understands(e))
                            .map(str::to_owned)
                            .collect(),
                        resuming: false,
                    }),
                }];
                if self.understands("x-journal-index") {
                    let documents = side.index(self.metadata.resuming)?;
                    let (documents, packed) = if self.understands("x-journal-packed-index") {
                        let packed = crate::sync::protocol::pack_index(&documents);
                        (Vec::new(), Some(serde_bytes::ByteBuf::from(packed)))
                    } else {
                        (documents, None)
                    };
                    out.push(WireMessage::Index {
                        sender_id: self.relay.clone(),
                        target_id: self.client.clone(),
                        documents,
                        packed,
                    });
                }
                Ok(out)
            }
            _ if !self.joined => Err(Closing::Error("the first message must be join".into())),
            WireMessage::Bundle { packed, .. } => {
                let messages = crate::sync::protocol::unpack_bundle(&packed)
                    .map_err(|e| Closing::Error(e.to_string()))?;
                let mut out = Vec::new();
                for message in messages {
                    if matches!(message, WireMessage::Join { .. }) {
                        return Err(Closing::Error("join may not travel in a bundle".into()));
                    }
                    out.extend(self.on_message(side, message)?);
                }
                Ok(crate::sync::protocol::bundled(
                    out,
                    self.understands("x-journal-bundle"),
                    &self.relay,
                    &self.client,
                ))
            }
            WireMessage::Request {
                document_id, data, ..
            } => self.on_sync(side, document_id, &data, false),
            WireMessage::Sync {
                document_id, data, ..
            } => self.on_sync(side, document_id, &data, true),
            WireMessage::Ephemeral {
                sender_id,
                count,
                session_id,
                document_id,
                data,
                ..
            } => {
                if let Some(doc) = self.resolve(side, &document_id)
                    && side.can_read(&doc)
                {
                    side.publish_ephemeral(
                        &doc,
                        WireMessage::Ephemeral {
                            sender_id,
                            target_id: String::new(),
                            count,
                            session_id,
                            document_id: doc.to_string(),
                            data,
                        },
                    );
                }
                Ok(Vec::new())
            }
            WireMessage::Leave { .. } | WireMessage::Error { .. } => Err(Closing::Left),
            WireMessage::DocUnavailable { .. }
            | WireMessage::RemoteSubscriptionChange { .. }
            | WireMessage::RemoteHeadsChanged { .. } => Ok(Vec::new()),
            other => Err(Closing::Error(format!(
                "unexpected message from a client: {}",
                match other {
                    WireMessage::Peer { .. } => "peer",
                    WireMessage::Index { .. } => "x-journal-index",
                    WireMessage::Snapshot { .. } => "x-journal-snapshot",
                    _ => "x-journal-refused",
                }
            ))),
        }
    }

    /// The journal document an id on the wire names: the journal's own id, or a stock automerge-repo id
    /// of a document the relay holds.
    fn resolve(&self, side: &dyn RelaySide, wire_id: &str) -> Option<DocId> {
        wire_id
            .parse::<DocId>()
            .ok()
            .or_else(|| side.resolve_repo_id(wire_id))
    }

    /// The id `doc` goes by in this session.
    fn wire_id(&self, doc: &DocId) -> String {
        self.wire_ids
            .get(doc)
            .cloned()
            .unwrap_or_else(|| doc.to_string())
    }

    /// An `ephemeral` message another session passed on: forwarded to a stock client that may read the
    /// document (the journal's own clients have no use for it).
    pub fn on_ephemeral(
        &self,
        side: &dyn RelaySide,
        doc: &DocId,
        message: &WireMessage,
    ) -> Vec<WireMessage> {
        let WireMessage::Ephemeral {
            sender_id,
            count,
            session_id,
            data,
            ..
        } = message
        else {
            return Vec::new();
        };
        if !self.joined || !self.is_stock() || !side.can_read(doc) || *sender_id == self.client {
            return Vec::new();
        }
        vec![WireMessage::Ephemeral {
            sender_id: sender_id.clone(),
            target_id: self.client.clone(),
            count: *count,
            session_id: session_id.clone(),
            document_id: self
                .wire_ids
                .get(doc)
                .cloned()
                .unwrap_or_else(|| doc.repo_id()),
            data: data.clone(),
        }]
    }

    fn state(&mut self, side: &dyn RelaySide, doc: &DocId) -> Result<&mut sync::State, Closing> {
        if !self.states.contains_key(doc) {
            if self.states.len() >= self.max_documents {
                return Err(Closing::Error(format!(
                    "more than {} documents in one session",
                    self.max_documents
                )));
            }
            let state = side.load_state(doc)?;
            self.states.insert(doc.clone(), state);
        }
        Ok(self.states.get_mut(doc).expect("inserted above"))
    }

    fn on_sync(
        &mut self,
        side: &mut dyn RelaySide,
        document_id: String,
        data: &[u8],
        create: bool,
    ) -> Result<Vec<WireMessage>, Closing> {
        // An id that is malformed, unknown or not the account's: the same answer, and the session goes on.
        let Some(doc) = self.resolve(side, &document_id) else {
            return Ok(vec![WireMessage::DocUnavailable {
                document_id,
                sender_id: self.relay.clone(),
                target_id: self.client.clone(),
            }]);
        };
        self.wire_ids.insert(doc.clone(), document_id);
        let mut state = self.state(side, &doc)?.clone();
        let ask = Ask {
            create,
            whole: self.understands("x-journal-snapshot"),
        };
        let outcome = side.receive(&doc, &mut state, data, ask)?;
        if matches!(outcome, Outcome::Created(_)) && !side.reload_rights()? {
            return Err(Closing::Error("this account was deactivated".into()));
        }
        if matches!(
            outcome,
            Outcome::Reply(_) | Outcome::Created(_) | Outcome::Snapshot(_)
        ) {
            self.touched.insert(doc.clone());
        }
        let stock_refusal = match &outcome {
            Outcome::Refused(reason) if !self.understands("x-journal-refused") => {
                Some(reason.clone())
            }
            _ => None,
        };
        let (message, after) = reply(&self.relay, &self.client, self.wire_id(&doc), outcome);
        match after {
            StateAfter::Keep => {
                side.save_state(&doc, &state)?;
                self.states.insert(doc, state);
            }
            StateAfter::Reset => {
                let fresh = sync::State::new();
                side.save_state(&doc, &fresh)?;
                self.states.insert(doc, fresh);
            }
            StateAfter::Forget => {
                self.states.remove(&doc);
            }
            StateAfter::Unchanged => {}
        }
        if let Some(reason) = stock_refusal {
            // A stock peer would drop `x-journal-refused` and offer the change again and again: it gets an
            // `error` its user sees, naming the document and the reason, and the session ends.
            return Err(Closing::Error(reason));
        }
        Ok(message.into_iter().collect())
    }

    /// A document changed on the relay (delivered by another session): offers the client the news, if
    /// the account may read it.
    pub fn on_changed(
        &mut self,
        side: &dyn RelaySide,
        doc: &DocId,
    ) -> Result<Vec<WireMessage>, Closing> {
        if !self.joined {
            return Ok(Vec::new());
        }
        if !side.can_read(doc) {
            self.states.remove(doc);
            return Ok(Vec::new());
        }
        if self.is_stock() && !self.states.contains_key(doc) {
            // A stock peer hears about the documents it asked for; any other would be created in its repo.
            return Ok(Vec::new());
        }
        let mut state = self.state(side, doc)?.clone();
        let message = side.generate(doc, &mut state)?;
        self.states.insert(doc.clone(), state);
        Ok(match message {
            Some(data) => {
                self.touched.insert(doc.clone());
                vec![WireMessage::Sync {
                    document_id: self.wire_id(doc),
                    sender_id: self.relay.clone(),
                    target_id: self.client.clone(),
                    data,
                }]
            }
            None => Vec::new(),
        })
    }

    /// The directory changed: the account's rights are recomputed, and the documents of this session it may
    /// no longer read are forgotten and said to be unavailable, so the device lets go of its copy (a
    /// guardian's consent withdrawn, a class handed over) without waiting for its next session.
    pub fn on_rights_changed(
        &mut self,
        side: &mut dyn RelaySide,
    ) -> Result<Vec<WireMessage>, Closing> {
        let readable: Vec<DocId> = self
            .states
            .keys()
            .filter(|doc| side.can_read(doc))
            .cloned()
            .collect();
        if !side.reload_rights()? {
            return Err(Closing::Error("this account was deactivated".into()));
        }
        self.states.retain(|doc, _| side.can_read(doc));
        let mut out = Vec::new();
        // Only what the account could read until now is news; a refused attempt was answered already.
        for doc in readable.iter().filter(|doc| !side.can_read(doc)) {
            if let Some(document_id) = self.wire_ids.get(doc) {
                out.push(WireMessage::DocUnavailable {
                    document_id: document_id.clone(),
                    sender_id: self.relay.clone(),
                    target_id: self.client.clone(),
                });
            }
        }
        Ok(out)
    }

    /// The session missed live events, whatever they were (directory changes, a revocation, changes):
    /// the device and its rights are judged afresh, then every open document is offered again through
    /// them.
    pub fn on_lagged(&mut self, side: &mut dyn RelaySide) -> Result<Vec<WireMessage>, Closing> {
        if side.device_revoked()? {
            return Err(Closing::Error(
                "this device was revoked; sign it in again".into(),
            ));
        }
        let mut out = self.on_rights_changed(side)?;
        let open: Vec<DocId> = self.states.keys().cloned().collect();
        for doc in open {
            out.extend(self.on_changed(side, &doc)?);
        }
        Ok(out)
    }
}

/// A batch that cannot be answered: nothing of it was applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BatchFault {
    /// One of its messages is malformed.
    #[error("{0}; nothing was applied")]
    Invalid(String),
    /// The relay failed.
    #[error(transparent)]
    Relay(#[from] PeerFault),
}

/// One checked item of a batch.
#[derive(Debug)]
struct Item {
    doc: DocId,
    /// The id as the client wrote it, for the reply.
    document_id: String,
    data: Vec<u8>,
    /// A `sync` (which may create the document) rather than a `request`.
    create: bool,
}

/// The relay's side of one HTTP batch: checked whole when it is made, then answered one message at a
/// time (so the transport can give each its turn at the relay's cores), its reply bounded in size.
#[derive(Debug)]
pub struct BatchPeer {
    relay: String,
    client: String,
    items: std::collections::VecDeque<Item>,
    replies: Vec<WireMessage>,
    deferred: Vec<String>,
    reply_bytes: usize,
    max_reply_bytes: usize,
}

impl BatchPeer {
    /// Checks every message of `request` before any is applied: the first malformed one (not `request` or
    /// `sync`, a malformed id, bytes that are not a sync message, a document named twice) refuses it all.
    pub fn new(
        relay: impl Into<String>,
        request: BatchRequest,
        max_reply_bytes: usize,
    ) -> Result<Self, BatchFault> {
        let mut seen = HashSet::new();
        let mut items = std::collections::VecDeque::with_capacity(request.messages.len());
        for message in request.messages {
            let (document_id, data, create) = match message {
                WireMessage::Request {
                    document_id, data, ..
                } => (document_id, data, false),
                WireMessage::Sync {
                    document_id, data, ..
                } => (document_id, data, true),
                _ => {
                    return Err(BatchFault::Invalid(
                        "a batch holds only request and sync messages".into(),
                    ));
                }
            };
            let doc: DocId = document_id
                .parse()
                .map_err(|e: crate::InputError| BatchFault::Invalid(e.to_string()))?;
            if !seen.insert(doc.clone()) {
                return Err(BatchFault::Invalid(format!(
                    "document {doc} appears twice in one batch"
                )));
            }
            decode_sync_message(&data)
                .map_err(|e| BatchFault::Invalid(format!("document {doc}: {e}")))?;
            items.push_back(Item {
                doc,
                document_id,
                data,
                create,
            });
        }
        Ok(BatchPeer {
            relay: relay.into(),
            client: request.storage_id,
            items,
            replies: Vec::new(),
            deferred: Vec::new(),
            reply_bytes: 0,
            max_reply_bytes,
        })
    }

    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no message is left to answer (or defer).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Answers the next message; past the reply limit it is deferred, untouched. Returns the outcome's
    /// name for the log, if a message was answered.
    pub fn answer_next(
        &mut self,
        side: &mut dyn RelaySide,
    ) -> Result<Option<&'static str>, BatchFault> {
        let Some(item) = self.items.pop_front() else {
            return Ok(None);
        };
        if self.reply_bytes >= self.max_reply_bytes {
            self.deferred.push(item.document_id);
            return Ok(None);
        }
        let mut state = side.load_state(&item.doc)?;
        let ask = Ask {
            create: item.create,
            whole: true,
        };
        let outcome = match side.receive(&item.doc, &mut state, &item.data, ask) {
            Ok(outcome) => outcome,
            // Checked above yet not applicable: this document's change is refused, not the batch.
            Err(PeerFault::Malformed(reason)) => {
                Outcome::Refused(format!("document {}: {reason}", item.doc))
            }
            Err(fault) => return Err(fault.into()),
        };
        let kind = outcome.kind();
        if matches!(outcome, Outcome::Created(_)) {
            side.reload_rights()?;
        }
        let (message, after) = reply(&self.relay, &self.client, item.document_id, outcome);
        match after {
            StateAfter::Keep => side.save_state(&item.doc, &state)?,
            StateAfter::Reset => side.save_state(&item.doc, &sync::State::new())?,
            StateAfter::Forget | StateAfter::Unchanged => {}
        }
        if let Some(message) = message {
            self.reply_bytes += payload(&message);
            self.replies.push(message);
        }
        Ok(Some(kind))
    }

    /// The replies, and the documents deferred to the next batch.
    pub fn finish(self) -> (Vec<WireMessage>, Vec<String>) {
        (self.replies, self.deferred)
    }
}

/// The length of a reply's payload.
fn payload(message: &WireMessage) -> usize {
    match message {
        WireMessage::Sync { data, .. } | WireMessage::Snapshot { data, .. } => data.len(),
        WireMessage::Refused { reason, .. } => reason.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use automerge::ActorId;

    use super::*;
    use crate::docs::Document;
    use crate::sync::peer::MemoryRelay;
    use crate::sync::protocol::BatchRequest;
    use crate::testing::{self, YEAR};
    use crate::{Attendance, Journal};

    /// A relay holding a school and a class of two, as the class's teacher reads it: everything readable,
    /// the class and the students' records writable.
    fn relay() -> (MemoryRelay, testing::FixtureClass) {
        let mut j = Journal::open_in_memory().expect("journal");
        testing::school(&mut j).expect("school");
        let class = testing::class_with_students(&mut j, "5a", 2).expect("class");
        let mut relay = MemoryRelay::new(class.teacher.as_str(), j.school_settings(YEAR).cloned());
        for doc in j.documents() {
            let copy = Document::load(doc.id().clone(), &doc.snapshot(), &ActorId::random())
                .expect("copy");
            relay.readable.insert(doc.id().clone());
            if !matches!(doc.id(), DocId::School(_)) {
                relay.writable.insert(doc.id().clone());
            }
            relay.documents.insert(doc.id().clone(), copy);
        }
        (relay, class)
    }

    /// The journal's own client's `join`, announcing its extensions.
    fn join() -> WireMessage {
        WireMessage::Join {
            sender_id: "tablet".into(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
            metadata: Some(PeerMetadata {
                journal_extensions: crate::sync::protocol::JOURNAL_EXTENSIONS
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect(),
                ..PeerMetadata::default()
            }),
        }
    }

    /// A stock automerge-repo peer's `join`.
    fn stock_join() -> WireMessage {
        WireMessage::Join {
            sender_id: "peer-js".into(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
            metadata: Some(PeerMetadata {
                storage_id: Some("3f2c…".into()),
                ..PeerMetadata::default()
            }),
        }
    }

    fn opening(doc: &DocId, create: bool) -> WireMessage {
        let data = Document::create(doc.clone(), &ActorId::random())
            .expect("doc")
            .generate_sync_message(&mut sync::State::new())
            .expect("a first message");
        WireMessage::sync_or_request(
            create,
            doc.to_string(),
            "tablet".into(),
            "relay".into(),
            data,
        )
    }

    fn student(class: &testing::FixtureClass, i: usize) -> DocId {
        DocId::Student(YEAR, class.students[i].clone())
    }

    #[test]
    fn a_session_joins_first_and_gets_the_index_of_what_it_may_read() {
        let (mut relay, class) = relay();
        let mut peer = ServerPeer::new("relay", 100);
        let early = peer.on_message(&mut relay, opening(&student(&class, 0), false));
        assert_eq!(
            early,
            Err(Closing::Error("the first message must be join".into()))
        );
        relay.readable.remove(&student(&class, 1));
        let out = peer.on_message(&mut relay, join()).expect("join");
        let [
            WireMessage::Peer { .. },
            index @ WireMessage::Index { packed, .. },
        ] = &out[..]
        else {
            panic!("{out:?}");
        };
        assert!(
            packed.is_some(),
            "a client that announced it gets the index packed"
        );
        let documents = index.index_documents().expect("an index").expect("unpacks");
        let listed: BTreeSet<String> = documents.iter().map(|d| d.document_id.clone()).collect();
        assert!(listed.contains(&student(&class, 0).to_string()));
        assert!(
            !listed.contains(&student(&class, 1).to_string()),
            "not readable, not listed"
        );

        // A client from before packing gets the same documents as they were always sent.
        let mut older = ServerPeer::new("relay", 100);
        let WireMessage::Join {
            sender_id,
            supported_protocol_versions,
            metadata: Some(mut metadata),
        } = join()
        else {
            unreachable!("join() is a join with metadata")
        };
        metadata
            .journal_extensions
            .retain(|e| e != "x-journal-packed-index");
        let out = older
            .on_message(
                &mut relay,
                WireMessage::Join {
                    sender_id,
                    supported_protocol_versions,
                    metadata: Some(metadata),
                },
            )
            .expect("join");
        let [
            WireMessage::Peer { .. },
            WireMessage::Index {
                documents: plain,
                packed: None,
                ..
            },
        ] = &out[..]
        else {
            panic!("{out:?}");
        };
        assert_eq!(plain, &documents);
    }

    #[test]
    fn a_bundle_is_answered_with_one_bundle_of_the_same_answers() {
        let (mut relay, class) = relay();
        let docs = [student(&class, 0), student(&class, 1)];
        let mut one_by_one = ServerPeer::new("relay", 100);
        one_by_one.on_message(&mut relay, join()).expect("join");
        let mut separately = Vec::new();
        for doc in &docs {
            separately.extend(
                one_by_one
                    .on_message(&mut relay, opening(doc, false))
                    .expect("request"),
            );
        }
        let mut peer = ServerPeer::new("relay", 100);
        let out = peer.on_message(&mut relay, join()).expect("join");
        let WireMessage::Peer {
            metadata: Some(metadata),
            ..
        } = &out[0]
        else {
            panic!("{out:?}");
        };
        assert!(
            metadata.understands("x-journal-bundle"),
            "the relay says it takes bundles"
        );
        let bundle = crate::sync::protocol::bundled(
            docs.iter().map(|doc| opening(doc, false)).collect(),
            true,
            "tablet",
            "relay",
        );
        let answer = peer
            .on_message(&mut relay, bundle.into_iter().next().expect("one"))
            .expect("bundle");
        let [WireMessage::Bundle { packed, .. }] = &answer[..] else {
            panic!("{answer:?}");
        };
        let answers = crate::sync::protocol::unpack_bundle(packed).expect("unpacks");
        assert_eq!(answers.len(), separately.len());
        let ids = |messages: &[WireMessage]| -> Vec<String> {
            messages
                .iter()
                .map(|m| match m {
                    WireMessage::Sync { document_id, .. }
                    | WireMessage::Snapshot { document_id, .. } => document_id.clone(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(ids(&answers), ids(&separately));

        let smuggled =
            crate::sync::protocol::bundled(vec![join(), join()], true, "tablet", "relay");
        assert!(matches!(
            peer.on_message(&mut relay, smuggled.into_iter().next().expect("one")),
            Err(Closing::Error(reason)) if reason.contains("join")
        ));
    }

    #[test]
    fn every_push_goes_through_the_rights_the_account_has_now() {
        let (mut relay, class) = relay();
        let mut peer = ServerPeer::new("relay", 100);
        peer.on_message(&mut relay, join()).expect("join");
        let doc = student(&class, 0);
        let reply = peer
            .on_message(&mut relay, opening(&doc, false))
            .expect("request");
        assert!(
            matches!(&reply[..], [WireMessage::Sync { .. }]),
            "{reply:?}"
        );
        // A change on the relay, then the account loses the document.
        relay
            .documents
            .get_mut(&doc)
            .expect("doc")
            .put_attendance(
                &"l1".parse().expect("id"),
                &Attendance {
                    subject: "math".parse().expect("id"),
                    date: time::macros::date!(2026 - 09 - 07),
                    period: 1,
                    code: Some("н".into()),
                    note: String::new(),
                },
            )
            .expect("edit");
        relay.readable.remove(&doc);
        assert!(peer.on_changed(&relay, &doc).expect("push").is_empty());
        assert!(
            peer.on_lagged(&mut relay).expect("lag").is_empty(),
            "nothing after a lag either"
        );
        relay.revoked = true;
        assert!(
            matches!(peer.on_lagged(&mut relay), Err(Closing::Error(e)) if e.contains("revoked"))
        );
    }

    #[test]
    fn a_refused_change_is_answered_and_nothing_is_kept() {
        let (mut relay, class) = relay();
        let mut peer = ServerPeer::new("relay", 100);
        peer.on_message(&mut relay, join()).expect("join");
        let doc = student(&class, 0);
        let mut replica = Document::load(
            doc.clone(),
            &relay.documents[&doc].snapshot(),
            &ActorId::random(),
        )
        .expect("replica");
        replica
            .put_raw_cell("marks", "bad", "{\"value\":\"7\"}")
            .expect("raw");
        let mut state = sync::State::new();
        let mut to_relay = replica.generate_sync_message(&mut state);
        let mut refused = None;
        for _ in 0..5 {
            let Some(data) = to_relay.take() else { break };
            let replies = peer
                .on_message(
                    &mut relay,
                    WireMessage::Sync {
                        document_id: doc.to_string(),
                        sender_id: "tablet".into(),
                        target_id: "relay".into(),
                        data,
                    },
                )
                .expect("answered");
            for reply in replies {
                match reply {
                    WireMessage::Sync { data, .. } => {
                        replica
                            .receive_sync_message(&mut state, &data, &Default::default())
                            .expect("valid");
                        to_relay = replica.generate_sync_message(&mut state);
                    }
                    WireMessage::Refused { reason, .. } => refused = Some(reason),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert!(refused.is_some_and(|r| r.contains(&doc.to_string())));
        let crate::docs::View::Student(kept) = relay.documents[&doc].view() else {
            unreachable!()
        };
        assert!(
            kept.marks.is_empty(),
            "nothing of the refused change is kept"
        );
    }

    #[test]
    fn a_batch_is_checked_whole_and_its_reply_bounded() {
        let (mut relay, class) = relay();
        let twice = BatchRequest {
            storage_id: "tablet".into(),
            messages: vec![opening(&student(&class, 0), false); 2],
        };
        assert!(
            matches!(BatchPeer::new("relay", twice, 1 << 20), Err(BatchFault::Invalid(e)) if e.contains("twice"))
        );
        let bad = BatchRequest {
            storage_id: "tablet".into(),
            messages: vec![
                opening(&student(&class, 0), true),
                WireMessage::Sync {
                    document_id: "not/a/doc".into(),
                    sender_id: "tablet".into(),
                    target_id: "relay".into(),
                    data: vec![],
                },
            ],
        };
        assert!(matches!(
            BatchPeer::new("relay", bad, 1 << 20),
            Err(BatchFault::Invalid(_))
        ));

        let three = BatchRequest {
            storage_id: "tablet".into(),
            messages: (0..2)
                .map(|i| opening(&student(&class, i), false))
                .chain([opening(&DocId::School(YEAR), false)])
                .collect(),
        };
        let mut batch = BatchPeer::new("relay", three, 1).expect("checked");
        assert_eq!(batch.len(), 3);
        while !batch.is_empty() {
            batch.answer_next(&mut relay).expect("answered");
        }
        let (replies, deferred) = batch.finish();
        assert_eq!(replies.len(), 1, "the first reply reaches the limit");
        assert_eq!(
            deferred,
            [
                student(&class, 1).to_string(),
                DocId::School(YEAR).to_string()
            ]
        );
    }

    #[test]
    fn a_stock_peer_gets_the_plain_protocol_in_the_id_form_it_used() {
        let (mut relay, class) = relay();
        let mut peer = ServerPeer::new("relay", 100);
        let out = peer.on_message(&mut relay, stock_join()).expect("join");
        assert!(
            matches!(&out[..], [WireMessage::Peer { .. }]),
            "no index: {out:?}"
        );
        assert!(peer.is_stock());
        let doc = student(&class, 0);
        let WireMessage::Request { data, .. } = opening(&doc, false) else {
            unreachable!()
        };
        let replies = peer
            .on_message(
                &mut relay,
                WireMessage::Request {
                    document_id: doc.repo_id(),
                    sender_id: "peer-js".into(),
                    target_id: "relay".into(),
                    data,
                },
            )
            .expect("answered");
        assert!(
            matches!(&replies[..], [WireMessage::Sync { document_id, .. }] if *document_id == doc.repo_id()),
            "a plain sync, under the stock id: {replies:?}"
        );
        for unknown in [
            "not-an-id",
            "../../etc",
            &DocId::Student(YEAR, "nobody".parse().expect("id")).repo_id(),
        ] {
            let replies = peer
                .on_message(
                    &mut relay,
                    WireMessage::Request {
                        document_id: unknown.to_owned(),
                        sender_id: "peer-js".into(),
                        target_id: "relay".into(),
                        data: vec![],
                    },
                )
                .expect("the session goes on");
            assert!(
                matches!(&replies[..], [WireMessage::DocUnavailable { document_id, .. }] if document_id == unknown),
                "{unknown}: {replies:?}"
            );
        }
    }

    #[test]
    fn a_stock_peer_sees_a_refusal_as_an_error_and_the_session_ends() {
        let (mut relay, class) = relay();
        let mut peer = ServerPeer::new("relay", 100);
        peer.on_message(&mut relay, stock_join()).expect("join");
        let doc = student(&class, 0);
        relay.writable.remove(&doc);
        let mut replica = Document::load(
            doc.clone(),
            &relay.documents[&doc].snapshot(),
            &ActorId::random(),
        )
        .expect("replica");
        replica.put_raw_cell("marks", "m", "{}").expect("raw");
        let mut state = sync::State::new();
        let mut closing = None;
        let mut next = replica.generate_sync_message(&mut state);
        for _ in 0..5 {
            let Some(data) = next.take() else { break };
            let sync = WireMessage::Sync {
                document_id: doc.repo_id(),
                sender_id: "peer-js".into(),
                target_id: "relay".into(),
                data,
            };
            match peer.on_message(&mut relay, sync) {
                Ok(replies) => {
                    for reply in replies {
                        if let WireMessage::Sync { data, .. } = reply {
                            replica
                                .receive_sync_message(&mut state, &data, &Default::default())
                                .expect("valid");
                            next = replica.generate_sync_message(&mut state);
                        }
                    }
                }
                Err(end) => {
                    closing = Some(end);
                    break;
                }
            }
        }
        assert!(
            matches!(&closing, Some(Closing::Error(e)) if e.contains(&doc.to_string()) && e.contains("not change")),
            "{closing:?}"
        );
    }

    #[test]
    fn ephemeral_messages_pass_to_stock_readers_only() {
        let (mut relay, class) = relay();
        let doc = student(&class, 0);
        let mut sender = ServerPeer::new("relay", 100);
        sender.on_message(&mut relay, stock_join()).expect("join");
        let ephemeral = WireMessage::Ephemeral {
            sender_id: "peer-js".into(),
            target_id: "relay".into(),
            count: 7,
            session_id: "s".into(),
            document_id: doc.repo_id(),
            data: vec![1],
        };
        assert!(
            sender
                .on_message(&mut relay, ephemeral)
                .expect("kept open")
                .is_empty()
        );
        let published = relay.published.borrow().clone();
        assert_eq!(published.len(), 1);
        let mut stock = ServerPeer::new("relay", 100);
        stock
            .on_message(
                &mut relay,
                WireMessage::Join {
                    sender_id: "peer-other".into(),
                    supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
                    metadata: None,
                },
            )
            .expect("join");
        let forwarded = stock.on_ephemeral(&relay, &doc, &published[0]);
        assert!(
            matches!(&forwarded[..], [WireMessage::Ephemeral { target_id, count: 7, document_id, .. }] if target_id == "peer-other" && *document_id == doc.repo_id()),
            "{forwarded:?}"
        );
        let mut ours = ServerPeer::new("relay", 100);
        ours.on_message(&mut relay, join()).expect("join");
        assert!(
            ours.on_ephemeral(&relay, &doc, &published[0]).is_empty(),
            "our clients have no use for it"
        );
        relay.readable.remove(&doc);
        assert!(
            stock.on_ephemeral(&relay, &doc, &published[0]).is_empty(),
            "nor do those who may not read it"
        );
    }
}
