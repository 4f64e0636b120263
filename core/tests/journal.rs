//! The journal on one device and between devices: entries, queries, refusals, persistence and conflicts.

use journal_core::docs::FinalMarkKey;
use journal_core::testing::{self, FixtureClass, YEAR};
use journal_core::{
    AttendanceInput, ConflictTarget, DateRange, DocId, Error, InputError, Journal, MarkInput,
    MarkPeriod, MarkValue, NewLesson, PeriodMark, StaffId, StudentId, StudentProfile, SubjectId,
    TermId, WorkKindId, parse_date,
};

fn date(text: &str) -> time::Date {
    parse_date(text).expect("valid test date")
}

fn final_key(subject_id: &str, period: &MarkPeriod) -> FinalMarkKey {
    FinalMarkKey {
        subject: subject(subject_id),
        period: period.clone(),
    }
}

fn period_mark(value: MarkValue, teacher: &StaffId) -> PeriodMark {
    PeriodMark {
        value,
        teacher: teacher.clone(),
        date: date("2026-11-28"),
    }
}

fn subject(id: &str) -> SubjectId {
    SubjectId::new(id).expect("valid")
}

fn kind(id: &str) -> WorkKindId {
    WorkKindId::new(id).expect("valid")
}

fn mark(value: u8, kind_id: &str) -> MarkInput {
    MarkInput {
        value: MarkValue::Grade(value),
        kind: kind(kind_id),
        comment: String::new(),
    }
}

fn present(student: &StudentId) -> AttendanceInput {
    AttendanceInput {
        student: student.clone(),
        code: None,
        note: String::new(),
    }
}

fn absent(student: &StudentId, code: &str) -> AttendanceInput {
    AttendanceInput {
        student: student.clone(),
        code: Some(code.to_owned()),
        note: String::new(),
    }
}

fn school_with_class(journal: &mut Journal, students: usize) -> FixtureClass {
    testing::school(journal).expect("school");
    testing::class_with_students(journal, "5a", students).expect("class")
}

fn lesson(
    journal: &mut Journal,
    class: &FixtureClass,
    day: &str,
    period: u8,
    subject_id: &str,
) -> journal_core::LessonId {
    journal
        .add_lesson(
            YEAR,
            &class.class,
            &NewLesson {
                date: date(day),
                period,
                subject: subject(subject_id),
                teacher: class.teacher.clone(),
                topic: String::new(),
            },
        )
        .expect("lesson")
}

#[test]
fn a_parent_sees_a_childs_marks_for_any_period_and_subject() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 3);
    let kid = &class.students[0];
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    let l2 = lesson(&mut j, &class, "2026-09-08", 2, "russian");
    let l3 = lesson(&mut j, &class, "2026-12-03", 1, "math");
    j.put_mark(kid, &l1, &mark(5, "classwork")).expect("mark");
    j.put_mark(kid, &l1, &mark(4, "test"))
        .expect("second kind, same lesson");
    j.put_mark(kid, &l2, &mark(3, "oral")).expect("mark");
    j.put_mark(kid, &l3, &mark(2, "test")).expect("mark");
    j.put_mark(&class.students[1], &l1, &mark(2, "classwork"))
        .expect("another child");

    let all = j.student_marks(YEAR, kid, None, None).expect("query");
    let values: Vec<String> = all.iter().map(|r| r.mark.value.to_string()).collect();
    assert_eq!(
        values,
        ["5", "4", "3", "2"],
        "the whole year, by date, only this child"
    );

    let september = DateRange::new(date("2026-09-01"), date("2026-09-30")).expect("range");
    let math_in_september = j
        .student_marks(YEAR, kid, Some(september), Some(&subject("math")))
        .expect("query");
    assert_eq!(math_in_september.len(), 2);
    assert!(
        math_in_september
            .iter()
            .all(|r| r.mark.subject == subject("math"))
    );
    assert_eq!(math_in_september[0].mark.teacher, class.teacher);
}

