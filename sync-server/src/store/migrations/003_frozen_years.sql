-- Version 3: school years frozen at the year-end archive; their documents are read-only.
CREATE TABLE frozen_years (
    year INTEGER PRIMARY KEY,
    frozen_at INTEGER NOT NULL
);
