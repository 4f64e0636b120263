//! The breaks a hostile client found against the release relay (issue 14), each as a test that failed on
//! that relay: it speaks the protocol itself, makes real Automerge changes and calls the HTTP APIs.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use base64::Engine;
use journal_core::docs::{Document, View};
use journal_core::sync::protocol::{BatchRequest, WireMessage, encode};
use journal_core::{Attachment, Attendance, DocId, Mark, MarkValue, Message, YearId};
use journal_e2e::{Access, RawClient, Relay, raw_sync, relay_heads};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn year_of_index(index: &[String]) -> YearId {
    index
        .iter()
        .find_map(|id| id.parse::<DocId>().ok())
        .map(|id| id.year())
        .expect("the index lists documents")
}

fn doc(year: YearId, short: &str) -> DocId {
    format!("{year}/{short}").parse().expect("id")
}

fn date(year: YearId, day: u8) -> time::Date {
    time::Date::from_calendar_date(i32::from(year.0), time::Month::September, day).expect("date")
}

/// The relay's copy of a document as `token` reads it, or what it answered instead.
async fn read(relay: &Relay, token: &str, id: &DocId) -> (Document, Access) {
    let (mut client, _) = RawClient::join(relay, token).await;
    let mut replica = Document::create(id.clone(), &ActorId::random()).expect("replica");
    let access = raw_sync(&mut client, &mut replica, false).await;
    (replica, access)
}

/// Offers `replica` (with its new changes) to the relay as `token`.
async fn write(relay: &Relay, token: &str, replica: &mut Document) -> Access {
    let (mut client, _) = RawClient::join(relay, token).await;
    raw_sync(&mut client, replica, true).await
}

/// The document with a raw Automerge edit on top, past the typed API, as a hostile peer makes it.
fn raw_edit(replica: &Document, edit: impl FnOnce(&mut AutoCommit)) -> Document {
    let mut raw = AutoCommit::load(&replica.snapshot()).expect("load");
    raw.set_actor(ActorId::random());
    edit(&mut raw);
    Document::load(replica.id().clone(), &raw.save(), &ActorId::random()).expect("a document")
}

async fn call(
    relay: &Relay,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", relay.url))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("call")
}

/// Bytes that do not compress: attachments that keep a conversation large on the wire and on disk.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn message(author: &str, text: &str, attachment: Option<Vec<u8>>) -> Message {
    Message {
        author: author.into(),
        written_at: 1,
        text: text.into(),
        attachments: attachment
            .into_iter()
            .map(|bytes| Attachment {
                name: "photo.jpg".into(),
                mime: "image/jpeg".into(),
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
            })
            .collect(),
    }
}

/// A new conversation document listing `participants`, with `messages`.
fn thread(id: &DocId, participants: &[&str], messages: Vec<Message>) -> Document {
    let mut thread = Document::create(id.clone(), &ActorId::random()).expect("thread");
    for participant in participants {
        thread.add_participant(participant).expect("participant");
    }
    for (i, m) in messages.iter().enumerate() {
        thread
            .put_message(&format!("m{i:03}").parse().expect("id"), m)
            .expect("message");
    }
    thread
}

fn messages_of(document: &Document) -> Vec<String> {
    match document.view() {
        View::Thread(thread) => thread
            .messages
            .values()
            .map(|c| format!("{}: {}", c.value.author, c.value.text))
            .collect(),
        _ => Vec::new(),
    }
}

