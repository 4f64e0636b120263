-- Version 1 of the relay's database.

-- Documents: a snapshot, then the change log after it. Every accepted change is kept with who delivered it:
-- the server-attested audit trail.
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    snapshot BLOB NOT NULL,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    heads TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE changes (
    doc_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    data BLOB NOT NULL,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX changes_by_hash ON changes (doc_id, hash);

CREATE TABLE sync_states (
    device_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (device_id, doc_id)
) WITHOUT ROWID;

-- The directory: relational, owned by the relay, the only source of access decisions.
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administration', 'teacher', 'student', 'parent')),
    active INTEGER NOT NULL DEFAULT 1,
    student_id TEXT UNIQUE
) WITHOUT ROWID;

CREATE TABLE students (
    student_id TEXT PRIMARY KEY,
    class_id TEXT NOT NULL,
    name TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE class_staff (
    class_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    class_teacher INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (class_id, account_id)
) WITHOUT ROWID;

CREATE TABLE guardians (
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    student_id TEXT NOT NULL REFERENCES students (student_id),
    PRIMARY KEY (account_id, student_id)
) WITHOUT ROWID;

CREATE TABLE thread_participants (
    thread_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    PRIMARY KEY (thread_id, account_id)
) WITHOUT ROWID;

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    label TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

-- Sessions, for the monthly activity report.
CREATE TABLE sessions (
    session_id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    documents_synced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_start ON sessions (started_at);