/// A signed-in teacher's device signs the marks it gives with its own account, whoever's lesson it is: the
/// relay accepts a mark signed by the one who delivers it.
#[test]
fn a_mark_is_signed_by_the_signed_in_teacher() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 1);
    let kid = &class.students[0];
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    j.set_my_directory(&journal_core::directory::MyDirectory::new(
        "substitute",
        "",
        journal_core::AccountRole::Teacher,
    ))
    .expect("sign in");
    j.put_mark(kid, &l1, &mark(5, "oral")).expect("mark");
    let marks = j.student_marks(YEAR, kid, None, None).expect("query");
    assert_eq!(marks[0].mark.teacher.as_str(), "substitute");
    assert_ne!(class.teacher.as_str(), "substitute");
}

#[test]
fn a_second_put_of_the_same_kind_changes_the_mark_and_remove_deletes_it() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 1);
    let kid = &class.students[0];
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    let first = j.put_mark(kid, &l1, &mark(3, "classwork")).expect("mark");
    let second = j.put_mark(kid, &l1, &mark(4, "classwork")).expect("change");
    assert_eq!(first, second);
    let rows = j.student_marks(YEAR, kid, None, None).expect("query");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].mark.value, MarkValue::Grade(4));
    j.remove_mark(YEAR, kid, &first).expect("remove");
    assert!(
        j.student_marks(YEAR, kid, None, None)
            .expect("query")
            .is_empty()
    );
    assert!(matches!(
        j.remove_mark(YEAR, kid, &first),
        Err(Error::Input(InputError::Unknown { kind: "mark", .. }))
    ));
}

#[test]
fn attendance_totals_count_lessons_and_hours_per_code() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 2);
    let kid = &class.students[0];
    let lessons = [
        lesson(&mut j, &class, "2026-09-07", 1, "math"),
        lesson(&mut j, &class, "2026-09-07", 2, "russian"),
        lesson(&mut j, &class, "2026-09-08", 1, "math"),
        lesson(&mut j, &class, "2026-09-09", 1, "math"),
        lesson(&mut j, &class, "2026-10-01", 1, "math"),
    ];
    let codes = ["н", "б", "о", "present", "н"];
    for (l, code) in lessons.iter().zip(codes) {
        let entry = if code == "present" {
            present(kid)
        } else {
            absent(kid, code)
        };
        j.mark_attendance(l, &[entry, present(&class.students[1])])
            .expect("attendance");
    }
    let september = DateRange::new(date("2026-09-01"), date("2026-09-30")).expect("range");
    let totals = j.attendance_totals(YEAR, kid, september).expect("totals");
    assert_eq!(totals.lessons_recorded, 4);
    assert_eq!(totals.by_code["н"].lessons, 1);
    assert_eq!(totals.by_code["б"].lessons, 1);
    assert_eq!(totals.by_code["о"].lessons, 1);
    assert_eq!(totals.lessons_missed, 2, "late is not missed");
    assert_eq!(totals.minutes_missed, 90);
    assert!((totals.hours_missed() - 1.5).abs() < 1e-9);
    let other = j
        .attendance_totals(YEAR, &class.students[1], september)
        .expect("totals");
    assert_eq!((other.lessons_missed, other.lessons_recorded), (0, 4));
}

#[test]
fn the_class_grid_holds_students_by_lessons_with_marks_and_codes() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 3);
    let l1 = lesson(&mut j, &class, "2026-09-08", 1, "math");
    let l2 = lesson(&mut j, &class, "2026-09-07", 3, "math");
    let other_subject = lesson(&mut j, &class, "2026-09-07", 1, "russian");
    let next_term = lesson(&mut j, &class, "2026-12-07", 1, "math");
    let s = &class.students;
    j.mark_attendance(&l1, &[absent(&s[0], "б"), present(&s[1]), present(&s[2])])
        .expect("attendance");
    j.put_mark(&s[1], &l1, &mark(5, "classwork")).expect("mark");
    j.put_mark(&s[1], &l1, &mark(4, "test")).expect("mark");
    j.put_mark(&s[2], &other_subject, &mark(3, "oral"))
        .expect("mark");
    j.put_mark(&s[2], &next_term, &mark(3, "oral"))
        .expect("mark");

    let grid = j
        .class_grid(
            YEAR,
            &class.class,
            &subject("math"),
            &TermId::new("t1").expect("id"),
        )
        .expect("grid");
    let lesson_ids: Vec<_> = grid.lessons.iter().map(|l| l.id.clone()).collect();
    assert_eq!(
        lesson_ids,
        [l2, l1.clone()],
        "only math of the term, in date order"
    );
    assert_eq!(grid.rows.len(), 3);
    let row = |student: &StudentId| {
        grid.rows
            .iter()
            .find(|r| &r.student == student)
            .expect("row")
    };
    assert_eq!(row(&s[0]).cells[1].code.as_deref(), Some("б"));
    assert!(row(&s[0]).cells[1].recorded);
    assert!(!row(&s[0]).cells[0].recorded);
    let mut marks = row(&s[1]).cells[1].marks.clone();
    marks.sort();
    assert_eq!(marks, [MarkValue::Grade(4), MarkValue::Grade(5)]);
    assert!(row(&s[2]).cells.iter().all(|c| c.marks.is_empty()));
}

