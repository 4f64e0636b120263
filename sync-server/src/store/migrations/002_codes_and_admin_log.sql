-- Version 2: one-time access codes (stored only as keyed hashes) and the administration's audit log.
CREATE TABLE access_codes (
    code_id TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('staff', 'student', 'parent')),
    account_id TEXT,
    student_id TEXT,
    issued_by TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at INTEGER,
    spent_by_device TEXT
) WITHOUT ROWID;
CREATE INDEX access_codes_by_target ON access_codes (role, account_id, student_id);

CREATE TABLE admin_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_log_by_time ON admin_log (at);
