-- Version 1: documents as a snapshot plus incremental chunks, per-peer sync state, the device's actor and
-- its read-only copy of the directory.
CREATE TABLE device (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    actor BLOB NOT NULL
);

CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    snapshot BLOB NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    chunk_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE doc_chunks (
    doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

CREATE TABLE sync_states (
    doc_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (doc_id, peer)
) WITHOUT ROWID;

CREATE TABLE directory (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);