#[test]
fn homework_and_incomplete_lessons_are_found_by_date_range() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 2);
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    let l2 = lesson(&mut j, &class, "2026-09-08", 1, "russian");
    let l3 = lesson(&mut j, &class, "2026-09-20", 1, "math");
    j.set_topic(&l1, "Натуральные числа").expect("topic");
    j.set_homework(&l1, "№ 12, 14", Some(date("2026-09-09")))
        .expect("homework");
    j.set_homework(&l3, "Выучить правило", None)
        .expect("homework");
    j.mark_attendance(&l2, &[present(&class.students[0])])
        .expect("attendance");

    let week = DateRange::new(date("2026-09-07"), date("2026-09-13")).expect("range");
    let homework = j
        .student_homework(YEAR, &class.students[0], week)
        .expect("homework");
    assert_eq!(homework.len(), 1);
    assert_eq!(homework[0].text, "№ 12, 14");
    assert_eq!(homework[0].due, Some(date("2026-09-09")));

    let gaps = j
        .lessons_missing_entries(YEAR, &class.class, week)
        .expect("gaps");
    let summary: Vec<_> = gaps
        .iter()
        .map(|g| (g.lesson.id.clone(), g.no_topic, g.no_attendance))
        .collect();
    assert_eq!(summary, [(l1, false, true), (l2, true, false)]);

    let err = j
        .set_homework(&l3, "x", Some(date("2026-09-01")))
        .expect_err("due before lesson");
    assert!(err.to_string().contains("before the lesson"), "{err}");
}

#[test]
fn term_marks_are_suggested_from_weighted_marks_and_set_by_the_teacher() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 1);
    let kid = &class.students[0];
    let t1 = TermId::new("t1").expect("id");
    let days = ["2026-09-07", "2026-09-08", "2026-09-09", "2026-09-10"];
    let ls: Vec<_> = days
        .iter()
        .map(|d| lesson(&mut j, &class, d, 1, "math"))
        .collect();
    j.put_mark(kid, &ls[0], &mark(5, "classwork"))
        .expect("mark");
    j.put_mark(kid, &ls[1], &mark(5, "classwork"))
        .expect("mark");
    let early = j
        .term_suggestion(YEAR, kid, &subject("math"), &t1)
        .expect("suggestion");
    assert_eq!(early.average, Some(500));
    assert_eq!(
        early.suggested, None,
        "two marks are too few for a term mark"
    );
    j.put_mark(kid, &ls[2], &mark(4, "test")).expect("mark");
    j.put_mark(kid, &ls[3], &mark(4, "classwork"))
        .expect("mark");
    // (5 + 5 + 4·2 + 4) / 5 = 4.40 → 4
    let s = j
        .term_suggestion(YEAR, kid, &subject("math"), &t1)
        .expect("suggestion");
    assert_eq!(
        (s.marks, s.average, s.suggested),
        (4, Some(440), Some(MarkValue::Grade(4)))
    );
    j.set_final_mark(
        YEAR,
        kid,
        &final_key("math", &MarkPeriod::Term(t1.clone())),
        &period_mark(MarkValue::Grade(5), &class.teacher),
    )
    .expect("term mark");
    let s = j
        .term_suggestion(YEAR, kid, &subject("math"), &t1)
        .expect("suggestion");
    assert_eq!(
        s.set.map(|m| m.value),
        Some(MarkValue::Grade(5)),
        "the teacher's mark stands beside the suggestion"
    );
}

fn snapshot_of_everything(j: &Journal) -> Vec<(String, Vec<String>)> {
    j.documents()
        .map(|d| {
            let mut heads: Vec<String> = d.heads().iter().map(ToString::to_string).collect();
            heads.sort();
            (d.id().to_string(), heads)
        })
        .collect()
}

