-- Version 3: where the user last looked at each document, for the "what is new" feed.
CREATE TABLE news_seen (
    doc_id TEXT PRIMARY KEY,
    heads BLOB NOT NULL
) WITHOUT ROWID;
