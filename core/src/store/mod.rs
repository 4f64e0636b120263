//! The device's durable store: each document as a compacted snapshot plus incremental chunks, per-peer
//! sync state, and the directory copy, in SQLite (WAL, synchronous commits).

pub mod schema;
pub mod seal;

use std::path::Path;

use base64::Engine;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::StoreError;
use seal::Sealer;

/// Chunks a document may gather before its next write compacts it into one snapshot.
pub const COMPACT_AFTER_CHUNKS: i64 = 64;

/// Chunk bytes beyond which a document is compacted even with few chunks (unless its snapshot is larger).
pub const COMPACT_AFTER_BYTES: i64 = 64 * 1024;

/// The device's SQLite database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    sealer: Option<Sealer>,
}

/// What a write did to one document's chunk list, so the caller can decide to compact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkStats {
    /// Chunks stored after the snapshot.
    pub count: i64,
    /// Their total size in bytes.
    pub bytes: i64,
    /// Size of the snapshot.
    pub snapshot_bytes: i64,
}

impl ChunkStats {
    /// Whether the document should be rewritten as one snapshot.
    pub fn needs_compaction(&self) -> bool {
        // Chunks hold changes as they arrived (a first sync brings a whole year uncompressed); a snapshot
        // is columnar and compressed, and loads faster.
        self.count >= COMPACT_AFTER_CHUNKS
            || self.bytes > (2 * self.snapshot_bytes).max(COMPACT_AFTER_BYTES)
    }
}

/// One row of the refused-edits list, opened.
#[derive(Clone, Debug)]
pub struct StoredRefusal {
    /// Its number.
    pub id: i64,
    /// The document.
    pub doc_id: String,
    /// The relay's reason.
    pub reason: String,
    /// When (Unix seconds).
    pub refused_at: i64,
    /// The readable lines, as a JSON array.
    pub edits_json: String,
}

