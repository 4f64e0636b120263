//! Reports through the real binaries: the admin HTTP API and `journal-relay report` on the relay's data,
//! slips whose printed codes really sign people in, and `journal report` on a teacher's laptop offline.

use std::process::Command;

use journal_core::sync::client::redeem_code;
use journal_core::testing::pdf_text;
use journal_e2e::{Device, Relay, journal_binary};

use crate::{lesson_5a, mark, student, year_of};

async fn get(relay: &Relay, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/v1/admin{path}", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administration_gets_reports_over_http_and_slips_whose_codes_sign_in() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let lesson = lesson_5a(&mut teacher, 14, 1, "russian", "t-5a");
    teacher
        .journal
        .set_topic(&lesson, "Морфологический разбор")
        .expect("topic");
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(4, "oral"))
        .expect("mark");
    teacher.sync().await;
    let dir = tempfile::tempdir().expect("dir");

    let director = relay.token("director");
    let response = get(
        &relay,
        &director,
        "/reports/class-journal?class=5a&subject=russian&term=t1&format=pdf",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = dir.path().join("journal.pdf");
    std::fs::write(&pdf, response.bytes().await.expect("body")).expect("write");
    let text = pdf_text(&pdf);
    for expected in [
        "Классный журнал: Русский язык, 1 триместр",
        "Кузнецов Пётр",
        "Морфологический разбор",
        "МОУ СОШ № 5 г. Бежецка",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }

    let csv = get(
        &relay,
        &director,
        "/reports/summary?class=5a&term=t1&format=csv",
    )
    .await;
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.expect("text");
    assert!(csv.starts_with("\u{feff}№,Ученик,"), "{csv}");
    assert!(csv.contains("Кузнецов Пётр"), "{csv}");
    // The class journal's lesson records, its second table, as a CSV of their own.
    let records = get(
        &relay,
        &director,
        "/reports/class-journal?class=5a&subject=russian&term=t1&format=csv&table=2",
    )
    .await;
    assert_eq!(records.status(), 200);
    let records = records.text().await.expect("text");
    assert!(
        records.starts_with("\u{feff}Дата,Урок,Тема урока")
            && records.contains("Морфологический разбор")
            && !records.contains("Кузнецов Пётр"),
        "{records}"
    );
    let no_such = get(
        &relay,
        &director,
        "/reports/class-journal?class=5a&subject=russian&term=t1&format=csv&table=3",
    )
    .await;
    assert_eq!(no_such.status(), 400);
    assert!(
        no_such
            .text()
            .await
            .expect("text")
            .contains("«Записи уроков»")
    );

    // The month's activity comes from the session log. 5a has four parent accounts (p-ivanova has a child
    // in 5a and one in 6b); only parent-s5a1 has synced.
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    let activity = get(&relay, &director, "/reports/activity?format=csv").await;
    assert_eq!(activity.status(), 200);
    let activity = activity.text().await.expect("text");
    let parents_5a = activity
        .lines()
        .find(|l| l.starts_with("5А,родители,"))
        .unwrap_or_else(|| panic!("no row for the parents of 5А:\n{activity}"));
    assert_eq!(parents_5a, "5А,родители,4,1,25.0", "{activity}");
    assert!(
        !activity.contains("Сотрудник,"),
        "one table to a CSV: {activity}"
    );
    let staff = get(&relay, &director, "/reports/activity?format=csv&table=2").await;
    let staff = staff.text().await.expect("text");
    assert!(
        staff.starts_with("\u{feff}Сотрудник,Роль,Сеансов"),
        "the staff's activity, its second table: {staff}"
    );

    // Nobody but the administration; unknown reports and missing parameters say what is wrong.
    let refused = get(&relay, &relay.token("t-5a"), "/reports/summary?class=5a").await;
    assert_eq!(refused.status(), 403);
    let unknown = get(&relay, &director, "/reports/gossip").await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown
            .text()
            .await
            .expect("text")
            .contains("class-journal")
    );
    let missing = get(&relay, &director, "/reports/term-report?class=5a").await;
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.expect("text").contains("--term"));

    // Slips: fresh codes for every student and guardian of 5a; a printed code signs its person in.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/admin/reports/slips?class=5a", relay.url))
        .bearer_auth(&director)
        .send()
        .await
        .expect("slips");
    assert_eq!(response.status(), 200);
    let slips = dir.path().join("slips.pdf");
    std::fs::write(&slips, response.bytes().await.expect("body")).expect("write");
    let text = pdf_text(&slips);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("Кузнецов Пётр") && !l.contains("Родитель"))
        .expect("the student's slip");
    let code = lines[at..]
        .iter()
        .flat_map(|l| l.split_whitespace())
        .find(|w| w.contains('-') && w.parse::<journal_core::access_code::AccessCode>().is_ok())
        .expect("a code under the name")
        .to_owned();
    relay.secret(&code);
    let redeemed = redeem_code(&relay.url, &code, "phone", None, None, None)
        .await
        .expect("the printed code signs in");
    assert_eq!(redeemed.role, journal_core::AccountRole::Student);
    relay.secret(redeemed.token.as_deref().unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_made_from_the_relays_data_and_offline_on_a_teachers_laptop() {
    let mut relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    let journal = |args: &[&str]| {
        Command::new(journal_binary())
            .arg("--home")
            .arg(home.path())
            .args(["--profile", "teacher"])
            .args(args)
            .output()
            .expect("run journal")
    };
    let login = journal(&["login", &relay.url, &relay.codes["t-5a"]]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 15, 1, "history", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("mark");
    teacher.sync().await;
    let synced = journal(&["sync"]);
    assert!(synced.status.success());

    // The relay's own command, on its data directory.
    // The term report as CSV, whole or one table: what the file holds, and what the command said.
    let term_csv = |table: Option<&str>| {
        let out = home
            .path()
            .join(format!("term-{}.csv", table.unwrap_or("all")));
        let mut args = vec![
            "report",
            "--data-dir",
            relay.data_dir().to_str().expect("utf-8"),
            "term-report",
            "--class",
            "5a",
            "--term",
            "t1",
            "--format",
            "csv",
            "-o",
            out.to_str().expect("utf-8"),
        ];
        if let Some(table) = table {
            args.extend(["--table", table]);
        }
        let made = Relay::cli(&args);
        let said = String::from_utf8_lossy(&made.stderr).into_owned();
        assert!(made.status.success(), "{said}");
        (std::fs::read_to_string(&out).expect("csv"), said)
    };
    let (csv, said) = term_csv(None);
    assert!(
        csv.contains("% успев.") && csv.contains("История") && !csv.contains("Пропущено всего"),
        "the first table alone: {csv}"
    );
    assert!(
        said.contains("2 tables: 1 «Успеваемость», 2 «Пропуски»"),
        "the command says what the CSV leaves out: {said}"
    );
    let (csv, _) = term_csv(Some("2"));
    assert!(
        csv.contains("Пропущено всего") && !csv.contains("% успев."),
        "the second table alone: {csv}"
    );

    // Offline: the relay is gone, and the teacher's laptop still prints the class journal.
    assert!(relay.terminate());
    let pdf = home.path().join("history.pdf");
    let printed = journal(&[
        "report",
        "class-journal",
        "--class",
        "5a",
        "--subject",
        "history",
        "--term",
        "t1",
        "-o",
        pdf.to_str().expect("utf-8"),
    ]);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let text = pdf_text(&pdf);
    assert!(text.contains("Классный журнал: История"), "{text}");
    assert!(text.contains("Иванов Иван"), "{text}");
    assert!(text.contains(&format!("Учебный год {year}")), "{text}");
}

/// The rows of a CSV report (its byte-order mark dropped), each split at its commas; fields here hold
/// none.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// The demo as shipped (`serve --demo`: two classes of 25, the first term taught up to this week) has
/// something in every report. Its history ends where the demo's week begins (the year's last week in the
/// summer), so this holds on any day but those of the school year's first week.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_as_shipped_has_a_term_of_history_in_every_report() {
    let relay = Relay::start_demo_with(&["--demo-class-size", "25"]);
    let director = relay.token("director");
    let csv = async |path: &str| {
        let response = get(&relay, &director, path).await;
        assert_eq!(response.status(), 200, "{path}");
        csv_rows(&response.text().await.expect("text"))
    };

    // The term report counts 25 students, each with a term mark in every subject.
    let term = csv("/reports/term-report?class=5a&term=t1&format=csv").await;
    let class = term
        .iter()
        .find(|row| row[0] == "Класс (по ученикам)")
        .unwrap_or_else(|| panic!("{term:?}"));
    assert_eq!(class[1], "25", "{term:?}");
    assert_eq!(class[6], "0", "nobody without a term mark: {term:?}");
    assert!(
        class[10].parse::<f64>().expect("average") >= 3.0,
        "{term:?}"
    );
    // Absences by code, illness among them.
    let absences = csv("/reports/term-report?class=5a&term=t1&format=csv&table=2").await;
    assert!(
        absences
            .iter()
            .any(|row| row[0].starts_with("б ") && row[1] != "0"),
        "{absences:?}"
    );

    // The thematic plan is there, and the lessons held follow it.
    let progress = csv("/reports/progress?class=6b&term=t1&format=csv").await;
    assert_eq!(
        progress.len(),
        5,
        "a heading and four subjects: {progress:?}"
    );
    for row in &progress[1..] {
        let planned: u32 = row[1].parse().expect("planned");
        let held: u32 = row[2].parse().expect("held");
        assert!(planned > 0 && held > 0 && held <= planned, "{row:?}");
    }

    // A report card has the first term's marks.
    let card = csv("/reports/report-card?student=s5a1&format=csv").await;
    assert_eq!(card.len(), 5, "{card:?}");
    assert!(
        card[1..]
            .iter()
            .all(|row| matches!(row[1].as_str(), "2" | "3" | "4" | "5")),
        "{card:?}"
    );

    // The class teacher's tablet has the lessons with topics and homework, and today's lessons.
    let mut tablet = Device::new(&relay, &relay.token("t-5a"));
    tablet.sync().await;
    let year = year_of(&tablet);
    let marks = tablet
        .journal
        .student_marks(year, &student("s5a2"), None, None)
        .expect("marks");
    assert!(marks.len() >= 10, "{}", marks.len());
    let settings = tablet.journal.school_settings(year).expect("settings");
    let whole_year = settings.year.range();
    let lessons = tablet
        .journal
        .lessons(year, &"5a".parse().expect("class"), whole_year)
        .expect("lessons");
    // The term's lessons carry their topics and homework; the demo's week is left for the teacher.
    let (taught, this_week): (Vec<_>, Vec<_>) = lessons.iter().partition(|l| !l.topic.is_empty());
    assert!(taught.iter().all(|l| !l.homework.is_empty()), "{taught:?}");
    assert!(taught.len() >= 20, "{}", taught.len());
    let last_taught = taught
        .iter()
        .map(|l| l.date)
        .max()
        .expect("a taught lesson");
    assert!(!this_week.is_empty());
    assert!(
        this_week.iter().all(|l| l.date > last_taught),
        "the demo's week follows the term"
    );

    // The demo's families all signed the consent form but one.
    let gaps = csv("/reports/no-consent?format=csv").await;
    let names: Vec<&str> = gaps[1..].iter().map(|row| row[1].as_str()).collect();
    assert_eq!(names, ["Кузнецов Пётр"], "{gaps:?}");

    // Every printed report and every listing people read names classes, subjects, kinds of work and
    // people; none shows the demo's ids.
    let ids = demo_ids();
    let dir = tempfile::tempdir().expect("tempdir");
    for path in [
        "class-journal?class=5a&subject=russian&term=t1",
        "term-report?class=5a&term=t1",
        "summary?class=6b&term=t1",
        "control?term=t1",
        "progress?class=5a&term=t1",
        "profile-review",
        "report-card?student=s5a1",
        "activity",
        "no-consent",
    ] {
        let response = get(&relay, &director, &format!("/reports/{path}")).await;
        assert_eq!(response.status(), 200, "{path}");
        let file = dir.path().join("report.pdf");
        std::fs::write(&file, response.bytes().await.expect("pdf")).expect("write");
        let text = pdf_text(&file);
        assert!(
            text.contains("5А") || text.contains("6Б") || path == "control?term=t1",
            "{path}: {text}"
        );
        let shown: Vec<&&str> = ids.iter().filter(|id| has_word(&text, id)).collect();
        assert!(shown.is_empty(), "{path} prints ids {shown:?}:\n{text}");
    }
    let home = crate::cli::signed_in(&relay, "parent", "parent-s5a1");
    let teacher = crate::cli::signed_in(&relay, "teacher", "t-5a");
    for (home, profile, command) in [
        (home.path(), "parent", vec!["marks"]),
        (home.path(), "parent", vec!["attendance"]),
        (teacher.path(), "teacher", vec!["lessons"]),
        (
            teacher.path(),
            "teacher",
            vec!["homework", "--from", "2000-01-01", "--to", "2100-01-01"],
        ),
    ] {
        let table = crate::cli::ok(crate::cli::journal(home, profile, &command));
        let shown: Vec<&&str> = ids.iter().filter(|id| has_word(&table, id)).collect();
        assert!(
            shown.is_empty(),
            "{command:?} prints ids {shown:?}:\n{table}"
        );
    }
}

/// The demo's ids of classes, subjects, kinds of work and people, which no printout may show.
fn demo_ids() -> Vec<&'static str> {
    vec![
        "5a",
        "6b",
        "russian",
        "math",
        "literature",
        "history",
        "oral",
        "classwork",
        "quiz",
        "test",
        "t-5a",
        "t-6b",
        "t-math",
        "s5a1",
        "s5a2",
        "s6b1",
        "parent-s5a1",
        "p-ivanova",
        "director",
    ]
}

