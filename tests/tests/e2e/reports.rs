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
        .find(|l| l.starts_with("5a,родители,"))
        .unwrap_or_else(|| panic!("no row for the parents of 5a:\n{activity}"));
    assert_eq!(parents_5a, "5a,родители,4,1,25.0", "{activity}");
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
