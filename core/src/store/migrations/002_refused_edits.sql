-- Version 2: edits the relay refused, kept for the app to show and export instead of vanishing.
CREATE TABLE refused_edits (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    refused_at INTEGER NOT NULL,
    edits TEXT NOT NULL
);
