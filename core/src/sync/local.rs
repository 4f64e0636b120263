//! The journal's side of sync: Automerge sync messages per document and peer, with the sync state kept in
//! the store so a reconnect sends only what is new, and the refused-edits list.

use automerge::sync;
use time::OffsetDateTime;

use crate::docs::Document;
use crate::error::{InputError, Result, StoreError};
use crate::ids::DocId;
use crate::journal::Journal;
use crate::validate::ValidationContext;

/// Edits the relay refused, kept so nothing disappears silently; the app shows and exports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedEdit {
    /// Its number on this device, to retry or discard it.
    pub id: i64,
    /// The document the edits were in.
    pub document: String,
    /// The relay's reason.
    pub reason: String,
    /// When the device gave them up (Unix seconds).
    pub refused_at: i64,
    /// The edits, one readable line each (`marks/<id> = {...}`).
    pub edits: Vec<String>,
}

impl Journal {
    fn sync_state(&mut self, id: &DocId, peer: &str) -> Result<&mut sync::State> {
        let key = (id.clone(), peer.to_owned());
        if !self.sync_states.contains_key(&key) {
            let state = match self.store.sync_state(&id.to_string(), peer)? {
                Some(bytes) => sync::State::decode(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(doc = %id, error = %e, "unreadable sync state; starting afresh");
                    sync::State::new()
                }),
                None => sync::State::new(),
            };
            self.sync_states.insert(key.clone(), state);
        }
        Ok(self.sync_states.get_mut(&key).expect("inserted just above"))
    }

    /// Starts a new session with `peer`: keeps only what sync states persist (the shared heads), so the
    /// first messages of the session are sent again even if the last session ended mid-exchange.
    pub fn begin_sync_session(&mut self, peer: &str) {
        for ((_, state_peer), state) in self.sync_states.iter_mut() {
            if state_peer == peer {
                *state = sync::State::decode(&state.encode()).unwrap_or_default();
            }
        }
    }

    /// Whether the last session with `peer` sent edits and ended before they were all confirmed (a cut
    /// link, a closed app): the next one asks for the exact heads of every document.
    pub fn session_unsettled(&self, peer: &str) -> bool {
        self.store.session_unsettled(peer).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read whether the last session settled");
            true
        })
    }

    /// Records that the session with `peer` has edits out that it has not seen confirmed (`true`), or
    /// that everything it sent is confirmed (`false`).
    pub fn note_session(&mut self, peer: &str, unsettled: bool) -> Result<()> {
        self.store
            .write(|w| w.set_session_unsettled(peer, unsettled))
            .map_err(Into::into)
    }

    /// Heads of a document as hex, sorted; empty when the device does not hold it.
    pub fn heads_hex(&self, id: &DocId) -> Vec<String> {
        let mut heads: Vec<String> = self
            .docs
            .get(id)
            .map(|d| d.heads().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        heads.sort();
        heads
    }

    /// The next sync message for `peer` about a document (an empty document's if the device lacks it).
    pub fn generate_sync_message(&mut self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .next_sync_message(id, peer)?
            .map(|(message, _)| message))
    }

    /// The next sync message for `peer`, and whether it carries changes the peer was not sent before.
    pub(crate) fn next_sync_message(
        &mut self,
        id: &DocId,
        peer: &str,
    ) -> Result<Option<(Vec<u8>, bool)>> {
        let mut state = self.sync_state(id, peer)?.clone();
        let sent_before = state.sent_hashes.len();
        let message = match self.docs.get(id) {
            Some(doc) => doc.generate_sync_message(&mut state),
            None => Document::create(id.clone(), &self.actor)?.generate_sync_message(&mut state),
        };
        let carries_changes = state.sent_hashes.len() > sent_before;
        *self.sync_state(id, peer)? = state;
        Ok(message.map(|message| (message, carries_changes)))
    }

    /// The school settings a document is validated against (none for the school document itself).
    pub(crate) fn settings_for(&self, id: &DocId) -> Option<crate::docs::SchoolSettings> {
        match id {
            DocId::School(_) => None,
            _ => self.school_settings(id.year()).cloned(),
        }
    }

    /// Takes a whole document the relay sent (`x-journal-snapshot`) for one this device lacks: validated,
    /// then stored as its snapshot in one transaction. A device that has the document merges it instead.
    pub fn receive_snapshot(&mut self, id: &DocId, bytes: &[u8]) -> Result<()> {
        let settings = self.settings_for(id);
        let loaded = load_snapshot(
            id,
            bytes,
            self.docs.contains_key(id),
            settings.as_ref(),
            &self.actor,
        );
        self.receive_loaded_snapshot(id, bytes, loaded)
    }

    /// Loads and validates whole documents the relay sent, in parallel, for [`Self::receive_loaded_snapshot`]
    /// to store one by one: on a first sync, parsing them is most of the time the device spends.
    pub fn load_snapshots(&self, snapshots: &[(DocId, &[u8])]) -> Vec<Result<Document>> {
        // What each load needs from the journal, read here: the journal itself stays on this thread.
        let work: Vec<(&DocId, &[u8], bool, Option<crate::docs::SchoolSettings>)> = snapshots
            .iter()
            .map(|(id, bytes)| {
                (
                    id,
                    *bytes,
                    self.docs.contains_key(id),
                    self.settings_for(id),
                )
            })
            .collect();
        let actor = &self.actor;
        crate::parallel::map(&work, |(id, bytes, held, settings)| {
            load_snapshot(id, bytes, *held, settings.as_ref(), actor)
        })
    }

    /// Stores a whole document the relay sent, as [`Self::load_snapshots`] loaded it: as its snapshot in
    /// one transaction, or merged into the device's copy if it has one.
    pub fn receive_loaded_snapshot(
        &mut self,
        id: &DocId,
        bytes: &[u8],
        loaded: Result<Document>,
    ) -> Result<()> {
        let doc = loaded?;
        if self.docs.contains_key(id) {
            return self.merge_document(&doc);
        }
        let key = id.to_string();
        // As with any document that arrives: its history is not news, except a conversation's messages.
        let seen = match id {
            DocId::Thread(..) => Vec::new(),
            _ => crate::news::encode_heads(&doc.heads()),
        };
        self.store.write(|w| -> Result<()> {
            w.replace_snapshot(&key, bytes)?;
            w.put_news_seen(&key, &seen)?;
            Ok(())
        })?;
        self.docs.insert(id.clone(), doc);
        self.reindex(id);
        Ok(())
    }

    /// Applies a sync message from `peer`; new changes and the sync state commit in one transaction.
    /// A message whose changes would break the document's rules is refused and nothing changes.
    pub fn receive_sync_message(&mut self, id: &DocId, peer: &str, message: &[u8]) -> Result<()> {
        let settings = self.settings_for(id);
        let ctx = ValidationContext::with_settings(settings.as_ref());
        let mut state = self.sync_state(id, peer)?.clone();
        let existed = self.docs.contains_key(id);
        let mut doc = match self.docs.remove(id) {
            Some(doc) => doc,
            None => Document::create(id.clone(), &self.actor)?,
        };
        let before = doc.heads();
        if let Err(e) = doc.receive_sync_message(&mut state, message, &ctx) {
            if existed {
                self.docs.insert(id.clone(), doc);
            }
            return Err(e);
        }
        let changed = doc.heads() != before || !existed;
        self.docs.insert(id.clone(), doc);
        let encoded = state.encode();
        let key = id.to_string();
        let docs = &self.docs;
        let written = self.store.write(|w| -> Result<()> {
            if changed && let Some(doc) = docs.get(id) {
                let bytes = doc.unsaved_changes().unwrap_or_default();
                let stats = w.append_chunk(&key, &bytes)?;
                if stats.needs_compaction() {
                    w.replace_snapshot(&key, &doc.snapshot())?;
                }
            }
            w.put_sync_state(&key, peer, &encoded)?;
            if !existed && let Some(doc) = docs.get(id) {
                // The feed of a document starts when it first arrives: its history is not news. A
                // conversation is the exception: every message in one that just arrived is new to the user.
                let seen = match id {
                    DocId::Thread(..) => Vec::new(),
                    _ => crate::news::encode_heads(&doc.heads()),
                };
                w.put_news_seen(&key, &seen)?;
            }
            Ok(())
        });
        match written {
            Ok(()) => {
                if let Some(doc) = self.docs.get_mut(id) {
                    doc.mark_saved();
                }
                *self.sync_state(id, peer)? = state;
                if changed {
                    self.reindex(id);
                }
                Ok(())
            }
            Err(e) => {
                self.restore(std::slice::from_ref(id));
                Err(e)
            }
        }
    }

    /// Whether the device's copy of a document matches what `peer` announced: its heads, or (when `heads` is
    /// `None`) "unchanged since we last synced", which holds if the device made no edit since then. Heads
    /// announced and equal to the device's become the heads the two share (kept in the sync state).
    pub fn is_current_with(
        &mut self,
        id: &DocId,
        peer: &str,
        heads: Option<&[serde_bytes::ByteBuf]>,
    ) -> bool {
        let Some(doc) = self.docs.get(id) else {
            return false;
        };
        let mut ours: Vec<[u8; 32]> = doc.heads().iter().map(|h| h.0).collect();
        ours.sort();
        let mut theirs: Vec<[u8; 32]> = match heads {
            Some(heads) => heads
                .iter()
                .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
                .collect(),
            None => match self.sync_state(id, peer) {
                Ok(state) => state.shared_heads.iter().map(|h| h.0).collect(),
                Err(_) => return false,
            },
        };
        theirs.sort();
        if ours != theirs {
            return false;
        }
        if heads.is_some()
            && let Err(e) = self.note_shared(id, peer)
        {
            tracing::warn!(doc = %id, error = %e, "cannot keep the heads shared with the relay");
        }
        true
    }

    /// Records that `peer` holds exactly this device's heads of a document, when its sync state does not
    /// know it yet (the answer to a sync that was cut short never came): the next session starts there.
    fn note_shared(&mut self, id: &DocId, peer: &str) -> Result<()> {
        let Some(mut heads) = self.docs.get(id).map(Document::heads) else {
            return Ok(());
        };
        heads.sort();
        let state = self.sync_state(id, peer)?;
        let mut shared = state.shared_heads.clone();
        shared.sort();
        if shared == heads {
            return Ok(());
        }
        let mut moved = state.clone();
        moved.shared_heads = heads;
        let encoded = moved.encode();
        let key = id.to_string();
        self.store
            .write(|w| w.put_sync_state(&key, peer, &encoded))?;
        self.sync_state(id, peer)?.shared_heads = moved.shared_heads;
        Ok(())
    }

    /// Takes the heads `peer` announced for a document (or, when `heads` is `None`, the heads shared at
    /// the end of the last sync) as what it holds, so the session's first message carries the changes it
    /// lacks instead of asking first: a round trip fewer. Returns `false`, changing nothing, when the
    /// device lacks some of those heads: the peer has news, and the exchange starts the usual way.
    pub fn assume_peer_holds(
        &mut self,
        id: &DocId,
        peer: &str,
        heads: Option<&[serde_bytes::ByteBuf]>,
    ) -> Result<bool> {
        let theirs: Vec<automerge::ChangeHash> = match heads {
            Some(heads) => {
                let parsed: Vec<automerge::ChangeHash> = heads
                    .iter()
                    .filter_map(|h| automerge::ChangeHash::try_from(h.as_slice()).ok())
                    .collect();
                if parsed.len() != heads.len() {
                    return Ok(false);
                }
                parsed
            }
            None => self.sync_state(id, peer)?.shared_heads.clone(),
        };
        let Some(doc) = self.docs.get(id) else {
            return Ok(false);
        };
        if !automerge::ReadDoc::get_missing_deps(doc.automerge(), &theirs).is_empty() {
            return Ok(false);
        }
        let state = self.sync_state(id, peer)?;
        state.their_heads = Some(theirs.clone());
        state.their_need = Some(Vec::new());
        state.their_have = Some(vec![sync::Have {
            last_sync: theirs,
            bloom: sync::BloomFilter::default(),
        }]);
        // As the relay announces in every reply: a peer lacking more than a third of the document gets
        // it whole, which for many small changes is far fewer bytes than the changes one by one.
        state.their_capabilities = Some(vec![sync::Capability::MessageV2]);
        Ok(true)
    }

    /// Whether `peer` last said it has exactly this device's heads of the document; if so, those are kept
    /// as the heads the two share. Automerge keeps them only from a message whose heads the device knew,
    /// and the one that said so may have come before the document arrived whole.
    pub fn confirm_synced_with(&mut self, id: &DocId, peer: &str) -> Result<bool> {
        let Some(state) = self.sync_states.get(&(id.clone(), peer.to_owned())) else {
            return Ok(false);
        };
        let mut ours = self.docs.get(id).map(Document::heads).unwrap_or_default();
        ours.sort();
        let synced = state.their_heads.as_ref().is_some_and(|theirs| {
            let mut theirs = theirs.clone();
            theirs.sort();
            theirs == ours
        });
        if synced {
            self.note_shared(id, peer)?;
        }
        Ok(synced)
    }

    /// Drops the device's copy of a document the relay refused or no longer shares, after recording the
    /// edits the relay never accepted in the refused-edits list (when there are any).
    pub fn give_up_document(
        &mut self,
        id: &DocId,
        peer: &str,
        reason: &str,
    ) -> Result<RefusedEdit> {
        let shared = self.sync_state(id, peer)?.shared_heads.clone();
        let doc = self.docs.get(id).ok_or_else(|| InputError::Unknown {
            kind: "document",
            id: id.to_string(),
        })?;
        let changes = doc.automerge().save_after(&shared);
        let refused = RefusedEdit {
            id: 0,
            document: id.to_string(),
            reason: reason.to_owned(),
            refused_at: OffsetDateTime::now_utc().unix_timestamp(),
            edits: doc.describe_edits_since(&shared),
        };
        let key = id.to_string();
        let edits = serde_json::to_string(&refused.edits).expect("strings serialise");
        self.store.write(|w| -> Result<(), StoreError> {
            if !refused.edits.is_empty() {
                w.add_refused_edit(&key, &refused.reason, refused.refused_at, &edits, &changes)?;
            }
            w.delete_document(&key)
        })?;
        self.docs.remove(id);
        self.sync_states.retain(|(doc, _), _| doc != id);
        self.reindex(id);
        tracing::warn!(doc = %id, edits = refused.edits.len(), "the relay refused edits; kept them in the refused list");
        Ok(refused)
    }

    /// Every edit the relay refused, oldest first.
    pub fn refused_edits(&self) -> Result<Vec<RefusedEdit>> {
        Ok(self
            .store
            .refused_edits()?
            .into_iter()
            .map(|row| RefusedEdit {
                id: row.id,
                document: row.doc_id,
                reason: row.reason,
                refused_at: row.refused_at,
                edits: serde_json::from_str(&row.edits_json)
                    .unwrap_or_else(|_| vec![row.edits_json]),
            })
            .collect())
    }
}

