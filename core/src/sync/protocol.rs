//! The wire protocol: automerge-repo's WebSocket framing (CBOR maps tagged by `type`: `join`, `peer`,
//! `request`, `sync`, `doc-unavailable`, `error`, `leave`), plus three extension messages a stock
//! automerge-repo peer ignores: `x-journal-index` (the documents an account may read, with their heads),
//! `x-journal-refused` (a change the relay would not store, and why) and `x-journal-snapshot` (a whole
//! document for a peer that has none of it). See `docs/PROTOCOL.md`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The automerge-repo protocol version spoken.
pub const PROTOCOL_VERSION: &str = "1";

/// Metadata a peer advertises in `join` and `peer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerMetadata {
    /// Id of the peer's persistent storage, under which the other side keeps its sync state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_id: Option<String>,
    /// Whether the peer will not come back with the same storage.
    #[serde(default)]
    pub is_ephemeral: bool,
}

/// One readable document and the relay's heads for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    /// Document id, `2026-2027/student/<id>`.
    pub document_id: String,
    /// The relay's heads (32-byte change hashes as CBOR byte strings); absent when they are the heads this
    /// device and the relay shared at the end of their last sync, which keeps a no-change sync small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<serde_bytes::ByteBuf>>,
}

/// A protocol message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WireMessage {
    /// First message of a client.
    #[serde(rename = "join", rename_all = "camelCase")]
    Join {
        /// The client's peer id.
        sender_id: String,
        /// Versions it speaks.
        supported_protocol_versions: Vec<String>,
        /// Its storage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<PeerMetadata>,
    },
    /// The relay's answer to `join`.
    #[serde(rename = "peer", rename_all = "camelCase")]
    Peer {
        /// The relay's peer id.
        sender_id: String,
        /// Version chosen.
        selected_protocol_version: String,
        /// The client.
        target_id: String,
        /// The relay's storage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<PeerMetadata>,
    },
    /// The sender is leaving.
    #[serde(rename = "leave", rename_all = "camelCase")]
    Leave {
        /// Who.
        sender_id: String,
    },
    /// Starts syncing a document; answered by `sync` or `doc-unavailable`.
    #[serde(rename = "request", rename_all = "camelCase")]
    Request {
        /// Document.
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// An Automerge sync message.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// An Automerge sync message about a document.
    #[serde(rename = "sync", rename_all = "camelCase")]
    Sync {
        /// Document.
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// An Automerge sync message.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The relay's answer to a `request` from a peer that holds nothing of the document: the document
    /// saved whole (compressed), which loads far faster than its history replayed change by change. The
    /// peer loads it and goes on with `sync`.
    #[serde(rename = "x-journal-snapshot", rename_all = "camelCase")]
    Snapshot {
        /// Document.
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// The saved document.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The document does not exist for the asker (missing, or not theirs to read: the two look alike).
    #[serde(rename = "doc-unavailable", rename_all = "camelCase")]
    DocUnavailable {
        /// Document.
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
    },
    /// A protocol error; the connection closes after it.
    #[serde(rename = "error")]
    Error {
        /// What went wrong.
        message: String,
    },
    /// Extension: the documents the account may read, with the relay's heads.
    #[serde(rename = "x-journal-index", rename_all = "camelCase")]
    Index {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Documents.
        documents: Vec<IndexEntry>,
    },
    /// Extension: the relay refused a change to a document and stored nothing of it.
    #[serde(rename = "x-journal-refused", rename_all = "camelCase")]
    Refused {
        /// Document.
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Why.
        reason: String,
    },
}

/// The HTTP batch request: sync messages for several documents in one round trip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// The client's storage id (sync state is kept under it between requests).
    pub storage_id: String,
    /// `request` or `sync` messages.
    pub messages: Vec<WireMessage>,
}

/// The HTTP batch reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// Replies (`sync`, `doc-unavailable`, `x-journal-refused`), in no particular order.
    pub messages: Vec<WireMessage>,
    /// Documents whose messages the relay left untouched because the reply reached its size limit: the
    /// client sends the same messages again in its next batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<String>,
}

/// A frame that is not a protocol message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed protocol message: {0}")]
pub struct ProtocolError(pub String);

/// Encodes a value as CBOR.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to memory cannot fail");
    out
}

/// Decodes a CBOR value, refusing anything malformed.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ProtocolError> {
    ciborium::from_reader(bytes).map_err(|e| ProtocolError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_automerge_repo_field_names() {
        let msg = WireMessage::Sync {
            document_id: "2026-2027/class/5a".into(),
            sender_id: "a".into(),
            target_id: "b".into(),
            data: vec![0x42, 0, 1],
        };
        let bytes = encode(&msg);
        let value: ciborium::Value = ciborium::from_reader(bytes.as_slice()).expect("cbor");
        let map = value.as_map().expect("a map");
        let keys: Vec<&str> = map.iter().filter_map(|(k, _)| k.as_text()).collect();
        assert!(
            keys.contains(&"type") && keys.contains(&"documentId") && keys.contains(&"senderId")
        );
        let data = map
            .iter()
            .find(|(k, _)| k.as_text() == Some("data"))
            .map(|(_, v)| v);
        assert!(
            data.is_some_and(ciborium::Value::is_bytes),
            "sync data is a CBOR byte string"
        );
        assert_eq!(decode::<WireMessage>(&bytes), Ok(msg));
    }

    #[test]
    fn garbage_is_a_clear_error_not_a_panic() {
        for bytes in [&b""[..], b"\xff\xff", b"\xa1\x64type\x63bad", &[0x9f; 64]] {
            assert!(decode::<WireMessage>(bytes).is_err());
        }
    }
}
