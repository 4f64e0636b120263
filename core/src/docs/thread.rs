//! The `thread` document: one conversation, its participants, heading, messages and read state.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT, ReadDoc, ScalarValueRef, ValueRef};

use super::cell::{Cell, put_json, read_json_cell, read_json_map};
use super::{Document, View, root_map, tx_root_map};
use crate::domain::model::{Message, ThreadInfo};
use crate::error::{InputError, Result, SchemaError};
use crate::ids::{DocId, MessageId};

pub(super) const MAPS: &[&str] = &["participants", "messages"];

/// Root keys `read/<account>` hold the id of the last message that account has read. They are root keys,
/// not a map, so threads made before read state existed read and write them alike.
const READ_PREFIX: &str = "read/";

/// Root keys `arrived/<message>` hold when the relay took the message (Unix seconds, the relay's clock),
/// written by the relay only; root keys for the same reason as read state.
pub(crate) const ARRIVED_PREFIX: &str = "arrived/";

/// Typed content of a `thread` document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadDoc {
    /// Participants, as `account:<id>`, `guardians:<student>` or `student:<student>`.
    pub participants: BTreeSet<String>,
    /// Subject line and kind, once set.
    pub info: Option<Cell<ThreadInfo>>,
    /// Messages by id; ids sort in the order the messages were written.
    pub messages: BTreeMap<MessageId, Cell<Message>>,
    /// The last message each account has read.
    pub read: BTreeMap<String, MessageId>,
    /// When the relay took each message it has stamped (Unix seconds, the relay's clock).
    pub arrived: BTreeMap<MessageId, i64>,
}

pub(super) fn read(id: &DocId, doc: &Automerge) -> Result<ThreadDoc, SchemaError> {
    let participants = root_map(id, doc, "participants")?;
    let messages = root_map(id, doc, "messages")?;
    let mut read = BTreeMap::new();
    for item in doc.map_range(ROOT, READ_PREFIX.to_owned().."read0".to_owned()) {
        let account = &item.key[READ_PREFIX.len()..];
        let ValueRef::Scalar(ScalarValueRef::Str(last)) = &item.value else {
            return Err(SchemaError::new(
                id,
                format!("read state of {account:?} is not text"),
            ));
        };
        let last: MessageId = last
            .parse()
            .map_err(|e: InputError| SchemaError::new(id, e.to_string()))?;
        read.insert(account.to_owned(), last);
    }
    let mut arrived = BTreeMap::new();
    for item in doc.map_range(ROOT, ARRIVED_PREFIX.to_owned().."arrived0".to_owned()) {
        let message = &item.key[ARRIVED_PREFIX.len()..];
        let at = match &item.value {
            ValueRef::Scalar(ScalarValueRef::Int(at)) => *at,
            ValueRef::Scalar(ScalarValueRef::Uint(at)) => i64::try_from(*at).unwrap_or(i64::MAX),
            _ => {
                return Err(SchemaError::new(
                    id,
                    format!("the arrival of message {message:?} is not a time"),
                ));
            }
        };
        let message: MessageId = message
            .parse()
            .map_err(|e: InputError| SchemaError::new(id, e.to_string()))?;
        arrived.insert(message, at);
    }
    Ok(ThreadDoc {
        participants: doc.keys(&participants).collect(),
        info: read_json_cell(id, doc, &ROOT, "info")?,
        messages: read_json_map(id, doc, &messages, "message")?,
        read,
        arrived,
    })
}

impl Document {
    fn thread_view(&mut self) -> Result<&mut ThreadDoc> {
        match &mut self.view {
            View::Thread(t) => Ok(t),
            _ => Err(InputError::Invalid(format!("{} is not a thread document", self.id)).into()),
        }
    }

    /// Adds a participant (`account:<id>`, `guardians:<student>` or `student:<student>`).
    pub fn add_participant(&mut self, participant: &str) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| {
            let map = tx_root_map(tx, "participants")?;
            tx.put(&map, participant, true)?;
            Ok(())
        })?;
        self.thread_view()?
            .participants
            .insert(participant.to_owned());
        Ok(())
    }

    /// Sets the subject line and kind.
    pub fn set_thread_info(&mut self, info: &ThreadInfo) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| put_json(tx, &ROOT, "info", info))?;
        self.thread_view()?.info = Some(Cell::single(info.clone()));
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

    /// Stamps `messages` as taken by the relay at `at` (Unix seconds); the relay alone calls this.
    pub fn stamp_arrivals(&mut self, messages: &[MessageId], at: i64) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| {
            for message in messages {
                tx.put(ROOT, format!("{ARRIVED_PREFIX}{message}"), at)?;
            }
            Ok(())
        })?;
        let arrived = &mut self.thread_view()?.arrived;
        for message in messages {
            arrived.insert(message.clone(), at);
        }
        Ok(())
    }

    /// Records that `account` has read every message up to `last`.
    pub fn set_read(&mut self, account: &str, last: &MessageId) -> Result<()> {
        self.thread_view()?;
        self.edit(|tx| {
            tx.put(ROOT, format!("{READ_PREFIX}{account}"), last.as_str())?;
            Ok(())
        })?;
        self.thread_view()?
            .read
            .insert(account.to_owned(), last.clone());
        Ok(())
    }
}
