//! A relay side in memory, for tests and fuzzing of the server peer with no runtime and no database:
//! documents judged by the core validator with the writer's identity, rights from two sets of ids.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{ActorId, sync};

use super::server::{Ask, Outcome, PeerFault, RelaySide};
use crate::docs::{Document, SchoolSettings, sync_message_has_changes};
use crate::error::Error;
use crate::ids::{DocId, SubjectId};
use crate::sync::protocol::{IndexEntry, WireMessage};
use crate::validate::{ValidationContext, WriterGuard};

/// One account's session against documents held in memory.
#[derive(Debug)]
pub struct MemoryRelay {
    /// The documents, as the relay keeps them.
    pub documents: BTreeMap<DocId, Document>,
    /// What the account may read.
    pub readable: BTreeSet<DocId>,
    /// What the account may write (and create).
    pub writable: BTreeSet<DocId>,
    /// The account delivering changes.
    pub author: String,
    /// Subjects the account teaches, for the marks it signs.
    pub subjects_taught: BTreeSet<SubjectId>,
    /// The school's settings the validator applies.
    pub settings: Option<SchoolSettings>,
    /// Whether the account is still active (its rights reload).
    pub active: bool,
    /// Whether the device was revoked.
    pub revoked: bool,
    /// The `ephemeral` messages passed on to other sessions.
    pub published: RefCell<Vec<WireMessage>>,
    states: RefCell<HashMap<DocId, Vec<u8>>>,
    actor: ActorId,
}

impl MemoryRelay {
    /// An empty relay for `author`, with the school's `settings`.
    pub fn new(author: &str, settings: Option<SchoolSettings>) -> Self {
        MemoryRelay {
            documents: BTreeMap::new(),
            readable: BTreeSet::new(),
            writable: BTreeSet::new(),
            author: author.to_owned(),
            subjects_taught: BTreeSet::new(),
            settings,
            active: true,
            revoked: false,
            published: RefCell::new(Vec::new()),
            states: RefCell::new(HashMap::new()),
            actor: ActorId::random(),
        }
    }
}

impl RelaySide for MemoryRelay {
    fn can_read(&self, doc: &DocId) -> bool {
        self.readable.contains(doc)
    }

    fn reload_rights(&mut self) -> Result<bool, PeerFault> {
        Ok(self.active)
    }

    fn device_revoked(&self) -> Result<bool, PeerFault> {
        Ok(self.revoked)
    }

    fn index(&self, _every_head: bool) -> Result<Vec<IndexEntry>, PeerFault> {
        Ok(self
            .documents
            .iter()
            .filter(|(id, _)| self.can_read(id))
            .map(|(id, doc)| IndexEntry {
                document_id: id.to_string(),
                heads: Some(
                    doc.heads()
                        .iter()
                        .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
                        .collect(),
                ),
            })
            .collect())
    }

    fn load_state(&self, doc: &DocId) -> Result<sync::State, PeerFault> {
        Ok(self
            .states
            .borrow()
            .get(doc)
            .and_then(|bytes| sync::State::decode(bytes).ok())
            .unwrap_or_default())
    }

    fn save_state(&self, doc: &DocId, state: &sync::State) -> Result<(), PeerFault> {
        self.states.borrow_mut().insert(doc.clone(), state.encode());
        Ok(())
    }

    fn receive(
        &mut self,
        doc: &DocId,
        state: &mut sync::State,
        message: &[u8],
        ask: Ask,
    ) -> Result<Outcome, PeerFault> {
        let create = ask.create;
        let writes =
            sync_message_has_changes(message).map_err(|e| PeerFault::Malformed(e.to_string()))?;
        if !self.can_read(doc) {
            return Ok(Outcome::Unavailable);
        }
        if writes && !self.writable.contains(doc) {
            return Ok(Outcome::Refused(format!(
                "document {doc}: your account may read this document but not change it"
            )));
        }
        if !self.documents.contains_key(doc) {
            if !(create && self.writable.contains(doc)) {
                return Ok(Outcome::Unavailable);
            }
            let fresh = Document::create(doc.clone(), &self.actor)
                .map_err(|e| PeerFault::Malformed(e.to_string()))?;
            self.documents.insert(doc.clone(), fresh);
        }
        let ctx = ValidationContext {
            settings: self.settings.as_ref(),
            writer: Some(WriterGuard {
                author: &self.author,
                subjects_taught: &self.subjects_taught,
                edits: None,
            }),
        };
        let target = self.documents.get_mut(doc).expect("inserted above");
        let mut next = state.clone();
        match target.receive_sync_message(&mut next, message, &ctx) {
            Ok(()) => {}
            Err(Error::Schema(e)) => {
                if target.never_saved() {
                    self.documents.remove(doc);
                }
                return Ok(Outcome::Refused(e.to_string()));
            }
            Err(e) => return Err(PeerFault::Malformed(e.to_string())),
        }
        target.mark_saved();
        *state = next;
        Ok(Outcome::Reply(target.generate_sync_message(state)))
    }

    fn generate(&self, doc: &DocId, state: &mut sync::State) -> Result<Option<Vec<u8>>, PeerFault> {
        Ok(self
            .documents
            .get(doc)
            .and_then(|d| d.generate_sync_message(state)))
    }

    fn resolve_repo_id(&self, repo_id: &str) -> Option<DocId> {
        self.documents
            .keys()
            .find(|id| id.repo_id() == repo_id)
            .cloned()
    }

    fn publish_ephemeral(&self, _doc: &DocId, message: WireMessage) {
        self.published.borrow_mut().push(message);
    }
}
