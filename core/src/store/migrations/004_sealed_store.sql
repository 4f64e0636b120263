-- Version 4: a device store may be sealed at rest. When it is, this row holds a known text sealed under the
-- platform's key, so a wrong key is recognised before anything is read or written.
CREATE TABLE seal (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_check BLOB NOT NULL
);
