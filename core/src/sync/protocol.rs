//! The wire protocol: automerge-repo's WebSocket framing (CBOR maps tagged by `type`: `join`, `peer`,
//! `request`, `sync`, `doc-unavailable`, `error`, `leave`), plus three extension messages a stock
//! automerge-repo peer ignores: `x-journal-index` (the documents an account may read, with their heads,
//! compressed for a peer that announces `x-journal-packed-index`), `x-journal-refused` (a change the
//! relay would not store, and why) and `x-journal-snapshot` (a whole document for a peer that has none of
//! it). See `docs/PROTOCOL.md`.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The automerge-repo protocol version spoken.
pub const PROTOCOL_VERSION: &str = "1";

/// The journal's extension messages. A peer receives them only when it announces them in `join`
/// ([`PeerMetadata::journal_extensions`]); a stock automerge-repo peer announces none and gets the plain
/// protocol.
pub const JOURNAL_EXTENSIONS: [&str; 5] = [
    "x-journal-index",
    "x-journal-snapshot",
    "x-journal-refused",
    "x-journal-packed-index",
    "x-journal-bundle",
];

/// Largest a packed index or bundle may unpack to: far beyond any session's messages, far below memory
/// trouble.
pub const MAX_UNPACKED: u64 = 16 << 20;

/// Metadata a peer advertises in `join` and `peer` (automerge-repo's `peerMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerMetadata {
    /// Id of the peer's persistent storage, under which the other side keeps its sync state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_id: Option<String>,
    /// Whether the peer will not come back with the same storage.
    #[serde(default)]
    pub is_ephemeral: bool,
    /// The journal's extension messages the peer understands (see [`JOURNAL_EXTENSIONS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal_extensions: Vec<String>,
    /// The peer's last session ended before its edits were confirmed: the index lists the heads of every
    /// document, so it sends only what did not get through.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resuming: bool,
}

impl PeerMetadata {
    /// Whether the peer announced the extension message `name`.
    pub fn understands(&self, name: &str) -> bool {
        self.journal_extensions.iter().any(|e| e == name)
    }
}

/// The heads one storage holds of a document, as automerge-repo gossips them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteHeads {
    /// Change hashes, base58check.
    #[serde(default)]
    pub heads: Vec<String>,
    /// When they were seen (milliseconds; JavaScript may send a float).
    #[serde(default, deserialize_with = "whole_number")]
    pub timestamp: u64,
}

