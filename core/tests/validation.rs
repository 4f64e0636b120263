//! The validator refuses documents that break the schema or the school's rules, and a device never adopts
//! such a document from another replica.

use journal_core::docs::Document;
use journal_core::testing::{self, YEAR};
use journal_core::validate::{ValidationContext, validate_document};
use journal_core::{
    DocId, Error, Journal, MarkInput, MarkValue, NewLesson, SubjectId, WorkKindId, parse_date,
};

fn setup() -> (Journal, testing::FixtureClass, journal_core::LessonId) {
    let mut j = Journal::open_in_memory().expect("open");
    testing::school(&mut j).expect("school");
    let class = testing::class_with_students(&mut j, "5a", 1).expect("class");
    let lesson = j
        .add_lesson(
            YEAR,
            &class.class,
            &NewLesson {
                date: parse_date("2026-09-07").expect("date"),
                period: 1,
                subject: SubjectId::new("math").expect("id"),
                teacher: class.teacher.clone(),
                topic: String::new(),
            },
        )
        .expect("lesson");
    (j, class, lesson)
}

/// A copy of the student's document with one raw cell written by a hostile or buggy peer.
fn tampered(j: &Journal, student: &DocId, map: &str, key: &str, json: &str) -> Document {
    let original = j.document(student).expect("student doc");
    let mut copy = Document::load(
        student.clone(),
        &original.snapshot(),
        &automerge::ActorId::random(),
    )
    .expect("load copy");
    copy.put_raw_cell(map, key, json).expect("raw write");
    copy
}

fn check(j: &Journal, doc: &Document) -> Result<(), String> {
    let settings = j.school_settings(YEAR);
    validate_document(
        doc.id(),
        doc.automerge(),
        &ValidationContext {
            settings,
            ..ValidationContext::default()
        },
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn the_validator_refuses_broken_marks_and_codes_and_names_the_document() {
    let (mut j, class, lesson) = setup();
    let kid = &class.students[0];
    j.put_mark(
        kid,
        &lesson,
        &MarkInput {
            value: MarkValue::Grade(5),
            kind: WorkKindId::new("test").expect("id"),
            comment: String::new(),
        },
    )
    .expect("valid mark");
    let id = DocId::Student(YEAR, kid.clone());
    assert_eq!(check(&j, j.document(&id).expect("doc")), Ok(()));

    let mark = |value: &str, kind: &str, day: &str| {
        format!(
            r#"{{"lesson":"{lesson}","subject":"math","date":"{day}","value":"{value}","kind":"{kind}","teacher":"t"}}"#
        )
    };
    let cases = [
        (
            "marks",
            "m1",
            mark("7", "test", "2026-09-07"),
            "mark \"7\" is not valid",
        ),
        (
            "marks",
            "m1",
            mark("5", "essay", "2026-09-07"),
            "kind of work \"essay\"",
        ),
        (
            "marks",
            "m1",
            mark("5", "test", "2027-08-01"),
            "outside the school year",
        ),
        ("marks", "m1", "not json".to_owned(), "mark m1"),
        (
            "attendance",
            lesson.as_str(),
            r#"{"subject":"math","date":"2026-09-07","period":1,"code":"x"}"#.to_owned(),
            "attendance code \"x\"",
        ),
        (
            "marks",
            "../etc",
            mark("5", "test", "2026-09-07"),
            "malformed key",
        ),
    ];
    for (map, key, json, expected) in cases {
        let bad = tampered(&j, &id, map, key, &json);
        let err = check(&j, &bad).expect_err(expected);
        assert!(err.starts_with(&format!("document {id}:")), "{err}");
        assert!(err.contains(expected), "{err} should mention {expected}");
    }
}

#[test]
fn a_device_refuses_to_merge_a_replica_that_breaks_the_rules_and_keeps_its_own() {
    let (mut j, class, _) = setup();
    let id = DocId::Student(YEAR, class.students[0].clone());
    let heads_before = j.document(&id).expect("doc").heads();
    let bad = tampered(
        &j,
        &id,
        "marks",
        "m1",
        r#"{"lesson":"x","subject":"math","date":"2026-09-07","value":"9","kind":"test","teacher":"t"}"#,
    );
    let err = j.merge_document(&bad).expect_err("refused");
    assert!(matches!(err, Error::Schema(_)), "{err}");
    assert_eq!(j.document(&id).expect("doc").heads(), heads_before);
    assert!(
        j.student_marks(YEAR, &class.students[0], None, None)
            .expect("query")
            .is_empty()
    );
}

#[test]
fn a_document_claiming_another_kind_or_id_is_refused() {
    let (j, class, _) = setup();
    let class_doc = j
        .document(&DocId::Class(YEAR, class.class.clone()))
        .expect("class doc");
    let as_student = DocId::Student(YEAR, class.students[0].clone());
    let err = validate_document(
        &as_student,
        class_doc.automerge(),
        &ValidationContext::default(),
    )
    .expect_err("wrong kind");
    assert!(err.to_string().contains("is a \"class\" document"), "{err}");
    let other_class: DocId = "2026-2027/class/5b".parse().expect("id");
    let err = validate_document(
        &other_class,
        class_doc.automerge(),
        &ValidationContext::default(),
    )
    .expect_err("wrong id");
    assert!(err.to_string().contains("carries the id"), "{err}");
}

/// On the relay a change is judged with its writer: a new mark signed by someone else is refused unless
/// the writer teaches its subject in the class, and a value already there (a conflict kept) is not new.
#[test]
fn a_new_mark_is_signed_by_its_writer_or_a_teacher_of_its_subject() {
    use journal_core::validate::{WriterGuard, validate_change};
    let (j, class, _) = setup();
    let id = DocId::Student(YEAR, class.students[0].clone());
    let original = j.document(&id).expect("student doc");
    let signed_by = |teacher: &str| {
        tampered(
            &j,
            &id,
            "marks",
            "m9",
            &format!(
                r#"{{"lesson":"x","subject":"math","date":"2026-09-07","value":"4","kind":"oral","teacher":"{teacher}"}}"#
            ),
        )
    };
    let judged = |doc: &Document, writer: &str, taught: &[&str]| {
        let taught: std::collections::BTreeSet<SubjectId> =
            taught.iter().map(|s| s.parse().expect("id")).collect();
        validate_change(
            &id,
            original.view(),
            doc.automerge(),
            &ValidationContext {
                settings: j.school_settings(YEAR),
                writer: Some(WriterGuard {
                    author: writer,
                    subjects_taught: &taught,
                    edits: None,
                }),
            },
        )
        .map(|_| ())
        .map_err(|e| e.reason)
    };
    let forged = signed_by("t-math");
    let reason = judged(&forged, "t-5a", &["russian"]).expect_err("another teacher's name");
    assert!(reason.contains("signed by \"t-math\""), "{reason}");
    judged(&forged, "t-5a", &["math"]).expect("a teacher of the subject may");
    judged(&signed_by("t-5a"), "t-5a", &[]).expect("one's own mark");
    // Marks already there are not judged again, whoever delivers the change.
    validate_change(
        &id,
        original.view(),
        original.automerge(),
        &ValidationContext {
            settings: j.school_settings(YEAR),
            writer: Some(WriterGuard {
                author: "someone-else",
                subjects_taught: &Default::default(),
                edits: None,
            }),
        },
    )
    .expect("nothing new");
}
