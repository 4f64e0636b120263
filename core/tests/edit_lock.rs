//! The edit-lock window (regulation 2.1): an entry of a lesson more than the school's number of days old
//! is changed only by the administration, with a reason; the device says so before anything is sent, and
//! the validator the relay runs refuses what a device that skips its check would send.

use journal_core::directory::MyDirectory;
use journal_core::docs::Document;
use journal_core::testing::{self, YEAR};
use journal_core::validate::{EditWindow, ValidationContext, WriterGuard};
use journal_core::{
    AccountRole, AttendanceInput, DocId, Error, InputError, Journal, LessonId, MarkInput,
    MarkValue, NewLesson, SubjectId, WorkKindId, parse_date,
};

const TODAY: &str = "2026-11-02";
const OLD_LESSON: &str = "2026-10-20";
const RECENT_LESSON: &str = "2026-10-30";

fn lesson(j: &mut Journal, class: &testing::FixtureClass, date: &str) -> LessonId {
    j.add_lesson(
        YEAR,
        &class.class,
        &NewLesson {
            date: parse_date(date).expect("date"),
            period: 1,
            subject: SubjectId::new("math").expect("id"),
            teacher: class.teacher.clone(),
            topic: String::new(),
        },
    )
    .expect("lesson")
}

fn four() -> MarkInput {
    MarkInput {
        value: MarkValue::Grade(4),
        kind: WorkKindId::new("oral").expect("id"),
        comment: String::new(),
    }
}

fn absent(student: &journal_core::StudentId) -> Vec<AttendanceInput> {
    vec![AttendanceInput {
        student: student.clone(),
        code: Some("н".into()),
        note: String::new(),
    }]
}

fn locked(result: journal_core::Result<impl std::fmt::Debug>) -> (bool, String) {
    match result {
        Err(Error::Input(
            e @ InputError::EditLocked {
                days: 7,
                administration,
                ..
            },
        )) => (administration, e.to_string()),
        other => panic!("not refused as locked: {other:?}"),
    }
}

fn setup() -> (Journal, testing::FixtureClass, LessonId, LessonId) {
    let mut j = Journal::open_in_memory().expect("open");
    testing::school(&mut j).expect("school");
    let class = testing::class_with_students(&mut j, "5a", 2).expect("class");
    let mut policy = j.school_settings(YEAR).expect("settings").policy.clone();
    policy.edit_lock_days = journal_core::DEFAULT_EDIT_LOCK_DAYS;
    j.set_policy(YEAR, &policy).expect("the default window");
    j.pretend_today(parse_date(TODAY).expect("date"));
    let old = lesson(&mut j, &class, OLD_LESSON);
    let recent = lesson(&mut j, &class, RECENT_LESSON);
    (j, class, old, recent)
}

fn last_message(j: &Journal, student: &journal_core::StudentId) -> Option<String> {
    let doc = j
        .document(&DocId::Student(YEAR, student.clone()))
        .expect("student doc");
    doc.automerge()
        .get_changes(&[])
        .last()
        .and_then(|c| c.message().map(str::to_owned))
}

#[test]
fn a_teacher_changes_entries_inside_the_window_only_and_is_told_why() {
    let (mut j, class, old, recent) = setup();
    let student = class.students[0].clone();
    j.put_mark(&student, &recent, &four())
        .expect("a lesson 3 days ago is open");
    j.mark_attendance(&recent, &absent(&student))
        .expect("its attendance too");

    let (administration, said) = locked(j.put_mark(&student, &old, &four()));
    assert!(!administration);
    assert!(
        said.contains(OLD_LESSON) && said.contains("7 days") && said.contains("administration"),
        "{said}"
    );
    locked(j.mark_attendance(&old, &absent(&student)));
    // A reason does not open the lock for a teacher.
    locked(j.with_reason("справка", |j| j.put_mark(&student, &old, &four())));
    let kept = j
        .document(&DocId::Student(YEAR, student.clone()))
        .expect("student doc")
        .view()
        .clone();
    let journal_core::docs::View::Student(kept) = kept else {
        panic!("a student's document");
    };
    assert!(
        kept.marks.values().all(|m| m.value.lesson == recent)
            && !kept.attendance.contains_key(&old),
        "nothing of the refused edits is kept"
    );

    // A school that turns the lock off lets its teachers change any lesson of the year.
    let mut policy = j.school_settings(YEAR).expect("settings").policy.clone();
    policy.edit_lock_days = 0;
    j.set_policy(YEAR, &policy).expect("policy");
    j.put_mark(&student, &old, &four()).expect("no lock");
    policy.edit_lock_days = 400;
    let refused = j
        .set_policy(YEAR, &policy)
        .expect_err("too long")
        .to_string();
    assert!(refused.contains("at most 366"), "{refused}");
}

#[test]
fn the_administration_changes_an_old_entry_with_a_reason_which_its_change_keeps() {
    let (mut j, class, old, recent) = setup();
    let student = class.students[1].clone();
    j.set_my_directory(&MyDirectory::new(
        "director",
        "Директор",
        AccountRole::Administration,
    ))
    .expect("signed in");
    let (administration, said) = locked(j.put_mark(&student, &old, &four()));
    assert!(administration && said.contains("give the reason"), "{said}");
    let refused = j
        .with_reason("  ", |j| j.put_mark(&student, &old, &four()))
        .expect_err("an empty reason");
    assert!(refused.to_string().contains("needs a reason"), "{refused}");

    let reason = "исправлено по заявлению родителей от 01.11";
    j.with_reason(reason, |j| {
        j.put_mark(&student, &old, &four())?;
        j.mark_attendance(&old, &absent(&student))
    })
    .expect("the administration, with a reason");
    assert_eq!(last_message(&j, &student).as_deref(), Some(reason));
    // The reason belongs to that correction only.
    j.put_mark(&student, &recent, &four()).expect("recent");
    assert_eq!(last_message(&j, &student), None);
}