/// A whole number that JavaScript's CBOR encoder may have written as a float.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-negative whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a negative number"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64 {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64)
            } else {
                Err(E::custom("not a whole number"))
            }
        }
    }
    deserializer.deserialize_any(Whole)
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
        /// Its storage, and the journal's extensions it understands.
        #[serde(
            rename = "peerMetadata",
            alias = "metadata",
            default,
            skip_serializing_if = "Option::is_none"
        )]
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
        #[serde(
            rename = "peerMetadata",
            alias = "metadata",
            default,
            skip_serializing_if = "Option::is_none"
        )]
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
    /// A message for the other peers of a document that nobody stores (a cursor, a presence); relayed to
    /// the sessions that may read the document, as it came but for its target.
    #[serde(rename = "ephemeral", rename_all = "camelCase")]
    Ephemeral {
        /// The peer that first sent it.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The sender's counter, so a receiver drops repeats.
        #[serde(deserialize_with = "whole_number")]
        count: u64,
        /// The sender's session.
        session_id: String,
        /// Document.
        document_id: String,
        /// The payload (CBOR of the application's value).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Which storages a peer follows (accepted; the relay acts on nothing in it).
    #[serde(rename = "remote-subscription-change", rename_all = "camelCase")]
    RemoteSubscriptionChange {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Storages added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        add: Option<Vec<String>>,
        /// Storages removed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remove: Option<Vec<String>>,
    },
    /// The heads other storages hold of a document (accepted; the relay acts on nothing in it).
    #[serde(rename = "remote-heads-changed", rename_all = "camelCase")]
    RemoteHeadsChanged {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Document.
        document_id: String,
        /// Heads by storage id.
        #[serde(default)]
        new_heads: std::collections::BTreeMap<String, RemoteHeads>,
    },
    /// Extension: the documents the account may read, with the relay's heads.
    #[serde(rename = "x-journal-index", rename_all = "camelCase")]
    Index {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// Documents (empty when they travel `packed`).
        documents: Vec<IndexEntry>,
        /// The documents as [`pack_index`] compresses them, for a peer that announced
        /// `x-journal-packed-index`: a hundred ids that share their year and kind take a few hundred bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packed: Option<serde_bytes::ByteBuf>,
    },
    /// Extension: several messages sent as one, deflate-compressed (see [`pack_bundle`]): the documents
    /// of one lesson in one exchange, sharing one compression window.
    #[serde(rename = "x-journal-bundle", rename_all = "camelCase")]
    Bundle {
        /// Sender.
        sender_id: String,
        /// Receiver.
        target_id: String,
        /// The messages, packed.
        packed: serde_bytes::ByteBuf,
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

impl WireMessage {
    /// An Automerge sync message about a document: a `sync`, which may create the document on the other
    /// side, when `create`; otherwise a `request` for the other side's copy.
    pub fn sync_or_request(
        create: bool,
        document_id: String,
        sender_id: String,
        target_id: String,
        data: Vec<u8>,
    ) -> Self {
        if create {
            WireMessage::Sync {
                document_id,
                sender_id,
                target_id,
                data,
            }
        } else {
            WireMessage::Request {
                document_id,
                sender_id,
                target_id,
                data,
            }
        }
    }
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

impl WireMessage {
    /// An `x-journal-index`'s documents, unpacked when they travel packed; `None` for any other message.
    pub fn index_documents(&self) -> Option<Result<Vec<IndexEntry>, ProtocolError>> {
        match self {
            WireMessage::Index {
                packed: Some(packed),
                ..
            } => Some(unpack_index(packed)),
            WireMessage::Index { documents, .. } => Some(Ok(documents.clone())),
            _ => None,
        }
    }
}

/// A value encoded and compressed (deflate).
fn pack<T: Serialize>(value: &T) -> Vec<u8> {
    let mut packer = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    packer
        .write_all(&encode(value))
        .expect("compressing into memory cannot fail");
    packer
        .finish()
        .expect("compressing into memory cannot fail")
}

/// A packed value; refuses one that does not decompress, decode, or that would unpack beyond
/// [`MAX_UNPACKED`] bytes, naming `what` it was.
fn unpack<T: for<'de> Deserialize<'de>>(packed: &[u8], what: &str) -> Result<T, ProtocolError> {
    let mut unpacked = Vec::new();
    flate2::read::DeflateDecoder::new(packed)
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut unpacked)
        .map_err(|e| ProtocolError(format!("the packed {what} does not decompress: {e}")))?;
    if unpacked.len() as u64 > MAX_UNPACKED {
        return Err(ProtocolError(format!(
            "the packed {what} unpacks to more than {MAX_UNPACKED} bytes"
        )));
    }
    decode(&unpacked)
}

/// The index entries encoded and compressed for `x-journal-index`'s `packed`.
pub fn pack_index(entries: &[IndexEntry]) -> Vec<u8> {
    pack(&entries)
}

/// The index entries of a `packed` index.
pub fn unpack_index(packed: &[u8]) -> Result<Vec<IndexEntry>, ProtocolError> {
    unpack(packed, "index")
}

/// Messages packed into one `x-journal-bundle`.
pub fn pack_bundle(messages: &[WireMessage]) -> Vec<u8> {
    pack(&messages)
}

/// The messages of a bundle; a bundle inside a bundle is refused.
pub fn unpack_bundle(packed: &[u8]) -> Result<Vec<WireMessage>, ProtocolError> {
    let messages: Vec<WireMessage> = unpack(packed, "bundle")?;
    if messages
        .iter()
        .any(|m| matches!(m, WireMessage::Bundle { .. }))
    {
        return Err(ProtocolError("a bundle may not hold another bundle".into()));
    }
    Ok(messages)
}

/// Most bytes of messages one bundle carries before the next begins: a cold sync's hundreds of whole
/// documents go as several bundles, each far under what a peer unpacks ([`MAX_UNPACKED`]).
pub const BUNDLE_BYTES: usize = 4 << 20;

/// Most messages one bundle carries: each counts against the sender's message rate on the relay.
pub const BUNDLE_MESSAGES: usize = 500;

/// `messages` as they go to a peer: when the peer understands bundles, as bundles of at most
/// [`BUNDLE_MESSAGES`] messages and [`BUNDLE_BYTES`] (a message larger than that goes alone, as it is);
/// else as they are.
pub fn bundled(
    messages: Vec<WireMessage>,
    peer_understands_bundles: bool,
    sender_id: &str,
    target_id: &str,
) -> Vec<WireMessage> {
    bundled_up_to(
        messages,
        peer_understands_bundles,
        sender_id,
        target_id,
        BUNDLE_BYTES,
    )
}

/// As [`bundled`], with bundles of at most `max_bytes` of messages before compression.
pub fn bundled_up_to(
    messages: Vec<WireMessage>,
    peer_understands_bundles: bool,
    sender_id: &str,
    target_id: &str,
    max_bytes: usize,
) -> Vec<WireMessage> {
    if !peer_understands_bundles || messages.len() < 2 {
        return messages;
    }
    let mut out = Vec::new();
    let mut group: Vec<WireMessage> = Vec::new();
    let mut group_bytes = 0;
    let close = |group: &mut Vec<WireMessage>, out: &mut Vec<WireMessage>| match group.len() {
        0 => {}
        1 => out.append(group),
        _ => {
            out.push(WireMessage::Bundle {
                sender_id: sender_id.to_owned(),
                target_id: target_id.to_owned(),
                packed: serde_bytes::ByteBuf::from(pack_bundle(group)),
            });
            group.clear();
        }
    };
    for message in messages {
        let bytes = encode(&message).len();
        if group_bytes + bytes > max_bytes || group.len() == BUNDLE_MESSAGES {
            close(&mut group, &mut out);
            group_bytes = 0;
        }
        group_bytes += bytes;
        group.push(message);
    }
    close(&mut group, &mut out);
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

    /// What a stock automerge-repo peer writes: `peerMetadata` with an undefined storage id, an ephemeral
    /// message whose count JavaScript wrote as a float.
    #[test]
    fn stock_automerge_repo_messages_decode() {
        use ciborium::Value;
        let text = |s: &str| Value::Text(s.to_owned());
        let join = Value::Map(vec![
            (text("type"), text("join")),
            (text("senderId"), text("peer-abc")),
            (
                text("peerMetadata"),
                Value::Map(vec![
                    (text("storageId"), Value::Null),
                    (text("isEphemeral"), Value::Bool(true)),
                ]),
            ),
            (
                text("supportedProtocolVersions"),
                Value::Array(vec![text("1")]),
            ),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&join, &mut bytes).expect("cbor");
        // JavaScript's `undefined` (0xf7) where ciborium wrote `null` (0xf6).
        let null = bytes.iter().position(|b| *b == 0xf6).expect("the null");
        bytes[null] = 0xf7;
        let Ok(WireMessage::Join { metadata, .. }) = decode::<WireMessage>(&bytes) else {
            panic!("a stock join decodes");
        };
        let metadata = metadata.expect("peerMetadata");
        assert_eq!(metadata.storage_id, None);
        assert!(!metadata.understands("x-journal-index"));

        let ephemeral = Value::Map(vec![
            (text("type"), text("ephemeral")),
            (text("senderId"), text("peer-abc")),
            (text("targetId"), text("relay")),
            (text("count"), Value::Float(3.0)),
            (text("sessionId"), text("s1")),
            (text("documentId"), text("4NMNnkMhL8jXrdJ9jamS58PAVdXu")),
            (text("data"), Value::Bytes(vec![1, 2])),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&ephemeral, &mut bytes).expect("cbor");
        assert!(matches!(
            decode::<WireMessage>(&bytes),
            Ok(WireMessage::Ephemeral { count: 3, .. })
        ));
        let ours = encode(&WireMessage::Join {
            sender_id: "p".into(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata::default()),
        });
        let value: Value = ciborium::from_reader(ours.as_slice()).expect("cbor");
        assert!(
            value
                .as_map()
                .expect("map")
                .iter()
                .any(|(k, _)| k.as_text() == Some("peerMetadata")),
            "sent under automerge-repo's key"
        );
    }

    #[test]
    fn a_packed_index_unpacks_to_the_same_entries_in_a_fraction_of_the_bytes() {
        // A class teacher's index: the school, the class, 25 students' marks and profiles, unchanged.
        let mut entries = vec![
            IndexEntry {
                document_id: "2026-2027/school".into(),
                heads: Some(vec![serde_bytes::ByteBuf::from(vec![7u8; 32])]),
            },
            IndexEntry {
                document_id: "2026-2027/class/5a".into(),
                heads: None,
            },
        ];
        for i in 0..25 {
            for kind in ["student", "profile"] {
                entries.push(IndexEntry {
                    document_id: format!("2026-2027/{kind}/s5a{i:02}"),
                    heads: None,
                });
            }
        }
        let packed = pack_index(&entries);
        assert_eq!(unpack_index(&packed).expect("unpacks"), entries);
        let plain = encode(&entries).len();
        assert!(
            packed.len() * 3 < plain,
            "{} bytes packed, {plain} plain",
            packed.len()
        );
    }

    #[test]
    fn a_packed_index_that_is_not_one_is_refused_with_the_reason() {
        let garbage = unpack_index(b"not deflate at all").expect_err("refused");
        assert!(garbage.0.contains("packed index"), "{garbage}");
        // Zeros compress a thousandfold: an index that would unpack beyond the limit stops there.
        let mut packer =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..17 {
            packer.write_all(&zeros).expect("compress");
        }
        let bomb = packer.finish().expect("compress");
        let refused = unpack_index(&bomb).expect_err("too large");
        assert!(
            unpack_bundle(&bomb).is_err(),
            "a bundle is held to the same limit"
        );
        assert!(refused.0.contains("more than"), "{refused}");
    }

    #[test]
    fn a_bundle_carries_several_messages_and_never_another_bundle() {
        let sync = |doc: &str| WireMessage::Sync {
            document_id: doc.into(),
            sender_id: "tablet".into(),
            target_id: "relay".into(),
            data: vec![0x42; 40],
        };
        let lesson: Vec<WireMessage> = (0..25)
            .map(|i| sync(&format!("2026-2027/student/s5a{i:02}")))
            .collect();
        let [WireMessage::Bundle { packed, .. }] =
            &bundled(lesson.clone(), true, "tablet", "relay")[..]
        else {
            panic!("one bundle");
        };
        assert_eq!(unpack_bundle(packed).expect("unpacks"), lesson);
        assert!(
            packed.len() * 4 < encode(&lesson).len(),
            "{} bytes",
            packed.len()
        );
        assert_eq!(bundled(lesson.clone(), false, "tablet", "relay"), lesson);
        assert_eq!(
            bundled(vec![sync("a")], true, "tablet", "relay"),
            vec![sync("a")]
        );
        // Whole documents for a cold sync: never one bundle beyond what a peer unpacks.
        let whole = |doc: &str| WireMessage::Snapshot {
            document_id: doc.into(),
            sender_id: "relay".into(),
            target_id: "tablet".into(),
            data: (0..1_500_000u64).map(|i| (i * 7919 % 251) as u8).collect(),
        };
        let year: Vec<WireMessage> = (0..7).map(|i| whole(&format!("d{i}"))).collect();
        let sent = bundled(year.clone(), true, "relay", "tablet");
        assert!(sent.len() > 1, "split into several");
        let mut received = Vec::new();
        for message in sent {
            match message {
                WireMessage::Bundle { packed, .. } => {
                    received.extend(unpack_bundle(&packed).expect("each unpacks"));
                }
                single => received.push(single),
            }
        }
        assert_eq!(received, year, "every message, in order");
        // A device's sends: bundles of at most the cap it sets, every message once and in order.
        let capped = bundled_up_to(lesson.clone(), true, "tablet", "relay", 400);
        assert!(capped.len() > 3, "{} bundles", capped.len());
        let mut received = Vec::new();
        for message in capped {
            let inside = match message {
                WireMessage::Bundle { packed, .. } => unpack_bundle(&packed).expect("unpacks"),
                single => vec![single],
            };
            assert!(inside.iter().map(|m| encode(m).len()).sum::<usize>() <= 400);
            received.extend(inside);
        }
        assert_eq!(received, lesson);
        let many: Vec<WireMessage> = (0..1_200).map(|i| sync(&format!("d{i}"))).collect();
        let sent = bundled(many, true, "tablet", "relay");
        assert_eq!(sent.len(), 3, "500, 500 and 200");
        let nested = bundled(lesson, true, "tablet", "relay");
        let twice = pack_bundle(&[nested[0].clone(), sync("b")]);
        assert!(unpack_bundle(&twice).is_err());
    }
}