#[test]
fn invalid_input_is_refused_with_a_reason_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let mut j = Journal::open(&path).expect("open");
    let class = school_with_class(&mut j, 2);
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    let before = snapshot_of_everything(&j);

    let err = "7".parse::<MarkValue>().expect_err("a mark of 7");
    assert!(err.to_string().contains("mark \"7\" is not valid"));

    let err = j
        .mark_attendance(
            &l1,
            &[present(&class.students[0]), absent(&class.students[1], "x")],
        )
        .expect_err("unknown code");
    assert!(
        err.to_string()
            .contains("attendance code \"x\" is not in the school's list"),
        "{err}"
    );

    let stranger = StudentId::new("stranger").expect("id");
    let err = j
        .mark_attendance(&l1, &[present(&class.students[0]), present(&stranger)])
        .expect_err("not in class");
    assert_eq!(
        err.to_string(),
        "student stranger is not in class 5a on 2026-09-07"
    );

    let err = j
        .put_mark(&stranger, &l1, &mark(5, "classwork"))
        .expect_err("not in class");
    assert!(matches!(
        err,
        Error::Input(InputError::StudentNotInClass { .. })
    ));

    let err = j
        .put_mark(&class.students[0], &l1, &mark(5, "essay"))
        .expect_err("unknown kind");
    assert!(err.to_string().contains("kind of work \"essay\""), "{err}");

    let summer = NewLesson {
        date: date("2027-07-01"),
        period: 1,
        subject: subject("math"),
        teacher: class.teacher.clone(),
        topic: String::new(),
    };
    let err = j
        .add_lesson(YEAR, &class.class, &summer)
        .expect_err("outside the year");
    assert_eq!(
        err.to_string(),
        "lesson date 2027-07-01 is outside the school year 2026-2027 (2026-09-01 – 2027-05-31)"
    );
    let clash = NewLesson {
        date: date("2026-09-07"),
        ..summer.clone()
    };
    let err = j
        .add_lesson(YEAR, &class.class, &clash)
        .expect_err("slot taken");
    assert!(err.to_string().contains("already has a lesson"), "{err}");
    let unknown_subject = NewLesson {
        subject: subject("astrology"),
        date: date("2026-09-08"),
        ..summer
    };
    assert!(j.add_lesson(YEAR, &class.class, &unknown_subject).is_err());

    assert_eq!(snapshot_of_everything(&j), before, "memory unchanged");
    drop(j);
    let reopened = Journal::open(&path).expect("reopen");
    assert_eq!(snapshot_of_everything(&reopened), before, "disk unchanged");
}

#[test]
fn a_batch_that_fails_keeps_nothing_of_its_earlier_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let mut j = Journal::open(&path).expect("open");
    let class = school_with_class(&mut j, 2);
    let l1 = lesson(&mut j, &class, "2026-09-07", 1, "math");
    let before = snapshot_of_everything(&j);
    let result = j.batch(|j| {
        j.put_mark(&class.students[0], &l1, &mark(5, "classwork"))?;
        j.put_mark(&class.students[1], &l1, &mark(5, "no-such-kind"))
    });
    assert!(result.is_err());
    assert!(
        j.student_marks(YEAR, &class.students[0], None, None)
            .expect("query")
            .is_empty()
    );
    assert_eq!(snapshot_of_everything(&j), before);
    drop(j);
    assert_eq!(
        snapshot_of_everything(&Journal::open(&path).expect("reopen")),
        before
    );
}

#[test]
fn everything_survives_a_reopen_and_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let mut j = Journal::open(&path).expect("open");
    let class = school_with_class(&mut j, 2);
    let kid = &class.students[0];
    // Enough single writes to one document to pass the compaction threshold several times.
    let lessons = testing::schedule_weeks(&mut j, &class, 6).expect("lessons");
    for l in &lessons {
        j.mark_attendance(l, &[absent(kid, "н")])
            .expect("attendance");
    }
    j.put_mark(kid, &lessons[3], &mark(4, "oral"))
        .expect("mark");
    let before = snapshot_of_everything(&j);
    let marks = j.student_marks(YEAR, kid, None, None).expect("query");
    drop(j);
    let j = Journal::open(&path).expect("reopen");
    assert_eq!(snapshot_of_everything(&j), before);
    assert_eq!(
        j.student_marks(YEAR, kid, None, None).expect("query"),
        marks
    );
    let range = DateRange::new(testing::first_day(), date("2027-05-31")).expect("range");
    assert_eq!(
        j.attendance_totals(YEAR, kid, range)
            .expect("totals")
            .lessons_missed as usize,
        lessons.len()
    );
    assert_eq!(j.integrity_check().expect("check"), "ok");
}

