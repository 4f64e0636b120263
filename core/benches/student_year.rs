//! One student's school year (about 1,100 attendance entries and 400 marks) in a class of 25: building it,
//! loading it, the parent's full-year query, the 25×60 class grid and the durable write of one lesson's
//! attendance, and the relay's check of one incoming change. Run with
//! `cargo bench -p journal-core --bench student_year`; figures go into BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use journal_core::docs::Document;
use journal_core::testing::{self, YEAR};
use journal_core::{AttendanceInput, DocId, Journal, SubjectId, TermId};

struct Year {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    class: testing::FixtureClass,
    lessons: Vec<journal_core::LessonId>,
}

/// A class of 25 with a full year of lessons, attendance and marks, stored in a file.
fn full_class_year() -> Year {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let mut j = Journal::open(&path).expect("open");
    testing::school(&mut j).expect("school");
    let class = testing::class_with_students(&mut j, "5a", 25).expect("class");
    let lessons = testing::schedule_weeks(&mut j, &class, 34).expect("lessons");
    testing::fill_lessons(&mut j, &class, &lessons, 42).expect("entries");
    let kid = &class.students[0];
    let doc = j.document(&DocId::Student(YEAR, kid.clone())).expect("doc");
    let Some(journal_core::docs::View::Student(view)) = Some(doc.view()) else {
        unreachable!()
    };
    eprintln!(
        "one student's year: {} attendance entries, {} marks, {} bytes saved; class of 25: {} lessons",
        view.attendance.len(),
        view.marks.len(),
        doc.snapshot().len(),
        lessons.len()
    );
    Year {
        _dir: dir,
        path,
        class,
        lessons,
    }
}