// ----- 1. a class teacher took over any parent account -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_teacher_cannot_sign_in_as_a_parent_of_another_class() {
    let relay = Relay::start_demo();
    let t5a = relay.token("t-5a");
    // parent-s6b1 is a 6Б family; p-ivanova has a child in 5А and one in 6Б.
    for (account, student) in [("parent-s6b1", "s5a1"), ("p-ivanova", "s5a2")] {
        let response = call(
            &relay,
            Some(&t5a),
            Method::POST,
            "/v1/codes",
            json!({ "role": "parent", "student": student, "account": account }),
        )
        .await;
        assert_eq!(response.status(), 403, "t-5a naming {account}");
        let body: Value = response.json().await.expect("json");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("administration")),
            "{body}"
        );
    }
    let directory: Value = call(
        &relay,
        Some(&relay.token("parent-s6b1")),
        Method::GET,
        "/v1/me/directory",
        Value::Null,
    )
    .await
    .json()
    .await
    .expect("json");
    let children: Vec<&str> = directory["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter_map(|c| c["student"].as_str())
        .collect();
    assert_eq!(children, ["s6b1"], "nothing was linked");

    // Re-issuing for a family of their own class still works, and signs in that family only.
    let response = call(
        &relay,
        Some(&t5a),
        Method::POST,
        "/v1/codes",
        json!({ "role": "parent", "student": "s5a1", "account": "parent-s5a1" }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let code = response.json::<Value>().await.expect("json")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    relay.secret(&code);
    let redeemed: Value = call(
        &relay,
        None,
        Method::POST,
        "/v1/redeem",
        json!({ "code": code }),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(redeemed["account"], "parent-s5a1");
    relay.secret(redeemed["token"].as_str().expect("token"));

    // Linking an existing account to another child is the administration's, and the log says so.
    let director = relay.token("director");
    let response = call(
        &relay,
        Some(&director),
        Method::POST,
        "/v1/codes",
        json!({ "role": "parent", "student": "s5a1", "account": "parent-s6b1" }),
    )
    .await;
    assert_eq!(response.status(), 201);
    relay.secret(
        response.json::<Value>().await.expect("json")["code"]
            .as_str()
            .expect("code"),
    );
    let log = relay
        .admin(&director, Method::GET, "/log", Value::Null)
        .await
        .text()
        .await
        .expect("log");
    assert!(
        log.contains("links existing account parent-s6b1 to s5a1"),
        "{log}"
    );
}

// ----- 2. thread membership ignored the school year -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_id_reused_in_another_year_grants_nothing() {
    let relay = Relay::start_demo();
    let (_, index) = RawClient::join(&relay, &relay.token("t-5a")).await;
    let year = year_of_index(&index);
    let private = doc(year, "thread/private1");
    let mut started = thread(
        &private,
        &["account:t-5a", "account:parent-s5a1"],
        vec![message("t-5a", "Ваня плохо себя чувствует", None)],
    );
    assert_eq!(
        write(&relay, &relay.token("t-5a"), &mut started).await,
        Access::Granted
    );

    let outsider = relay.token("parent-s6b3");
    // A year the relay does not know: refused.
    let mut far = thread(
        &doc(YearId(year.0 + 2), "thread/private1"),
        &["account:parent-s6b3", "account:director"],
        vec![message("parent-s6b3", "пустите", None)],
    );
    assert!(
        matches!(write(&relay, &outsider, &mut far).await, Access::Refused(r) if r.contains("not open")),
    );
    // Next year, once it exists, is another conversation with its own members.
    let out = Relay::cli(&[
        "archive",
        "--data-dir",
        relay.data_dir().to_str().expect("path"),
        "rollover",
        "--from",
        &year.to_string(),
        "--yes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut next = thread(
        &doc(YearId(year.0 + 1), "thread/private1"),
        &["account:parent-s6b3", "account:director"],
        vec![message("parent-s6b3", "вопрос директору", None)],
    );
    assert_eq!(write(&relay, &outsider, &mut next).await, Access::Granted);

    let (_, access) = read(&relay, &outsider, &private).await;
    assert_eq!(
        access,
        Access::Unavailable,
        "last year's conversation stays private"
    );
    let (kept, _) = read(&relay, &relay.token("t-5a"), &private).await;
    assert_eq!(messages_of(&kept), ["t-5a: Ваня плохо себя чувствует"]);
}

// ----- 3. a teacher removed from a class still got its data when the session lagged -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_session_gets_nothing_its_account_may_no_longer_read() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let math = relay.token("t-math");
    let mut slow = RawClient::connect_small_buffer(&relay, &math, 4096).await;
    let index = slow.say_join().await;
    let year = year_of_index(&index);
    let s6b1 = doc(year, "student/s6b1");
    let mut replica = Document::create(s6b1.clone(), &ActorId::random()).expect("replica");
    assert_eq!(
        raw_sync(&mut slow, &mut replica, false).await,
        Access::Granted
    );
    let before = slow.received.len();

    // A conversation of several megabytes, which the slow session will be busy sending.
    let big = doc(year, "thread/bigphotos");
    let photos = (0..14u64)
        .map(|i| message("t-math", &format!("фото {i}"), Some(noise(i + 1, 500_000))))
        .collect();
    let mut photos = thread(&big, &["account:t-math", "account:t-5a"], photos);
    assert_eq!(write(&relay, &math, &mut photos).await, Access::Granted);
    let request = Document::create(big.clone(), &ActorId::random())
        .expect("empty")
        .generate_sync_message(&mut automerge::sync::State::new())
        .expect("a first message");
    slow.send(&WireMessage::Request {
        document_id: big.to_string(),
        sender_id: "raw".into(),
        target_id: "relay".into(),
        data: request,
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Meanwhile t-math leaves 6Б, more directory events pass than a session can fall behind by, and
    // 6Б's class teacher gives s6b1 a mark.
    let removed = relay
        .admin(
            &director,
            Method::DELETE,
            "/class-staff/6b/t-math",
            Value::Null,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let client = reqwest::Client::new();
    for _ in 0..4_200 {
        let response = client
            .post(format!("{}/v1/admin/class-staff", relay.url))
            .bearer_auth(&director)
            .json(&json!({ "class": "9z", "account": "t-6b" }))
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), 204);
    }
    let (mut mark, _) = read(&relay, &relay.token("t-6b"), &s6b1).await;
    mark.put_mark(
        &"lag_oral".parse().expect("id"),
        &Mark {
            lesson: "lag".parse().expect("id"),
            subject: "russian".parse().expect("id"),
            date: date(year, 10),
            value: MarkValue::Grade(2),
            kind: "oral".parse().expect("id"),
            comment: String::new(),
            teacher: "t-6b".parse().expect("id"),
        },
    )
    .expect("mark");
    assert_eq!(
        write(&relay, &relay.token("t-6b"), &mut mark).await,
        Access::Granted
    );

    // The slow session reads on.
    while slow.next_within(Duration::from_secs(3)).await.is_some() {}
    assert!(
        relay.log_text().contains("missed live events"),
        "the session fell behind the live events (the premise of this test)"
    );
    let about_s6b1: Vec<&WireMessage> = slow.received[before..]
        .iter()
        .filter(|m| matches!(m, WireMessage::Sync { document_id, .. } if *document_id == s6b1.to_string()))
        .collect();
    assert!(
        about_s6b1.is_empty(),
        "t-math was sent s6b1 after leaving 6Б: {}",
        about_s6b1.len()
    );
}

// ----- 4. documents without bounds -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_deep_nesting_and_oversized_values_are_refused() {
    let relay = Relay::start_demo();
    let t5a = relay.token("t-5a");
    let (_, index) = RawClient::join(&relay, &t5a).await;
    let year = year_of_index(&index);
    let s5a1 = doc(year, "student/s5a1");
    let (replica, _) = read(&relay, &t5a, &s5a1).await;
    let heads_before = relay_heads(&relay, &relay.token("director"), &s5a1).await;

    let mut nested = raw_edit(&replica, |raw| {
        let mut obj = raw.put_object(ROOT, "evil", ObjType::Map).expect("put");
        for _ in 0..20_000 {
            obj = raw.put_object(&obj, "x", ObjType::Map).expect("put");
        }
    });
    let started = Instant::now();
    let access = write(&relay, &t5a, &mut nested).await;
    assert!(
        matches!(&access, Access::Refused(r) if r.contains("\"evil\"") && r.contains("schema")),
        "{access:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused without a long stall"
    );

    let mut long = raw_edit(&replica, |raw| {
        raw.put(ROOT, "notes", "я".repeat(2 << 20)).expect("put");
    });
    assert!(
        matches!(write(&relay, &t5a, &mut long).await, Access::Refused(r) if r.contains("\"notes\""))
    );

    let mut text_object = raw_edit(&replica, |raw| {
        let text = raw.put_object(ROOT, "class", ObjType::Text).expect("put");
        raw.splice_text(&text, 0, 0, "5a").expect("splice");
    });
    assert!(
        matches!(write(&relay, &t5a, &mut text_object).await, Access::Refused(r) if r.contains("plain string"))
    );
    assert_eq!(
        relay_heads(&relay, &relay.token("director"), &s5a1).await,
        heads_before,
        "nothing was stored"
    );

    // The same from a parent, inside a conversation shared with the teacher.
    let shared = doc(year, "thread/shared1");
    let mut started_thread = thread(
        &shared,
        &["account:t-5a", "account:parent-s5a1"],
        vec![message("t-5a", "Здравствуйте", None)],
    );
    assert_eq!(
        write(&relay, &t5a, &mut started_thread).await,
        Access::Granted
    );
    let parent = relay.token("parent-s5a1");
    let (theirs, _) = read(&relay, &parent, &shared).await;
    let mut nested = raw_edit(&theirs, |raw| {
        let mut obj = raw.put_object(ROOT, "evil", ObjType::Map).expect("put");
        for _ in 0..2_000 {
            obj = raw.put_object(&obj, "x", ObjType::Map).expect("put");
        }
    });
    assert!(
        matches!(write(&relay, &parent, &mut nested).await, Access::Refused(r) if r.contains("schema"))
    );

    // A conversation grows to its limit, and no further.
    let mut grown = theirs;
    let mut refused = None;
    for round in 0..6u64 {
        for i in 0..6u64 {
            let m = message(
                "parent-s5a1",
                "справка",
                Some(noise(round * 10 + i + 1, 500_000)),
            );
            grown
                .put_message(&format!("p{round}{i}").parse().expect("id"), &m)
                .expect("message");
        }
        if let Access::Refused(reason) = write(&relay, &parent, &mut grown).await {
            refused = Some((round, reason));
            break;
        }
    }
    let (round, reason) = refused.expect("refused before 18 MB of photos");
    assert!(reason.contains("conversation is full"), "{reason}");
    assert!(
        round >= 2,
        "about twenty photos fit: refused at round {round}"
    );
    let (kept, _) = read(&relay, &t5a, &shared).await;
    assert_eq!(
        messages_of(&kept).len(),
        1 + 6 * usize::try_from(round).expect("small")
    );
}

// ----- 5. years without a school document skipped validation -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_years_the_relay_does_not_know_are_refused() {
    let relay = Relay::start_demo();
    let t5a = relay.token("t-5a");
    let (_, index) = RawClient::join(&relay, &t5a).await;
    let year = year_of_index(&index);
    let future = YearId(year.0 + 3);
    let mut junk = Document::create(doc(future, "student/s5a1"), &ActorId::random()).expect("doc");
    junk.put_attendance(
        &"junk".parse().expect("id"),
        &Attendance {
            subject: "math".parse().expect("id"),
            date: time::Date::from_calendar_date(1999, time::Month::January, 1).expect("date"),
            period: 1,
            code: Some("Ж".into()),
            note: String::new(),
        },
    )
    .expect("edit");
    // Class rights hold in the directory's year only: to the teacher, that year's documents do not exist.
    assert_eq!(write(&relay, &t5a, &mut junk).await, Access::Unavailable);
    let mut class = Document::create(
        "2999-3000/class/5a".parse().expect("id"),
        &ActorId::random(),
    )
    .expect("doc");
    class
        .set_class_info(&journal_core::ClassInfo {
            name: "5А".into(),
            grade: 5,
            class_teacher: None,
        })
        .expect("edit");
    assert!(matches!(
        write(&relay, &relay.token("director"), &mut class).await,
        Access::Refused(r) if r.contains("not open")
    ));
    let (_, parent_index) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let years: BTreeSet<YearId> = parent_index
        .iter()
        .filter_map(|id| id.parse::<DocId>().ok())
        .map(|id| id.year())
        .collect();
    assert_eq!(years, BTreeSet::from([year]));
}

// ----- 6. a mark could claim another teacher -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_is_signed_by_its_author_or_a_teacher_of_its_subject() {
    let relay = Relay::start_demo();
    let t5a = relay.token("t-5a");
    let (_, index) = RawClient::join(&relay, &t5a).await;
    let year = year_of_index(&index);
    let s5a1 = doc(year, "student/s5a1");
    let mark = |subject: &str, teacher: &str| Mark {
        lesson: "signed".parse().expect("id"),
        subject: subject.parse().expect("id"),
        date: date(year, 12),
        value: MarkValue::Grade(5),
        kind: "oral".parse().expect("id"),
        comment: String::new(),
        teacher: teacher.parse().expect("id"),
    };
    let (mut forged, _) = read(&relay, &t5a, &s5a1).await;
    forged
        .put_mark(&"forged_oral".parse().expect("id"), &mark("math", "t-math"))
        .expect("mark");
    let access = write(&relay, &t5a, &mut forged).await;
    assert!(
        matches!(&access, Access::Refused(r) if r.contains("signed by \"t-math\"")),
        "{access:?}"
    );
    // Their own mark, and one of their subject, are fine; so is t-math's own mark in mathematics.
    for (author, subject, teacher) in [
        ("t-5a", "russian", "t-5a"),
        ("t-5a", "history", "t-6b"),
        ("t-math", "math", "t-math"),
    ] {
        let token = relay.token(author);
        let (mut replica, _) = read(&relay, &token, &s5a1).await;
        replica
            .put_mark(
                &format!("{author}_{subject}_oral").parse().expect("id"),
                &mark(subject, teacher),
            )
            .expect("mark");
        assert_eq!(
            write(&relay, &token, &mut replica).await,
            Access::Granted,
            "{author} {subject}"
        );
    }
}

