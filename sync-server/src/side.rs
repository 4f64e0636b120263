//! The relay's answers to a session's sync peer (`journal_core::sync::peer`): one device's rights, from
//! the directory, and the documents as the hub judges and keeps them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use automerge::sync;
use journal_core::DocId;
use journal_core::sync::peer::{Ask, Outcome, PeerFault, RelaySide};
use journal_core::sync::protocol::{IndexEntry, WireMessage};
use tracing::{info_span, warn};

use crate::acl::Grants;
use crate::app::App;
use crate::auth::Principal;
use crate::hub::{HubError, attribution};
use crate::services::events::RelayEvent;

/// One device's session as the relay sees it.
#[derive(Debug)]
pub struct SessionSide {
    app: Arc<App>,
    who: Principal,
    grants: Grants,
    /// The live session delivering changes (0: an HTTP batch), so its own changes are not pushed back.
    origin: u64,
    /// Each document's sync state as last read or written for this device, encoded: a state that has not
    /// moved is not written again (most messages of a morning's sync leave it where it was).
    kept: Mutex<HashMap<DocId, Vec<u8>>>,
}

impl SessionSide {
    /// The side of `who`'s session `origin`, with their current grants; `None` when the account is not
    /// active.
    pub fn new(app: Arc<App>, who: Principal, origin: u64) -> Result<Option<Self>, HubError> {
        let Some(grants) = app.hub.grants(&who.account.id)? else {
            return Ok(None);
        };
        Ok(Some(SessionSide {
            app,
            who,
            grants,
            origin,
            kept: Mutex::new(HashMap::new()),
        }))
    }

    /// The device of the session.
    pub fn device(&self) -> &str {
        &self.who.device.id
    }
}

/// A hub failure as the peer sees it: the client's fault, or the relay's (logged here, hidden from it).
fn fault(error: HubError) -> PeerFault {
    match error {
        HubError::Malformed(reason) => PeerFault::Malformed(reason),
        HubError::Store(crate::store::StoreError::Unavailable(detail)) => {
            warn!(error = %detail, "the relay's database is unavailable");
            PeerFault::Unavailable(detail)
        }
        HubError::Store(crate::store::StoreError::CannotWrite(detail)) => {
            warn!(error = %detail, "the relay's database cannot store anything now");
            PeerFault::CannotStore(detail)
        }
        other => {
            warn!(error = %other, "the relay failed while answering a session");
            PeerFault::Relay(other.to_string())
        }
    }
}

impl RelaySide for SessionSide {
    fn can_read(&self, doc: &DocId) -> bool {
        self.grants.can_read(doc)
    }

    fn reload_rights(&mut self) -> Result<bool, PeerFault> {
        match self.app.hub.grants(&self.who.account.id).map_err(fault)? {
            Some(grants) => {
                self.grants = grants;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn device_revoked(&self) -> Result<bool, PeerFault> {
        let device = self
            .app
            .store()
            .device_auth(&self.who.device.id)
            .map_err(|e| fault(e.into()))?;
        Ok(device.is_none_or(|(device, _)| device.revoked_at.is_some()))
    }

    fn index(&self, every_head: bool) -> Result<Vec<IndexEntry>, PeerFault> {
        self.app
            .hub
            .index(&self.grants, &self.who.device.id, every_head)
            .map_err(fault)
    }

    fn load_state(&self, doc: &DocId) -> Result<sync::State, PeerFault> {
        let state = self
            .app
            .hub
            .load_state(&self.who.device.id, doc)
            .map_err(fault)?;
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(doc.clone(), state.encode());
        Ok(state)
    }

    fn save_state(&self, doc: &DocId, state: &sync::State) -> Result<(), PeerFault> {
        let encoded = state.encode();
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.get(doc) == Some(&encoded) {
            return Ok(());
        }
        // A state that could not be kept costs a longer exchange next time, nothing else.
        match self.app.hub.save_state(&self.who.device.id, doc, state) {
            Ok(()) => {
                kept.insert(doc.clone(), encoded);
            }
            Err(e) => warn!(error = %e, "could not save a sync state"),
        }
        Ok(())
    }

    fn receive(
        &mut self,
        doc: &DocId,
        state: &mut sync::State,
        message: &[u8],
        ask: Ask,
    ) -> Result<Outcome, PeerFault> {
        let _span = info_span!("sync", doc = %doc).entered();
        let by = attribution(
            &self.who.account.id,
            &self.who.device.id,
            self.app.hub.clock().now(),
        );
        let started = std::time::Instant::now();
        let outcome = self
            .app
            .hub
            .receive(&self.grants, &by, self.origin, state, doc, message, ask)
            .map_err(fault)?;
        self.app.metrics.answered(started.elapsed().as_secs_f64());
        if let Outcome::Refused(_) = outcome {
            self.app.metrics.refused("edit_refused");
        }
        tracing::debug!(doc = %doc, create = ask.create, outcome = outcome.kind(), "handled a sync message");
        Ok(outcome)
    }

    fn generate(&self, doc: &DocId, state: &mut sync::State) -> Result<Option<Vec<u8>>, PeerFault> {
        self.app.hub.generate(doc, state).map_err(fault)
    }

    fn resolve_repo_id(&self, repo_id: &str) -> Option<DocId> {
        self.app.hub.resolve_repo_id(repo_id).ok().flatten()
    }

    fn publish_ephemeral(&self, doc: &DocId, message: WireMessage) {
        self.app.hub.announce(RelayEvent::Ephemeral {
            doc: doc.clone(),
            origin: self.origin,
            message,
        });
    }
}
