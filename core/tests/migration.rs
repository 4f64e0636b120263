//! Device databases made by earlier versions open and upgrade, ending with the same schema as a fresh one,
//! their journal intact.

use journal_core::store::schema::CURRENT_VERSION;
use journal_core::testing::YEAR;
use journal_core::{DateRange, Journal, StudentId, parse_date};

fn schema_of(path: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn version_of(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .expect("open")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version")
}

/// A copy of the fixture database `name` (made by schema `version`) in `dir`.
fn fixture_copy(dir: &tempfile::TempDir, name: &str, version: i64) -> std::path::PathBuf {
    let copy = dir.path().join(name);
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        &copy,
    )
    .expect("copy fixture");
    assert_eq!(version_of(&copy), version);
    copy
}

/// Asserts that the upgraded database at `old` has the schema a fresh one gets.
fn assert_schema_is_fresh(dir: &tempfile::TempDir, old: &std::path::Path) {
    let fresh = dir.path().join("fresh.db");
    drop(Journal::open(&fresh).expect("fresh"));
    assert_eq!(
        schema_of(old),
        schema_of(&fresh),
        "upgraded schema equals a fresh one"
    );
}

#[test]
fn a_version_1_database_upgrades_to_the_current_schema_with_its_journal_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = fixture_copy(&dir, "device-v1.db", 1);

    let journal = Journal::open(&old).expect("upgrade and open");
    assert_eq!(version_of(&old), CURRENT_VERSION);
    assert!(
        journal
            .refused_edits()
            .expect("new table readable")
            .is_empty()
    );

    let year = DateRange::new(
        parse_date("2026-09-01").expect("date"),
        parse_date("2027-05-31").expect("date"),
    )
    .expect("range");
    let ill: StudentId = "5a-s00".parse().expect("id");
    let totals = journal.attendance_totals(YEAR, &ill, year).expect("totals");
    assert_eq!(totals.by_code["б"].lessons, 1);
    let marked: StudentId = "5a-s01".parse().expect("id");
    let marks = journal
        .student_marks(YEAR, &marked, None, None)
        .expect("marks");
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].mark.comment, "молодец");
    drop(journal);

    assert_schema_is_fresh(&dir, &old);
}

#[test]
fn a_version_4_database_gains_a_device_secret_that_stays_the_same_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = fixture_copy(&dir, "device-v4.db", 4);
    let code = journal_core::access_code::AccessCode::generate();
    let other = journal_core::access_code::AccessCode::generate();

    let mut journal = Journal::open(&old).expect("upgrade and open");
    assert_eq!(version_of(&old), CURRENT_VERSION);
    let first = journal.redemption_secret(&code).expect("secret");
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(
        journal.redemption_secret(&other).expect("secret"),
        first,
        "each code its own"
    );
    let marked: StudentId = "5a-s01".parse().expect("id");
    assert_eq!(
        journal
            .student_marks(YEAR, &marked, None, None)
            .expect("marks")
            .len(),
        1,
        "the journal is intact"
    );
    drop(journal);

    let mut reopened = Journal::open(&old).expect("reopen");
    assert_eq!(
        reopened.redemption_secret(&code).expect("secret"),
        first,
        "a login sent again after a restart proposes the same secret"
    );
    let mut elsewhere = Journal::open_in_memory().expect("another device");
    assert_ne!(
        elsewhere.redemption_secret(&code).expect("secret"),
        first,
        "another device cannot propose it"
    );
}

#[test]
fn a_version_5_database_upgrades_with_no_session_left_unsettled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = fixture_copy(&dir, "device-v5.db", 5);

    let mut journal = Journal::open(&old).expect("upgrade and open");
    assert_eq!(version_of(&old), CURRENT_VERSION);
    assert!(!journal.session_unsettled("relay"));
    journal.note_session("relay", true).expect("noted");
    drop(journal);
    let mut reopened = Journal::open(&old).expect("reopen");
    assert!(reopened.session_unsettled("relay"), "kept across restarts");
    reopened.note_session("relay", false).expect("noted");
    assert!(!reopened.session_unsettled("relay"));
    let marked: StudentId = "5a-s01".parse().expect("id");
    assert_eq!(
        reopened
            .student_marks(YEAR, &marked, None, None)
            .expect("marks")
            .len(),
        1,
        "the journal is intact"
    );
    drop(reopened);

    assert_schema_is_fresh(&dir, &old);
}

#[test]
fn a_version_6_database_keeps_its_refused_edits_readable_but_not_sendable_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = fixture_copy(&dir, "device-v6.db", 6);

    let mut journal = Journal::open(&old).expect("upgrade and open");
    assert_eq!(version_of(&old), CURRENT_VERSION);
    let refused = journal.refused_edits().expect("list");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].edits[0].starts_with("marks/m1"), "{refused:?}");
    let err = journal
        .retry_refused_edit(refused[0].id)
        .expect_err("kept as text only");
    assert!(
        err.to_string().contains("can be read, not sent again"),
        "{err}"
    );
    journal.discard_refused_edit(refused[0].id).expect("let go");
    assert!(journal.refused_edits().expect("list").is_empty());
    drop(journal);

    assert_schema_is_fresh(&dir, &old);
}