// ----- 7 and 10. batches: atomic, bounded, rate-limited -----

async fn post_batch(relay: &Relay, token: &str, messages: Vec<WireMessage>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/batch", relay.url))
        .bearer_auth(token)
        .header("content-type", "application/cbor")
        .body(encode(&BatchRequest {
            storage_id: "raw".into(),
            messages,
        }))
        .send()
        .await
        .expect("batch")
}

fn opening(id: &DocId) -> WireMessage {
    WireMessage::Request {
        document_id: id.to_string(),
        sender_id: "raw".into(),
        target_id: "relay".into(),
        data: Document::create(id.clone(), &ActorId::random())
            .expect("doc")
            .generate_sync_message(&mut automerge::sync::State::new())
            .expect("first message"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_refused_whole_and_its_requests_are_counted() {
    let relay = Relay::start_demo();
    let t5a = relay.token("t-5a");
    let (_, index) = RawClient::join(&relay, &t5a).await;
    let year = year_of_index(&index);
    let s5a1 = doc(year, "student/s5a1");

    // One document asked for 25 times: refused, not answered 25 times over.
    let response = post_batch(&relay, &t5a, vec![opening(&s5a1); 25]).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("appears twice")
    );

    // A valid attendance entry, then a bad id: nothing is stored.
    let heads_before = relay_heads(&relay, &relay.token("director"), &s5a1).await;
    let (mut replica, _) = read(&relay, &t5a, &s5a1).await;
    replica
        .put_attendance(
            &"atomic".parse().expect("id"),
            &Attendance {
                subject: "russian".parse().expect("id"),
                date: date(year, 14),
                period: 2,
                code: Some("н".into()),
                note: String::new(),
            },
        )
        .expect("edit");
    let mut state = automerge::sync::State::new();
    let sync = |data: Vec<u8>, id: &str| WireMessage::Sync {
        document_id: id.into(),
        sender_id: "raw".into(),
        target_id: "relay".into(),
        data,
    };
    let mut outgoing = vec![sync(
        replica.generate_sync_message(&mut state).expect("m0"),
        &s5a1.to_string(),
    )];
    let mut carried_changes = false;
    for _ in 0..5 {
        let response = post_batch(&relay, &t5a, std::mem::take(&mut outgoing)).await;
        assert_eq!(response.status(), 200);
        let reply: journal_core::sync::protocol::BatchResponse =
            journal_core::sync::protocol::decode(&response.bytes().await.expect("body"))
                .expect("reply");
        for message in reply.messages {
            if let WireMessage::Sync { data, .. } = message {
                replica
                    .receive_sync_message(&mut state, &data, &Default::default())
                    .expect("valid");
            }
        }
        let Some(next) = replica.generate_sync_message(&mut state) else {
            break;
        };
        if journal_core::docs::sync_message_has_changes(&next).expect("a sync message") {
            let atomic = post_batch(
                &relay,
                &t5a,
                vec![
                    sync(next.clone(), &s5a1.to_string()),
                    sync(next, "not/a/doc"),
                ],
            )
            .await;
            assert_eq!(atomic.status(), 400);
            carried_changes = true;
            break;
        }
        outgoing.push(sync(next, &s5a1.to_string()));
    }
    assert!(
        carried_changes,
        "the exchange reached the message that carries the entry"
    );
    assert_eq!(
        relay_heads(&relay, &relay.token("director"), &s5a1).await,
        heads_before,
        "a batch refused whole stores nothing"
    );

    // Requests count against the device's message rate, as on the WebSocket.
    let guesses: Vec<WireMessage> = (0..3_000)
        .map(|i| opening(&doc(year, &format!("student/guess{i}"))))
        .collect();
    assert_eq!(
        post_batch(&relay, &t5a, guesses.clone()).await.status(),
        200
    );
    let limited = post_batch(&relay, &t5a, guesses).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

// ----- 8. the whole school could be locked out of redemption -----

fn from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(address))
        .build()
        .expect("client")
}

async fn redeem(client: &reqwest::Client, relay: &Relay, code: &str) -> reqwest::StatusCode {
    client
        .post(format!("{}/v1/redeem", relay.url))
        .json(&json!({ "code": code, "label": "phone" }))
        .send()
        .await
        .expect("redeem")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_from_many_addresses_does_not_lock_out_real_codes() {
    let relay = Relay::start_demo();
    // 140 wrong guesses from 14 addresses.
    for address in 2..16u8 {
        let client = from([127, 0, 0, address]);
        for _ in 0..10 {
            let guess = journal_core::access_code::AccessCode::generate().to_string();
            assert_eq!(redeem(&client, &relay, &guess).await, 400, "a wrong code");
        }
        let guess = journal_core::access_code::AccessCode::generate().to_string();
        assert_eq!(
            redeem(&client, &relay, &guess).await,
            429,
            "one address guesses slowly"
        );
    }
    // Guessing goes on from 20 more addresses while families redeem their real codes.
    let guessing = tokio::spawn({
        let url = relay.url.clone();
        async move {
            for round in 0..5 {
                for address in 20..40u8 {
                    let client = from([127, 0, 1, address]);
                    let guess = journal_core::access_code::AccessCode::generate().to_string();
                    let _ = client
                        .post(format!("{url}/v1/redeem"))
                        .json(&json!({ "code": guess }))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(100 * round)).await;
            }
        }
    });
    for (i, account) in [
        "parent-s5a1",
        "parent-s5a2",
        "parent-s6b1",
        "student-s5a3",
        "t-6b",
    ]
    .into_iter()
    .enumerate()
    {
        let code = relay.codes.get(account).expect("demo code").clone();
        let client = from([127, 0, 2, u8::try_from(i).expect("few") + 1]);
        assert_eq!(
            redeem(&client, &relay, &code).await,
            200,
            "{account}'s real code"
        );
    }
    guessing.await.expect("guessing");
}

// ----- 9. slow and idle connections, and sessions per token -----

async fn connect_from(relay: &Relay, address: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((address, 0)))
        .expect("bind");
    socket
        .connect(
            relay
                .url
                .trim_start_matches("http://")
                .parse()
                .expect("address"),
        )
        .await
        .expect("connect")
}

/// Whether the relay closed the connection: a read ends (or fails) within `wait` instead of waiting.
async fn is_closed(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_surplus_connections_are_closed() {
    let relay = Relay::start_demo_with(&[
        "--header-timeout",
        "2",
        "--max-connections-per-address",
        "20",
    ]);
    let mut dribbling = Vec::new();
    for _ in 0..25 {
        dribbling.push(connect_from(&relay, [127, 0, 0, 50]).await);
    }
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connect_from(&relay, [127, 0, 0, 51]).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut surplus = 0;
    for stream in &mut dribbling {
        if is_closed(stream, Duration::from_millis(20)).await {
            surplus += 1;
        }
    }
    assert_eq!(
        surplus, 5,
        "beyond 20 connections from one address, each is closed at once"
    );
    let header = b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ";
    for byte in header.iter().cycle().take(8) {
        for stream in &mut dribbling {
            let _ = stream.write_all(&[*byte]).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for stream in dribbling.iter_mut().chain(silent.iter_mut()) {
        assert!(
            is_closed(stream, Duration::from_millis(200)).await,
            "closed by the header deadline"
        );
    }
    assert!(
        reqwest::get(format!("{}/healthz", relay.url))
            .await
            .expect("health")
            .status()
            .is_success()
    );

    // Sessions of one device: the oldest close when a fifth opens.
    let token = relay.token("t-5a");
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(RawClient::join(&relay, &token).await.0);
    }
    for (i, session) in sessions.iter_mut().enumerate() {
        let closed = session.closed().await;
        assert_eq!(closed, i < 2, "session {i}");
        if closed {
            assert!(
                session.received.iter().any(|m| matches!(m, WireMessage::Error { message } if message.contains("newer session"))),
                "{:?}",
                session.received
            );
        }
    }
}

// ----- 11. admin routes parsed the body before checking the caller -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_is_checked_before_the_body_is_read() {
    let relay = Relay::start_demo();
    let client = reqwest::Client::new();
    for (path, content_type) in [
        ("/v1/admin/accounts", "application/json"),
        ("/v1/admin/students", "text/plain"),
        ("/v1/admin/roster", "text/csv"),
        ("/v1/codes", "application/json"),
        ("/v1/batch", "application/cbor"),
    ] {
        let response = client
            .post(format!("{}{path}", relay.url))
            .header("content-type", content_type)
            .body("{ not json \u{0}")
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), 401, "{path}");
    }
    let parent = relay.token("parent-s5a1");
    let response = client
        .post(format!("{}/v1/admin/accounts", relay.url))
        .bearer_auth(&parent)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 403);
}

