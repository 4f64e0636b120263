-- Version 4: conversation members are addresses, not only accounts: `account:<id>`, `guardians:<student>`
-- (the family, whoever of them signs in) and `student:<student>` (the student's own account). Access is
-- resolved from the directory at each session, so a guardian linked later sees the family's conversations.
CREATE TABLE thread_members (
    thread_id TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (thread_id, member)
) WITHOUT ROWID;
CREATE INDEX thread_members_by_member ON thread_members (member);

INSERT INTO thread_members (thread_id, member)
    SELECT thread_id, 'account:' || account_id FROM thread_participants;
DROP TABLE thread_participants;
