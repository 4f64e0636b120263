//! The device store sealed at rest: no student's name or mark is readable in the database files, a wrong
//! key is refused and destroys nothing, and a journal stored unsealed is sealed on first open with a key.

use std::path::Path;

use journal_core::directory::MyDirectory;
use journal_core::testing::{YEAR, class_with_students, schedule_weeks, school};
use journal_core::{Error, Journal, MarkInput, MarkValue, StoreError, StudentProfile};

const NAME: &str = "Ученик 01";
const COMMENT: &str = "Замечательный развёрнутый ответ у доски";

fn fill(j: &mut Journal) {
    school(j).expect("school");
    let class = class_with_students(j, "5a", 3).expect("class");
    let lessons = schedule_weeks(j, &class, 1).expect("lessons");
    j.put_mark(
        &class.students[1],
        &lessons[0],
        &MarkInput {
            value: MarkValue::Grade(5),
            kind: "oral".parse().expect("id"),
            comment: COMMENT.into(),
        },
    )
    .expect("mark");
    j.set_profile(
        YEAR,
        &class.students[1],
        &StudentProfile {
            full_name: NAME.into(),
            birth_date: None,
            address: "ул. Садовая, 5".into(),
        },
        journal_core::testing::first_day(),
    )
    .expect("profile");
    j.set_my_directory(&MyDirectory::new(
        "parent-of-01",
        "Мама Ученика",
        journal_core::AccountRole::Parent,
    ))
    .expect("directory");
}

/// Every byte the database keeps on disk: the file and its write-ahead log.
fn disk_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("db");
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_sealed_store_keeps_no_name_or_mark_in_plain_text() {
    let dir = tempfile::tempdir().expect("dir");
    let key = [0x42u8; 32];
    let sealed = dir.path().join("sealed.db");
    let plain = dir.path().join("plain.db");
    {
        let mut j = Journal::open_sealed(&sealed, &key).expect("open");
        fill(&mut j);
        let mut p = Journal::open(&plain).expect("open");
        fill(&mut p);
    }
    // The same data unsealed shows the words, so the search below can find them when they are there.
    let plain_bytes = disk_bytes(&plain);
    assert!(contains(&plain_bytes, NAME) && contains(&plain_bytes, "Мама Ученика"));
    let sealed_bytes = disk_bytes(&sealed);
    for secret in [NAME, COMMENT, "ул. Садовая", "Мама Ученика", "parent-of-01"]
    {
        assert!(
            !contains(&sealed_bytes, secret),
            "{secret} is readable on disk"
        );
    }
    let j = Journal::open_sealed(&sealed, &key).expect("reopen");
    let students = j.roster(
        YEAR,
        &"5a".parse().expect("id"),
        journal_core::testing::first_day(),
    );
    assert_eq!(students.expect("roster").len(), 3);
    assert_eq!(
        j.my_directory().expect("dir").expect("some").name,
        "Мама Ученика"
    );
}

#[test]
fn a_wrong_key_is_refused_and_destroys_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("journal.db");
    let key = [1u8; 32];
    {
        let mut j = Journal::open_sealed(&path, &key).expect("open");
        fill(&mut j);
    }
    let before = std::fs::read(&path).expect("db");
    let wrong = Journal::open_sealed(&path, &[2u8; 32]).expect_err("wrong key");
    assert!(
        matches!(wrong, Error::Store(StoreError::WrongKey)),
        "{wrong}"
    );
    assert!(wrong.to_string().contains("nothing was changed"), "{wrong}");
    let short = Journal::open_sealed(&path, &[2u8; 16]).expect_err("short key");
    assert!(short.to_string().contains("32 bytes"), "{short}");
    let none = Journal::open(&path).expect_err("no key");
    assert!(none.to_string().contains("sealed"), "{none}");
    assert_eq!(
        std::fs::read(&path).expect("db"),
        before,
        "the file is untouched"
    );
    let j = Journal::open_sealed(&path, &key).expect("the right key still opens it");
    assert!(j.documents().count() > 3);
}

#[test]
fn a_journal_stored_unsealed_is_sealed_on_first_open_with_a_key() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("journal.db");
    let documents = {
        let mut j = Journal::open(&path).expect("open");
        fill(&mut j);
        j.documents().count()
    };
    assert!(contains(&disk_bytes(&path), NAME));
    let key = [9u8; 32];
    {
        let j = Journal::open_sealed(&path, &key).expect("seal");
        assert_eq!(j.documents().count(), documents);
    }
    let bytes = disk_bytes(&path);
    assert!(!contains(&bytes, NAME) && !contains(&bytes, COMMENT));
    let j = Journal::open_sealed(&path, &key).expect("reopen");
    assert_eq!(j.documents().count(), documents);
    assert_eq!(
        j.my_directory().expect("dir").expect("some").account,
        "parent-of-01"
    );
}
