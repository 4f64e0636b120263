//! The everyday flows: a teacher works offline and syncs, parents see their own child, conflicts surface
//! everywhere, live updates arrive, and the HTTP transport does the same job.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use journal_core::sync::SyncEvent;
use journal_core::sync::client::{RelayConfig, SyncListener, run_live};
use journal_core::{ConflictTarget, Journal};
use journal_e2e::{Device, Relay};

use crate::{attendance, lesson_5a, mark, student, student_doc, year_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_marks_offline_and_each_parent_sees_exactly_their_own_child() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    assert!(
        teacher
            .doc_ids()
            .contains(&student_doc(year, "s5a1").to_string())
    );

    // Offline: nothing below talks to the relay.
    let lesson = lesson_5a(&mut teacher, 7, 2, "russian", "t-5a");
    teacher
        .journal
        .set_topic(&lesson, "Имя существительное")
        .expect("topic");
    teacher
        .journal
        .mark_attendance(
            &lesson,
            &[
                attendance("s5a1", None),
                attendance("s5a2", Some("б")),
                attendance("s5a3", None),
            ],
        )
        .expect("attendance");
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("mark");
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(3, "oral"))
        .expect("mark");
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");

    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    let marks = parent
        .journal
        .student_marks(year, &student("s5a1"), None, None)
        .expect("own child");
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].mark.value.to_string(), "5");
    let mut docs = parent.doc_ids();
    docs.sort();
    let expected = {
        let mut e = vec![
            format!("{year}/school"),
            format!("{year}/class/5a"),
            format!("{year}/student/s5a1"),
            format!("{year}/profile/s5a1"),
        ];
        e.sort();
        e
    };
    assert_eq!(
        docs, expected,
        "the parent holds their child's documents and nothing of other families"
    );
    assert!(
        parent
            .journal
            .student_marks(year, &student("s5a3"), None, None)
            .is_err()
    );

    let mut other_parent = Device::new(&relay, &relay.token("parent-s5a2"));
    other_parent.sync().await;
    let range = crate::whole_year(year);
    let totals = other_parent
        .journal
        .attendance_totals(year, &student("s5a2"), range)
        .expect("totals");
    assert_eq!(
        totals.by_code["б"].lessons, 1,
        "the ill day reached the other parent"
    );
    assert!(
        other_parent
            .journal
            .student_marks(year, &student("s5a2"), None, None)
            .expect("marks")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_teachers_setting_one_cell_offline_converge_and_both_see_the_conflict() {
    let relay = Relay::start_demo();
    let mut class_teacher = Device::new(&relay, &relay.token("t-5a"));
    class_teacher.sync().await;
    let lesson = lesson_5a(&mut class_teacher, 8, 1, "math", "t-math");
    class_teacher.sync().await;
    let mut math = Device::new(&relay, &relay.token("t-math"));
    math.sync().await;
    let year = year_of(&math);

    class_teacher
        .journal
        .mark_attendance(&lesson, &[attendance("s5a1", Some("н"))])
        .expect("a");
    math.journal
        .mark_attendance(&lesson, &[attendance("s5a1", Some("о"))])
        .expect("b");
    class_teacher.sync().await;
    math.sync().await;
    class_teacher.sync().await;

    let mut director = Device::new(&relay, &relay.token("director"));
    director.sync().await;
    let doc = student_doc(year, "s5a1");
    let heads = |d: &Device| d.journal.heads_hex(&doc);
    assert_eq!(heads(&class_teacher), heads(&math));
    assert_eq!(heads(&math), heads(&director));
    for device in [&class_teacher, &math, &director] {
        let conflicts = device.journal.conflicts();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert!(
            matches!(&conflicts[0].target, ConflictTarget::Attendance { student, .. } if student.as_str() == "s5a1")
        );
        let mut values = conflicts[0].values.clone();
        values.sort();
        assert_eq!(values, ["н", "о"]);
    }
    assert_eq!(
        class_teacher.journal.conflicts(),
        math.journal.conflicts(),
        "same winner everywhere"
    );

    let target = math.journal.conflicts()[0].target.clone();
    let keep = math.journal.conflicts()[0]
        .values
        .iter()
        .position(|v| v == "о")
        .expect("offered");
    math.journal
        .resolve_conflict(&target, keep)
        .expect("resolve");
    math.sync().await;
    class_teacher.sync().await;
    assert!(class_teacher.journal.conflicts().is_empty());
}

struct Collect(Mutex<Vec<(Instant, SyncEvent)>>);

impl SyncListener for Collect {
    fn on_event(&self, event: &SyncEvent) {
        self.0
            .lock()
            .expect("lock")
            .push((Instant::now(), event.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_reaches_a_connected_parent_within_a_second() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 9, 3, "history", "t-5a");
    teacher.sync().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let parent = Arc::new(tokio::sync::Mutex::new(
        Journal::open(&dir.path().join("p.db")).expect("open"),
    ));
    let events = Arc::new(Collect(Mutex::new(Vec::new())));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = tokio::spawn(run_live(
        parent.clone(),
        RelayConfig::new(&relay.url, &relay.token("parent-s5a1")),
        events.clone(),
        stopped,
    ));
    let doc = student_doc(year, "s5a1");
    // Wait until the parent's live session holds the child's document.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if events
            .0
            .lock()
            .expect("lock")
            .iter()
            .any(|(_, e)| matches!(e, SyncEvent::Received { id } if *id == doc))
        {
            break;
        }
    }
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "test"))
        .expect("mark");
    let sent = Instant::now();
    teacher.sync().await;
    let mut arrived = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let journal = parent.lock().await;
        if journal
            .student_marks(year, &student("s5a1"), None, None)
            .map(|m| m.len())
            .unwrap_or(0)
            == 1
        {
            arrived = Some(sent.elapsed());
            break;
        }
    }
    stop.send(true).expect("stop");
    live.await.expect("live task");
    let arrived = arrived.expect("the mark reached the connected parent");
    assert!(arrived < Duration::from_secs(1), "took {arrived:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_batch_transport_syncs_the_same_state() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a")).over_http();
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 10, 1, "literature", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(5, "classwork"))
        .expect("mark");
    let report = teacher.sync().await;
    assert!(report.refused.is_empty());
    let mut parent = Device::new(&relay, &relay.token("parent-s5a2")).over_http();
    parent.sync().await;
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a2"), None, None)
            .expect("marks")
            .len(),
        1
    );
    let mut ws_parent = Device::new(&relay, &relay.token("parent-s5a2"));
    ws_parent.sync().await;
    let doc = student_doc(year, "s5a2");
    assert_eq!(
        parent.journal.heads_hex(&doc),
        ws_parent.journal.heads_hex(&doc)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_sync_one_new_mark_costs_under_2_kb_and_two_round_trips_and_no_change_costs_one()
 {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let lesson = lesson_5a(&mut teacher, 11, 4, "russian", "t-5a");
    teacher.sync().await;
    let quiet = teacher.sync().await;
    assert_eq!(quiet.round_trips, 1, "{quiet:?}");
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(4, "homework"))
        .expect("mark");
    let report = teacher.sync().await;
    let bytes = report.bytes_sent + report.bytes_received;
    eprintln!(
        "one new mark: {bytes} bytes on the wire, {} round trips",
        report.round_trips
    );
    assert!(bytes < 2048, "{report:?}");
    // The join, then one exchange: the mark goes out in the document's first message.
    assert_eq!(report.round_trips, 2, "{report:?}");
    assert_eq!(
        report.sent,
        [student_doc(year_of(&teacher), "s5a3")],
        "{report:?}"
    );
}