/// The changes of one refused-edits row, to put back.
#[derive(Clone, Debug)]
pub struct RefusedChanges {
    /// The document.
    pub doc_id: String,
    /// The changes; `None` when an earlier version kept the edits as text only.
    pub changes: Option<Vec<u8>>,
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        schema::migrate(&mut conn)?;
        let sealed: bool = conn.query_row("SELECT count(*) > 0 FROM seal", [], |r| r.get(0))?;
        if sealed {
            return Err(StoreError::KeyNeeded);
        }
        Ok(Store { conn, sealer: None })
    }

    /// Opens the database at `path` sealed under `key` (32 bytes): documents, the directory copy and
    /// refused edits are encrypted at rest. A journal stored unsealed is sealed now, in one transaction; a
    /// wrong key is refused before anything is read or changed.
    pub fn open_sealed(path: &Path, key: &[u8]) -> Result<Self, StoreError> {
        let sealer = Sealer::new(key)?;
        let mut conn = Connection::open(path)?;
        schema::migrate(&mut conn)?;
        let check: Option<Vec<u8>> = conn
            .query_row("SELECT key_check FROM seal WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        match check {
            Some(check) if sealer.opens_key_check(&check) => {}
            Some(_) => return Err(StoreError::WrongKey),
            None => seal_existing(&mut conn, &sealer)?,
        }
        Ok(Store {
            conn,
            sealer: Some(sealer),
        })
    }

    /// A database in memory, for tests and previews.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn, sealer: None })
    }

    fn open_value(&self, aad: &str, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        match &self.sealer {
            Some(sealer) if !bytes.is_empty() => sealer.open(aad, &bytes),
            _ => Ok(bytes),
        }
    }

    fn open_text(&self, aad: &str, text: String) -> Result<String, StoreError> {
        let Some(sealer) = &self.sealer else {
            return Ok(text);
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .map_err(|_| StoreError::Unsealable(aad.to_owned()))?;
        String::from_utf8(sealer.open(aad, &sealed)?)
            .map_err(|_| StoreError::Unsealable(aad.to_owned()))
    }

    /// The device's Automerge actor id, created on first use.
    pub fn actor(&mut self, fresh: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let found: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT actor FROM device WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if let Some(actor) = found {
            return Ok(actor);
        }
        let actor = fresh();
        self.conn
            .execute("INSERT INTO device (id, actor) VALUES (1, ?1)", [&actor])?;
        Ok(actor)
    }

    /// The device's own secret, created on first use (sealed at rest when the store is). Call after
    /// [`Self::actor`], which creates the device's row.
    pub fn device_secret(
        &mut self,
        fresh: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let found: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT secret FROM device WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(sealed) = found {
            return self.open_value("device-secret", sealed);
        }
        let secret = fresh();
        let stored = match &self.sealer {
            Some(sealer) => sealer.seal("device-secret", &secret),
            None => secret.clone(),
        };
        self.conn
            .execute("UPDATE device SET secret = ?1 WHERE id = 1", [&stored])?;
        Ok(secret)
    }

    /// Every stored document: its id and its bytes (snapshot followed by chunks, as Automerge loads them).
    pub fn load_all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut docs = self
            .conn
            .prepare("SELECT doc_id, snapshot FROM documents ORDER BY doc_id")?;
        let mut chunks = self
            .conn
            .prepare("SELECT data FROM doc_chunks WHERE doc_id = ?1 ORDER BY seq")?;
        let mut out = Vec::new();
        let rows = docs.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        for row in rows {
            let (id, snapshot) = row?;
            let mut bytes = self.open_value(&format!("snapshot:{id}"), snapshot)?;
            let mut rows = chunks.query([&id])?;
            while let Some(chunk) = rows.next()? {
                let chunk = self.open_value(&format!("chunk:{id}"), chunk.get(0)?)?;
                bytes.extend_from_slice(&chunk);
            }
            out.push((id, bytes));
        }
        Ok(out)
    }

    /// Runs `f` in one SQLite transaction, committed when it returns `Ok`.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.transaction().map_err(StoreError::from)?;
        let mut writer = Writer {
            tx,
            sealer: self.sealer.as_ref(),
        };
        let out = f(&mut writer)?;
        writer.tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// The saved sync state of a document with a peer.
    pub fn sync_state(&self, doc_id: &str, peer: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT state FROM sync_states WHERE doc_id = ?1 AND peer = ?2",
                [doc_id, peer],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Whether the last session with `peer` sent edits and ended before they were all confirmed.
    pub fn session_unsettled(&self, peer: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM unsettled_sessions WHERE peer = ?1",
                [peer],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The stored copy of the directory (JSON), if any.
    pub fn directory(&self) -> Result<Option<String>, StoreError> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        found
            .map(|text| self.open_text("directory", text))
            .transpose()
    }

    /// The heads at which the user last looked at each document (concatenated 32-byte hashes).
    pub fn news_seen(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT doc_id, heads FROM news_seen")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Refused edits, oldest first.
    pub fn refused_edits(&self) -> Result<Vec<StoredRefusal>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, doc_id, reason, refused_at, edits FROM refused_edits ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc, reason, refused_at, edits) = row?;
            let aad = format!("refused:{doc}");
            out.push(StoredRefusal {
                id,
                reason: self.open_text(&aad, reason)?,
                refused_at,
                edits_json: self.open_text(&aad, edits)?,
                doc_id: doc,
            });
        }
        Ok(out)
    }

    /// The document and the changes of refused edits number `id`; `None` when there is no such number.
    /// The changes are `None` for edits an earlier version kept as text only.
    pub fn refused_changes(&self, id: i64) -> Result<Option<RefusedChanges>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT doc_id, changes FROM refused_edits WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((doc, changes)) = row else {
            return Ok(None);
        };
        let changes = changes
            .map(|bytes| self.open_value(&format!("refused-changes:{doc}"), bytes))
            .transpose()?;
        Ok(Some(RefusedChanges {
            doc_id: doc,
            changes,
        }))
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`ok` when sound).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Writes inside one open transaction of the store.
pub struct Writer<'a> {
    tx: Transaction<'a>,
    sealer: Option<&'a Sealer>,
}

