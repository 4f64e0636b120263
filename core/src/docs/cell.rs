//! Cells: one entry whose value two devices may have set concurrently.

use std::collections::BTreeMap;
use std::str::FromStr;

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ReadDoc, Value, ValueRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, SchemaError};
use crate::ids::DocId;

/// An entry's winning value and the values other devices set concurrently, which the app shows as a conflict.
/// The winner is chosen by Automerge the same way on every device.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell<T> {
    /// The value every device reads.
    pub value: T,
    /// Concurrent values that lost; empty when there is no conflict.
    pub competing: Vec<T>,
}

impl<T> Cell<T> {
    /// A cell with one value and no conflict.
    pub fn single(value: T) -> Self {
        Cell {
            value,
            competing: Vec::new(),
        }
    }

    /// Whether devices disagree about this cell.
    pub fn is_conflicted(&self) -> bool {
        !self.competing.is_empty()
    }
}

fn parse_json<T: DeserializeOwned>(
    id: &DocId,
    what: &str,
    key: &str,
    text: Option<&str>,
) -> Result<T, SchemaError> {
    let text = text.ok_or_else(|| SchemaError::new(id, format!("{what} {key}: not text")))?;
    serde_json::from_str(text).map_err(|e| SchemaError::new(id, format!("{what} {key}: {e}")))
}

fn value_text<'a>(value: &'a Value<'_>) -> Option<&'a str> {
    value.as_str()
}

/// Every JSON cell of the map `obj`, keyed by the parsed key, with conflicts.
pub(crate) fn read_json_map<K: FromStr + Ord, T: DeserializeOwned>(
    id: &DocId,
    doc: &Automerge,
    obj: &ObjId,
    what: &str,
) -> Result<BTreeMap<K, Cell<T>>, SchemaError> {
    let mut out = BTreeMap::new();
    for item in doc.map_range(obj, ..) {
        let key = K::from_str(&item.key).map_err(|_| {
            SchemaError::new(id, format!("{what} has a malformed key {:?}", item.key))
        })?;
        let text = match &item.value {
            ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => Some(s.as_ref()),
            _ => None,
        };
        let value: T = parse_json(id, what, &item.key, text)?;
        let competing = if item.conflict {
            let winner = item.id();
            doc.get_all(obj, item.key.as_ref())
                .map_err(|e| SchemaError::new(id, e.to_string()))?
                .iter()
                .filter(|(_, op)| *op != winner)
                .map(|(v, _)| parse_json(id, what, &item.key, value_text(v)))
                .collect::<Result<Vec<T>, _>>()?
        } else {
            Vec::new()
        };
        out.insert(key, Cell { value, competing });
    }
    Ok(out)
}

/// One JSON cell of the map `obj` (or of the root), with conflicts; `None` when the key is absent.
pub(crate) fn read_json_cell<T: DeserializeOwned>(
    id: &DocId,
    doc: &Automerge,
    obj: &ObjId,
    key: &str,
) -> Result<Option<Cell<T>>, SchemaError> {
    let winner = doc
        .get(obj, key)
        .map_err(|e| SchemaError::new(id, e.to_string()))?;
    let Some((value, winner_op)) = winner else {
        return Ok(None);
    };
    let value: T = parse_json(id, key, key, value_text(&value))?;
    let competing = doc
        .get_all(obj, key)
        .map_err(|e| SchemaError::new(id, e.to_string()))?
        .iter()
        .filter(|(_, op)| *op != winner_op)
        .map(|(v, _)| parse_json(id, key, key, value_text(v)))
        .collect::<Result<Vec<T>, _>>()?;
    Ok(Some(Cell { value, competing }))
}

/// Writes `value` as the JSON cell `key` of `obj`, superseding every concurrent value the device has seen.
pub(crate) fn put_json<T: Serialize>(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    key: &str,
    value: &T,
) -> Result<()> {
    let text = serde_json::to_string(value).expect("journal entries always serialise to JSON");
    tx.put(obj, key, text)?;
    Ok(())
}