#[test]
fn moving_a_student_keeps_their_history_and_changes_who_teaches_them() {
    let mut j = Journal::open_in_memory().expect("open");
    let class_a = school_with_class(&mut j, 2);
    let class_b = testing::class_with_students(&mut j, "5b", 1).expect("class");
    let mover = class_a.students[0].clone();
    let before_move = lesson(&mut j, &class_a, "2026-09-07", 1, "math");
    j.put_mark(&mover, &before_move, &mark(5, "classwork"))
        .expect("mark");
    j.move_student(YEAR, &mover, &class_b.class, date("2026-10-01"))
        .expect("move");
    let old_class_late = lesson(&mut j, &class_a, "2026-10-05", 1, "math");
    let new_class = lesson(&mut j, &class_b, "2026-10-05", 1, "math");
    assert!(
        j.put_mark(&mover, &old_class_late, &mark(4, "classwork"))
            .is_err(),
        "left the old class"
    );
    j.put_mark(&mover, &new_class, &mark(4, "classwork"))
        .expect("new class");
    let marks = j.student_marks(YEAR, &mover, None, None).expect("query");
    assert_eq!(marks.len(), 2, "history kept across the move");
    let roster_a = j
        .roster(YEAR, &class_a.class, date("2026-10-05"))
        .expect("roster");
    assert!(roster_a.iter().all(|(id, _)| id != &mover));
    let grid = j
        .class_grid(
            YEAR,
            &class_a.class,
            &subject("math"),
            &TermId::new("t1").expect("id"),
        )
        .expect("grid");
    assert!(
        grid.rows.iter().any(|r| r.student == mover),
        "still in the old class's term grid"
    );
}

#[test]
fn profiles_keep_personal_data_and_the_review_date() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 1);
    let profile = StudentProfile {
        full_name: "Иванов Иван Петрович".into(),
        birth_date: Some(date("2015-03-02")),
        address: String::new(),
    };
    j.set_profile(YEAR, &class.students[0], &profile, date("2026-09-15"))
        .expect("profile");
    let id = DocId::Profile(YEAR, class.students[0].clone());
    let Some(journal_core::docs::View::Profile(view)) = j.document(&id).map(|d| d.view()) else {
        panic!("profile document missing");
    };
    assert_eq!(view.student.as_ref().map(|c| &c.value), Some(&profile));
    assert_eq!(view.last_reviewed, Some(date("2026-09-15")));
}

/// Two devices that share the school, then work offline.
fn two_devices(students: usize) -> (Journal, Journal, FixtureClass, journal_core::LessonId) {
    let mut a = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut a, students);
    let l = lesson(&mut a, &class, "2026-09-07", 1, "math");
    let mut b = Journal::open_in_memory().expect("open");
    sync(&mut b, &a);
    (a, b, class, l)
}

fn sync(to: &mut Journal, from: &Journal) {
    let docs: Vec<_> = from.documents().map(|d| d.id().clone()).collect();
    for id in docs {
        let doc = from.document(&id).expect("doc");
        to.merge_document(doc).expect("merge");
    }
}

