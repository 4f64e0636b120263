-- Version 12: the consent register (Federal Law 152-FZ): each guardian's consent to the processing of a
-- student's personal data, given or withdrawn, with the signed form's date, the text's version and who
-- recorded it. Entries are only added; the newest for a student and guardian is in force.
CREATE TABLE consents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL REFERENCES students (student_id),
    guardian_id TEXT NOT NULL REFERENCES accounts (account_id),
    given INTEGER NOT NULL,
    signed_on TEXT NOT NULL,
    text_version TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX consents_by_student ON consents (student_id, guardian_id, seq);
