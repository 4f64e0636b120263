-- Version 1 of the relay's PostgreSQL schema: the same tables as the SQLite schema at its version 7, in
-- PostgreSQL's types. Times are Unix seconds.
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    snapshot BYTEA NOT NULL,
    snapshot_seq BIGINT NOT NULL DEFAULT 0,
    heads TEXT NOT NULL
);

CREATE TABLE changes (
    doc_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    data BYTEA NOT NULL,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE UNIQUE INDEX changes_by_hash ON changes (doc_id, hash);

CREATE TABLE sync_states (
    device_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    state BYTEA NOT NULL,
    PRIMARY KEY (device_id, doc_id)
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administration', 'teacher', 'student', 'parent')),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    student_id TEXT UNIQUE
);
CREATE INDEX accounts_by_role ON accounts (role);

CREATE TABLE students (
    student_id TEXT PRIMARY KEY,
    class_id TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX students_by_class ON students (class_id);

CREATE TABLE class_staff (
    class_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    class_teacher BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (class_id, account_id)
);
CREATE INDEX class_staff_by_account ON class_staff (account_id);

CREATE TABLE guardians (
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    student_id TEXT NOT NULL REFERENCES students (student_id),
    PRIMARY KEY (account_id, student_id)
);

CREATE TABLE thread_access (
    doc_id TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (doc_id, member)
);
CREATE INDEX thread_access_by_member ON thread_access (member);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    label TEXT NOT NULL,
    token_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE sessions (
    session_id BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    documents_synced BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_start ON sessions (started_at);

CREATE TABLE access_codes (
    code_id TEXT PRIMARY KEY,
    code_hash BYTEA NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('staff', 'student', 'parent')),
    account_id TEXT,
    student_id TEXT,
    issued_by TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at BIGINT,
    spent_by_device TEXT
);
CREATE INDEX access_codes_by_target ON access_codes (role, account_id, student_id);

CREATE TABLE admin_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_log_by_time ON admin_log (at);

CREATE TABLE frozen_years (
    year INTEGER PRIMARY KEY,
    frozen_at BIGINT NOT NULL
);

CREATE TABLE relay_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- A new database holds no hash from before the installation key.
INSERT INTO relay_meta (key, value) VALUES ('secrets_keyed', '1');

CREATE TABLE relay_mail (
    seq BIGSERIAL PRIMARY KEY,
    posted_at BIGINT NOT NULL,
    payload TEXT NOT NULL
);