#[test]
fn concurrent_attendance_conflicts_are_visible_everywhere_and_resolved_once() {
    let (mut a, mut b, class, l) = two_devices(1);
    let kid = &class.students[0];
    a.mark_attendance(&l, &[absent(kid, "н")]).expect("a");
    b.mark_attendance(&l, &[absent(kid, "б")]).expect("b");
    sync(&mut a, &b);
    sync(&mut b, &a);
    let (ca, cb) = (a.conflicts(), b.conflicts());
    assert_eq!(ca, cb, "both devices show the same conflict");
    assert_eq!(ca.len(), 1);
    let mut values = ca[0].values.clone();
    values.sort();
    assert_eq!(values, ["б", "н"]);
    assert!(matches!(ca[0].target, ConflictTarget::Attendance { .. }));
    let grid_a = a
        .class_grid(
            YEAR,
            &class.class,
            &subject("math"),
            &TermId::new("t1").expect("id"),
        )
        .expect("grid");
    let grid_b = b
        .class_grid(
            YEAR,
            &class.class,
            &subject("math"),
            &TermId::new("t1").expect("id"),
        )
        .expect("grid");
    assert_eq!(grid_a, grid_b, "same winner on both");
    assert!(grid_a.rows[0].cells[0].conflicted);

    let keep = ca[0]
        .values
        .iter()
        .position(|v| v == "н")
        .expect("н offered");
    a.resolve_conflict(&ca[0].target, keep).expect("resolve");
    sync(&mut b, &a);
    assert!(a.conflicts().is_empty() && b.conflicts().is_empty());
    let range = DateRange::new(date("2026-09-01"), date("2026-09-30")).expect("range");
    assert_eq!(
        b.attendance_totals(YEAR, kid, range)
            .expect("totals")
            .by_code["н"]
            .lessons,
        1
    );
}

#[test]
fn concurrent_marks_and_topics_conflict_but_different_kinds_do_not() {
    let (mut a, mut b, class, l) = two_devices(1);
    let kid = &class.students[0];
    a.put_mark(kid, &l, &mark(5, "classwork")).expect("a");
    b.put_mark(kid, &l, &mark(3, "classwork")).expect("b");
    b.put_mark(kid, &l, &mark(4, "test")).expect("b");
    a.set_topic(&l, "Дроби").expect("a");
    b.set_topic(&l, "Десятичные дроби").expect("b");
    b.set_homework(&l, "№ 5", None)
        .expect("homework merges, no conflict");
    sync(&mut a, &b);
    sync(&mut b, &a);
    let conflicts = a.conflicts();
    assert_eq!(conflicts, b.conflicts());
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(
        conflicts
            .iter()
            .any(|c| matches!(c.target, ConflictTarget::Mark { .. }))
    );
    assert!(
        conflicts
            .iter()
            .any(|c| matches!(c.target, ConflictTarget::Lesson { .. }))
    );
    assert_eq!(
        a.student_marks(YEAR, kid, None, None).expect("query").len(),
        2
    );
    let (_, _, merged) = a.lesson(&l).expect("lesson");
    assert_eq!(merged.homework, "№ 5");
    for c in &conflicts {
        a.resolve_conflict(&c.target, 1).expect("resolve");
    }
    assert!(a.conflicts().is_empty());
    assert!(
        a.resolve_conflict(&conflicts[0].target, 5).is_err(),
        "no such value"
    );
}

#[test]
fn two_devices_creating_the_same_student_document_offline_merge_cleanly() {
    let mut a = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut a, 1);
    let l = lesson(&mut a, &class, "2026-09-07", 1, "math");
    let mut b = Journal::open_in_memory().expect("open");
    // b receives only the school and class, not the student's document.
    for id in [DocId::School(YEAR), DocId::Class(YEAR, class.class.clone())] {
        b.merge_document(a.document(&id).expect("doc"))
            .expect("merge");
    }
    let kid = &class.students[0];
    b.put_mark(kid, &l, &mark(5, "oral"))
        .expect("b creates the student's document");
    a.put_mark(kid, &l, &mark(4, "test"))
        .expect("a writes its own copy");
    sync(&mut a, &b);
    sync(&mut b, &a);
    assert_eq!(a.student_marks(YEAR, kid, None, None).expect("a").len(), 2);
    assert_eq!(b.student_marks(YEAR, kid, None, None).expect("b").len(), 2);
    assert!(a.conflicts().is_empty());
}

#[test]
fn final_marks_conflict_and_validate_terms() {
    let (mut a, mut b, class, _) = two_devices(1);
    let kid = &class.students[0];
    let t1 = MarkPeriod::Term(TermId::new("t1").expect("id"));
    let teacher = StaffId::new("t").expect("id");
    a.set_final_mark(
        YEAR,
        kid,
        &final_key("math", &t1),
        &period_mark(MarkValue::Grade(4), &teacher),
    )
    .expect("a");
    b.set_final_mark(
        YEAR,
        kid,
        &final_key("math", &t1),
        &period_mark(MarkValue::Grade(5), &teacher),
    )
    .expect("b");
    sync(&mut a, &b);
    assert_eq!(a.conflicts().len(), 1);
    let bad_term = MarkPeriod::Term(TermId::new("q9").expect("id"));
    assert!(
        a.set_final_mark(
            YEAR,
            kid,
            &final_key("math", &bad_term),
            &period_mark(MarkValue::Pass, &teacher)
        )
        .is_err()
    );
}

