//! The relay killed mid-sync loses nothing it acknowledged; a revoked device is shut out at once; SIGTERM
//! stops the relay cleanly.

use std::time::Duration;

use journal_core::sync::client::{NoListener, sync_now};
use journal_core::sync::peer::{ClientPeer, RELAY_PEER};
use journal_core::sync::protocol::WireMessage;
use journal_e2e::{Device, RawClient, Relay, relay_heads};

use crate::{attendance, lesson_5a, mark, student, year_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_sync_keeps_every_acknowledged_change_and_clients_converge() {
    let mut relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);

    // Acknowledged work: each sync returned.
    let mut acknowledged = Vec::new();
    for day in 1..=5u8 {
        let lesson = lesson_5a(&mut teacher, day + 14, 1, "russian", "t-5a");
        teacher
            .journal
            .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
            .expect("mark");
        teacher.sync().await;
        acknowledged.push(lesson);
    }
    // Work in flight when the relay dies: many documents at once.
    let mut in_flight = Vec::new();
    for day in 1..=6u8 {
        let lesson = lesson_5a(&mut teacher, day + 21, 2, "literature", "t-5a");
        teacher
            .journal
            .mark_attendance(
                &lesson,
                &[
                    attendance("s5a1", Some("н")),
                    attendance("s5a2", None),
                    attendance("s5a3", Some("б")),
                ],
            )
            .expect("attendance");
        in_flight.push(lesson);
    }
    let config = teacher.config.clone();
    let mut journal = teacher.journal;
    let killer = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(40));
        relay.kill();
        relay
    });
    let interrupted = sync_now(&mut journal, &config, &NoListener).await;
    let mut relay = killer.await.expect("killer");
    eprintln!(
        "the sync under the kill ended with: {:?}",
        interrupted.as_ref().map(|r| r.round_trips)
    );

    relay.restart();
    // A parent who connects right after the restart sees everything the relay had acknowledged.
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    let marks = parent
        .journal
        .student_marks(year, &student("s5a1"), None, None)
        .expect("marks");
    assert_eq!(
        marks.len(),
        acknowledged.len(),
        "every acknowledged mark survived the kill"
    );

    // The teacher reconnects and the rest goes through; everyone converges.
    teacher.config.url = relay.url.clone();
    teacher.journal = journal;
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");
    parent.sync().await;
    let mut director = Device::new(&relay, &relay.token("director"));
    director.sync().await;
    for id in ["s5a1", "s5a2", "s5a3"] {
        let doc = crate::student_doc(year, id);
        assert_eq!(
            teacher.journal.heads_hex(&doc),
            director.journal.heads_hex(&doc),
            "{id}"
        );
    }
    let range = crate::whole_year(year);
    let totals = parent
        .journal
        .attendance_totals(year, &student("s5a1"), range)
        .expect("totals");
    assert_eq!(totals.by_code["н"].lessons as usize, in_flight.len());
}

