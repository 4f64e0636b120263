-- Version 10: the audit trail kept compactly (see store/audit_log.rs). Each delivery of an actor's
-- consecutive changes to a document is packed, a few bytes each, into rows of up to 64, with the document,
-- the actor and the delivering account and device each stored once and named by a number. The relay fills
-- these from the version 9 change log before version 11 drops the log's attribution columns.
CREATE TABLE audit_documents (
    doc INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE
);
CREATE TABLE audit_actors (
    actor INTEGER PRIMARY KEY,
    actor_id BLOB NOT NULL UNIQUE
);
CREATE TABLE audit_authors (
    author INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    UNIQUE (account_id, device_id)
);
CREATE TABLE audit_deliveries (
    doc INTEGER NOT NULL REFERENCES audit_documents (doc),
    actor INTEGER NOT NULL REFERENCES audit_actors (actor),
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    packed BLOB NOT NULL,
    PRIMARY KEY (doc, actor, first_seq)
) WITHOUT ROWID;
-- Where a document's change numbering stands, now that changes a snapshot covers are no longer kept.
ALTER TABLE documents ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE documents SET change_seq = coalesce((SELECT max(seq) FROM changes c WHERE c.doc_id = documents.doc_id), 0);
