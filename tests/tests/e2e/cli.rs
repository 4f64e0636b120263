//! The `journal` command line through the real binaries: the README's quick start, `--json` against the
//! tables, and working with no relay running.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use journal_e2e::{Relay, journal_binary};

pub fn journal(home: &Path, profile: &str, args: &[&str]) -> Output {
    Command::new(journal_binary())
        .arg("--home")
        .arg(home)
        .args(["--profile", profile])
        .args(args)
        .output()
        .expect("run journal")
}

/// A fresh home with `profile` signed in as `account` of the demo school, by its access code.
pub fn signed_in(relay: &Relay, profile: &str, account: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    ok(journal(
        home.path(),
        profile,
        &["login", &relay.url, &relay.codes[account]],
    ));
    home
}

pub fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "journal failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_story_works_offline_first_and_json_matches_the_tables() {
    let mut relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    let home = home.path();
    let teacher_code = relay.codes["t-5a"].clone();
    let parent_code = relay.codes["parent-s5a1"].clone();

    let out = ok(journal(
        home,
        "teacher",
        &["login", &relay.url, &teacher_code],
    ));
    assert!(
        out.contains("signed in as") && out.contains("teacher"),
        "{out}"
    );
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "lessons"])))
            .expect("json lessons");
    let first = &lessons[0];
    let lesson = first["lesson"]
        .as_str()
        .expect("a lesson today or on the last school day")
        .to_owned();
    assert_eq!(first["teacher"], "t-5a", "a teacher sees their own lessons");
    let table = ok(journal(
        home,
        "teacher",
        &["lessons", first["date"].as_str().expect("date")],
    ));
    for row in lessons.as_array().expect("rows") {
        assert!(
            table.contains(row["lesson"].as_str().expect("id")),
            "{table}"
        );
    }
    // Classes and subjects read by name in the table; the JSON keeps the ids beside the names.
    assert_eq!(first["class"], "5a");
    assert_eq!(first["class_name"], "5А");
    let subject_name = first["subject_name"].as_str().expect("a subject's name");
    assert!(
        table.contains("5А") && table.contains(subject_name) && !table.contains("| 5a "),
        "{table}"
    );

    // The relay goes away: the teacher's work is saved locally all the same.
    assert!(relay.terminate());
    let out = ok(journal(
        home,
        "teacher",
        &["attend", &lesson, "--absent", "s5a2=б"],
    ));
    assert!(out.contains("attendance saved for 3 students"), "{out}");
    ok(journal(
        home,
        "teacher",
        &["mark", "s5a1", &lesson, "5", "--kind", "oral"],
    ));
    let offline = journal(home, "teacher", &["sync"]);
    assert_eq!(
        offline.status.code(),
        Some(3),
        "offline is not an error, but a script must tell it from a sync"
    );
    assert!(
        String::from_utf8_lossy(&offline.stderr)
            .contains("your edits are saved and will sync later")
    );

    // The relay is back: the next sync delivers what was saved, and says so.
    relay.restart_same_address();
    let out = ok(journal(home, "teacher", &["sync"]));
    assert!(out.contains("synced"), "{out}");
    assert!(
        out.contains("went out: your edits in") && out.contains("3 students' records"),
        "attendance of three students and a mark: {out}"
    );
    let out = ok(journal(
        home,
        "parent",
        &["login", &relay.url, &parent_code],
    ));
    assert!(out.contains("parent"), "{out}");
    let table = ok(journal(home, "parent", &["marks"]));
    let marks: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "parent", &["--json", "marks"])))
            .expect("json marks");
    let rows = marks["marks"].as_array().expect("marks");
    assert_eq!(rows.len(), 1, "{marks}");
    assert_eq!(rows[0]["mark"], "5");
    assert_eq!(rows[0]["subject"], first["subject"]);
    // People read names: «Русский язык», «Устный ответ»; the JSON keeps the ids beside them.
    assert_eq!(rows[0]["subject_name"], first["subject_name"]);
    assert_ne!(rows[0]["subject_name"], rows[0]["subject"]);
    assert_ne!(rows[0]["kind_name"], rows[0]["kind"]);
    for field in ["student", "date", "subject_name", "mark", "kind_name"] {
        assert!(
            table.contains(rows[0][field].as_str().expect("text")),
            "{field} missing from {table}"
        );
    }
    assert_eq!(marks["averages"][0]["average"], "5.00");
    assert!(table.contains("5.00"));
    // The feed: nothing new right after the first sync; a new mark appears once, then it is seen.
    assert_eq!(
        ok(journal(home, "parent", &["--json", "news"])).trim(),
        "[]"
    );
    ok(journal(
        home,
        "teacher",
        &["mark", "s5a1", &lesson, "4", "--kind", "test"],
    ));
    ok(journal(home, "teacher", &["sync"]));
    let out = ok(journal(home, "parent", &["sync"]));
    assert!(
        out.contains("came in: 1 mark (see `journal news`)"),
        "{out}"
    );
    assert!(!out.contains("went out"), "the parent sent nothing: {out}");
    let news: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "parent", &["--json", "news"]))).expect("json news");
    assert_eq!(news.as_array().map(Vec::len), Some(1), "{news}");
    assert_eq!(news[0]["kind"], "mark");
    assert_eq!(news[0]["text"], "4");
    assert_eq!(
        ok(journal(home, "parent", &["--json", "news"])).trim(),
        "[]",
        "seen"
    );
    // The parent sees no other child, and the other parent's child's absence is not theirs to see.
    assert!(!table.contains("Смирнова"), "{table}");
    let absences = ok(journal(home, "parent", &["--json", "attendance"]));
    assert_eq!(absences.trim(), "[]", "their child was present");
    // Bad input gets a clear error and a non-zero exit.
    let bad = journal(home, "teacher", &["mark", "s5a1", &lesson, "7"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mark \"7\" is not valid"));
    let nobody = journal(home, "stranger", &["sync"]);
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("journal login SERVER CODE"));
    for code in [&teacher_code, &parent_code] {
        relay.secret(code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_written_offline_on_the_command_line_and_answered() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "parent", "parent-s5a1");
    let home = home.path();
    ok(journal(
        home,
        "teacher",
        &["login", &relay.url, &relay.codes["t-5a"]],
    ));

    // The parent finds the class teacher among their contacts and writes to them by account id.
    let contacts: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "parent", &["--json", "contacts"]))).expect("json");
    let accounts: Vec<&str> = contacts
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|c| c["account"].as_str())
        .collect();
    assert!(
        accounts.contains(&"t-5a") && accounts.contains(&"director"),
        "{contacts}"
    );
    assert!(
        !accounts.contains(&"t-6b"),
        "not a teacher of this child: {contacts}"
    );
    let refused = journal(home, "parent", &["send", "t-6b", "Здравствуйте"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("nobody you may write to matches"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = ok(journal(
        home,
        "parent",
        &[
            "send",
            "t-5a",
            "Можно забрать Ваню в 12:00?",
            "--subject",
            "Уход с уроков",
        ],
    ));
    assert!(
        out.contains("it goes out with the next `journal sync`"),
        "{out}"
    );
    ok(journal(home, "parent", &["sync"]));
    ok(journal(home, "teacher", &["sync"]));

    let threads: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "messages"]))).expect("json");
    assert_eq!(threads.as_array().map(Vec::len), Some(1), "{threads}");
    assert_eq!(threads[0]["subject"], "Уход с уроков");
    assert_eq!(threads[0]["unread"], 1);
    let thread = threads[0]["thread"].as_str().expect("id").to_owned();
    let table = ok(journal(home, "teacher", &["messages", &thread]));
    assert!(table.contains("Можно забрать Ваню в 12:00?"), "{table}");
    // The parent who wrote, by name on the teacher's laptop.
    assert!(
        table.contains("Родитель:") && !table.contains("parent-s5a1"),
        "{table}"
    );
    ok(journal(home, "teacher", &["send", &thread, "Да, конечно."]));
    ok(journal(home, "teacher", &["sync"]));
    ok(journal(home, "parent", &["sync"]));

    let messages: serde_json::Value = serde_json::from_str(&ok(journal(
        home,
        "parent",
        &["--json", "messages", &thread],
    )))
    .expect("json");
    let texts: Vec<&str> = messages
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["Можно забрать Ваню в 12:00?", "Да, конечно."]);
    let threads: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "parent", &["--json", "messages"]))).expect("json");
    assert_eq!(
        threads[0]["with"], "Соколова Елена Игоревна",
        "the teacher by name: {threads}"
    );
    assert_eq!(messages[0]["read_by"][0], "t-5a", "{messages}");
    assert_eq!(
        messages[0]["read_by_names"][0], "Соколова Елена Игоревна",
        "{messages}"
    );
}

