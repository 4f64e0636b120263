-- Version 5: the change log keeps only the changes after each document's snapshot, for answering peers
-- and loading; who delivered each change is in the audit tables of version 4.
DELETE FROM changes
WHERE seq <= (SELECT d.snapshot_seq FROM documents d WHERE d.doc_id = changes.doc_id);
ALTER TABLE changes DROP COLUMN account_id;
ALTER TABLE changes DROP COLUMN device_id;
ALTER TABLE changes DROP COLUMN received_at;
