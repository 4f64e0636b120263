-- Version 6: the peers whose last session sent edits and ended before they were all confirmed. The next
-- session with such a peer asks it for the heads of every document, so what reached it before the cut is
-- not sent again.
CREATE TABLE unsettled_sessions (peer TEXT PRIMARY KEY NOT NULL);
