//! Reports on a class whose every figure is worked out by hand below; the PDF read back with poppler
//! (`pdftotext`, `pdftoppm`), the XLSX read back with calamine; a 30 × 70 grid paginated without loss; and
//! the school's marking policy flowing into the computed term marks.

use std::collections::BTreeSet;
use std::process::Command;

use calamine::{DataType, Reader, Xlsx};
use journal_core::reports::export::{report_csv, report_xlsx};
use journal_core::reports::pdf::{AccessSlip, access_slips_pdf, report_pdf};
use journal_core::reports::{ReportKind, ReportRequest, StudentStanding, Value};
use journal_core::testing::{YEAR, school};
use journal_core::{
    AttendanceInput, ClassId, ClassInfo, Journal, LessonId, MarkInput, MarkValue, NewLesson,
    PlannedTopic, StaffId, StudentId, StudentProfile, SubjectId, TermId, WorkKindId,
};
use time::{Date, Duration, Month};

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("id")
}

fn day(month: Month, d: u8) -> Date {
    let year = if matches!(
        month,
        Month::January | Month::February | Month::March | Month::April | Month::May
    ) {
        i32::from(YEAR.0) + 1
    } else {
        i32::from(YEAR.0)
    };
    Date::from_calendar_date(year, month, d).expect("date")
}

fn t1() -> TermId {
    id("t1")
}

const STUDENTS: [(&str, &str); 5] = [
    ("a", "Андреев Антон"),
    ("b", "Борисова Белла"),
    ("c", "Воронов Виктор"),
    ("d", "Григорьева Галина"),
    ("e", "Дмитриев Денис"),
];

/// Marks of the first trimester, three oral answers per subject (all weights 1):
///
/// | student | math            | russian               |
/// |---------|-----------------|-----------------------|
/// | a       | 5 5 5 → 5.00 → 5 | 5 5 4 → 4.67 → 5      |
/// | b       | 4 5 4 → 4.33 → 4 | 5 5 5 → 5             |
/// | c       | 3 4 3 → 3.33 → 3 | 4 4 5 → 4.33 → 4      |
/// | d       | 2 3 2 → 2.33 → 2 | 3 3 3 → 3             |
/// | e       | exempt          | 5 4 (two marks: none) |
const MATH: [(&str, [u8; 3]); 4] = [
    ("a", [5, 5, 5]),
    ("b", [4, 5, 4]),
    ("c", [3, 4, 3]),
    ("d", [2, 3, 2]),
];
const RUSSIAN: [(&str, &[u8]); 5] = [
    ("a", &[5, 5, 4]),
    ("b", &[5, 5, 5]),
    ("c", &[4, 4, 5]),
    ("d", &[3, 3, 3]),
    ("e", &[5, 4]),
];

fn oral(value: u8) -> MarkInput {
    MarkInput {
        value: MarkValue::Grade(value),
        kind: WorkKindId::new("oral").expect("id"),
        comment: String::new(),
    }
}

