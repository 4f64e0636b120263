//! Signing in and syncing on the command line as a script sees it: a profile keeps its account unless
//! told otherwise, and the exit status tells a refused or an unreached sync from a good one; refused
//! edits are listed, sent again or let go.

use journal_e2e::{Device, Relay};

use crate::cli::{journal, ok, signed_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_keeps_its_account_unless_told_to_replace_it() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "family", "parent-s5a1");
    let home = home.path();
    let student_code = relay.codes["student-s5a1"].clone();

    let refused = journal(home, "family", &["login", &relay.url, &student_code]);
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("another account (student)")
            && said.contains("stays signed in as Родитель")
            && said.contains("--replace"),
        "{said}"
    );
    // The parent's journal is still there.
    let marks = ok(journal(home, "family", &["--json", "marks"]));
    assert!(marks.contains("\"marks\""), "{marks}");

    // On purpose, the same code (not spent by the refusal) signs the profile in as the student; the
    // parent's journal is set aside, not deleted.
    let replaced = journal(
        home,
        "family",
        &["login", "--replace", &relay.url, &student_code],
    );
    let out = ok(replaced.clone());
    assert!(out.contains("signed in as Иванов Иван (student)"), "{out}");
    assert!(
        String::from_utf8_lossy(&replaced.stderr).contains("set aside"),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    let kept: Vec<String> = std::fs::read_dir(home.join("profiles/family"))
        .expect("profile dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("journal-parent-s5a1-") && name.ends_with(".db"))
        .collect();
    assert_eq!(kept.len(), 1, "the parent's journal is kept: {kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_edits_set_the_exit_status_and_go_out_again_once_the_right_is_back() {
    let mut relay = Relay::start_demo();
    let home = signed_in(&relay, "math", "t-math");
    let home = home.path();
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "math", &["--json", "lessons"]))).expect("json");
    let lesson = lessons
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["class"] == "6b")
        .or_else(|| lessons.get(0))
        .expect("a lesson")
        .clone();
    let class = lesson["class"].as_str().expect("class").to_owned();
    let id = lesson["lesson"].as_str().expect("id");
    let student = format!("s{class}1");
    ok(journal(
        home,
        "math",
        &["mark", &student, id, "4", "--kind", "test"],
    ));

    // The school takes the class from the teacher before the mark goes out.
    let director = relay.token("director");
    let removed = relay
        .admin(
            &director,
            reqwest::Method::DELETE,
            &format!("/class-staff/{class}/t-math"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    let synced = journal(home, "math", &["sync"]);
    let out = String::from_utf8_lossy(&synced.stdout);
    assert_eq!(
        synced.status.code(),
        Some(2),
        "refused means non-zero: {out}"
    );
    assert!(out.contains("see `journal refused`"), "{out}");

    let listed: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "math", &["--json", "refused"]))).expect("json");
    let row = &listed[0];
    assert!(
        row["document"]
            .as_str()
            .expect("doc")
            .ends_with(&format!("student/{student}")),
        "{listed}"
    );
    let number = row["number"].to_string();
    // Not yet: the device no longer holds the student's record.
    let early = journal(home, "math", &["refused", "--retry", &number]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("sync first"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );

    // The school gives the class back; the record comes back at the next sync, and the mark goes out.
    let restored = relay
        .admin(
            &director,
            reqwest::Method::POST,
            "/class-staff",
            serde_json::json!({ "class": class, "account": "t-math" }),
        )
        .await;
    assert_eq!(restored.status(), 204);
    assert_eq!(journal(home, "math", &["sync"]).status.code(), Some(0));
    let out = ok(journal(home, "math", &["refused", "--retry", &number]));
    assert!(out.contains("back in"), "{out}");
    let sent = journal(home, "math", &["sync"]);
    let out = ok(sent.clone());
    assert_eq!(sent.status.code(), Some(0), "{out}");
    assert!(out.contains("went out"), "{out}");
    let listed = ok(journal(home, "math", &["--json", "refused"]));
    assert_eq!(listed.trim(), "[]", "{listed}");

    let mut family = Device::new(&relay, &relay.token(&format!("parent-{student}")));
    family.sync().await;
    let year = crate::year_of(&family);
    let marks = family
        .journal
        .student_marks(year, &student.parse().expect("id"), None, None)
        .expect("marks");
    assert!(
        marks.iter().any(|m| m.mark.value.to_string() == "4"),
        "the retried mark reached the family: {marks:?}"
    );

    // A relay that cannot be reached: exit status 3, the edits kept.
    ok(journal(home, "math", &["refused"]));
    assert!(relay.terminate());
    let offline = journal(home, "math", &["sync"]);
    assert_eq!(offline.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("your edits are saved"),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_edits_are_discarded_by_number() {
    let relay = Relay::start_demo();
    let home = signed_in(&relay, "math", "t-math");
    let home = home.path();
    let lessons: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "math", &["--json", "lessons"]))).expect("json");
    let class = lessons[0]["class"].as_str().expect("class").to_owned();
    let id = lessons[0]["lesson"].as_str().expect("id").to_owned();
    ok(journal(
        home,
        "math",
        &["mark", &format!("s{class}2"), &id, "3"],
    ));
    let removed = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::DELETE,
            &format!("/class-staff/{class}/t-math"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    assert_eq!(journal(home, "math", &["sync"]).status.code(), Some(2));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(journal(home, "math", &["--json", "refused"]))).expect("json");
    let number = listed[0]["number"].to_string();
    let unknown = journal(home, "math", &["refused", "--discard", "999"]);
    assert!(!unknown.status.success());
    ok(journal(home, "math", &["refused", "--discard", &number]));
    assert_eq!(
        ok(journal(home, "math", &["--json", "refused"])).trim(),
        "[]"
    );
}
