//! A teacher's lesson on the command line: attendance typed with Caps Lock or the wrong layout, marks
//! for a student who is not in the class, the lesson's topic and the thematic plan.

use std::io::Write;
use std::process::{Command, Stdio};

use journal_e2e::{Relay, journal_binary};

use crate::cli::{journal, ok, signed_in};

/// The first lesson the teacher's `lessons` shows, with its class and date.
fn a_lesson(home: &std::path::Path, profile: &str) -> serde_json::Value {
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, profile, &["--json", "lessons"]))).expect("json");
    lessons[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attendance_is_read_in_either_case_and_layout_and_a_wrong_code_is_asked_again() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "teacher", "t-5a");
    let home = home.path();
    let lesson = a_lesson(home, "teacher");
    let id = lesson["lesson"].as_str().expect("lesson id");

    // Caps Lock on for the first student; a typo («ч») and then «н» on the Latin layout for the second;
    // Enter for the third.
    let mut attend = Command::new(journal_binary())
        .arg("--home")
        .arg(home)
        .args(["--profile", "teacher", "attend", id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run journal");
    attend
        .stdin
        .take()
        .expect("stdin")
        .write_all("Н\nx\ny\n\n".as_bytes())
        .expect("type");
    let output = attend.wait_with_output().expect("attend ends");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("attendance code \"x\" is not in the school's list")
            && said.contains("type it again"),
        "{said}"
    );
    assert!(
        said.contains("attendance saved for 3 students (2 absent or late)"),
        "nothing typed before the typo was lost: {said}"
    );

    let absences: serde_json::Value = serde_json::from_str(&ok(journal(
        home,
        "teacher",
        &[
            "--json",
            "attendance",
            "--from",
            lesson["date"].as_str().expect("date"),
        ],
    )))
    .expect("json");
    let codes: Vec<&str> = absences
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["code"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        ["н", "н"],
        "kept as the school writes them: {absences}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_of_another_class_is_named_as_such_and_a_lessons_topic_and_plan_are_set() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "teacher", "t-5a");
    let home = home.path();
    let lesson = a_lesson(home, "teacher");
    let id = lesson["lesson"].as_str().expect("lesson id");
    let date = lesson["date"].as_str().expect("date");

    // A student id that is not in this lesson's class: said so, with the class list to pick from.
    let wrong = journal(home, "teacher", &["mark", "s6b1", id, "5"]);
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("no student \"s6b1\" in class 5a") && said.contains("s5a1 "),
        "{said}"
    );
    assert!(!said.contains("use the student id"), "{said}");

    let out = ok(journal(
        home,
        "teacher",
        &["topic", id, "Имя существительное"],
    ));
    assert!(out.contains("topic saved"), "{out}");
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "lessons", date])))
            .expect("json");
    let row = lessons
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["lesson"] == id)
        .expect("the lesson");
    assert_eq!(row["topic"], "Имя существительное");

    let subject = lesson["subject"].as_str().expect("subject");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "plan",
            "--class",
            "5a",
            "--subject",
            subject,
            "--term",
            "t1",
        ];
        args.extend_from_slice(extra);
        journal(home, "teacher", &args)
    };
    let saved = ok(plan(&[
        "--topic",
        "Имя существительное=6",
        "--topic",
        "Глагол=4",
    ]));
    assert!(saved.contains("2 topics, 10 lessons"), "{saved}");
    let shown: serde_json::Value = serde_json::from_str(&ok(plan(&[]))).expect("json");
    assert_eq!(shown[1]["topic"], "Глагол");
    assert_eq!(shown[1]["lessons"], 4);
    let bad = plan(&["--topic", "Глагол"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("TOPIC=LESSONS"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // The curriculum progress counts the plan.
    let progress = home.join("progress.csv");
    ok(journal(
        home,
        "teacher",
        &[
            "report",
            "progress",
            "--class",
            "5a",
            "--term",
            "t1",
            "--format",
            "csv",
            "--out",
            progress.to_str().expect("path"),
        ],
    ));
    let csv = std::fs::read_to_string(&progress).expect("csv");
    assert!(
        csv.lines().any(|line| line.split(',').nth(1) == Some("10")),
        "«По плану» holds the plan's 10 lessons: {csv}"
    );

    // All of it goes out: the relay takes the topic and the plan.
    let synced = journal(home, "teacher", &["sync"]);
    assert_eq!(synced.status.code(), Some(0), "{}", ok(synced));
}

/// `--class` narrows the school-wide reports to the class asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_review_and_control_reports_cover_the_class_asked_for() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "director", "director");
    let home = home.path();
    let rows_of_term = |kind: &str, class: Option<&str>, term: &str| {
        let out = home.join(format!("{kind}-{}-{term}.csv", class.unwrap_or("all")));
        let mut args = vec![
            "report",
            kind,
            "--term",
            term,
            "--format",
            "csv",
            "--out",
            out.to_str().expect("path"),
        ];
        if let Some(class) = class {
            args.extend(["--class", class]);
        }
        ok(journal(home, "director", &args));
        let csv = std::fs::read_to_string(&out).expect("csv");
        csv.lines().skip(1).map(str::to_owned).collect::<Vec<_>>()
    };
    let rows = |kind: &str, class: Option<&str>| rows_of_term(kind, class, "t1");
    // The demo's profiles were reviewed on its first school day: from October on, every student is due
    // and both classes are listed school-wide.
    let all = rows("profile-review", None);
    let only = rows("profile-review", Some("5a"));
    assert!(only.iter().all(|row| row.starts_with("5А,")), "{only:?}");
    assert_eq!(
        only,
        all.iter()
            .filter(|row| row.starts_with("5А,"))
            .cloned()
            .collect::<Vec<_>>()
    );
    let control = rows("control", Some("5a"));
    assert!(control.iter().all(|row| !row.contains("6Б")), "{control:?}");

    // Teachers are named as the directory names them, never by their account ids; the demo's lessons
    // so far this week fall in one term or two.
    let control: Vec<String> = ["t1", "t2", "t3"]
        .iter()
        .flat_map(|term| rows_of_term("control", None, term))
        .collect();
    assert!(
        control
            .iter()
            .any(|row| row.starts_with("Соколова Елена Игоревна,")),
        "{control:?}"
    );
    assert!(
        control
            .iter()
            .all(|row| !row.contains("t-5a") && !row.contains("t-math")),
        "{control:?}"
    );
}

#[test]
fn the_help_says_which_reports_need_a_term_and_what_the_exit_statuses_mean() {
    let help = |args: &[&str]| {
        let out = Command::new(journal_binary())
            .args(args)
            .output()
            .expect("run journal");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let report = help(&["report", "--help"]);
    assert!(
        report.contains("needed by class-journal, term-report"),
        "{report}"
    );
    let sync = help(&["sync", "--help"]);
    assert!(
        sync.contains("Exit status") && sync.contains("2  the relay refused"),
        "{sync}"
    );
}

/// A class and a subject are typed as people write them (`5А`, `5а`, `Русский язык`), and `classes`,
/// `subjects` and `students` list what may be typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_and_subjects_are_typed_by_their_names_and_listed() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "teacher", "t-5a");
    let home = home.path();
    let classes: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "classes"]))).expect("json");
    assert_eq!(classes[0]["name"], "5А", "{classes}");
    assert_eq!(classes[0]["id"], "5a", "{classes}");
    let subjects = ok(journal(home, "teacher", &["subjects"]));
    assert!(
        subjects.contains("Русский язык") && subjects.contains("russian"),
        "{subjects}"
    );
    for typed in ["5А", "5а"] {
        let students = ok(journal(home, "teacher", &["students", typed]));
        assert!(
            students.contains("Иванов Иван") && students.contains("s5a1"),
            "{typed}: {students}"
        );
    }
    let out = home.join("summary.csv");
    ok(journal(
        home,
        "teacher",
        &[
            "report",
            "class-journal",
            "--class",
            "5А",
            "--subject",
            "Русский язык",
            "--term",
            "t1",
            "--format",
            "csv",
            "--out",
            out.to_str().expect("path"),
        ],
    ));
    assert!(
        std::fs::read_to_string(&out)
            .expect("csv")
            .contains("Иванов Иван")
    );
    let wrong = journal(home, "teacher", &["students", "9Я"]);
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("no class \"9Я\"") && said.contains("5А (5a)"),
        "{said}"
    );
}