/// `watch` prints each new item as it arrives, in words (what, whose, when, which subject, the value); a
/// parent's `attendance` ends with each child's totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_new_items_as_they_arrive_and_attendance_has_totals() {
    use std::io::{BufRead, BufReader};

    let relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    let home = home.path();
    let teacher_code = relay.codes["t-5a"].clone();
    let parent_code = relay.codes["parent-s5a1"].clone();
    ok(journal(
        home,
        "teacher",
        &["login", &relay.url, &teacher_code],
    ));
    ok(journal(
        home,
        "parent",
        &["login", &relay.url, &parent_code],
    ));
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "lessons"])))
            .expect("json lessons");
    let lesson = lessons[0]["lesson"].as_str().expect("a lesson").to_owned();
    // The feed names the subject as the school does («Русский язык»).
    let subject = lessons[0]["subject_name"]
        .as_str()
        .expect("subject")
        .to_owned();

    let mut watch = Command::new(journal_binary())
        .arg("--home")
        .arg(home)
        .args(["--profile", "parent", "watch", "--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (lines, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    ok(journal(
        home,
        "teacher",
        &["attend", &lesson, "--absent", "s5a1=н,s5a2=б"],
    ));
    ok(journal(
        home,
        "teacher",
        &["mark", "s5a1", &lesson, "3", "--kind", "oral"],
    ));
    ok(journal(home, "teacher", &["sync"]));

    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(seen.iter().any(|l: &String| l.starts_with("new mark:"))
        && seen.iter().any(|l| l.starts_with("new absence:")))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let mark = seen
        .iter()
        .find(|l| l.starts_with("new mark:"))
        .unwrap_or_else(|| panic!("no mark printed within 30 s: {seen:?}"));
    assert!(mark.contains(&subject) && mark.ends_with(": 3"), "{mark}");
    let absence = seen
        .iter()
        .find(|l| l.starts_with("new absence:"))
        .unwrap_or_else(|| panic!("no absence printed within 30 s: {seen:?}"));
    assert!(absence.ends_with(": н"), "{absence}");
    assert_eq!(
        seen.iter()
            .filter(|l| l.starts_with("new absence:"))
            .count(),
        1,
        "only their own child's absence: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|l| !l.contains("s5a1") && !l.contains("2026-2027/")),
        "items in words, not ids: {seen:?}"
    );

    ok(journal(home, "parent", &["sync"]));
    let table = ok(journal(home, "parent", &["attendance"]));
    let totals: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("total for "))
        .collect();
    assert_eq!(totals.len(), 1, "{table}");
    assert!(totals[0].ends_with(": 1 (н 1)"), "{table}");
    let json = ok(journal(home, "parent", &["--json", "attendance"]));
    let rows: serde_json::Value = serde_json::from_str(&json).expect("json rows only");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{json}");
    for code in [&teacher_code, &parent_code] {
        relay.secret(code);
    }
}

