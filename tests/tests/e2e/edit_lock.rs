//! The edit-lock window end to end (issue 20, part 2): the relay refuses a teacher's change to a lesson
//! older than the school's window, even from a client that skips the device's check, and takes the
//! administration's correction with its reason, which the audit trail shows.

use journal_core::docs::Document;
use journal_core::{Error, InputError, Mark, MarkValue};
use journal_e2e::{Access, Device, RawClient, Relay, raw_sync, relay_heads};

use crate::{lesson_5a_on, mark, student, student_doc, year_of};

/// A Russian lesson of 5a `days` ago in `period`, scheduled on the teacher's tablet (scheduling is not
/// locked; entering its marks is). The test needs the day inside the school year.
fn lesson_days_ago(teacher: &mut Device, days: i64, period: u8) -> journal_core::LessonId {
    let date = time::OffsetDateTime::now_utc().date() - time::Duration::days(days);
    lesson_5a_on(teacher, date, period, "russian", "t-5a")
}

/// The JSON an administration GET answers.
async fn admin_get<T: serde::de::DeserializeOwned>(relay: &Relay, token: &str, path: &str) -> T {
    relay
        .admin(token, reqwest::Method::GET, path, serde_json::Value::Null)
        .await
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_change_is_refused_by_the_relay_and_the_administrations_correction_keeps_its_reason()
{
    let relay = Relay::start_demo_with(&["--demo-edit-lock-days", "7"]);
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_days_ago(&mut teacher, 20, 7);
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");

    // The device says why before anything is sent.
    let refused = teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "oral"))
        .expect_err("locked on the tablet");
    assert!(
        matches!(
            refused,
            Error::Input(InputError::EditLocked {
                days: 7,
                administration: false,
                ..
            })
        ),
        "{refused}"
    );

    // A client that skips that check is refused by the relay, and nothing is stored.
    let doc = student_doc(year, "s5a1");
    let director = relay.token("director");
    let heads_before = relay_heads(&relay, &director, &doc).await;
    let (mut client, _) = RawClient::join(&relay, &relay.token("t-5a")).await;
    let mut replica = Document::create(doc.clone(), &automerge::ActorId::random()).expect("doc");
    assert_eq!(
        raw_sync(&mut client, &mut replica, false).await,
        Access::Granted
    );
    let forged = Mark {
        lesson: lesson.clone(),
        subject: "russian".parse().expect("id"),
        // Dated today, as if the lesson were: the relay goes by the lesson in the class's document.
        date: time::OffsetDateTime::now_utc().date(),
        value: MarkValue::Grade(5),
        kind: "oral".parse().expect("id"),
        comment: String::new(),
        teacher: "t-5a".parse().expect("id"),
    };
    replica
        .put_mark(&journal_core::docs::mark_id(&lesson, &forged.kind), &forged)
        .expect("raw edit");
    let answer = raw_sync(&mut client, &mut replica, true).await;
    let Access::Refused(reason) = answer else {
        panic!("the relay took a late change: {answer:?}");
    };
    assert!(
        reason.contains("locked") && reason.contains("regulation 2.1"),
        "{reason}"
    );
    assert_eq!(relay_heads(&relay, &director, &doc).await, heads_before);

    // The administration corrects it, giving the reason, and the teacher's tablet shows the mark.
    let mut office = Device::new(&relay, &director);
    office.sync().await;
    let why = "исправлено по докладной учителя от 20.11";
    office
        .journal
        .with_reason(why, |j| {
            j.put_mark(&student("s5a1"), &lesson, &mark(4, "oral"))
        })
        .expect("the administration, with a reason");
    let report = office.sync().await;
    assert!(
        report.refused.is_empty() && report.sent.contains(&doc),
        "{report:?}: {:?}",
        office.journal.refused_edits()
    );
    teacher.sync().await;
    let on_tablet = teacher
        .journal
        .student_marks(year, &student("s5a1"), None, None)
        .expect("marks");
    assert!(
        on_tablet
            .iter()
            .any(|row| row.mark.lesson == lesson && row.mark.value == MarkValue::Grade(4)),
        "{on_tablet:?}"
    );

    let trail: Vec<serde_json::Value> =
        admin_get(&relay, &director, &format!("/audit?doc={doc}")).await;
    let corrected: Vec<_> = trail
        .iter()
        .filter(|entry| entry["reason"] == why)
        .collect();
    assert!(
        !corrected.is_empty() && corrected.iter().all(|e| e["account"] == "director"),
        "{trail:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_school_sets_its_window_and_a_class_teachers_correction_reaches_the_audit_trail_with_its_reason()
 {
    let relay = Relay::start_demo_with(&["--demo-edit-lock-days", "7"]);
    let director = relay.token("director");

    // Set beside the running relay, by the IT officer; read back by the administration over HTTP.
    let data = relay.data_dir().display().to_string();
    let set = Relay::cli(&["policy", "--data-dir", &data, "--edit-lock-days", "3"]);
    let printed = String::from_utf8_lossy(&set.stdout);
    assert!(
        set.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(
        printed.contains("7 → 3 days") && printed.contains("Edit-lock window: 3 days"),
        "{printed}"
    );
    let policy: serde_json::Value = admin_get(&relay, &director, "/policy").await;
    assert_eq!(policy["policy"]["edit_lock_days"], 3, "{policy}");
    let too_long = relay
        .admin(
            &director,
            reqwest::Method::POST,
            "/policy/edit-lock-days",
            serde_json::json!({ "days": 400 }),
        )
        .await;
    assert_eq!(too_long.status(), 400);
    assert!(too_long.text().await.expect("body").contains("at most 366"));
    let by_a_teacher = relay
        .admin(
            &relay.token("t-5a"),
            reqwest::Method::POST,
            "/policy/edit-lock-days",
            serde_json::json!({ "days": 30 }),
        )
        .await;
    assert_eq!(by_a_teacher.status(), 403);

    // The teacher's tablet learns the window with the school's document.
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_days_ago(&mut teacher, 4, 8);
    let refused = teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(5, "oral"))
        .expect_err("past a 3-day window");
    assert!(refused.to_string().contains("3 days"), "{refused}");

    // The class teacher corrects today's absence on the command line, with the reason.
    let home = crate::cli::signed_in(&relay, "teacher", "t-5a");
    let home = home.path();
    let lessons: serde_json::Value = serde_json::from_str(&crate::cli::ok(crate::cli::journal(
        home,
        "teacher",
        &["--json", "lessons"],
    )))
    .expect("json");
    let today = lessons[0]["lesson"].as_str().expect("a lesson today");
    crate::cli::ok(crate::cli::journal(
        home,
        "teacher",
        &["attend", today, "--absent", "s5a3=н"],
    ));
    let why = "записка от мамы: был у врача";
    let said = crate::cli::ok(crate::cli::journal(
        home,
        "teacher",
        &["correct", today, "s5a3", "у", "--reason", why],
    ));
    assert!(
        said.contains("corrected to у") && said.contains(why),
        "{said}"
    );
    let without = crate::cli::journal(home, "teacher", &["correct", today, "s5a3", "б"]);
    assert!(!without.status.success(), "a correction without its reason");
    crate::cli::ok(crate::cli::journal(home, "teacher", &["sync"]));

    let doc = student_doc(year, "s5a3");
    let trail: Vec<serde_json::Value> =
        admin_get(&relay, &director, &format!("/audit?doc={doc}")).await;
    assert!(
        trail
            .iter()
            .any(|e| e["reason"] == why && e["account"] == "t-5a" && e["received_at"].is_i64()),
        "{trail:?}"
    );
    let log: serde_json::Value = admin_get(&relay, &director, "/log").await;
    assert!(log.to_string().contains("7 → 3 days"), "{log}");
}
