//! The `thread` document: one conversation, its participants and messages.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc};

use super::cell::{Cell, put_json, read_json_map};
use super::{Document, View, root_map, tx_root_map};
use crate::domain::model::Message;
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, MessageId};

pub(super) const MAPS: &[&str] = &["participants", "messages"];

/// Typed content of a `thread` document.
#[derive(Clone, Debug, Default)]
pub struct ThreadDoc {
    /// Account ids of the participants.
    pub participants: BTreeSet<String>,
    /// Messages by id.
    pub messages: BTreeMap<MessageId, Cell<Message>>,
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<ThreadDoc, SchemaError> {
    let participants = root_map(id, doc, "participants")?;
    let messages = root_map(id, doc, "messages")?;
    Ok(ThreadDoc {
        participants: doc.keys(&participants).collect(),
        messages: read_json_map(id, doc, &messages, "message")?,
    })
}

impl Document {
    fn thread_view(&mut self) -> Result<&mut ThreadDoc> {
        match &mut self.view {
            View::Thread(t) => Ok(t),
            _ => Err(InputError::Invalid(format!("{} is not a thread document", self.id)).into()),
        }
    }

    /// Adds a participant by account id.
    pub fn add_participant(&mut self, account: &str) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "participants")?;
            tx.put(&map, account, true)?;
            Ok(())
        })?;
        self.thread_view()?.participants.insert(account.to_owned());
        Ok(())
    }

    /// Adds a message.
    pub fn put_message(&mut self, id: &MessageId, message: &Message) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "messages")?;
            put_json(tx, &map, id.as_str(), message)
        })?;
        self.thread_view()?
            .messages
            .insert(id.clone(), Cell::single(message.clone()));
        Ok(())
    }
}