/// Whether `text` holds `word` with no letter, digit or hyphen on either side.
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(part)
            && !text[at + word.len()..].chars().next().is_some_and(part)
    })
}

/// The school's date `hours` east of UTC, taken around `work` so that a midnight passing meanwhile is
/// seen: `work` runs again until both ends agree.
async fn on_the_schools_day<T>(hours: i64, mut work: impl AsyncFnMut() -> T) -> (time::Date, T) {
    let day = || (time::OffsetDateTime::now_utc() + time::Duration::hours(hours)).date();
    loop {
        let before = day();
        let result = work().await;
        if day() == before {
            return (before, result);
        }
    }
}

/// The school's time zone decides what "today" is: for the relay's reports and activity days, and for a
/// tablet. Far east and far west of UTC, at least one of the two is another day than UTC's at any hour,
/// so the test tells the zone's day from UTC's whenever it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schools_time_zone_decides_what_today_is() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let data = relay.data_dir().to_str().expect("utf-8").to_owned();
    let set = Relay::cli(&["policy", "--data-dir", &data, "--time-zone", "+14:00"]);
    let printed = String::from_utf8_lossy(&set.stdout);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(
        printed.contains("time zone: UTC+00:00 → UTC+14:00"),
        "{printed}"
    );
    let (east, printed) = on_the_schools_day(14, async || {
        let out = Relay::cli(&["policy", "--data-dir", &data]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await;
    assert!(
        printed.contains(&format!(
            "today at the school: {}",
            journal_core::format_date(east)
        )),
        "{printed}"
    );

    // A tablet takes the school's day for its own.
    let mut tablet = Device::new(&relay, &relay.token("t-5a"));
    let (east, today) = on_the_schools_day(14, async || {
        tablet.sync().await;
        tablet.journal.today()
    })
    .await;
    assert_eq!(today, east);
    assert_eq!(tablet.journal.time_zone().to_string(), "UTC+14:00");

    // The activity report counts that sync on the school's day.
    let (east, staff) = on_the_schools_day(14, async || {
        get(&relay, &director, "/reports/activity?format=csv&table=2")
            .await
            .text()
            .await
            .expect("text")
    })
    .await;
    let row = staff
        .lines()
        .find(|l| l.starts_with("Соколова Елена Игоревна,"))
        .unwrap_or_else(|| panic!("{staff}"));
    let printed = format!(
        "{:02}.{:02}.{}",
        east.day(),
        u8::from(east.month()),
        east.year()
    );
    assert!(row.ends_with(&printed), "{row}");

    // Over HTTP, far west; a zone that does not exist is refused and changes nothing.
    let set = |zone: &'static str| {
        let relay = &relay;
        let director = director.clone();
        async move {
            relay
                .admin(
                    &director,
                    reqwest::Method::POST,
                    "/policy/time-zone",
                    serde_json::json!({ "time_zone": zone }),
                )
                .await
        }
    };
    let refused = set("+15:00").await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused.text().await.expect("text").contains("+03:00"),
        "the refusal shows how to write it"
    );
    let (west, answer) = on_the_schools_day(-12, async || {
        set("-12:00")
            .await
            .json::<serde_json::Value>()
            .await
            .expect("JSON")
    })
    .await;
    assert_eq!(answer["replaced"], "UTC+14:00");
    assert_eq!(answer["today"], journal_core::format_date(west));
}