/// Every row of a `--json` listing shows in its table: the two outputs are the same data.
fn table_holds_json(
    home: &Path,
    profile: &str,
    command: &[&str],
    fields: &[&str],
) -> serde_json::Value {
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(command);
    let rows: serde_json::Value =
        serde_json::from_str(&ok(journal(home, profile, &json_args))).expect("json");
    let table = ok(journal(home, profile, command));
    for row in rows.as_array().expect("a list") {
        for field in fields {
            let value = row[*field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {row}"));
            // Long cells wrap in the table: compare the first word.
            let word = value.split_whitespace().next().unwrap_or_default();
            assert!(
                table.contains(word),
                "{command:?}: {field} {value:?} missing from\n{table}"
            );
        }
    }
    rows
}

/// A class teacher's day on the command line: homework, an announcement and the weekly digest reach the
/// family; two devices disagreeing about a homework text show up under `conflicts` in words; listings
/// print the same rows as tables and as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homework_announcements_digest_and_conflicts_work_from_the_command_line() {
    let relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    let home = home.path();
    let codes = [
        ("teacher", relay.codes["t-5a"].clone()),
        ("director", relay.codes["director"].clone()),
        ("parent", relay.codes["parent-s5a1"].clone()),
    ];
    for (profile, code) in &codes {
        ok(journal(home, profile, &["login", &relay.url, code]));
    }
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "lessons"])))
            .expect("json lessons");
    let lesson = lessons[0]["lesson"].as_str().expect("a lesson").to_owned();
    let day = lessons[0]["date"].as_str().expect("date").to_owned();

    // Homework, then the same homework changed on the director's device while both are offline.
    let out = ok(journal(
        home,
        "teacher",
        &["homework", &lesson, "Упр. 12, с. 45"],
    ));
    assert!(out.contains("homework saved"), "{out}");
    ok(journal(
        home,
        "director",
        &["homework", &lesson, "Упр. 14, с. 46"],
    ));
    ok(journal(home, "teacher", &["sync"]));
    ok(journal(home, "director", &["sync"]));
    ok(journal(home, "teacher", &["sync"]));
    let conflicts = table_holds_json(home, "teacher", &["conflicts"], &["where"]);
    let conflict = &conflicts[0];
    assert_eq!(
        conflict["where"].as_str(),
        Some(format!("homework of lesson {lesson} in class 5a").as_str()),
        "{conflicts}"
    );
    let values: Vec<&str> = conflict["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(values.len(), 2, "{conflict}");
    assert!(values.contains(&"Упр. 12, с. 45") && values.contains(&"Упр. 14, с. 46"));

    // The class teacher writes to every family, then sends the week's digest.
    let out = ok(journal(
        home,
        "teacher",
        &[
            "announce",
            "5a",
            "Собрание в четверг в 18:00",
            "--subject",
            "Собрание",
        ],
    ));
    assert!(out.contains("announcement saved for 3 families"), "{out}");
    let out = ok(journal(home, "teacher", &["digest", "5a", &day]));
    assert!(out.contains("weekly digest saved for 3 families"), "{out}");
    ok(journal(home, "teacher", &["sync"]));

    // The family sees them, and the homework, the same in tables and JSON.
    ok(journal(home, "parent", &["sync"]));
    let threads = table_holds_json(home, "parent", &["messages"], &["subject"]);
    let subjects: Vec<&str> = threads
        .as_array()
        .expect("threads")
        .iter()
        .filter_map(|t| t["subject"].as_str())
        .collect();
    assert_eq!(subjects.len(), 2, "their own family's two: {subjects:?}");
    assert!(subjects.contains(&"Собрание"), "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.starts_with("Итоги недели")),
        "{subjects:?}"
    );
    let homework = table_holds_json(
        home,
        "parent",
        &["homework", "--from", &day, "--to", &day],
        &["date", "subject_name", "homework"],
    );
    assert_eq!(homework.as_array().map(Vec::len), Some(1), "{homework}");
    assert!(
        homework[0]["homework"]
            .as_str()
            .is_some_and(|h| h.starts_with("Упр. 1")),
        "{homework}"
    );
    let contacts = table_holds_json(home, "parent", &["contacts"], &["account", "name"]);
    let accounts: Vec<&str> = contacts
        .as_array()
        .expect("contacts")
        .iter()
        .filter_map(|c| c["account"].as_str())
        .collect();
    assert!(
        accounts.contains(&"t-5a") && accounts.contains(&"director"),
        "{accounts:?}"
    );
    table_holds_json(home, "parent", &["news", "--keep"], &["kind", "text"]);

    // A parent prints their child's report card, and none of the staff's reports.
    let card = home.join("card.pdf");
    let out = ok(journal(
        home,
        "parent",
        &["report", "report-card", "-o", card.to_str().expect("path")],
    ));
    assert!(card.is_file() && out.contains(".pdf"), "{out}");
    let refused = journal(
        home,
        "parent",
        &[
            "report",
            "class-journal",
            "--class",
            "5a",
            "--subject",
            "math",
            "--term",
            "t1",
            "-o",
            "x.pdf",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("may print the report card only"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for (_, code) in &codes {
        relay.secret(code);
    }
}

/// A device that knows several relays (a district's, behind one database) signs in and syncs through
/// whichever answers, in the order given; the first being down costs nothing but the attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_sync_go_through_the_relay_that_answers_when_several_are_known() {
    let relay = Relay::start_demo();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let home = tempfile::tempdir().expect("home");
    let home = home.path();
    let relays = format!("{dead},{}", relay.url);
    let out = ok(journal(
        home,
        "teacher",
        &["login", &relays, &relay.codes["t-5a"]],
    ));
    assert!(out.contains("signed in as"), "{out}");
    let synced = ok(journal(home, "teacher", &["sync"]));
    assert!(!synced.contains("no connection"), "{synced}");
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "teacher", &["--json", "lessons"])))
            .expect("json lessons");
    assert!(
        !lessons.as_array().expect("rows").is_empty(),
        "the teacher's lessons came through the second relay"
    );

    let config = journal_core::sync::client::RelayConfig::new(
        &format!("{dead}, {dead}/"),
        &relay.token("t-5a"),
    );
    assert_eq!(
        config.relays().collect::<Vec<_>>(),
        [dead.as_str(), dead.as_str()]
    );
    let mut offline = journal_core::Journal::open_in_memory().expect("journal");
    let refused = journal_core::sync::client::sync_now(
        &mut offline,
        &config,
        &journal_core::sync::client::NoListener,
    )
    .await
    .expect_err("no relay answers");
    assert!(
        matches!(refused, journal_core::sync::client::ClientError::Offline(_)),
        "{refused}"
    );
}