impl Writer<'_> {
    fn seal_value(&self, aad: &str, bytes: &[u8]) -> Vec<u8> {
        match self.sealer {
            Some(sealer) => sealer.seal(aad, bytes),
            None => bytes.to_vec(),
        }
    }

    fn seal_text(&self, aad: &str, text: &str) -> String {
        match self.sealer {
            Some(sealer) => {
                base64::engine::general_purpose::STANDARD.encode(sealer.seal(aad, text.as_bytes()))
            }
            None => text.to_owned(),
        }
    }

    /// Appends a chunk of changes to a document, creating its row when new.
    pub fn append_chunk(&mut self, doc_id: &str, bytes: &[u8]) -> Result<ChunkStats, StoreError> {
        let bytes = &self.seal_value(&format!("chunk:{doc_id}"), bytes);
        let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.tx.execute(
            "INSERT INTO documents (doc_id, snapshot) VALUES (?1, x'') ON CONFLICT (doc_id) DO NOTHING",
            [doc_id],
        )?;
        let stats = self.tx.query_row(
            "UPDATE documents SET chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?2
             WHERE doc_id = ?1 RETURNING chunk_count, chunk_bytes, length(snapshot)",
            params![doc_id, len],
            |r| {
                Ok(ChunkStats {
                    count: r.get(0)?,
                    bytes: r.get(1)?,
                    snapshot_bytes: r.get(2)?,
                })
            },
        )?;
        self.tx.execute(
            "INSERT INTO doc_chunks (doc_id, seq, data)
             VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM doc_chunks WHERE doc_id = ?1), ?2)",
            params![doc_id, bytes],
        )?;
        Ok(stats)
    }

    /// Replaces a document's snapshot and drops its chunks.
    pub fn replace_snapshot(&mut self, doc_id: &str, snapshot: &[u8]) -> Result<(), StoreError> {
        let snapshot = &self.seal_value(&format!("snapshot:{doc_id}"), snapshot);
        self.tx.execute(
            "INSERT INTO documents (doc_id, snapshot) VALUES (?1, ?2)
             ON CONFLICT (doc_id) DO UPDATE SET snapshot = excluded.snapshot, chunk_count = 0, chunk_bytes = 0",
            params![doc_id, snapshot],
        )?;
        self.tx
            .execute("DELETE FROM doc_chunks WHERE doc_id = ?1", [doc_id])?;
        Ok(())
    }

    /// Saves the sync state of a document with a peer.
    pub fn put_sync_state(
        &mut self,
        doc_id: &str,
        peer: &str,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_states (doc_id, peer, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc_id, peer) DO UPDATE SET state = excluded.state",
            params![doc_id, peer, state],
        )?;
        Ok(())
    }

    /// Records whether the session with `peer` has sent edits it has not seen all confirmed.
    pub fn set_session_unsettled(&mut self, peer: &str, unsettled: bool) -> Result<(), StoreError> {
        if unsettled {
            self.tx.execute(
                "INSERT INTO unsettled_sessions (peer) VALUES (?1) ON CONFLICT (peer) DO NOTHING",
                [peer],
            )?;
        } else {
            self.tx
                .execute("DELETE FROM unsettled_sessions WHERE peer = ?1", [peer])?;
        }
        Ok(())
    }

    /// Records edits the relay refused: readable lines and the changes themselves.
    pub fn add_refused_edit(
        &mut self,
        doc_id: &str,
        reason: &str,
        refused_at: i64,
        edits_json: &str,
        changes: &[u8],
    ) -> Result<(), StoreError> {
        let aad = format!("refused:{doc_id}");
        self.tx.execute(
            "INSERT INTO refused_edits (doc_id, reason, refused_at, edits, changes) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                doc_id,
                self.seal_text(&aad, reason),
                refused_at,
                self.seal_text(&aad, edits_json),
                self.seal_value(&format!("refused-changes:{doc_id}"), changes)
            ],
        )?;
        Ok(())
    }

    /// Forgets refused edits number `id`; whether there were such.
    pub fn delete_refused_edit(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .execute("DELETE FROM refused_edits WHERE id = ?1", [id])?
            > 0)
    }

    /// Records where the user last looked at a document.
    pub fn put_news_seen(&mut self, doc_id: &str, heads: &[u8]) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO news_seen (doc_id, heads) VALUES (?1, ?2)
             ON CONFLICT (doc_id) DO UPDATE SET heads = excluded.heads",
            params![doc_id, heads],
        )?;
        Ok(())
    }

    /// Deletes a document, its chunks and its sync states.
    pub fn delete_document(&mut self, doc_id: &str) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM doc_chunks WHERE doc_id = ?1", [doc_id])?;
        self.tx
            .execute("DELETE FROM documents WHERE doc_id = ?1", [doc_id])?;
        self.tx
            .execute("DELETE FROM sync_states WHERE doc_id = ?1", [doc_id])?;
        Ok(())
    }

    /// Replaces the stored directory copy.
    pub fn put_directory(&mut self, json: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO directory (id, json) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET json = excluded.json",
            [self.seal_text("directory", json)],
        )?;
        Ok(())
    }
}

