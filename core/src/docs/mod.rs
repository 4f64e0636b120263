//! Typed journal documents. This module is the only code that knows Automerge paths: everything else reads
//! the typed views and writes through the typed methods of [`Document`].
//!
//! Layout shared by all kinds: the root holds `kind`, `schema` and `id`; entries live in maps keyed by stable
//! ids. A student's entries (marks, attendance, final marks) are each one scalar cell holding JSON, so a
//! teacher's entry is set atomically and two devices that set the same cell concurrently leave an
//! Automerge conflict on exactly that key, which [`Cell`] exposes. Lessons are maps of scalar fields, so a
//! topic and a homework written on two devices merge.

mod cell;
mod class;
mod profile;
mod profile_history;
mod school;
mod student;
mod student_history;
mod thread;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, PatchAction, ROOT, ReadDoc};
use ring::digest;

pub use cell::Cell;
pub use class::{ClassDoc, LessonField};
pub use profile::ProfileDoc;
pub use profile_history::{ProfileEdit, profile_edits};
pub use school::{SchoolDoc, SchoolSettings};
pub use student::{FinalMarkKey, StudentDoc, mark_id};
pub use student_history::{JournalEdit, JournalEntry, journal_edits};
pub use thread::ThreadDoc;

use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, DocKind};
use crate::validate::{ValidationContext, check_edit_lock, validate_change};

/// Version of the document schema this build writes and reads.
pub const SCHEMA_VERSION: u64 = 1;

/// One entry put into a document's map since a point in its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryChange {
    /// The root map (`marks`, `attendance`, `lessons`, `messages`, …).
    pub map: String,
    /// The entry's key (a mark id, a lesson id, …).
    pub entry: String,
    /// For entries that are maps of fields (lessons), the field put.
    pub field: Option<String>,
    /// The entry's value before, when it existed (JSON cells only).
    pub old: Option<String>,
    /// The value now.
    pub new: String,
}

/// The typed content of a document.
#[derive(Clone, Debug)]
pub enum View {
    /// A `school` document.
    School(SchoolDoc),
    /// A `class` document.
    Class(ClassDoc),
    /// A `student` document.
    Student(StudentDoc),
    /// A `profile` document.
    Profile(ProfileDoc),
    /// A `thread` document.
    Thread(ThreadDoc),
}

impl View {
    /// The view of an empty document of `kind` (its skeleton).
    pub fn empty(kind: DocKind) -> View {
        match kind {
            DocKind::School => View::School(SchoolDoc::default()),
            DocKind::Class => View::Class(ClassDoc::default()),
            DocKind::Student => View::Student(StudentDoc::default()),
            DocKind::Profile => View::Profile(ProfileDoc::default()),
            DocKind::Thread => View::Thread(ThreadDoc::default()),
        }
    }
}

/// One change as a store keeps it apart from its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Hash (hex).
    pub hash: String,
    /// The actor that made it.
    pub actor: Vec<u8>,
    /// Its number among that actor's changes to the document, from 1.
    pub seq: u64,
    /// Raw bytes.
    pub bytes: Vec<u8>,
}

impl ChangeRecord {
    /// The record of one of a document's changes.
    pub fn of(change: automerge::Change) -> Self {
        ChangeRecord {
            hash: change.hash().to_string(),
            actor: change.actor_id().to_bytes().to_vec(),
            seq: change.seq(),
            bytes: change.raw_bytes().to_vec(),
        }
    }
}

/// One journal document: its Automerge state, its typed view kept in step, and what is already on disk.
#[derive(Debug)]
pub struct Document {
    id: DocId,
    doc: Automerge,
    view: View,
    saved_heads: Vec<ChangeHash>,
    /// Why the edits made now are made (a correction's reason), written as their changes' message.
    reason: Option<String>,
    /// The time a test set in place of the device's clock for the changes made from now on.
    pretended_time: Option<i64>,
}