/// An address typed without `http://` is refused with what to write instead, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_address_without_its_scheme_is_explained() {
    let relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    let home = home.path();
    let bare = relay.url.trim_start_matches("http://").to_owned();
    let refused = journal(home, "teacher", &["login", &bare, &relay.codes["t-5a"]]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("is not a web address") && said.contains("http://"),
        "{said}"
    );
    assert!(!said.contains("builder error"), "{said}");
    assert!(
        !said.contains("edits are saved"),
        "nothing to save at login: {said}"
    );
    // Typed right, the same code signs in: nothing was spent by the refused attempt.
    ok(journal(
        home,
        "teacher",
        &["login", &relay.url, &relay.codes["t-5a"]],
    ));
}

#[test]
fn a_listing_whose_reader_stops_early_ends_quietly() {
    let relay = Relay::start_demo();
    let home = tempfile::tempdir().expect("home");
    ok(journal(
        home.path(),
        "teacher",
        &["login", &relay.url, &relay.codes["t-5a"]],
    ));
    // As `journal lessons | head -0`: the reader is gone before the first line is written.
    let mut lessons = Command::new(journal_binary())
        .arg("--home")
        .arg(home.path())
        .args(["--profile", "teacher", "lessons"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run journal");
    drop(lessons.stdout.take());
    let output = lessons.wait_with_output().expect("journal ends");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains("panicked") && !said.contains("Broken pipe"),
        "{said}"
    );
}