// ----- 12 and 13. hashes under a key of this installation; private files -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_does_not_reveal_codes_and_every_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let relay = Relay::start_demo();
    let mut device = journal_e2e::Device::new(&relay, &relay.token("t-5a"));
    device.sync().await;
    let data = relay.data_dir().to_owned();
    let out = Relay::cli(&["backup", "--data-dir", data.to_str().expect("path"), "now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The hash a relay with a key built into the binary would store for a known code is not there.
    let code = relay
        .codes
        .get("parent-s5a1")
        .expect("code")
        .replace('-', "");
    let builtin = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"journal-relay access code v1");
    let unkeyed = ring::hmac::sign(&builtin, code.as_bytes());
    let db = rusqlite::Connection::open_with_flags(
        data.join("relay.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open a copy");
    let found: i64 = db
        .query_row(
            "SELECT count(*) FROM access_codes WHERE code_hash = ?1",
            [unkeyed.as_ref()],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(found, 0, "the code's hash needs the installation's key");
    let key = std::fs::read(data.join("hash.key")).expect("hash.key");
    assert_eq!(key.len(), 32);

    let mut stack = vec![data.clone()];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).expect("meta");
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(
                std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
            files += 1;
        }
    }
    for name in [
        "relay.db",
        "relay.db-wal",
        "relay.db-shm",
        "backup.key",
        "hash.key",
    ] {
        assert!(data.join(name).exists(), "{name} was checked");
    }
    assert!(
        files >= 7,
        "the database, its journal files, the keys and a backup"
    );
}