#[test]
fn rollover_promotes_classes_with_their_students_and_leaves_last_year_untouched() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 3);
    let l = lesson(&mut j, &class, "2026-09-07", 1, "math");
    j.put_mark(&class.students[0], &l, &mark(5, "oral"))
        .expect("mark");
    let seniors = testing::class_with_students(&mut j, "11a", 1).expect("class");
    let info = journal_core::ClassInfo {
        name: "11А".into(),
        grade: 11,
        class_teacher: None,
    };
    j.put_class(YEAR, &seniors.class, &info).expect("grade 11");
    j.move_student(YEAR, &class.students[2], &seniors.class, date("2027-03-01"))
        .expect("move");
    let profile = StudentProfile {
        full_name: "Иванов Иван Иванович".into(),
        birth_date: None,
        address: String::new(),
    };
    j.set_profile(YEAR, &class.students[0], &profile, date("2026-09-15"))
        .expect("profile");
    let old_heads = j.heads_hex(&DocId::Student(YEAR, class.students[0].clone()));

    let promotion = j.roll_over(YEAR).expect("rollover");
    let next = journal_core::YearId(YEAR.0 + 1);
    assert!(
        promotion
            .classes
            .contains(&("5a".parse().expect("id"), Some("6a".parse().expect("id"))))
    );
    assert!(
        promotion
            .classes
            .contains(&("11a".parse().expect("id"), None))
    );
    assert_eq!(
        promotion.graduates.len(),
        2,
        "the eleventh grade and the student who moved into it"
    );
    let new_class: journal_core::ClassId = "6a".parse().expect("id");
    let start = j.school_settings(next).expect("next year").year.start;
    let roster: Vec<String> = j
        .roster(next, &new_class, start)
        .expect("roster")
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(
        roster,
        ["5a-s00", "5a-s01"],
        "the students still in the class, not the one who left"
    );
    assert_eq!(
        j.heads_hex(&DocId::Student(YEAR, class.students[0].clone())),
        old_heads,
        "last year untouched"
    );
    assert_eq!(
        j.student_marks(YEAR, &class.students[0], None, None)
            .expect("marks")
            .len(),
        1
    );
    assert!(
        j.student_marks(next, &class.students[0], None, None)
            .expect("new year")
            .is_empty()
    );
    assert!(
        j.document(&DocId::Profile(next, class.students[0].clone()))
            .is_some(),
        "profile carried over"
    );
    assert!(j.roll_over(YEAR).is_err(), "a year rolls over once");
}

#[test]
fn the_news_feed_shows_what_changed_since_the_last_look() {
    let (mut teacher, mut parent, class, l) = two_devices(2);
    let kid = &class.students[0];
    // Documents first arrive through sync, which starts their feed; here the parent looks once.
    parent.mark_news_seen().expect("seen");
    assert!(parent.news().expect("news").is_empty());
    teacher.put_mark(kid, &l, &mark(3, "test")).expect("mark");
    teacher
        .mark_attendance(&l, &[absent(kid, "б")])
        .expect("attendance");
    teacher.set_homework(&l, "§ 12", None).expect("homework");
    sync(&mut parent, &teacher);
    let news = parent.news().expect("news");
    assert_eq!(news.len(), 3, "{news:?}");
    assert!(news.iter().any(|n| matches!(
        n,
        journal_core::news::NewsItem::Mark {
            value: MarkValue::Grade(3),
            previous: None,
            ..
        }
    )));
    assert!(
        news.iter().any(
            |n| matches!(n, journal_core::news::NewsItem::Absence { code, .. } if code == "б")
        )
    );
    assert!(news.iter().any(
        |n| matches!(n, journal_core::news::NewsItem::Homework { text, .. } if text == "§ 12")
    ));
    parent.mark_news_seen().expect("seen");
    assert!(
        parent.news().expect("news").is_empty(),
        "seen moves the marker"
    );
    // A changed mark shows old → new.
    teacher.put_mark(kid, &l, &mark(4, "test")).expect("change");
    sync(&mut parent, &teacher);
    let news = parent.news().expect("news");
    assert_eq!(
        news,
        vec![journal_core::news::NewsItem::Mark {
            student: kid.clone(),
            subject: subject("math"),
            date: date("2026-09-07"),
            value: MarkValue::Grade(4),
            previous: Some(MarkValue::Grade(3)),
        }]
    );
}