/// A link cut after the relay stored a lesson but before its answer came back: the next sync asks for
/// the heads of every document and sends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cut_after_the_relay_stored_the_edits_sends_nothing_again() {
    let relay = Relay::start_demo();
    let token = relay.token("t-5a");
    let mut teacher = Device::new(&relay, &token);
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 16, 2, "literature", "t-5a");
    teacher
        .journal
        .mark_attendance(
            &lesson,
            &[attendance("s5a1", Some("н")), attendance("s5a2", None)],
        )
        .expect("attendance");
    let edited = [
        crate::student_doc(year, "s5a1"),
        crate::student_doc(year, "s5a2"),
    ];

    // The session that is cut: the edits go out, the socket dies before any answer is read.
    let journal = &mut teacher.journal;
    journal.begin_sync_session(RELAY_PEER);
    let mut engine = ClientPeer::new("cut-tablet").resuming(journal.session_unsettled(RELAY_PEER));
    let mut client = RawClient::connect(&relay, &token).await.expect("connect");
    client.send(&engine.join()).await;
    let mut out = Vec::new();
    while !engine.is_joined() {
        let message = client.next().await.expect("peer and index");
        out.extend(engine.handle(journal, message).expect("handled"));
    }
    assert!(!engine.sent().is_empty(), "the edits went out");
    assert!(
        journal.session_unsettled(RELAY_PEER),
        "and are not yet confirmed"
    );
    for message in engine.outgoing(out) {
        client.send(&message).await;
    }
    drop(client);
    let director = relay.token("director");
    for doc in &edited {
        let mut stored = false;
        for _ in 0..100 {
            if relay_heads(&relay, &director, doc).await == Some(journal.heads_hex(doc)) {
                stored = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(stored, "the relay stored {doc} before the cut");
    }

    let report = teacher.sync().await;
    assert!(report.sent.is_empty(), "nothing is sent again: {report:?}");
    assert!(!teacher.journal.session_unsettled(RELAY_PEER));
    for doc in &edited {
        assert_eq!(
            relay_heads(&relay, &director, doc).await,
            Some(teacher.journal.heads_hex(doc))
        );
    }
    // A sync after that is the usual quiet one.
    assert_eq!(teacher.sync().await.round_trips, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_refused_and_its_open_session_closes() {
    let relay = Relay::start_demo();
    let admin = relay.token("director");
    let response = relay
        .admin(
            &admin,
            reqwest::Method::POST,
            "/devices",
            serde_json::json!({ "account": "t-5a", "label": "lost tablet" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.expect("json");
    let token = body["token"].as_str().expect("token").to_owned();
    let device = body["device"]["id"].as_str().expect("id").to_owned();

    let (mut session, _) = RawClient::join(&relay, &token).await;
    let (mut other, _) = RawClient::join(&relay, &relay.token("t-5a")).await;
    // Only administration may revoke.
    let forbidden = relay
        .admin(
            &relay.token("t-5a"),
            reqwest::Method::POST,
            &format!("/devices/{device}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(forbidden.status(), 403);
    let revoked = relay
        .admin(
            &admin,
            reqwest::Method::POST,
            &format!("/devices/{device}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert!(
        session.closed().await,
        "the revoked device's session closes"
    );
    assert!(
        session
            .received
            .iter()
            .any(|m| matches!(m, WireMessage::Error { message } if message.contains("revoked"))),
        "{:?}",
        session.received
    );
    assert_eq!(RawClient::connect(&relay, &token).await.err(), Some(401));
    // The account's other device goes on.
    assert!(!other.closed().await, "other sessions stay open");
    let devices = relay
        .admin(
            &admin,
            reqwest::Method::GET,
            "/accounts/t-5a/devices",
            serde_json::json!({}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let listed = devices.as_array().expect("list");
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|d| d["id"] == device.as_str() && !d["revoked_at"].is_null())
    );
    let body = serde_json::to_string(&devices).expect("text");
    assert!(!body.contains(&token), "tokens never leave the relay again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_relay_cleanly_with_its_data_intact() {
    let mut relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 28, 3, "history", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(3, "oral"))
        .expect("mark");
    teacher.sync().await;
    let (mut live, _) = RawClient::join(&relay, &relay.token("parent-s5a2")).await;
    assert!(relay.terminate(), "the relay exits with success on SIGTERM");
    assert!(live.closed().await, "live sessions are closed on shutdown");
    relay.restart();
    let mut parent = Device::new(&relay, &relay.token("parent-s5a2"));
    parent.sync().await;
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a2"), None, None)
            .expect("marks")
            .len(),
        1
    );
}

/// One relay per data directory: a second `serve` on it is refused, naming the process that holds it,
/// before it opens the database; the relay's other commands work beside the running one; once the first
/// relay is gone (killed, even), the directory can be served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_relay_on_the_same_data_directory_is_refused_and_names_the_first() {
    let mut relay = Relay::start_demo();
    let data = relay.data_dir().to_str().expect("path").to_owned();
    let second = std::process::Command::new(journal_e2e::relay_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
        .output()
        .expect("run a second relay");
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("another relay")
            && said.contains(&relay.pid().to_string())
            && said.contains(&data),
        "{said}"
    );
    let listed = Relay::cli(&["directory", "--data-dir", &data, "list"]);
    assert!(
        listed.status.success(),
        "the relay's other commands work beside it"
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("t-5a"));
    relay.restart();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    assert!(
        teacher.sync().await.documents > 0,
        "a killed relay's lock goes with it"
    );
}

/// Commands run beside a serving relay reach its live sessions: a device revoked from the relay's command
/// line has its open session closed within a second, an account deactivated there has its sessions
/// closed, and both are in the administration's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_beside_a_running_relay_closes_revoked_sessions_within_a_second() {
    let relay = Relay::start_demo();
    let data = relay.data_dir().to_str().expect("path").to_owned();
    let added = Relay::cli(&[
        "directory",
        "--data-dir",
        &data,
        "add-device",
        "--account",
        "parent-s5a1",
        "--label",
        "lost phone",
    ]);
    assert!(added.status.success(), "{added:?}");
    let said = String::from_utf8_lossy(&added.stdout).into_owned();
    let token = said
        .rsplit("(shown only now): ")
        .next()
        .expect("a token")
        .trim()
        .to_owned();
    relay.secret(&token);
    let device = token.split('.').next().expect("device id").to_owned();
    let (mut lost, _) = RawClient::join(&relay, &token).await;
    let (mut kept, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let (mut student, _) = RawClient::join(&relay, &relay.token("student-s5a1")).await;

    let revoked = Relay::cli(&[
        "directory",
        "--data-dir",
        &data,
        "revoke-device",
        "--device",
        &device,
    ]);
    assert!(revoked.status.success(), "{revoked:?}");
    // The deadline runs from the moment the command has finished.
    let closed = tokio::time::timeout(Duration::from_secs(1), lost.closed())
        .await
        .expect("the revoked device's session closes within a second");
    assert!(closed);
    assert!(
        lost.received
            .iter()
            .any(|m| matches!(m, WireMessage::Error { message } if message.contains("revoked"))),
        "{:?}",
        lost.received
    );
    assert_eq!(RawClient::connect(&relay, &token).await.err(), Some(401));
    assert!(!kept.closed().await, "the account's other device goes on");

    let deactivated = Relay::cli(&[
        "directory",
        "--data-dir",
        &data,
        "deactivate",
        "--account",
        "student-s5a1",
    ]);
    assert!(deactivated.status.success(), "{deactivated:?}");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), student.closed())
            .await
            .expect("a deactivated account's session closes within a second")
    );
    assert!(
        student.received.iter().any(
            |m| matches!(m, WireMessage::Error { message } if message.contains("deactivated"))
        ),
        "{:?}",
        student.received
    );

    let log = relay
        .admin(
            &relay.token("director"),
            reqwest::Method::GET,
            "/log",
            serde_json::json!({}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .expect("log");
    let lines: Vec<(String, String, String)> = log
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or_default().to_owned(),
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("cli", "add-device", format!("device {device}")),
        ("cli", "revoke-device", format!("device {device}")),
        (
            "cli",
            "deactivate-account",
            "account student-s5a1".to_owned(),
        ),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2);
        assert!(lines.contains(&expected), "{expected:?} in {lines:?}");
    }
    let text = log.to_string();
    assert!(!text.contains(&token), "no token in the log");
}