// ----- 14. smaller findings -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessed_conversation_id_learns_nothing() {
    let relay = Relay::start_demo();
    let (_, index) = RawClient::join(&relay, &relay.token("t-5a")).await;
    let year = year_of_index(&index);
    let known = doc(year, "thread/known1");
    let mut started = thread(
        &known,
        &["account:t-5a", "account:parent-s5a1"],
        vec![message("t-5a", "только для Ивановых", None)],
    );
    assert_eq!(
        write(&relay, &relay.token("t-5a"), &mut started).await,
        Access::Granted
    );

    let (mut outsider, _) = RawClient::join(&relay, &relay.token("parent-s6b3")).await;
    let mut answers = Vec::new();
    for id in [known.clone(), doc(year, "thread/free1")] {
        let data = Document::create(id.clone(), &ActorId::random())
            .expect("empty")
            .generate_sync_message(&mut automerge::sync::State::new())
            .expect("first");
        outsider
            .send(&WireMessage::Sync {
                document_id: id.to_string(),
                sender_id: "raw".into(),
                target_id: "relay".into(),
                data,
            })
            .await;
        let answer = outsider.next().await.expect("an answer");
        answers.push(match answer {
            WireMessage::Sync { .. } => "sync",
            WireMessage::DocUnavailable { .. } => "unavailable",
            _ => "other",
        });
    }
    assert_eq!(
        answers[0], answers[1],
        "a taken id and a free one look alike"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_creation_leaves_nothing_for_readers() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let added = relay
        .admin(
            &director,
            Method::POST,
            "/students",
            json!({ "student": "s5a4", "class": "5a", "name": "Новикова Вера" }),
        )
        .await;
    assert_eq!(added.status(), 204);
    let (_, index) = RawClient::join(&relay, &relay.token("t-5a")).await;
    let year = year_of_index(&index);
    // Placing the student wrote their own document; their profile is the administration's to start (the
    // class teacher's only once a guardian has consented).
    let new_profile = doc(year, "profile/s5a4");
    let mut bad = Document::create(new_profile.clone(), &ActorId::random()).expect("doc");
    bad.put_raw_cell(
        "guardians",
        "p-x",
        r#"{"phone":"+7 900 000-00-00","bogus":7}"#,
    )
    .expect("raw");
    assert!(matches!(
        write(&relay, &director, &mut bad).await,
        Access::Refused(_)
    ));
    let (_, access) = read(&relay, &director, &new_profile).await;
    assert_eq!(access, Access::Unavailable, "no blank document is served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_gets_an_error_and_a_size_close() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let relay = Relay::start_demo();
    let mut request = (relay.url.replace("http://", "ws://") + "/v1/sync")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", relay.token("t-5a"))
            .parse()
            .expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let (mut sink, mut stream) = socket.split();
    // Sent alongside the reading: the relay answers as soon as the frame's header says its size.
    let sending = tokio::spawn(async move {
        let _ = sink.send(Frame::Binary(vec![0u8; 17 << 20].into())).await;
    });
    let (mut error, mut code) = (None, None);
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(5), stream.next()).await
    {
        match frame {
            Frame::Binary(bytes) => {
                if let Ok(WireMessage::Error { message }) =
                    journal_core::sync::protocol::decode(&bytes)
                {
                    error = Some(message);
                }
            }
            Frame::Close(frame) => {
                code = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    sending.abort();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("16 MiB")),
        "{error:?}"
    );
    assert_eq!(code, Some(1009), "message too big");
}

// ----- a bundle must not carry more than its share of the message rate -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_counts_as_every_message_it_carries() {
    let relay = Relay::start_demo();
    let parent = relay.token("parent-s5a1");
    let (mut client, index) = RawClient::join(&relay, &parent).await;
    let year = year_of_index(&index);
    // Someone else's child: each request is answered as unavailable, cheaply, and still counts.
    let other = doc(year, "student/s5b1");
    let opening = Document::create(other.clone(), &ActorId::random())
        .expect("doc")
        .generate_sync_message(&mut automerge::sync::State::new())
        .expect("a first message");
    let requests: Vec<WireMessage> = (0..journal_core::sync::protocol::BUNDLE_MESSAGES)
        .map(|_| WireMessage::Request {
            document_id: other.to_string(),
            sender_id: "hostile".into(),
            target_id: "relay".into(),
            data: opening.clone(),
        })
        .collect();
    let bundle = journal_core::sync::protocol::bundled(requests, true, "hostile", "relay");
    assert_eq!(
        bundle.len(),
        1,
        "one bundle of {}",
        journal_core::sync::protocol::BUNDLE_MESSAGES
    );
    // The default burst is 4,000 messages: nine bundles of 500 are 4,500.
    for _ in 0..9 {
        client.send(&bundle[0]).await;
    }
    assert!(client.closed().await, "the relay closed the session");
    assert!(
        client.received.iter().any(|m| matches!(
            m,
            WireMessage::Error { message } if message.contains("too many messages")
        )),
        "{:?}",
        client.received.last()
    );
}