/// What the relay's validator says to a delivery that changes one entry of `lesson_day`, written on a
/// replica whose clock says `claimed`, from a device last seen at `previous_contact`.
fn judged(
    claimed_day: &str,
    previous_contact: Option<&str>,
    administration: bool,
    reason: Option<&str>,
) -> Result<(), String> {
    judged_entry(
        OLD_LESSON,
        claimed_day,
        previous_contact,
        administration,
        reason,
    )
}

/// As [`judged`], for an entry of the old lesson that claims the day `entry_day`.
fn judged_entry(
    entry_day: &str,
    claimed_day: &str,
    previous_contact: Option<&str>,
    administration: bool,
    reason: Option<&str>,
) -> Result<(), String> {
    let (j, class, old, _) = setup();
    let id = DocId::Student(YEAR, class.students[0].clone());
    let stored = j.document(&id).expect("doc").snapshot();
    let mut relay_copy =
        Document::load(id.clone(), &stored, &automerge::ActorId::random()).expect("relay's copy");
    let mut replica =
        Document::load(id.clone(), &stored, &automerge::ActorId::random()).expect("replica");
    replica.set_reason(reason);
    let attendance = journal_core::Attendance {
        subject: SubjectId::new("math").expect("id"),
        date: parse_date(entry_day).expect("date"),
        period: 1,
        code: Some("н".into()),
        note: String::new(),
    };
    replica.pretend_time(seconds(claimed_day));
    replica.put_attendance(&old, &attendance).expect("edit");
    let contact = || previous_contact.map(seconds);
    let lesson_day =
        |lesson: &LessonId| (lesson == &old).then(|| parse_date(OLD_LESSON).expect("date"));
    let taught = Default::default();
    let ctx = ValidationContext {
        settings: j.school_settings(YEAR),
        writer: Some(WriterGuard {
            author: "someone",
            subjects_taught: &taught,
            edits: Some(EditWindow {
                now: seconds(TODAY),
                previous_contact: &contact,
                administration,
                lesson_day: &lesson_day,
            }),
        }),
    };
    relay_copy.merge(&replica, &ctx).map_err(|e| e.to_string())
}

fn seconds(day: &str) -> i64 {
    parse_date(day)
        .expect("date")
        .midnight()
        .assume_utc()
        .unix_timestamp()
        + 12 * 3600
}

#[test]
fn the_relay_refuses_a_late_change_whoever_skips_the_devices_check_and_bounds_a_claimed_offline_day()
 {
    let refused = judged(TODAY, Some("2026-11-01"), false, None).expect_err("locked");
    assert!(
        refused.contains(OLD_LESSON) && refused.contains("regulation 2.1"),
        "{refused}"
    );
    // Made offline on the lesson's day by a tablet last seen before it: judged on that day.
    judged(OLD_LESSON, Some("2026-10-19"), false, None).expect("an offline edit of its day");
    // A clock set back cannot reach past the device's last contact.
    judged(OLD_LESSON, Some("2026-11-01"), false, None).expect_err("backdated past a contact");
    judged(OLD_LESSON, None, false, None).expect_err("a device never seen is judged on today");
    // Nor forward past the relay's today.
    judged("2036-11-02", Some("2026-10-19"), false, None).expect_err("a clock years ahead");

    // An entry is as old as its lesson in the class's document, whatever date it claims.
    let refused =
        judged_entry(TODAY, TODAY, Some("2026-11-01"), false, None).expect_err("dated today");
    assert!(refused.contains(OLD_LESSON), "{refused}");

    let refused = judged(TODAY, Some("2026-11-01"), true, None).expect_err("no reason");
    assert!(refused.contains("gives none"), "{refused}");
    judged(TODAY, Some("2026-11-01"), true, Some("справка от врача"))
        .expect("the administration, with a reason");
}

#[test]
fn a_class_teacher_corrects_an_absence_with_a_reason_that_the_entry_its_change_and_the_totals_keep()
{
    let (mut j, class, old, recent) = setup();
    let student = class.students[0].clone();
    j.mark_attendance(&recent, &absent(&student)).expect("н");
    let refused = j
        .correct_attendance(&recent, &student, Some("б"), "")
        .expect_err("no reason");
    assert!(refused.to_string().contains("needs a reason"), "{refused}");
    let refused = j
        .correct_attendance(&recent, &student, Some("x"), "справка")
        .expect_err("not a code of the school");
    assert!(
        refused.to_string().contains("not in the school's list"),
        "{refused}"
    );

    let why = "справка от врача № 12";
    j.correct_attendance(&recent, &student, Some("Б"), why)
        .expect("corrected inside the window");
    let journal_core::docs::View::Student(doc) = j
        .document(&DocId::Student(YEAR, student.clone()))
        .expect("student doc")
        .view()
        .clone()
    else {
        panic!("a student's document");
    };
    let entry = &doc.attendance[&recent].value;
    assert_eq!(
        (entry.code.as_deref(), entry.note.as_str()),
        (Some("б"), why)
    );
    assert_eq!(last_message(&j, &student).as_deref(), Some(why));
    let year = journal_core::DateRange::new(
        testing::first_day(),
        parse_date("2027-05-31").expect("date"),
    )
    .expect("range");
    let totals = j.attendance_totals(YEAR, &student, year).expect("totals");
    assert_eq!(
        totals.by_code.keys().collect::<Vec<_>>(),
        ["б"],
        "the totals count the corrected code only"
    );

    locked(j.correct_attendance(&old, &student, Some("б"), why));
}
