-- Version 7: a mailbox through which commands run beside a serving relay (the relay's command line) tell
-- it what they changed, so its live sessions hear of it: a revoked device's session closes, rights are
-- recomputed. Mail is short-lived: it is deleted an hour after it was posted.
CREATE TABLE relay_mail (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    posted_at INTEGER NOT NULL,
    payload TEXT NOT NULL
);