/// The actor that writes a document's skeleton: the same on every device, so that two devices creating the
/// same document offline produce one identical first change instead of two conflicting roots.
fn skeleton_actor(id: &DocId) -> ActorId {
    let hash = digest::digest(&digest::SHA256, id.to_string().as_bytes());
    ActorId::from(&hash.as_ref()[..16])
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Document {
    /// A new, empty document of `id`'s kind, ready to be edited by `actor`.
    pub fn create(id: DocId, actor: &ActorId) -> Result<Self> {
        let mut doc = Automerge::new().with_actor(skeleton_actor(&id));
        let mut tx = doc.transaction();
        tx.put(ROOT, "kind", id.kind().as_str())?;
        tx.put(ROOT, "schema", SCHEMA_VERSION)?;
        tx.put(ROOT, "id", id.to_string())?;
        for map in maps_of(id.kind()) {
            tx.put_object(ROOT, *map, ObjType::Map)?;
        }
        tx.commit_with(CommitOptions::default().with_time(0));
        doc.set_actor(actor.clone());
        let view = hydrate(&id, &doc)?;
        Ok(Document {
            id,
            doc,
            view,
            saved_heads: Vec::new(),
            reason: None,
            pretended_time: None,
        })
    }

    /// A document loaded from its saved bytes (a snapshot followed by incremental chunks).
    pub fn load(id: DocId, bytes: &[u8], actor: &ActorId) -> Result<Self> {
        Self::load_with(id, bytes, actor, |id, doc| Ok(hydrate(id, doc)?))
    }

    /// Loads a document saved whole by another replica, checked by the validator like any merge.
    pub fn load_checked(
        id: DocId,
        bytes: &[u8],
        actor: &ActorId,
        ctx: &ValidationContext<'_>,
    ) -> Result<Self> {
        Self::load_with(id, bytes, actor, |id, doc| {
            Ok(crate::validate::validate_document(id, doc, ctx)?)
        })
    }

    fn load_with(
        id: DocId,
        bytes: &[u8],
        actor: &ActorId,
        read: impl FnOnce(&DocId, &Automerge) -> Result<View>,
    ) -> Result<Self> {
        let doc = guarded("document", || Automerge::load(bytes))??.with_actor(actor.clone());
        let view = read(&id, &doc)?;
        let saved_heads = doc.get_heads();
        Ok(Document {
            id,
            doc,
            view,
            saved_heads,
            reason: None,
            pretended_time: None,
        })
    }

    /// The document's id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// The typed content.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The Automerge state, for sync and validation.
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Current heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes made since the last [`Self::mark_saved`], as bytes to append to the store; `None` if none.
    pub fn unsaved_changes(&self) -> Option<Vec<u8>> {
        let heads = self.doc.get_heads();
        if heads == self.saved_heads {
            return None;
        }
        Some(self.doc.save_after(&self.saved_heads))
    }

    /// Every change of the document, in causal order.
    pub fn all_changes(&self) -> Vec<ChangeRecord> {
        self.doc
            .get_changes(&[])
            .into_iter()
            .map(ChangeRecord::of)
            .collect()
    }

    /// Each change made or received since the last [`Self::mark_saved`], in causal order.
    pub fn changes_since_saved(&self) -> Vec<ChangeRecord> {
        self.doc
            .get_changes(&self.saved_heads)
            .into_iter()
            .map(ChangeRecord::of)
            .collect()
    }

    /// Whether nothing of this document has been stored yet (it was created here and never saved).
    pub fn never_saved(&self) -> bool {
        self.saved_heads.is_empty()
    }

    /// Records that everything up to the current heads is on disk.
    pub fn mark_saved(&mut self) {
        self.saved_heads = self.doc.get_heads();
    }

    /// The whole document compacted into one snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// Applies changes received from elsewhere (another replica's saved bytes). A document that the
    /// validator would refuse afterwards is left exactly as it was.
    pub fn merge_bytes(&mut self, bytes: &[u8], ctx: &ValidationContext<'_>) -> Result<()> {
        let mut merged = self.doc.fork();
        guarded("document", || merged.load_incremental(bytes))??;
        self.adopt(merged, ctx)
    }

    /// Merges another replica of the same document; refused, leaving this one as it was, when the result
    /// would not pass the validator.
    pub fn merge(&mut self, other: &Document, ctx: &ValidationContext<'_>) -> Result<()> {
        let mut theirs = other.doc.clone();
        let mut merged = self.doc.fork();
        merged.merge(&mut theirs)?;
        self.adopt(merged, ctx)
    }

    /// The next Automerge sync message for a peer whose state is `state`; `None` when there is nothing to say.
    pub fn generate_sync_message(&self, state: &mut sync::State) -> Option<Vec<u8>> {
        let mut next = state.clone();
        match guarded("peer state", || {
            self.doc
                .generate_sync_message(&mut next)
                .map(sync::Message::encode)
        }) {
            Ok(message) => {
                *state = next;
                message
            }
            // A peer's malformed bloom filter: start over with what this side knows.
            Err(_) => {
                *state = sync::State::new();
                self.doc
                    .generate_sync_message(state)
                    .map(sync::Message::encode)
            }
        }
    }

    /// The authors (actors) of the changes a sync message carries that this document lacks, found on a
    /// copy: the document itself is not changed.
    pub fn actors_offered(&self, message: &[u8]) -> Result<Vec<ActorId>> {
        let message = decode_sync_message(message)?;
        let mut fork = self.doc.clone();
        let before = fork.get_heads();
        for chunk in message.changes.iter() {
            guarded("sync message", || fork.load_incremental(chunk))?
                .map_err(|e| InputError::Invalid(format!("malformed sync message: {e}")))?;
        }
        let mut actors: Vec<ActorId> = fork
            .get_changes(&before)
            .iter()
            .map(|change| change.actor_id().clone())
            .collect();
        actors.sort();
        actors.dedup();
        Ok(actors)
    }

    /// Applies an Automerge sync message from a peer. Changes it carries are adopted only if the document
    /// still passes the validator; otherwise neither the document nor `state` changes.
    pub fn receive_sync_message(
        &mut self,
        state: &mut sync::State,
        message: &[u8],
        ctx: &ValidationContext<'_>,
    ) -> Result<()> {
        let message = decode_sync_message(message)?;
        let mut next_state = state.clone();
        if message.changes.is_empty() {
            guarded("sync message", || {
                self.doc.receive_sync_message(&mut next_state, message)
            })??;
            *state = next_state;
            return Ok(());
        }
        let mut merged = self.doc.fork();
        guarded("sync message", || {
            merged.receive_sync_message(&mut next_state, message)
        })??;
        self.adopt(merged, ctx)?;
        *state = next_state;
        Ok(())
    }

    /// Readable lines for every edit made after `heads` (what a device would lose if it dropped them).
    pub fn describe_edits_since(&self, heads: &[ChangeHash]) -> Vec<String> {
        let current = self.doc.get_heads();
        self.doc
            .diff(heads, &current)
            .into_iter()
            .filter_map(|patch| {
                let mut path: Vec<String> = patch
                    .path
                    .iter()
                    .map(|(_, prop)| prop.to_string())
                    .collect();
                match patch.action {
                    PatchAction::PutMap { key, value, .. } => {
                        path.push(key);
                        let shown = match value.0 {
                            automerge::Value::Scalar(s) => s.to_string(),
                            automerge::Value::Object(_) => "{…}".to_owned(),
                        };
                        Some(format!("{} = {shown}", path.join("/")))
                    }
                    PatchAction::DeleteMap { key } => {
                        path.push(key);
                        Some(format!("{} removed", path.join("/")))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Entries of the document's maps put since `seen`: which map, which key, the value then (if any)
    /// and now. Used by the "what is new" feed; deletions are left out.
    pub fn entries_put_since(&self, seen: &[ChangeHash]) -> Vec<EntryChange> {
        let current = self.doc.get_heads();
        let mut out = Vec::new();
        for patch in self.doc.diff(seen, &current) {
            let PatchAction::PutMap { key, value, .. } = patch.action else {
                continue;
            };
            let path: Vec<String> = patch.path.iter().map(|(_, p)| p.to_string()).collect();
            let text = |v: &automerge::Value<'_>| v.as_str().map(str::to_owned);
            let Some(new) = text(&value.0) else { continue };
            let (map, entry, field) = match path.as_slice() {
                [map] => (map.clone(), key, None),
                [map, entry] => (map.clone(), entry.clone(), Some(key)),
                _ => continue,
            };
            let old = match &field {
                None => self
                    .doc
                    .get(ROOT, map.as_str())
                    .ok()
                    .flatten()
                    .and_then(|(_, obj)| self.doc.get_at(&obj, entry.as_str(), seen).ok().flatten())
                    .and_then(|(v, _)| text(&v)),
                Some(_) => None,
            };
            out.push(EntryChange {
                map,
                entry,
                field,
                old,
                new,
            });
        }
        out
    }

    /// Gives the edits made from now on `reason` (a correction's), or none.
    pub fn set_reason(&mut self, reason: Option<&str>) {
        self.reason = reason.map(str::to_owned);
    }

    /// Makes the changes made from now on say they were made at `unix_seconds`, as a test needs.
    #[cfg(feature = "testing")]
    pub fn pretend_time(&mut self, unix_seconds: i64) {
        self.pretended_time = Some(unix_seconds);
    }

    fn adopt(&mut self, mut merged: Automerge, ctx: &ValidationContext<'_>) -> Result<()> {
        let view = validate_change(&self.id, &self.view, &merged, ctx)?;
        if let (Some(window), Some(settings), View::Student(before), View::Student(after)) = (
            ctx.writer.and_then(|w| w.edits),
            ctx.settings,
            &self.view,
            &view,
        ) {
            check_edit_lock(
                &self.id,
                before,
                after,
                settings,
                &window,
                &merged,
                &self.doc.get_heads(),
            )?;
        }
        merged.set_actor(self.doc.get_actor().clone());
        self.doc = merged;
        self.view = view;
        Ok(())
    }

    /// Writes a raw JSON cell, bypassing the typed API, so tests can build documents a hostile or buggy
    /// peer might send.
    #[cfg(feature = "testing")]
    pub fn put_raw_cell(&mut self, map: &str, key: &str, json: &str) -> Result<()> {
        self.edit(|tx| {
            let obj = tx_root_map(tx, map)?;
            tx.put(&obj, key, json)?;
            Ok(())
        })
    }

    /// Runs one Automerge transaction that writes through `write`; nothing is committed when `write` fails.
    fn edit<T>(&mut self, write: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut tx = self.doc.transaction();
        let out = write(&mut tx)?;
        let time = self.pretended_time.unwrap_or_else(now_seconds);
        let mut options = CommitOptions::default().with_time(time);
        if let Some(reason) = &self.reason {
            options = options.with_message(reason.clone());
        }
        tx.commit_with(options);
        Ok(out)
    }
}

/// Whether an Automerge sync message carries changes (a write), refusing bytes that are not one.
pub fn sync_message_has_changes(message: &[u8]) -> Result<bool, InputError> {
    decode_sync_message(message).map(|m| !m.changes.is_empty())
}

/// Decodes an Automerge sync message from elsewhere, refusing bytes that are not one.
pub fn decode_sync_message(message: &[u8]) -> Result<sync::Message, InputError> {
    guarded("sync message", || sync::Message::decode(message))?
        .map_err(|e| InputError::Invalid(format!("malformed sync message: {e}")))
}

/// Runs Automerge on bytes from elsewhere. Automerge 0.12 panics on some malformed input instead of
/// returning an error (found by fuzzing: `tests/fuzz/regressions`); that becomes an error here, so a
/// hostile peer cannot take a session down.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, InputError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| InputError::Invalid(format!("malformed {what}")))
}

/// The maps every document of a kind has from its first change.
fn maps_of(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::School => school::MAPS,
        DocKind::Class => class::MAPS,
        DocKind::Student => student::MAPS,
        DocKind::Profile => profile::MAPS,
        DocKind::Thread => thread::MAPS,
    }
}

/// Reads a document into its typed view, refusing anything the schema does not allow.
fn hydrate(id: &DocId, doc: &Automerge) -> Result<View, SchemaError> {
    check_header(id, doc)?;
    Ok(match id {
        DocId::School(_) => View::School(school::read(id, doc)?),
        DocId::Class(..) => View::Class(class::read(id, doc)?),
        DocId::Student(..) => View::Student(student::read(id, doc)?),
        DocId::Profile(..) => View::Profile(profile::read(id, doc)?),
        DocId::Thread(..) => View::Thread(thread::read(id, doc)?),
    })
}

/// Reads any document's bytes into its typed view; the relay's validator uses this on incoming state.
pub fn read_view(id: &DocId, doc: &Automerge) -> Result<View, SchemaError> {
    hydrate(id, doc)
}

pub(crate) fn check_header(id: &DocId, doc: &Automerge) -> Result<(), SchemaError> {
    let kind = root_str(id, doc, "kind")?;
    if kind != id.kind().as_str() {
        return Err(SchemaError::new(
            id,
            format!("is a {kind:?} document, expected {:?}", id.kind().as_str()),
        ));
    }
    let stored_id = root_str(id, doc, "id")?;
    if stored_id != id.to_string() {
        return Err(SchemaError::new(
            id,
            format!("carries the id {stored_id:?} of another document"),
        ));
    }
    match doc.get(ROOT, "schema").ok().flatten() {
        Some((value, _)) => match value.as_u64() {
            Some(v) if v <= SCHEMA_VERSION => Ok(()),
            Some(v) => Err(SchemaError::new(
                id,
                format!(
                    "has schema version {v}, newer than this app supports ({SCHEMA_VERSION}); update the app"
                ),
            )),
            None => Err(SchemaError::new(id, "schema version is not a number")),
        },
        None => Err(SchemaError::new(id, "has no schema version")),
    }
}

fn root_str(id: &DocId, doc: &Automerge, key: &str) -> Result<String, SchemaError> {
    let values = doc
        .get_all(ROOT, key)
        .map_err(|e| SchemaError::new(id, e.to_string()))?;
    match values.as_slice() {
        [] => Err(SchemaError::new(id, format!("has no {key:?}"))),
        [(value, _)] => value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SchemaError::new(id, format!("{key:?} is not text"))),
        _ => Err(SchemaError::new(
            id,
            format!("{key:?} has conflicting values"),
        )),
    }
}

/// The id of one of the root maps, which every document of its kind has.
fn root_map(id: &DocId, doc: &Automerge, key: &str) -> Result<ObjId, SchemaError> {
    let values = doc
        .get_all(ROOT, key)
        .map_err(|e| SchemaError::new(id, e.to_string()))?;
    match values.as_slice() {
        [(automerge::Value::Object(ObjType::Map), obj)] => Ok(obj.clone()),
        [] => Err(SchemaError::new(id, format!("has no {key:?} map"))),
        [_] => Err(SchemaError::new(id, format!("{key:?} is not a map"))),
        _ => Err(SchemaError::new(
            id,
            format!("{key:?} was created twice; the document was not made from its skeleton"),
        )),
    }
}

/// The id of a root map inside a transaction (the skeleton guarantees it exists).
fn tx_root_map(tx: &Transaction<'_>, key: &str) -> Result<ObjId> {
    match tx.get(ROOT, key)? {
        Some((automerge::Value::Object(ObjType::Map), obj)) => Ok(obj),
        _ => Err(automerge::AutomergeError::InvalidObjId(key.to_owned()).into()),
    }
}
