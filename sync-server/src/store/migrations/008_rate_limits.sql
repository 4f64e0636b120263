-- Version 8: rate limits shared by the relays of one database (code redemption per address and per code
-- family), as the theoretical arrival time of each key's next request (GCRA), in milliseconds.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat_ms INTEGER NOT NULL
) WITHOUT ROWID;