impl Journal {
    /// Puts refused edits number `number` back into their document, to go out at the next sync (after the
    /// school changed what refused them; refused again, they come back to the list). Returns the document.
    /// The device must hold the document again, which the sync after the refusal brings.
    pub fn retry_refused_edit(&mut self, number: i64) -> Result<DocId> {
        let crate::store::RefusedChanges {
            doc_id: document,
            changes,
        } = self
            .store
            .refused_changes(number)?
            .ok_or_else(|| InputError::Unknown {
                kind: "refused edits",
                id: number.to_string(),
            })?;
        let changes = changes.ok_or_else(|| {
            InputError::Invalid(format!(
                "refused edits №{number} were kept as text only, by an earlier version of the app: they can be read, not sent again"
            ))
        })?;
        let id: DocId = document.parse()?;
        if !self.docs.contains_key(&id) {
            return Err(InputError::Invalid(format!(
                "this device does not hold {id} now: sync first, then retry (if the relay no longer shares it, these edits cannot go out)"
            ))
            .into());
        }
        let settings = self.settings_for(&id);
        let ctx = ValidationContext::with_settings(settings.as_ref());
        self.change(|j, touched| {
            j.doc_mut(&id, touched)?.merge_bytes(&changes, &ctx)?;
            Ok(())
        })?;
        self.reindex(&id);
        // Forgotten only once the edits are back in the document: a crash in between leaves them in both,
        // and putting the same changes back twice changes nothing.
        self.store.write(|w| w.delete_refused_edit(number))?;
        Ok(id)
    }

    /// Lets refused edits number `number` go.
    pub fn discard_refused_edit(&mut self, number: i64) -> Result<()> {
        if !self.store.write(|w| w.delete_refused_edit(number))? {
            return Err(InputError::Unknown {
                kind: "refused edits",
                id: number.to_string(),
            }
            .into());
        }
        Ok(())
    }
}

/// A whole document the relay sent, loaded: validated against the school's `settings` if the device lacks
/// it (`held` false), or loaded as any replica's copy, to be checked when merged.
fn load_snapshot(
    id: &DocId,
    bytes: &[u8],
    held: bool,
    settings: Option<&crate::docs::SchoolSettings>,
    actor: &automerge::ActorId,
) -> Result<Document> {
    if held {
        return Document::load(id.clone(), bytes, actor);
    }
    let ctx = ValidationContext::with_settings(settings);
    Document::load_checked(id.clone(), bytes, actor, &ctx)
}