fn benches(c: &mut Criterion) {
    let year = full_class_year();
    let kid = year.class.students[0].clone();
    let mut j = Journal::open(&year.path).expect("open");

    // Building: a fresh device that holds the school and class fills in one student's year.
    let mut shell = Journal::open_in_memory().expect("open");
    testing::school(&mut shell).expect("school");
    let one = testing::class_with_students(&mut shell, "5a", 1).expect("class");
    let one_lessons = testing::schedule_weeks(&mut shell, &one, 34).expect("lessons");
    let shared: Vec<Document> = [DocId::School(YEAR), DocId::Class(YEAR, one.class.clone())]
        .iter()
        .map(|id| {
            let d = shell.document(id).expect("doc");
            Document::load(id.clone(), &d.snapshot(), &automerge::ActorId::random()).expect("copy")
        })
        .collect();
    let mut group = c.benchmark_group("student_year");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("build", |b| {
        b.iter_batched(
            || {
                let mut fresh = Journal::open_in_memory().expect("open");
                for d in &shared {
                    fresh.merge_document(d).expect("merge");
                }
                fresh
            },
            |mut fresh| testing::fill_lessons(&mut fresh, &one, &one_lessons, 42).expect("fill"),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("student_year");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    let student_id = DocId::Student(YEAR, kid.clone());
    let saved = j.document(&student_id).expect("doc").snapshot();
    group.bench_function("load_student_document", |b| {
        b.iter(|| {
            Document::load(
                student_id.clone(),
                black_box(&saved),
                &automerge::ActorId::random(),
            )
            .expect("load")
        })
    });
    group.bench_function("parent_full_year_marks", |b| {
        b.iter(|| black_box(j.student_marks(YEAR, &kid, None, None).expect("marks")))
    });
    let whole_year = journal_core::DateRange::new(
        testing::first_day(),
        journal_core::parse_date("2027-05-31").expect("date"),
    )
    .expect("range");
    group.bench_function("parent_full_year_attendance", |b| {
        b.iter(|| black_box(j.attendance_totals(YEAR, &kid, whole_year).expect("totals")))
    });
    let math = SubjectId::new("math").expect("id");
    let t1 = TermId::new("t1").expect("id");
    let grid = j
        .class_grid(YEAR, &year.class.class, &math, &t1)
        .expect("grid");
    eprintln!(
        "class grid: {} students × {} lessons",
        grid.rows.len(),
        grid.lessons.len()
    );
    group.bench_function("class_grid_25x60", |b| {
        b.iter(|| {
            black_box(
                j.class_grid(YEAR, &year.class.class, &math, &t1)
                    .expect("grid"),
            )
        })
    });
    let mut round = 0usize;
    group.bench_function("durable_lesson_attendance_25", |b| {
        b.iter(|| {
            round += 1;
            let lesson = &year.lessons[round % year.lessons.len()];
            let entries: Vec<AttendanceInput> = year
                .class
                .students
                .iter()
                .enumerate()
                .map(|(i, s)| AttendanceInput {
                    student: s.clone(),
                    code: (i + round).is_multiple_of(7).then(|| "н".to_owned()),
                    note: String::new(),
                })
                .collect();
            j.mark_attendance(lesson, &entries).expect("write");
        })
    });
    group.finish();

    // Baselines measured in the same run, for ratios: what SQLite and Automerge cost on their own.
    let mut group = c.benchmark_group("baseline");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("automerge_load_only", |b| {
        b.iter(|| automerge::Automerge::load(black_box(&saved)).expect("load"))
    });
    let raw = rusqlite::Connection::open(year.path.with_file_name("baseline.db")).expect("open");
    raw.pragma_update(None, "journal_mode", "WAL").expect("wal");
    raw.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    raw.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT, data BLOB)",
        [],
    )
    .expect("table");
    let chunk = vec![7u8; 200];
    let mut raw = raw;
    group.bench_function("sqlite_commit_25_rows", |b| {
        b.iter(|| {
            let tx = raw.transaction().expect("tx");
            for i in 0..25 {
                tx.execute(
                    "INSERT INTO t (doc, data) VALUES (?1, ?2)",
                    rusqlite::params![format!("d{i}"), &chunk],
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
        })
    });
    group.finish();

    // The relay judges every incoming change by validating the whole document with its writer: the
    // schema's shape, the typed read with the school's rules, and what the writer changed.
    let student = j.document(&student_id).expect("doc");
    let settings = j.school_settings(YEAR).cloned();
    let taught: std::collections::BTreeSet<SubjectId> = ["math".parse().expect("id")].into();
    let mut group = c.benchmark_group("relay");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("validate_student_year_with_writer", |b| {
        b.iter(|| {
            journal_core::validate::validate_change(
                &student_id,
                student.view(),
                black_box(student.automerge()),
                &journal_core::validate::ValidationContext {
                    settings: settings.as_ref(),
                    writer: Some(journal_core::validate::WriterGuard {
                        author: "t-5a",
                        subjects_taught: &taught,
                        edits: None,
                    }),
                },
            )
            .expect("valid")
        })
    });
    group.finish();

    // What the edit-lock window adds to the relay's merge of one delivery (a new attendance entry of a
    // recent lesson) into a student's year, against the same merge without it.
    let stored = student.snapshot();
    let mut delivery = Document::load(student_id.clone(), &stored, &automerge::ActorId::random())
        .expect("replica");
    let day = journal_core::parse_date("2027-05-20").expect("date");
    delivery
        .put_attendance(
            &"bench-lesson".parse().expect("id"),
            &journal_core::Attendance {
                subject: "math".parse().expect("id"),
                date: day,
                period: 1,
                code: Some("н".into()),
                note: String::new(),
            },
        )
        .expect("entry");
    let mut locked = settings.clone().expect("settings");
    locked.policy.edit_lock_days = journal_core::DEFAULT_EDIT_LOCK_DAYS;
    let now = day.midnight().assume_utc().unix_timestamp() + 86_400;
    let no_contact = || None;
    let lesson_day = |_: &journal_core::LessonId| Some(day);
    let window = journal_core::validate::EditWindow {
        now,
        previous_contact: &no_contact,
        administration: false,
        lesson_day: &lesson_day,
    };
    let relay_actor = automerge::ActorId::random();
    let mut group = c.benchmark_group("relay_edit_lock");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    // Run in both orders: on this shared machine the second of two benchmarks often runs slower.
    for (name, edits) in [
        ("merge_one_entry_without_window", None),
        ("merge_one_entry_with_window", Some(window)),
        ("merge_one_entry_without_window_again", None),
    ] {
        let ctx = journal_core::validate::ValidationContext {
            settings: Some(&locked),
            writer: Some(journal_core::validate::WriterGuard {
                author: "t-5a",
                subjects_taught: &taught,
                edits,
            }),
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || Document::load(student_id.clone(), &stored, &relay_actor).expect("copy"),
                |mut copy| copy.merge(black_box(&delivery), &ctx).expect("merged"),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
    let mut group = c.benchmark_group("baseline");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("typed_read_student_year", |b| {
        b.iter(|| {
            journal_core::docs::read_view(&student_id, black_box(student.automerge()))
                .expect("read")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("device");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("open_class_of_25_year", |b| {
        b.iter(|| black_box(Journal::open(&year.path).expect("open")))
    });
    group.finish();
}

criterion_group!(student_year, benches);
criterion_main!(student_year);
