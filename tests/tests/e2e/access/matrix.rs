//! The access matrix, driven by a raw protocol client that asks for documents by id: five roles × five
//! document kinds × read and write, guessed ids, and a parent with children in two classes. Everything
//! allowed works, everything else is refused, and no foreign id appears in any reply.

use std::collections::BTreeSet;

use journal_core::docs::{Document, View};
use journal_core::sync::protocol::WireMessage;
use journal_core::{Attendance, DocId, Lesson, Message, YearId};
use journal_e2e::{Access, RawClient, Relay, raw_sync};

fn year_now(index: &[String]) -> YearId {
    index
        .iter()
        .find_map(|id| id.parse::<DocId>().ok())
        .map(|id| id.year())
        .expect("the index lists documents")
}

fn date(year: YearId, day: u8) -> time::Date {
    time::Date::from_calendar_date(i32::from(year.0), time::Month::September, day).expect("date")
}

/// One valid edit by `author`: conversations accept only messages their writer wrote.
fn edit(doc: &mut Document, year: YearId, stamp: u8, author: &str) {
    let id = doc.id().clone();
    match &id {
        DocId::School(_) => {
            let View::School(school) = doc.view() else {
                unreachable!()
            };
            let mut settings = school.settings.as_ref().expect("settings").value.clone();
            settings.header.push(format!("edit {stamp}"));
            doc.set_school_settings(&settings).expect("edit");
        }
        DocId::Class(..) => {
            let lesson = Lesson {
                id: format!("access-{stamp}").parse().expect("id"),
                date: date(year, 20),
                period: 7,
                subject: "history".parse().expect("id"),
                teacher: "t-5a".parse().expect("id"),
                topic: String::new(),
                homework: String::new(),
                homework_due: None,
            };
            doc.put_lesson(&lesson).expect("edit");
        }
        DocId::Student(..) => {
            let attendance = Attendance {
                subject: "math".parse().expect("id"),
                date: date(year, 21),
                period: 1,
                code: Some("н".into()),
                note: String::new(),
            };
            doc.put_attendance(&format!("access-{stamp}").parse().expect("id"), &attendance)
                .expect("edit");
        }
        // A different day each time: Automerge records nothing for a put of the value already there.
        DocId::Profile(..) => doc
            .set_last_reviewed(date(year, 1) + time::Duration::days(i64::from(stamp)))
            .expect("edit"),
        DocId::Thread(..) => {
            let message = Message {
                author: author.into(),
                written_at: 1,
                text: format!("message {stamp}"),
                attachments: Vec::new(),
            };
            doc.put_message(&format!("m{stamp}").parse().expect("id"), &message)
                .expect("edit");
        }
    }
}

struct Case {
    account: &'static str,
    readable: Vec<&'static str>,
    writable: Vec<&'static str>,
}

/// Documents asked for by every account, beyond those it may read.
const DOCS: [&str; 8] = [
    "school",
    "class/5a",
    "class/6b",
    "student/s5a1",
    "student/s6b1",
    "profile/s5a1",
    "profile/s6b1",
    "thread/t1",
];

const STUDENTS_5A: [&str; 3] = ["student/s5a1", "student/s5a2", "student/s5a3"];
const STUDENTS_6B: [&str; 3] = ["student/s6b1", "student/s6b2", "student/s6b3"];
const PROFILES_5A: [&str; 3] = ["profile/s5a1", "profile/s5a2", "profile/s5a3"];
const PROFILES_6B: [&str; 3] = ["profile/s6b1", "profile/s6b2", "profile/s6b3"];
const PROFILES_5A_CONSENTED: [&str; 2] = ["profile/s5a1", "profile/s5a2"];

