-- Version 3: where in a document's changes each recorded set of heads stands. A peer whose heads are
-- listed lacks exactly the changes stored after that point, so a relay can answer it from those changes
-- without loading the document. Heads are sorted hex joined by commas, as in documents.heads.
CREATE TABLE heads_index (
    doc_id TEXT NOT NULL,
    heads TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (doc_id, heads)
);
-- A document's stored heads close exactly the changes stored so far: index them at its last change, so
-- the devices that are up to date now are answered this way from their next sync on.
INSERT INTO heads_index (doc_id, heads, seq)
SELECT d.doc_id, d.heads, (SELECT max(c.seq) FROM changes c WHERE c.doc_id = d.doc_id)
FROM documents d
WHERE d.heads <> '' AND EXISTS (SELECT 1 FROM changes c WHERE c.doc_id = d.doc_id);
