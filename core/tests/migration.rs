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

#[test]
fn a_version_1_database_upgrades_to_the_current_schema_with_its_journal_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("v1.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/device-v1.db"),
        &old,
    )
    .expect("copy fixture");
    assert_eq!(version_of(&old), 1);

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

    let fresh = dir.path().join("fresh.db");
    drop(Journal::open(&fresh).expect("fresh"));
    assert_eq!(
        schema_of(&old),
        schema_of(&fresh),
        "upgraded schema equals a fresh one"
    );
}