fn cases() -> Vec<Case> {
    let all = |parts: &[&[&'static str]]| parts.concat();
    vec![
        Case {
            account: "director",
            readable: all(&[
                &["school", "class/5a", "class/6b"],
                &STUDENTS_5A,
                &STUDENTS_6B,
                &PROFILES_5A,
                &PROFILES_6B,
            ]),
            writable: all(&[
                &["school", "class/5a", "class/6b"],
                &STUDENTS_5A,
                &STUDENTS_6B,
                &PROFILES_5A,
                &PROFILES_6B,
            ]),
        },
        // The family of s5a3 has not signed the consent form: their class teacher has the name only.
        Case {
            account: "t-5a",
            readable: all(&[
                &["school", "class/5a", "thread/t1"],
                &STUDENTS_5A,
                &PROFILES_5A_CONSENTED,
            ]),
            writable: all(&[
                &["class/5a", "thread/t1"],
                &STUDENTS_5A,
                &PROFILES_5A_CONSENTED,
            ]),
        },
        Case {
            account: "t-math",
            readable: all(&[
                &["school", "class/5a", "class/6b"],
                &STUDENTS_5A,
                &STUDENTS_6B,
            ]),
            writable: all(&[&["class/5a", "class/6b"], &STUDENTS_5A, &STUDENTS_6B]),
        },
        Case {
            account: "student-s5a1",
            readable: vec!["school", "class/5a", "student/s5a1"],
            writable: vec![],
        },
        Case {
            account: "parent-s5a1",
            readable: vec![
                "school",
                "class/5a",
                "student/s5a1",
                "profile/s5a1",
                "thread/t1",
            ],
            writable: vec!["thread/t1"],
        },
        Case {
            account: "p-ivanova",
            readable: vec![
                "school",
                "class/5a",
                "class/6b",
                "student/s5a2",
                "student/s6b2",
                "profile/s5a2",
                "profile/s6b2",
            ],
            writable: vec![],
        },
    ]
}

/// Ids mentioned in the relay's replies, other than those the client itself asked about.
fn mentioned(messages: &[WireMessage], asked: &BTreeSet<String>) -> BTreeSet<String> {
    messages
        .iter()
        .flat_map(|m| match m {
            index @ WireMessage::Index { .. } => index
                .index_documents()
                .expect("an index")
                .expect("the index unpacks")
                .into_iter()
                .map(|d| d.document_id)
                .collect(),
            WireMessage::Sync { document_id, .. }
            | WireMessage::Snapshot { document_id, .. }
            | WireMessage::Request { document_id, .. }
            | WireMessage::DocUnavailable { document_id, .. }
            | WireMessage::Refused { document_id, .. } => vec![document_id.clone()],
            _ => Vec::new(),
        })
        .filter(|id| !asked.contains(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_reads_and_writes_exactly_what_the_directory_allows() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    let response = relay
        .admin(
            &director,
            reqwest::Method::POST,
            "/threads",
            serde_json::json!({ "thread": "t1", "participants": ["t-5a", "parent-s5a1"] }),
        )
        .await;
    assert_eq!(response.status(), 204);
    // The class teacher starts the conversation.
    {
        let (mut client, index) = RawClient::join(&relay, &relay.token("t-5a")).await;
        let year = year_now(&index);
        let mut thread = Document::create(
            format!("{year}/thread/t1").parse().expect("id"),
            &automerge::ActorId::random(),
        )
        .expect("thread");
        edit(&mut thread, year, 0, "t-5a");
        assert_eq!(
            raw_sync(&mut client, &mut thread, true).await,
            Access::Granted
        );
    }

    let mut stamp = 0u8;
    for case in &cases() {
        let (mut client, index) = RawClient::join(&relay, &relay.token(case.account)).await;
        let year = year_now(&index);
        let full = |short: &str| format!("{year}/{short}");
        let readable: BTreeSet<String> = case.readable.iter().map(|d| full(d)).collect();
        let listed: BTreeSet<String> = index.iter().cloned().collect();
        assert_eq!(
            listed, readable,
            "{}: the index lists exactly the readable documents",
            case.account
        );

        let mut asked = BTreeSet::new();
        let extra: Vec<&str> = case
            .readable
            .iter()
            .copied()
            .filter(|d| !DOCS.contains(d))
            .collect();
        let guessed = ["student/s-guess", "class/zz", "profile/s6b2", "thread/t2"];
        for short in DOCS
            .iter()
            .copied()
            .chain(extra)
            .chain(guessed.into_iter().filter(|d| !case.readable.contains(d)))
        {
            let id: DocId = full(short).parse().expect("id");
            asked.insert(id.to_string());
            let can_read = case.readable.contains(&short);
            let can_write = case.writable.contains(&short);
            let actor = automerge::ActorId::random();

            // Read: ask for the document from nothing.
            let mut replica = Document::create(id.clone(), &actor).expect("replica");
            let read = raw_sync(&mut client, &mut replica, false).await;
            let expected = if can_read {
                Access::Granted
            } else {
                Access::Unavailable
            };
            assert_eq!(read, expected, "{} reading {short}", case.account);

            // Write: one valid edit on top of what the account could read.
            stamp += 1;
            if !matches!(id, DocId::School(_)) || can_read {
                edit(&mut replica, year, stamp, case.account);
            } else {
                continue;
            }
            let wrote = raw_sync(&mut client, &mut replica, true).await;
            match (can_read, can_write) {
                (true, true) => {
                    assert_eq!(wrote, Access::Granted, "{} writing {short}", case.account)
                }
                (true, false) => assert!(
                    matches!(&wrote, Access::Refused(reason) if reason.contains(&id.to_string()) && reason.contains("not change")),
                    "{} writing {short}: {wrote:?}",
                    case.account
                ),
                // Administration may create a class that does not exist yet; nobody else creates anything
                // they may not read.
                (false, _) if case.account == "director" && short == "class/zz" => {
                    assert_eq!(wrote, Access::Granted, "administration creates a new class")
                }
                // A conversation nobody has started yet may be started, but not with no participants.
                (false, _) if short == "thread/t2" => assert!(
                    matches!(&wrote, Access::Refused(reason) if reason.contains("participants")),
                    "{} starting an empty conversation: {wrote:?}",
                    case.account
                ),
                (false, _) => assert_eq!(
                    wrote,
                    Access::Unavailable,
                    "{} writing {short}",
                    case.account
                ),
            }
        }
        let foreign: BTreeSet<String> = mentioned(&client.received, &asked)
            .into_iter()
            .filter(|id| !readable.contains(id))
            .collect();
        assert!(
            foreign.is_empty(),
            "{} was told about {foreign:?}",
            case.account
        );
    }

    // What the writers wrote is on the relay; what was refused is not.
    let (_, index) = RawClient::join(&relay, &director).await;
    let year = year_now(&index);
    let mut check = Document::create(
        format!("{year}/student/s5a1").parse().expect("id"),
        &automerge::ActorId::random(),
    )
    .expect("replica");
    let (mut client, _) = RawClient::join(&relay, &director).await;
    assert_eq!(
        raw_sync(&mut client, &mut check, false).await,
        Access::Granted
    );
    let View::Student(student) = check.view() else {
        unreachable!()
    };
    let written: BTreeSet<String> = student.attendance.keys().map(|l| l.to_string()).collect();
    assert_eq!(
        written.len(),
        3,
        "exactly the writes of the two teachers of 5a and the administration landed: {written:?}"
    );
}

/// A reader's device that offers again what the relay already holds (it never heard the answer that said
/// so) is answered, not refused: nothing it sends is an edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_offering_changes_the_relay_holds_is_not_refused() {
    use automerge::sync::{ChunkList, Have, Message as SyncMessage, MessageVersion};

    let relay = Relay::start_demo();
    let token = relay.token("parent-s5a1");
    let (mut reading, index) = RawClient::join(&relay, &token).await;
    let school: DocId = format!("{}/school", year_now(&index)).parse().expect("id");
    let mut replica =
        Document::create(school.clone(), &automerge::ActorId::random()).expect("replica");
    assert_eq!(
        raw_sync(&mut reading, &mut replica, false).await,
        Access::Granted
    );
    let held = replica.heads();

    let (mut offering, _) = RawClient::join(&relay, &token).await;
    let everything: Vec<Vec<u8>> = replica
        .automerge()
        .get_changes(&[])
        .iter()
        .map(|change| change.raw_bytes().to_vec())
        .collect();
    assert!(everything.len() > 1, "the school's settings and subjects");
    let resent = SyncMessage {
        heads: held.clone(),
        need: Vec::new(),
        have: vec![Have::default()],
        changes: ChunkList::from(everything),
        flags: None,
        version: MessageVersion::V1,
    };
    offering
        .send(&WireMessage::Sync {
            document_id: school.to_string(),
            sender_id: "raw".into(),
            target_id: "relay".into(),
            data: resent.encode(),
        })
        .await;
    let mut answered = false;
    while let Some(message) = offering.next().await {
        match message {
            WireMessage::Refused { reason, .. } => panic!("refused: {reason}"),
            WireMessage::Sync { document_id, .. } if document_id == school.to_string() => {
                answered = true;
            }
            _ => {}
        }
    }
    assert!(answered, "the relay answers the offer");
    let mut after = Document::create(school.clone(), &automerge::ActorId::random()).expect("copy");
    let (mut checking, _) = RawClient::join(&relay, &token).await;
    assert_eq!(
        raw_sync(&mut checking, &mut after, false).await,
        Access::Granted
    );
    assert_eq!(after.heads(), held, "the relay's copy is as it was");
}