/// The hashes of a document's changes on a device, oldest first.
fn change_hashes(device: &Device, doc: &journal_core::DocId) -> Vec<String> {
    device
        .journal
        .document(doc)
        .expect("held")
        .automerge()
        .get_changes(&[])
        .iter()
        .map(|c| c.hash().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_names_who_delivered_every_change_and_from_which_device() {
    let relay = Relay::start_demo();
    let mut class_teacher = Device::new(&relay, &relay.token("t-5a"));
    let mut math = Device::new(&relay, &relay.token("t-math"));
    class_teacher.sync().await;
    math.sync().await;
    let doc = student_doc(year_of(&class_teacher), "s5a1");
    let seeded = change_hashes(&class_teacher, &doc);

    let lesson = lesson_5a(&mut class_teacher, 8, 1, "russian", "t-5a");
    class_teacher
        .journal
        .mark_attendance(&lesson, &[attendance("s5a1", Some("н"))])
        .expect("attendance");
    class_teacher.sync().await;
    math.sync().await;
    let by_class_teacher = change_hashes(&math, &doc);
    let lesson = lesson_5a(&mut math, 9, 2, "math", "t-math");
    math.journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "oral"))
        .expect("mark");
    math.sync().await;
    class_teacher.sync().await;
    let everything = change_hashes(&class_teacher, &doc);

    let admin = relay.token("director");
    let trail = relay
        .admin(
            &admin,
            reqwest::Method::GET,
            &format!("/audit?doc={doc}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(trail.status(), 200);
    let trail: Vec<serde_json::Value> = trail.json().await.expect("json");
    let listed: Vec<&str> = trail
        .iter()
        .map(|e| e["hash"].as_str().expect("hash"))
        .collect();
    let mut sorted_listed = listed.clone();
    sorted_listed.sort();
    let mut sorted_everything: Vec<&str> = everything.iter().map(String::as_str).collect();
    sorted_everything.sort();
    assert_eq!(sorted_listed, sorted_everything, "every change, once");
    let who = |hash: &str| {
        let entry = trail.iter().find(|e| e["hash"] == hash).expect("listed");
        (
            entry["account"].as_str().expect("account").to_owned(),
            entry["device"].as_str().expect("device").to_owned(),
        )
    };
    for hash in &seeded {
        assert_eq!(who(hash).0, "director", "the demo's seeding");
    }
    let teacher_changes: Vec<&String> = by_class_teacher
        .iter()
        .filter(|h| !seeded.contains(h))
        .collect();
    let math_changes: Vec<&String> = everything
        .iter()
        .filter(|h| !by_class_teacher.contains(h))
        .collect();
    assert!(!teacher_changes.is_empty() && !math_changes.is_empty());
    let (account, teacher_device) = who(teacher_changes[0]);
    assert_eq!(account, "t-5a");
    for hash in &teacher_changes {
        assert_eq!(who(hash), ("t-5a".to_owned(), teacher_device.clone()));
    }
    let (account, math_device) = who(math_changes[0]);
    assert_eq!(account, "t-math");
    assert_ne!(math_device, teacher_device, "each teacher's own device");
    let position = |hash: &str| listed.iter().position(|l| *l == hash).expect("listed");
    assert!(
        position(teacher_changes[0]) < position(math_changes[0]),
        "oldest first"
    );

    let parent = relay.token("parent-s5a1");
    let refused = relay
        .admin(
            &parent,
            reqwest::Method::GET,
            &format!("/audit?doc={doc}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(refused.status(), 403);
}
