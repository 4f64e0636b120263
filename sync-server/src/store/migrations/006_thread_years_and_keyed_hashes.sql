-- Version 6: conversation members belong to one document, year included (`2026-2027/thread/<id>`), so
-- that a thread id reused in another year grants nothing in this one; and a table of the relay's own
-- settings, where the code records that every stored secret hash is keyed by the installation's key.
CREATE TABLE thread_access (
    doc_id TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (doc_id, member)
) WITHOUT ROWID;
CREATE INDEX thread_access_by_member ON thread_access (member);

-- Members of a conversation that is stored go to its document (to every year's, if a thread id was
-- reused: version 5 could not tell them apart).
INSERT OR IGNORE INTO thread_access (doc_id, member)
    SELECT d.doc_id, m.member FROM thread_members m JOIN documents d
    ON substr(d.doc_id, instr(d.doc_id, '/') + 1) = 'thread/' || m.thread_id;
-- Members registered before the conversation was started go to the newest school year.
INSERT OR IGNORE INTO thread_access (doc_id, member)
    SELECT y.year || '/thread/' || m.thread_id, m.member
    FROM thread_members m,
         (SELECT substr(max(doc_id), 1, instr(max(doc_id), '/') - 1) AS year
          FROM documents WHERE doc_id LIKE '%/school') y
    WHERE y.year IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM documents d WHERE substr(d.doc_id, instr(d.doc_id, '/') + 1) = 'thread/' || m.thread_id
    );
DROP TABLE thread_members;

CREATE TABLE relay_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
-- A database without codes or devices has no hash from before the installation key: nothing to rekey.
INSERT INTO relay_meta (key, value)
    SELECT 'secrets_keyed', '1'
    WHERE NOT EXISTS (SELECT 1 FROM devices) AND NOT EXISTS (SELECT 1 FROM access_codes);