/// The class of the hand computation: 5 students, math and russian, three lessons each in September.
fn hand_class() -> (Journal, ClassId) {
    let mut j = Journal::open_in_memory().expect("journal");
    school(&mut j).expect("school");
    let class: ClassId = id("5b");
    let teacher: StaffId = id("teacher");
    j.put_class(
        YEAR,
        &class,
        &ClassInfo {
            name: "5Б".into(),
            grade: 5,
            class_teacher: Some(teacher.clone()),
        },
    )
    .expect("class");
    for subject in ["math", "russian"] {
        j.assign_subject(YEAR, &class, &id(subject), &teacher)
            .expect("assign");
    }
    for (student, name) in STUDENTS {
        j.enrol_student(YEAR, &class, &id(student), name, day(Month::September, 1))
            .expect("enrol");
    }
    j.set_exempt(YEAR, &class, &id("e"), &id("math"), true)
        .expect("exempt");
    let lesson = |j: &mut Journal, subject: &str, d: u8, period: u8| -> LessonId {
        j.add_lesson(
            YEAR,
            &class,
            &NewLesson {
                date: day(Month::September, d),
                period,
                subject: id(subject),
                teacher: teacher.clone(),
                topic: format!("Тема {subject} {d}"),
            },
        )
        .expect("lesson")
    };
    let math: Vec<LessonId> = (7..=9).map(|d| lesson(&mut j, "math", d, 1)).collect();
    let russian: Vec<LessonId> = (7..=9).map(|d| lesson(&mut j, "russian", d, 2)).collect();
    for (student, marks) in MATH {
        for (lesson, value) in math.iter().zip(marks) {
            j.put_mark(&id(student), lesson, &oral(value))
                .expect("mark");
        }
    }
    for (student, marks) in RUSSIAN {
        for (lesson, value) in russian.iter().zip(marks) {
            j.put_mark(&id(student), lesson, &oral(*value))
                .expect("mark");
        }
    }
    // Absences: d missed math on the 7th (н); on the 8th c had a valid reason (у) and d missed (н) russian.
    let absent = |student: &str, code: &str| AttendanceInput {
        student: id(student),
        code: Some(code.into()),
        note: String::new(),
    };
    let present = |student: &str| AttendanceInput {
        student: id(student),
        code: None,
        note: String::new(),
    };
    j.mark_attendance(
        &math[0],
        &[present("a"), present("b"), present("c"), absent("d", "н")],
    )
    .expect("attendance");
    j.mark_attendance(
        &russian[1],
        &[
            present("a"),
            present("b"),
            absent("c", "у"),
            absent("d", "н"),
            present("e"),
        ],
    )
    .expect("attendance");
    j.set_homework(&russian[0], "Упражнение 15, выучить правило", None)
        .expect("homework");
    (j, class)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn lateness_is_counted_in_lessons_and_never_as_hours_missed() {
    let (mut j, class) = hand_class();
    let range = journal_core::DateRange::new(day(Month::September, 1), day(Month::November, 30))
        .expect("range");
    let lesson = j.lessons(YEAR, &class, range).expect("lessons")[2]
        .id
        .clone();
    j.mark_attendance(
        &lesson,
        &[AttendanceInput {
            student: id("e"),
            code: Some("о".into()),
            note: String::new(),
        }],
    )
    .expect("late");
    let report = j.term_report(YEAR, &class, &t1()).expect("report");
    assert_eq!(
        (report.lessons_missed, report.minutes_missed),
        (3, 135),
        "lateness is no missed lesson"
    );
    let doc = report.to_doc(&j, YEAR, day(Month::November, 30));
    let absences = doc
        .sections
        .iter()
        .find(|s| s.heading == "Пропуски")
        .expect("section");
    let late = absences
        .table
        .rows
        .iter()
        .find(|row| row[0].to_string().starts_with("о — опоздал"))
        .expect("a row for lateness, named");
    assert_eq!(late[1], Value::Int(1));
    assert_eq!(late[2], Value::Empty, "no hours for lateness: {late:?}");
}

#[test]
fn the_term_report_matches_the_hand_computation() {
    let (j, class) = hand_class();
    let report = j.term_report(YEAR, &class, &t1()).expect("report");

    let math = report
        .subjects
        .iter()
        .find(|s| s.subject == "math")
        .expect("math");
    let c = math.counts;
    // N = 4 (e is exempt): one each of 5, 4, 3, 2.
    assert_eq!(
        (c.n, c.n5, c.n4, c.n3, c.n2, c.unassessed),
        (4, 1, 1, 1, 1, 0)
    );
    assert!(close(c.success_percent(), 75.0));
    assert!(close(c.quality_percent(), 50.0));
    assert!(
        close(c.degree_of_learning(), 54.0),
        "(100 + 64 + 36 + 16) / 4"
    );
    assert!(close(c.average().expect("avg"), 3.5));

    let russian = report
        .subjects
        .iter()
        .find(|s| s.subject == "russian")
        .expect("russian");
    let c = russian.counts;
    // N = 5: a and b 5, c 4, d 3, e unassessed (two marks, fewer than the three the policy asks).
    assert_eq!(
        (c.n, c.n5, c.n4, c.n3, c.n2, c.unassessed),
        (5, 2, 1, 1, 0, 1)
    );
    assert!(close(c.success_percent(), 80.0));
    assert!(close(c.quality_percent(), 60.0));
    assert!(
        close(c.degree_of_learning(), 61.4),
        "(200 + 64 + 36 + 7) / 5"
    );
    assert!(close(c.average().expect("avg"), 4.25));

    // The class: a all 5s, b 4s and 5s, c one 3, d failing, e unassessed.
    let p = &report.class_performance;
    let standing = |name: &str| p.students.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
    assert_eq!(standing("Андреев Антон"), Some(StudentStanding::AllFives));
    assert_eq!(
        standing("Борисова Белла"),
        Some(StudentStanding::FoursAndFives)
    );
    assert_eq!(standing("Воронов Виктор"), Some(StudentStanding::OneThree));
    assert_eq!(
        standing("Григорьева Галина"),
        Some(StudentStanding::Failing)
    );
    assert_eq!(
        standing("Дмитриев Денис"),
        Some(StudentStanding::Unassessed)
    );
    let c = p.counts();
    assert_eq!(
        (c.n, c.n5, c.n4, c.n3, c.n2, c.unassessed),
        (5, 1, 1, 1, 1, 1)
    );
    assert!(close(c.success_percent(), 60.0));
    assert!(close(c.quality_percent(), 40.0));
    assert!(
        close(c.degree_of_learning(), 44.6),
        "(100 + 64 + 36 + 16 + 7) / 5"
    );

    // Absences: н twice (90 minutes), у once (45 minutes); all three count as missed.
    assert_eq!(report.absences.get("н"), Some(&(2, 90)));
    assert_eq!(report.absences.get("у"), Some(&(1, 45)));
    assert_eq!((report.lessons_missed, report.minutes_missed), (3, 135));
    // Average of the 8 graded term marks: (5 + 4 + 3 + 2 + 5 + 5 + 4 + 3) / 8 = 31 / 8.
    assert!(close(report.average_mark().expect("average"), 31.0 / 8.0));
}

#[test]
fn report_cards_summary_and_control_follow_the_same_marks() {
    let (mut j, class) = hand_class();
    let card = j.report_card(YEAR, &id("e")).expect("card");
    assert_eq!(
        card.rows.len(),
        1,
        "the exempt subject is left out of e's card"
    );
    assert_eq!(card.rows[0].0, "russian");
    assert_eq!(
        card.rows[0].1[0], None,
        "two marks are too few for a term mark"
    );

    let sheet = j.summary_sheet(YEAR, &class, Some(&t1())).expect("summary");
    assert_eq!(sheet.subjects, ["math", "russian"]);
    let row = |name: &str| {
        sheet
            .rows
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.clone())
    };
    assert_eq!(
        row("Андреев Антон"),
        Some(vec![Some(MarkValue::Grade(5)), Some(MarkValue::Grade(5))])
    );
    assert_eq!(row("Дмитриев Денис"), Some(vec![None, None]));

    let today = day(Month::November, 30);
    let control = j
        .keeping_control(YEAR, None, &t1(), today)
        .expect("control");
    let russian = control
        .iter()
        .find(|r| r.subject.as_str() == "russian")
        .expect("row");
    assert_eq!(russian.held, 3);
    assert_eq!(russian.no_topic, 0);
    assert_eq!(
        russian.no_attendance, 2,
        "attendance was taken on the 8th only"
    );
    assert_eq!(russian.no_homework, 2);
    assert_eq!(russian.marks, 14);
    assert_eq!(russian.students, 5);
    assert_eq!(russian.last_entry, Some(day(Month::September, 9)));
    assert_eq!(russian.too_few_marks, ["Дмитриев Денис"]);
    let math = control
        .iter()
        .find(|r| r.subject.as_str() == "math")
        .expect("row");
    assert_eq!(math.students, 4, "the exempt student is not counted");
    assert!(close(math.marks_per_student(), 3.0));

    let review = j.profile_review(YEAR, None, today);
    assert_eq!(review.len(), 5, "nobody's profile was ever reviewed");

    // Reviewed 30 days ago is still recent; 31 days ago is not.
    let profile = |full_name: &str| StudentProfile {
        full_name: full_name.to_owned(),
        birth_date: None,
        address: String::new(),
    };
    j.set_profile(
        YEAR,
        &id("a"),
        &profile("Андреев Антон Игоревич"),
        today - Duration::days(30),
    )
    .expect("profile");
    j.set_profile(
        YEAR,
        &id("b"),
        &profile("Борисова Белла Олеговна"),
        today - Duration::days(31),
    )
    .expect("profile");
    let review: Vec<(String, Option<Date>)> = j
        .profile_review(YEAR, None, today)
        .into_iter()
        .map(|row| (row.student.to_string(), row.last_reviewed))
        .collect();
    assert_eq!(review.len(), 4, "{review:?}");
    assert!(
        review.iter().all(|(student, _)| student != "a"),
        "{review:?}"
    );
    assert!(
        review.contains(&("b".to_owned(), Some(today - Duration::days(31)))),
        "{review:?}"
    );
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).expect("write");
    journal_core::testing::pdf_text(&path)
}

