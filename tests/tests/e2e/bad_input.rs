//! Bad input never panics the relay, never touches stored documents and never disturbs other sessions;
//! an honest client that meets a refusal keeps its edits in the refused list.

use journal_core::docs::{Document, View};
use journal_core::sync::protocol::{WireMessage, encode};
use journal_core::{DocId, YearId};
use journal_e2e::{Access, Device, RawClient, Relay, raw_sync, relay_heads};

use crate::{lesson_5a, mark, student, student_doc, year_of};

async fn healthy(relay: &Relay) -> bool {
    reqwest::get(format!("{}/healthz", relay.url))
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn year_of_index(index: &[String]) -> YearId {
    index
        .iter()
        .find_map(|id| id.parse::<DocId>().ok())
        .map(|id| id.year())
        .expect("documents")
}

/// A bystander session that must keep working while others misbehave.
async fn bystander_still_syncs(relay: &Relay, bystander: &mut RawClient, year: YearId) {
    let mut doc =
        Document::create(student_doc(year, "s5a2"), &automerge::ActorId::random()).expect("doc");
    assert_eq!(raw_sync(bystander, &mut doc, false).await, Access::Granted);
    assert!(healthy(relay).await);
}

fn error_text(client: &RawClient) -> String {
    client
        .received
        .iter()
        .find_map(|m| match m {
            WireMessage::Error { message } => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_the_offending_session() {
    let relay = Relay::start_demo();
    let (mut bystander, index) = RawClient::join(&relay, &relay.token("parent-s5a2")).await;
    let year = year_of_index(&index);
    let teacher = relay.token("t-5a");
    let doc = student_doc(year, "s5a1");
    let heads_before = relay_heads(&relay, &relay.token("director"), &doc).await;

    // Garbage instead of CBOR.
    let (mut client, _) = RawClient::join(&relay, &teacher).await;
    client
        .send_raw(vec![0xff, 0x00, 0x13, 0x37, 0xde, 0xad])
        .await;
    assert!(client.closed().await, "garbage closes the session");
    assert!(
        error_text(&client).contains("malformed protocol message"),
        "{:?}",
        client.received
    );

    // A message before join.
    let mut early = RawClient::connect(&relay, &teacher).await.expect("connect");
    early
        .send(&WireMessage::Sync {
            document_id: doc.to_string(),
            sender_id: "x".into(),
            target_id: "y".into(),
            data: vec![1, 2, 3],
        })
        .await;
    assert!(early.closed().await);
    assert!(error_text(&early).contains("first message must be join"));

    // Random bytes where an Automerge sync message belongs.
    let (mut client, _) = RawClient::join(&relay, &teacher).await;
    client
        .send(&WireMessage::Sync {
            document_id: doc.to_string(),
            sender_id: "x".into(),
            target_id: "y".into(),
            data: (0..200u32).map(|i| (i * 7919 % 251) as u8).collect(),
        })
        .await;
    assert!(client.closed().await, "random sync bytes close the session");
    assert!(
        error_text(&client).contains("malformed sync message"),
        "{:?}",
        client.received
    );

    // A malformed document id is answered like any id that is not the account's, and the session goes
    // on; a text frame ends it.
    let (mut client, _) = RawClient::join(&relay, &teacher).await;
    client
        .send(&WireMessage::Request {
            document_id: "../../etc/passwd".into(),
            sender_id: "x".into(),
            target_id: "y".into(),
            data: Vec::new(),
        })
        .await;
    assert!(
        matches!(client.next().await, Some(WireMessage::DocUnavailable { document_id, .. }) if document_id == "../../etc/passwd")
    );
    client.send_text("{\"type\":\"join\"}").await;
    assert!(client.closed().await);

    // A frame larger than the relay accepts.
    let (mut client, _) = RawClient::join(&relay, &teacher).await;
    client.send_raw(vec![0x40; 17 * 1024 * 1024]).await;
    assert!(
        client.closed().await,
        "an oversized frame closes the session"
    );

    // Nothing above touched the document, and the bystander never noticed.
    assert_eq!(
        relay_heads(&relay, &relay.token("director"), &doc).await,
        heads_before
    );
    bystander_still_syncs(&relay, &mut bystander, year).await;
    // Unauthenticated upgrades are refused at the door.
    assert_eq!(
        RawClient::connect(&relay, "nonsense.token").await.err(),
        Some(401)
    );
    let encoded_join = encode(&WireMessage::Join {
        sender_id: "z".into(),
        supported_protocol_versions: vec!["99".into()],
        metadata: None,
    });
    let mut wrong_version = RawClient::connect(&relay, &teacher).await.expect("connect");
    wrong_version.send_raw(encoded_join).await;
    assert!(wrong_version.closed().await);
    assert!(error_text(&wrong_version).contains("unsupported protocol version"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_breaking_and_read_only_writes_are_refused_and_nothing_is_stored() {
    let relay = Relay::start_demo();
    let teacher = relay.token("t-5a");
    let (mut client, index) = RawClient::join(&relay, &teacher).await;
    let year = year_of_index(&index);
    let doc = student_doc(year, "s5a1");
    let heads_before = relay_heads(&relay, &relay.token("director"), &doc).await;

    let mut replica = Document::create(doc.clone(), &automerge::ActorId::random()).expect("doc");
    assert_eq!(
        raw_sync(&mut client, &mut replica, false).await,
        Access::Granted
    );
    replica
        .put_raw_cell(
            "marks",
            "m7",
            r#"{"lesson":"l1","subject":"math","date":"2026-09-07","value":"7","kind":"test","teacher":"t-5a"}"#,
        )
        .expect("raw write");
    let refused = raw_sync(&mut client, &mut replica, true).await;
    let Access::Refused(reason) = refused else {
        panic!("a mark of 7 was not refused: {refused:?}");
    };
    assert!(
        reason.contains(&doc.to_string()) && reason.contains("mark \"7\" is not valid"),
        "{reason}"
    );
    assert_eq!(
        relay_heads(&relay, &relay.token("director"), &doc).await,
        heads_before
    );

    // The parent may read the child's document but not change it.
    let (mut parent, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let mut replica = Document::create(doc.clone(), &automerge::ActorId::random()).expect("doc");
    assert_eq!(
        raw_sync(&mut parent, &mut replica, false).await,
        Access::Granted
    );
    let lesson = "l1".parse().expect("id");
    let attendance = journal_core::Attendance {
        subject: "math".parse().expect("id"),
        date: time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 7)
            .expect("date"),
        period: 1,
        code: None,
        note: "present, says the parent".into(),
    };
    replica
        .put_attendance(&lesson, &attendance)
        .expect("local edit");
    let refused = raw_sync(&mut parent, &mut replica, true).await;
    assert!(
        matches!(&refused, Access::Refused(reason) if reason.contains("not change")),
        "{refused:?}"
    );
    assert_eq!(
        relay_heads(&relay, &relay.token("director"), &doc).await,
        heads_before
    );
    let View::Student(_) = replica.view() else {
        unreachable!()
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_client_keeps_refused_edits_in_a_list_and_takes_the_relays_copy() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 14, 1, "russian", "t-5a");
    teacher.sync().await;

    // A parent's device that (through a buggy app) lets the parent enter a mark.
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    parent
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("local edit");
    let report = parent.sync().await;
    assert_eq!(report.refused, vec![student_doc(year, "s5a1")]);
    let refused = parent.journal.refused_edits().expect("list");
    assert_eq!(refused.len(), 1);
    assert!(refused[0].reason.contains("not change"), "{refused:?}");
    assert!(
        refused[0]
            .edits
            .iter()
            .any(|e| e.contains("marks/") && e.contains("value")),
        "{refused:?}"
    );
    assert!(
        parent
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks")
            .is_empty()
    );
    let doc = student_doc(year, "s5a1");
    assert_eq!(
        Some(parent.journal.heads_hex(&doc)),
        relay_heads(&relay, &relay.token("director"), &doc).await,
        "the device holds the relay's copy again"
    );

    // A teacher taken off a class while offline lets go of its documents and keeps the unsent edits.
    let mut math = Device::new(&relay, &relay.token("t-math"));
    math.sync().await;
    let lesson_6b = {
        let date = time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 15)
            .expect("date");
        math.journal
            .add_lesson(
                year,
                &"6b".parse().expect("id"),
                &journal_core::NewLesson {
                    date,
                    period: 6,
                    subject: "math".parse().expect("id"),
                    teacher: "t-math".parse().expect("id"),
                    topic: "Дроби".into(),
                },
            )
            .expect("lesson")
    };
    math.sync().await;
    math.journal
        .put_mark(&student("s6b1"), &lesson_6b, &mark(4, "test"))
        .expect("offline mark");
    let response = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::DELETE,
            "/class-staff/6b/t-math",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let report = math.sync().await;
    assert!(
        report.unavailable.contains(&student_doc(year, "s6b1")),
        "{report:?}"
    );
    assert!(
        !math.doc_ids().iter().any(|d| d.contains("6b")),
        "{:?}",
        math.doc_ids()
    );
    let kept = math.journal.refused_edits().expect("list");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].document.ends_with("student/s6b1"));
}