/// Seals every value of a journal stored unsealed, and records the key check, in one transaction.
fn seal_existing(conn: &mut Connection, sealer: &Sealer) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let writer = Writer {
            tx,
            sealer: Some(sealer),
        };
        let snapshots: Vec<(String, Vec<u8>)> = writer
            .tx
            .prepare("SELECT doc_id, snapshot FROM documents")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (doc, snapshot) in snapshots.into_iter().filter(|(_, s)| !s.is_empty()) {
            let sealed = writer.seal_value(&format!("snapshot:{doc}"), &snapshot);
            writer.tx.execute(
                "UPDATE documents SET snapshot = ?2 WHERE doc_id = ?1",
                params![doc, sealed],
            )?;
        }
        let chunks: Vec<(String, i64, Vec<u8>)> = writer
            .tx
            .prepare("SELECT doc_id, seq, data FROM doc_chunks")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (doc, seq, data) in chunks {
            let sealed = writer.seal_value(&format!("chunk:{doc}"), &data);
            writer.tx.execute(
                "UPDATE doc_chunks SET data = ?3 WHERE doc_id = ?1 AND seq = ?2",
                params![doc, seq, sealed],
            )?;
        }
        let secret: Option<Vec<u8>> = writer
            .tx
            .query_row("SELECT secret FROM device WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(secret) = secret {
            writer.tx.execute(
                "UPDATE device SET secret = ?1 WHERE id = 1",
                [writer.seal_value("device-secret", &secret)],
            )?;
        }
        let directory: Option<String> = writer
            .tx
            .query_row("SELECT json FROM directory WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if let Some(json) = directory {
            writer.tx.execute(
                "UPDATE directory SET json = ?1 WHERE id = 1",
                [writer.seal_text("directory", &json)],
            )?;
        }
        type RefusedRow = (i64, String, String, String, Option<Vec<u8>>);
        let refused: Vec<RefusedRow> = writer
            .tx
            .prepare("SELECT id, doc_id, reason, edits, changes FROM refused_edits")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        for (id, doc, reason, edits, changes) in refused {
            let aad = format!("refused:{doc}");
            let changes =
                changes.map(|bytes| writer.seal_value(&format!("refused-changes:{doc}"), &bytes));
            writer.tx.execute(
                "UPDATE refused_edits SET reason = ?2, edits = ?3, changes = ?4 WHERE id = ?1",
                params![
                    id,
                    writer.seal_text(&aad, &reason),
                    writer.seal_text(&aad, &edits),
                    changes
                ],
            )?;
        }
        writer.tx.execute(
            "INSERT INTO seal (id, key_check) VALUES (1, ?1)",
            [sealer.key_check()],
        )?;
        writer.tx.commit()?;
    }
    // Pages that held plain values are overwritten, not only freed.
    conn.execute_batch("PRAGMA secure_delete = ON; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_append_in_order_and_compaction_replaces_them() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .write(|w| {
                w.append_chunk("d", b"ab")?;
                w.append_chunk("d", b"cd")
            })
            .map(|stats: ChunkStats| assert_eq!((stats.count, stats.bytes), (2, 4)))
            .expect("write");
        assert_eq!(
            store.load_all().expect("load"),
            vec![("d".to_owned(), b"abcd".to_vec())]
        );
        store
            .write(|w| w.replace_snapshot("d", b"S"))
            .expect("compact");
        let stats = store.write(|w| w.append_chunk("d", b"e")).expect("append");
        assert_eq!((stats.count, stats.snapshot_bytes), (1, 1));
        assert_eq!(
            store.load_all().expect("load"),
            vec![("d".to_owned(), b"Se".to_vec())]
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let mut store = Store::open_in_memory().expect("open");
        let result: Result<(), StoreError> = store.write(|w| {
            w.append_chunk("d", b"ab")?;
            Err(StoreError::Corrupt {
                doc: "d".into(),
                reason: "test".into(),
            })
        });
        assert!(result.is_err());
        assert!(store.load_all().expect("load").is_empty());
    }

    #[test]
    fn a_database_from_a_newer_app_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "user_version", 99)
                .expect("set version");
        }
        let err = Store::open(&path).expect_err("too new");
        assert!(err.to_string().contains("update the app"), "{err}");
        let conn = Connection::open(&path).expect("reopen");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, 99);
    }

    #[test]
    fn sync_state_and_directory_round_trip() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .write(|w| {
                w.put_sync_state("d", "relay", b"s1")?;
                w.put_sync_state("d", "relay", b"s2")?;
                w.put_directory("{}")
            })
            .expect("write");
        assert_eq!(
            store.sync_state("d", "relay").expect("read"),
            Some(b"s2".to_vec())
        );
        assert_eq!(store.sync_state("d", "other").expect("read"), None);
        assert_eq!(store.directory().expect("read").as_deref(), Some("{}"));
    }
}