/// Renders every page with pdftoppm and returns how many it rendered.
fn render_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = Command::new("pdftoppm")
        .args(["-r", "30", "-png"])
        .arg(&path)
        .arg(dir.path().join("page"))
        .output()
        .expect("pdftoppm (poppler-utils) is installed: .ci/run installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "poppler complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count()
}

#[test]
fn the_pdf_carries_the_cyrillic_names_marks_and_percentages() {
    let (mut j, class) = hand_class();
    let today = day(Month::November, 28);
    let request = ReportRequest {
        class: Some(class.clone()),
        term: Some(t1()),
        subject: Some(id("russian")),
        student: None,
    };
    let doc = j
        .report(YEAR, ReportKind::TermReport, &request, today)
        .expect("report");
    let text = pdftotext(&report_pdf(&doc).expect("pdf"));
    for expected in [
        "МОУ СОШ № 5",
        "Отчёт классного руководителя: 1 триместр",
        "Учебный год 2026-2027",
        "Класс 5Б",
        "Напечатано 28.11.2026",
        "Стр. 1 из 1",
        "54,0",
        "61,4",
        "44,6",
        "75,0",
        "Отличников: 1",
        "Учитель",
        "Классный руководитель",
        "Директор",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    let journal = j
        .report(YEAR, ReportKind::ClassJournal, &request, today)
        .expect("journal");
    let pdf = report_pdf(&journal).expect("pdf");
    let text = pdftotext(&pdf);
    for expected in [
        "Классный журнал: russian, 1 триместр",
        "Андреев Антон",
        "Дмитриев Денис",
        "07.09",
        "у",
        "Упражнение 15, выучить правило",
        "Учитель",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(render_pages(&pdf) >= 1);

    // Curriculum progress: 8 math lessons planned for the term, 3 held (37.5 %); russian has no plan.
    let topics = [("Натуральные числа", 5), ("Дроби", 3)].map(|(topic, lessons)| PlannedTopic {
        topic: topic.to_owned(),
        lessons,
    });
    j.set_thematic_plan(YEAR, &class, &id("math"), &t1(), &topics)
        .expect("plan");
    let progress = j
        .report(YEAR, ReportKind::Progress, &request, today)
        .expect("progress");
    let text = pdftotext(&report_pdf(&progress).expect("pdf"));
    assert!(text.contains("Выполнение программы: 1 триместр"), "{text}");
    let math_row = text
        .lines()
        .find(|line| line.contains("37,5"))
        .unwrap_or_else(|| panic!("no row with 37,5 % in:\n{text}"));
    let figures: Vec<&str> = math_row.split_whitespace().collect();
    assert!(
        figures.ends_with(&["8", "3", "37,5"]),
        "planned, held, percent: {math_row}"
    );
}

#[test]
fn a_30_by_70_grid_paginates_with_every_student_and_every_lesson_on_some_page() {
    let mut j = Journal::open_in_memory().expect("journal");
    school(&mut j).expect("school");
    let class: ClassId = id("7v");
    let teacher: StaffId = id("teacher");
    let names: Vec<String> = (1..=30)
        .map(|i| format!("Фамилия{i:02} Имяпервое Отчествовторое"))
        .collect();
    let mut lessons = Vec::new();
    j.batch(|j| {
        j.put_class(
            YEAR,
            &class,
            &ClassInfo {
                name: "7В".into(),
                grade: 7,
                class_teacher: Some(teacher.clone()),
            },
        )?;
        for (i, name) in names.iter().enumerate() {
            j.enrol_student(
                YEAR,
                &class,
                &id(&format!("s{i:02}")),
                name,
                day(Month::September, 1),
            )?;
        }
        let mut date = day(Month::September, 1);
        while lessons.len() < 70 {
            if date.weekday().number_days_from_monday() < 5 {
                for period in 1..=2 {
                    if lessons.len() < 70 {
                        lessons.push(j.add_lesson(
                            YEAR,
                            &class,
                            &NewLesson {
                                date,
                                period,
                                subject: id("math"),
                                teacher: teacher.clone(),
                                topic: String::new(),
                            },
                        )?);
                    }
                }
            }
            date = date.next_day().expect("date");
        }
        for (l, lesson) in lessons.iter().enumerate() {
            for s in 0..30 {
                if (l + s) % 7 == 0 {
                    j.put_mark(
                        &id(&format!("s{s:02}")),
                        lesson,
                        &oral(((l + s) % 4) as u8 + 2),
                    )?;
                }
            }
        }
        Ok(())
    })
    .expect("the class");
    let request = ReportRequest {
        class: Some(class.clone()),
        term: Some(t1()),
        subject: Some(id("math")),
        student: None,
    };
    let doc = j
        .report(
            YEAR,
            ReportKind::ClassJournal,
            &request,
            day(Month::December, 1),
        )
        .expect("journal");
    let grid = &doc.sections[0].table;
    assert_eq!(grid.columns.len(), 2 + 70 + 1);
    assert_eq!(grid.rows.len(), 30);
    let pdf = report_pdf(&doc).expect("pdf");
    let pages = render_pages(&pdf);
    assert!(
        pages >= 3,
        "70 lesson columns do not fit one landscape page: {pages}"
    );
    let text = pdftotext(&pdf);
    assert!(
        text.contains(&format!("Стр. {pages} из {pages}")),
        "page numbers count every page"
    );
    for name in &names {
        // Names may wrap inside their column, but every part of every name is printed.
        for part in name.split(' ') {
            assert!(text.contains(part), "{part} missing");
        }
    }
    let headers: BTreeSet<&str> = grid.columns[2..72].iter().map(String::as_str).collect();
    for header in headers {
        assert!(text.contains(header), "lesson {header} missing");
    }
    assert!(text.contains("Итог"));
}

#[test]
fn the_xlsx_reads_back_as_the_computed_table_and_csv_too() {
    let (j, class) = hand_class();
    let request = ReportRequest {
        class: Some(class),
        term: Some(t1()),
        ..ReportRequest::default()
    };
    let doc = j
        .report(
            YEAR,
            ReportKind::TermReport,
            &request,
            day(Month::November, 28),
        )
        .expect("report");
    let bytes = report_xlsx(&doc).expect("xlsx");
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("a valid workbook");
    let sheets = workbook.sheet_names();
    assert_eq!(sheets.len(), doc.sections.len());
    for (section, name) in doc.sections.iter().zip(&sheets) {
        let range = workbook.worksheet_range(name).expect("sheet");
        let mut rows = range.rows();
        // Above the table, as on paper: the school, the report's title, the class and year.
        let above: Vec<String> = rows
            .by_ref()
            .take(3)
            .map(|row| row[0].to_string())
            .collect();
        assert_eq!(above[0], doc.school);
        assert_eq!(above[1], doc.title);
        assert!(above[2].contains("Класс 5Б"), "{above:?}");
        let header: Vec<String> = rows
            .by_ref()
            .map(|row| row.iter().map(ToString::to_string).collect::<Vec<_>>())
            .find(|row| row.iter().any(|cell| !cell.is_empty()) && row[0] != section.heading)
            .expect("header");
        assert_eq!(header, section.table.columns);
        for (expected, got) in section.table.rows.iter().zip(rows) {
            for (value, cell) in expected.iter().zip(got) {
                match value {
                    Value::Empty => assert!(cell.is_empty(), "{cell:?}"),
                    Value::Text(t) => assert_eq!(cell.get_string(), Some(t.as_str())),
                    Value::Int(n) => assert_eq!(cell.get_float(), Some(*n as f64)),
                    Value::Number { value, .. } => {
                        assert!(close(cell.get_float().expect("number"), *value), "{cell:?}")
                    }
                    Value::Date(_) => assert!(cell.is_datetime(), "a date cell: {cell:?}"),
                }
            }
        }
    }
    let csv = String::from_utf8(report_csv(&doc).expect("csv")).expect("utf-8");
    assert!(
        csv.starts_with('\u{feff}'),
        "a byte-order mark, for Excel on Windows"
    );
    assert!(
        csv.contains("math,4,1,1,1,1,0,75.0,50.0,54.0,3.50"),
        "{csv}"
    );
    // One table to a CSV file: the first, or the one asked for.
    assert_eq!(doc.table_names(), ["Успеваемость", "Пропуски"]);
    assert!(!csv.contains("Пропущено всего"), "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.contains("«5»")).count(),
        1,
        "one header: {csv}"
    );
    let absences = doc.with_table(2).expect("the second table");
    let csv = String::from_utf8(report_csv(&absences).expect("csv")).expect("utf-8");
    assert!(
        csv.starts_with("\u{feff}Отметка,Уроков,Часов") && csv.contains("Пропущено всего"),
        "{csv}"
    );
    assert!(!csv.contains("math"), "{csv}");
    let none = doc.with_table(3).expect_err("two tables only");
    assert!(
        none.to_string()
            .contains("its tables: 1 «Успеваемость», 2 «Пропуски»"),
        "{none}"
    );
    assert!(
        doc.one_table_note()
            .is_some_and(|note| note.contains("2 tables")),
    );
}

#[test]
fn changing_the_schools_thresholds_changes_the_term_marks_in_the_reports() {
    let (mut j, class) = hand_class();
    let before = j.summary_sheet(YEAR, &class, Some(&t1())).expect("summary");
    let a = |sheet: &journal_core::reports::SummarySheet| {
        sheet
            .rows
            .iter()
            .find(|(n, _)| n == "Андреев Антон")
            .map(|(_, m)| m[1])
    };
    assert_eq!(a(&before), Some(Some(MarkValue::Grade(5))), "4.67 ≥ 4.60");

    let mut settings = j.school_settings(YEAR).expect("settings").clone();
    settings.policy.thresholds.five = 470;
    let setup = journal_core::SchoolSetup {
        settings,
        subjects: Vec::new(),
    };
    j.set_up_school(&setup).expect("new thresholds");
    let after = j.summary_sheet(YEAR, &class, Some(&t1())).expect("summary");
    assert_eq!(a(&after), Some(Some(MarkValue::Grade(4))), "4.67 < 4.70");
    let report = j.term_report(YEAR, &class, &t1()).expect("report");
    assert_eq!(
        report.class_performance.counts().n5,
        0,
        "a is no longer a straight-5 student"
    );

    // Weights too: a test counts twice. With a 2 on a test, b's math is (4 + 5 + 4 + 2·2) / 5 = 3.4 → 3.
    let lesson = j
        .add_lesson(
            YEAR,
            &class,
            &NewLesson {
                date: day(Month::September, 10),
                period: 1,
                subject: id("math"),
                teacher: id("teacher"),
                topic: String::new(),
            },
        )
        .expect("lesson");
    let test = MarkInput {
        value: MarkValue::Grade(2),
        kind: id("test"),
        comment: String::new(),
    };
    j.put_mark(&id::<StudentId>("b"), &lesson, &test)
        .expect("mark");
    let b = |j: &Journal| {
        j.effective_term_mark(YEAR, &id("b"), &id::<SubjectId>("math"), &t1())
            .expect("mark")
    };
    assert_eq!(b(&j), Some(MarkValue::Grade(3)));
    let mut settings = j.school_settings(YEAR).expect("settings").clone();
    settings
        .policy
        .work_kinds
        .get_mut(&id("test"))
        .expect("test")
        .weight = 1.0;
    j.set_up_school(&journal_core::SchoolSetup {
        settings,
        subjects: Vec::new(),
    })
    .expect("new weights");
    // (4 + 5 + 4 + 2) / 4 = 3.75 → 4.
    assert_eq!(b(&j), Some(MarkValue::Grade(4)));
}

#[test]
fn access_slips_fit_eight_to_a_page_with_the_codes_readable() {
    let slips: Vec<AccessSlip> = (1..=10)
        .map(|i| AccessSlip {
            name: format!("Ученица Номер{i}"),
            class: "5А".into(),
            role: "ученик".into(),
            code: format!("K7QM-2D9X-H4T{}", i % 10),
            expires: day(Month::December, 12),
        })
        .collect();
    let fingerprint = journal_core::certificate_pin::CertificatePin::of(b"a relay's certificate");
    let printed = fingerprint.to_string();
    let pdf = access_slips_pdf(
        "МОУ СОШ № 5",
        &slips,
        Some(&fingerprint),
        day(Month::November, 28),
    )
    .expect("pdf");
    assert_eq!(render_pages(&pdf), 2);
    let text = pdftotext(&pdf);
    for slip in &slips {
        assert!(text.contains(&slip.code), "{}", slip.code);
        assert!(text.contains(&slip.name));
    }
    assert!(text.contains("Действует до 12.12.2026"));
    assert!(text.contains("Войти по коду"));
    // The fingerprint wraps between its groups of four; every group is on every slip.
    assert_eq!(text.matches("Отпечаток сертификата").count(), slips.len());
    let words: Vec<&str> = text.split_whitespace().collect();
    for group in printed.split('-') {
        let times = words.iter().filter(|w| **w == group).count();
        assert!(times >= slips.len(), "{group} printed {times} times");
    }
}