#[test]
fn curriculum_progress_counts_held_lessons_against_the_thematic_plan() {
    let mut j = Journal::open_in_memory().expect("open");
    let class = school_with_class(&mut j, 1);
    let t1 = TermId::new("t1").expect("id");
    let plan = [
        journal_core::PlannedTopic {
            topic: "Натуральные числа".into(),
            lessons: 3,
        },
        journal_core::PlannedTopic {
            topic: "Дроби".into(),
            lessons: 2,
        },
    ];
    j.set_thematic_plan(YEAR, &class.class, &subject("math"), &t1, &plan)
        .expect("plan");
    for day in ["2026-09-07", "2026-09-08", "2026-09-20"] {
        lesson(&mut j, &class, day, 1, "math");
    }
    lesson(&mut j, &class, "2026-09-09", 2, "russian");
    let progress = j
        .curriculum_progress(YEAR, &class.class, &t1, date("2026-09-10"))
        .expect("progress");
    let math = progress
        .iter()
        .find(|p| p.subject == subject("math"))
        .expect("math");
    assert_eq!(
        (math.planned, math.held),
        (5, 2),
        "lessons after the date are not held yet"
    );
    let russian = progress
        .iter()
        .find(|p| p.subject == subject("russian"))
        .expect("russian");
    assert_eq!(
        (russian.planned, russian.held),
        (0, 1),
        "held without a plan still counts"
    );
    let bad = [journal_core::PlannedTopic {
        topic: " ".into(),
        lessons: 0,
    }];
    assert!(
        j.set_thematic_plan(YEAR, &class.class, &subject("math"), &t1, &bad)
            .is_err()
    );
    // The plan is document data: it reaches other devices.
    let mut other = Journal::open_in_memory().expect("open");
    sync(&mut other, &j);
    let synced = other
        .curriculum_progress(YEAR, &class.class, &t1, date("2026-09-10"))
        .expect("progress");
    assert_eq!(synced, progress);
}

/// A teacher's device lists the teacher's own lessons; anyone else's, every lesson of its classes.
#[test]
fn my_lessons_are_a_teachers_own_and_everything_for_anyone_else() {
    let mut j = Journal::open_in_memory().expect("journal");
    let class = school_with_class(&mut j, 2);
    let other: StaffId = "colleague".parse().expect("id");
    j.assign_subject(YEAR, &class.class, &subject("history"), &other)
        .expect("assign");
    let own = lesson(&mut j, &class, "2026-09-07", 2, "math");
    let earlier = lesson(&mut j, &class, "2026-09-07", 1, "russian");
    let theirs = j
        .add_lesson(
            YEAR,
            &class.class,
            &NewLesson {
                date: date("2026-09-07"),
                period: 3,
                subject: subject("history"),
                teacher: other.clone(),
                topic: String::new(),
            },
        )
        .expect("a colleague's lesson");
    let day = DateRange::new(date("2026-09-07"), date("2026-09-07")).expect("range");
    let ids = |j: &Journal| -> Vec<journal_core::LessonId> {
        j.my_lessons(YEAR, day)
            .expect("lessons")
            .into_iter()
            .map(|(_, lesson)| lesson.id)
            .collect()
    };
    assert_eq!(
        ids(&j),
        [earlier.clone(), own.clone(), theirs.clone()],
        "before any sign-in: everything on the device, by period"
    );
    let me = |account: &str, role: &str| {
        journal_core::directory::MyDirectory::new(account, "", role.parse().expect("a role"))
    };
    j.set_my_directory(&me(class.teacher.as_str(), "teacher"))
        .expect("directory");
    assert_eq!(ids(&j), [earlier.clone(), own.clone()], "the teacher's own");
    j.set_my_directory(&me("parent-1", "parent"))
        .expect("directory");
    assert_eq!(
        ids(&j),
        [earlier, own, theirs],
        "a parent sees the whole day"
    );
}
