//! Conversations through the real relay: written offline, delivered in order, read state travelling back;
//! who may start a conversation with whom, enforced even against a raw client; the "what is new" feed;
//! announcements and the weekly digest.

use base64::Engine;
use journal_core::docs::Document;
use journal_core::messages::Audience;
use journal_core::news::NewsItem;
use journal_core::sync::SyncEvent;
use journal_core::{
    Attachment, ClassId, DocId, Message, MessageId, Participant, ThreadId, ThreadInfo, ThreadKind,
    YearId,
};
use journal_e2e::{Access, Device, RawClient, Relay, raw_sync};

use crate::{attendance, lesson_5a, mark, student, year_of};

fn to(account: &str) -> Participant {
    Participant::Account(account.to_owned())
}

fn class_5a() -> ClassId {
    "5a".parse().expect("id")
}

async fn signed_in(relay: &Relay, account: &str) -> Device {
    let mut device = Device::new(relay, &relay.token(account));
    device.sync().await;
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_writes_offline_the_teacher_answers_and_read_state_travels_back() {
    let relay = Relay::start_demo();
    let mut parent = signed_in(&relay, "parent-s5a1").await;
    let mut teacher = signed_in(&relay, "t-5a").await;

    // Offline: the parent writes twice, with a photo of a sick note on the first message.
    let photo = vec![0xFF_u8; 40 * 1024];
    let sick_note = Attachment {
        name: "справка.jpg".into(),
        mime: "image/jpeg".into(),
        data: base64::engine::general_purpose::STANDARD.encode(&photo),
    };
    let thread = parent
        .journal
        .start_conversation(
            &[to("t-5a")],
            "Пропуск 7 сентября",
            "Здравствуйте! Ваня болел, справка приложена.",
            vec![sick_note],
        )
        .expect("conversation");
    parent
        .journal
        .send_message(
            &thread,
            "Домашнее задание он сделает к пятнице.",
            Vec::new(),
        )
        .expect("second message");
    let too_big = Attachment {
        name: "scan.png".into(),
        mime: "image/png".into(),
        data: base64::engine::general_purpose::STANDARD.encode(vec![0u8; 600 * 1024]),
    };
    let refused = parent
        .journal
        .send_message(&thread, "скан", vec![too_big])
        .expect_err("too large");
    assert!(
        refused.to_string().contains("limit is 512 KiB"),
        "{refused}"
    );

    let report = parent.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");
    teacher.sync().await;

    let threads = teacher.journal.threads().expect("threads");
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0].thread, thread);
    assert_eq!(threads[0].unread, 2);
    // The tablet names the parent who wrote, as the directory has them; no other family is named on it.
    let year = threads[0].year;
    assert_eq!(
        teacher
            .journal
            .participant_name(year, "account:parent-s5a1"),
        "Родитель: Иванов Иван"
    );
    let families = teacher
        .journal
        .my_directory()
        .expect("directory")
        .expect("kept")
        .families;
    assert!(
        families
            .iter()
            .all(|f| f.student.as_str().starts_with("s5a")),
        "{families:?}"
    );
    // The family that has not signed the consent form is not named.
    assert!(
        families.iter().all(|f| f.student.as_str() != "s5a3"),
        "{families:?}"
    );
    assert!(
        parent
            .journal
            .my_directory()
            .expect("directory")
            .expect("kept")
            .families
            .is_empty(),
        "a parent learns no other family's names"
    );
    let messages = teacher.journal.thread_messages(&thread).expect("messages");
    let texts: Vec<&str> = messages.iter().map(|m| m.message.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Здравствуйте! Ваня болел, справка приложена.",
            "Домашнее задание он сделает к пятнице."
        ],
        "delivered in the order written"
    );
    let received = base64::engine::general_purpose::STANDARD
        .decode(&messages[0].message.attachments[0].data)
        .expect("base64");
    assert_eq!(received, photo, "the attachment arrives intact");
    assert!(messages.iter().all(|m| m.read_by.is_empty()));

    teacher.journal.mark_thread_read(&thread).expect("read");
    teacher
        .journal
        .send_message(&thread, "Спасибо, выздоравливайте!", Vec::new())
        .expect("reply");
    teacher.sync().await;
    parent.sync().await;

    let messages = parent.journal.thread_messages(&thread).expect("messages");
    assert_eq!(messages.len(), 3);
    assert!(
        messages[..2]
            .iter()
            .all(|m| m.mine && m.read_by == ["t-5a"]),
        "the parent sees that the teacher read both messages: {messages:?}"
    );
    assert!(!messages[2].mine);
    assert_eq!(parent.journal.threads().expect("threads")[0].unread, 1);
    let news = parent.journal.news().expect("news");
    assert_eq!(
        news,
        vec![NewsItem::Message {
            thread: thread.clone(),
            author: "t-5a".into(),
            text: "Спасибо, выздоравливайте!".into(),
        }],
        "the feed holds the teacher's answer, not the parent's own messages"
    );
}

/// A thread document as a hostile or buggy client would build it by hand.
fn forged_thread(year: YearId, participants: &[&str], author: &str) -> Document {
    let id = DocId::Thread(year, ThreadId::random());
    let mut doc = Document::create(id, &automerge::ActorId::random()).expect("thread");
    for participant in participants {
        doc.add_participant(participant).expect("participant");
    }
    doc.set_thread_info(&ThreadInfo {
        subject: "тема".into(),
        kind: ThreadKind::Conversation,
        started_by: author.into(),
        started_at: 1,
    })
    .expect("info");
    doc.put_message(
        &MessageId::new("0000000000001-aa").expect("id"),
        &Message {
            author: author.into(),
            written_at: 1,
            text: "привет".into(),
            attachments: Vec::new(),
        },
    )
    .expect("message");
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_reads_joins_or_starts_a_conversation_they_may_not() {
    let relay = Relay::start_demo();
    let mut parent = signed_in(&relay, "parent-s5a1").await;
    let year = year_of(&parent);
    let thread = parent
        .journal
        .start_conversation(&[to("t-5a")], "Вопрос", "Когда собрание?", Vec::new())
        .expect("conversation");
    parent.sync().await;
    let thread_doc = DocId::Thread(year, thread.clone());

    // Another family can neither read nor write it.
    let (mut other, _) = RawClient::join(&relay, &relay.token("p-ivanova")).await;
    let mut replica =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("replica");
    assert_eq!(
        raw_sync(&mut other, &mut replica, false).await,
        Access::Unavailable
    );
    let mut copy =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("copy");
    copy.put_message(
        &MessageId::new("0000000000001-aa").expect("id"),
        &Message {
            author: "p-ivanova".into(),
            written_at: 1,
            text: "я тоже тут".into(),
            attachments: Vec::new(),
        },
    )
    .expect("message");
    assert_eq!(
        raw_sync(&mut other, &mut copy, true).await,
        Access::Unavailable,
        "writing into someone else's conversation"
    );

    // Starting a conversation with another family, or with a teacher who does not teach their children.
    for (participants, expected) in [
        (
            vec!["account:p-ivanova", "guardians:s5a1"],
            "only staff may start a conversation with a family",
        ),
        (
            vec!["account:p-ivanova", "account:parent-s5a1"],
            "parents may write to the staff who teach their children",
        ),
        (vec!["account:p-ivanova"], "someone besides its author"),
        (
            vec!["account:parent-s5a1", "account:t-5a"],
            "must list its author",
        ),
    ] {
        let mut intruder = forged_thread(year, &participants, "p-ivanova");
        let outcome = raw_sync(&mut other, &mut intruder, true).await;
        assert!(
            matches!(&outcome, Access::Refused(reason) if reason.contains(expected)),
            "{participants:?}: {outcome:?}"
        );
    }
    let (mut first_family, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let mut wrong_teacher = forged_thread(
        year,
        &["account:parent-s5a1", "account:t-6b"],
        "parent-s5a1",
    );
    assert!(matches!(
        raw_sync(&mut first_family, &mut wrong_teacher, true).await,
        Access::Refused(reason) if reason.contains("t-6b")
    ));
    // p-ivanova has a child in 6b: writing to its class teacher is allowed.
    let mut allowed = forged_thread(year, &["account:p-ivanova", "account:t-6b"], "p-ivanova");
    assert_eq!(
        raw_sync(&mut other, &mut allowed, true).await,
        Access::Granted
    );

    // Inside their own conversation, a participant cannot add someone, or write in another's name.
    let mut own = Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("own");
    assert_eq!(
        raw_sync(&mut first_family, &mut own, false).await,
        Access::Granted
    );
    own.add_participant("account:p-ivanova").expect("edit");
    assert!(matches!(
        raw_sync(&mut first_family, &mut own, true).await,
        Access::Refused(reason) if reason.contains("participants of a conversation cannot change")
    ));
    let (mut first_family, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let mut forged =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("own");
    raw_sync(&mut first_family, &mut forged, false).await;
    forged
        .put_message(
            &MessageId::new("9999999999999-ff").expect("id"),
            &Message {
                author: "t-5a".into(),
                written_at: 2,
                text: "Собрание отменено".into(),
                attachments: Vec::new(),
            },
        )
        .expect("edit");
    assert!(matches!(
        raw_sync(&mut first_family, &mut forged, true).await,
        Access::Refused(reason) if reason.contains("only \"parent-s5a1\" may deliver it")
    ));
    // A client that skips the device's own check still cannot store an attachment over the limit.
    let (mut first_family, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let mut oversized =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("own");
    raw_sync(&mut first_family, &mut oversized, false).await;
    oversized
        .put_message(
            &MessageId::new("9999999999999-fe").expect("id"),
            &Message {
                author: "parent-s5a1".into(),
                written_at: 3,
                text: "скан".into(),
                attachments: vec![Attachment {
                    name: "scan.png".into(),
                    mime: "image/png".into(),
                    data: base64::engine::general_purpose::STANDARD.encode(vec![7u8; 600 * 1024]),
                }],
            },
        )
        .expect("edit");
    let outcome = raw_sync(&mut first_family, &mut oversized, true).await;
    assert!(
        matches!(&outcome, Access::Refused(reason) if reason.contains("the limit is 512 KiB")),
        "{outcome:?}"
    );

    // The device refuses it too, before anything is written, with words the parent can act on.
    let mut ivanova = signed_in(&relay, "p-ivanova").await;
    let refused = ivanova
        .journal
        .start_conversation(
            &[Participant::Guardians(student("s5a1"))],
            "Привет",
            "…",
            Vec::new(),
        )
        .expect_err("another family");
    assert!(
        refused
            .to_string()
            .contains("you can write to the teachers of your children"),
        "{refused}"
    );
    // And the conversation stayed between the parent and the teacher.
    let mut teacher = signed_in(&relay, "t-5a").await;
    let texts: Vec<String> = teacher
        .journal
        .thread_messages(&thread)
        .expect("thread")
        .into_iter()
        .map(|m| m.message.text)
        .collect();
    assert_eq!(texts, ["Когда собрание?"]);
    teacher.sync().await;
    assert!(
        !ivanova
            .journal
            .threads()
            .expect("threads")
            .iter()
            .any(|t| t.thread == thread)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_lists_exactly_what_is_new_then_nothing_once_seen() {
    let relay = Relay::start_demo();
    let mut teacher = signed_in(&relay, "t-5a").await;
    let mut parent = signed_in(&relay, "parent-s5a1").await;
    parent.journal.mark_news_seen().expect("seen");
    assert!(parent.journal.news().expect("news").is_empty());

    let lesson = lesson_5a(&mut teacher, 8, 1, "russian", "t-5a");
    let other_lesson = lesson_5a(&mut teacher, 8, 2, "history", "t-5a");
    teacher
        .journal
        .mark_attendance(
            &other_lesson,
            &[attendance("s5a1", Some("н")), attendance("s5a2", Some("н"))],
        )
        .expect("attendance");
    let first = teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(3, "oral"))
        .expect("mark");
    teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(5, "oral"))
        .expect("another child's mark");
    teacher
        .journal
        .set_homework(&lesson, "Упр. 12", None)
        .expect("homework");
    teacher.sync().await;
    let (_, events) = parent.sync_with_events().await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SyncEvent::NewsGrew { items: 3 })),
        "the app is told the feed grew: {events:?}"
    );

    let news = parent.journal.news().expect("news");
    let year = year_of(&parent);
    let date =
        time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 8).expect("date");
    assert!(news.contains(&NewsItem::Mark {
        student: student("s5a1"),
        subject: "russian".parse().expect("id"),
        date,
        value: journal_core::MarkValue::Grade(3),
        previous: None,
    }));
    assert!(news.contains(&NewsItem::Absence {
        student: student("s5a1"),
        subject: "history".parse().expect("id"),
        date,
        code: "н".into(),
    }));
    assert!(
        news.iter()
            .any(|n| matches!(n, NewsItem::Homework { text, .. } if text == "Упр. 12"))
    );
    assert_eq!(
        news.len(),
        3,
        "exactly the new items, nothing about other children: {news:?}"
    );

    // Unseen items already on the phone are not news again: a sync that brings a change that is not news
    // (a lesson's topic) says something arrived, not that the feed grew.
    teacher
        .journal
        .set_topic(&lesson, "Имя существительное")
        .expect("topic");
    teacher.sync().await;
    let (_, events) = parent.sync_with_events().await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SyncEvent::Received { .. })),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, SyncEvent::NewsGrew { .. })),
        "{events:?}"
    );
    parent.journal.mark_news_seen().expect("seen");
    assert!(parent.journal.news().expect("news").is_empty());

    // A changed mark shows old → new.
    let replaced = teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "oral"))
        .expect("mark");
    assert_eq!(
        replaced, first,
        "a lesson's mark of one kind is changed in place"
    );
    teacher.sync().await;
    parent.sync().await;
    let news = parent.journal.news().expect("news");
    assert!(
        news.iter().any(|n| matches!(
            n,
            NewsItem::Mark {
                value: journal_core::MarkValue::Grade(4),
                previous: Some(journal_core::MarkValue::Grade(3)),
                ..
            }
        )),
        "{news:?}"
    );
    parent.journal.mark_news_seen().expect("seen");
    parent.sync().await;
    assert!(parent.journal.news().expect("news").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_reaches_every_family_of_the_class_and_nobody_else() {
    let relay = Relay::start_demo();
    let mut teacher = signed_in(&relay, "t-5a").await;
    let year = year_of(&teacher);
    let threads = teacher
        .journal
        .announce(
            year,
            &class_5a(),
            Audience::Parents,
            "Родительское собрание",
            "Собрание в четверг в 18:00, каб. 12.",
        )
        .expect("announcement");
    assert_eq!(threads.len(), 3, "one conversation per family of 5a");
    let to_students = teacher
        .journal
        .announce(
            year,
            &class_5a(),
            Audience::Students,
            "Экскурсия",
            "В пятницу экскурсия.",
        )
        .expect("to students");
    teacher.sync().await;

    let announcements = |device: &Device| -> Vec<String> {
        device
            .journal
            .threads()
            .expect("threads")
            .into_iter()
            .filter_map(|t| t.last.map(|m| m.message.text))
            .collect()
    };
    for parent in ["parent-s5a1", "parent-s5a2", "parent-s5a3", "p-ivanova"] {
        let device = signed_in(&relay, parent).await;
        assert_eq!(
            announcements(&device),
            ["Собрание в четверг в 18:00, каб. 12."],
            "{parent}"
        );
    }
    let student_device = signed_in(&relay, "student-s5a1").await;
    assert_eq!(announcements(&student_device), ["В пятницу экскурсия."]);
    for outsider in ["parent-s6b1", "t-6b", "t-math", "director", "student-s6b1"] {
        let device = signed_in(&relay, outsider).await;
        assert!(announcements(&device).is_empty(), "{outsider} sees nothing");
    }
    assert_eq!(to_students.len(), 3);

    // A reply goes back to the teacher only.
    let mut parent = signed_in(&relay, "parent-s5a2").await;
    let own = parent.journal.threads().expect("threads")[0].thread.clone();
    parent
        .journal
        .send_message(&own, "Придём.", Vec::new())
        .expect("reply");
    parent.sync().await;
    teacher.sync().await;
    let replies: Vec<String> = teacher
        .journal
        .thread_messages(&own)
        .expect("thread")
        .into_iter()
        .map(|m| m.message.text)
        .collect();
    assert_eq!(replies.last().map(String::as_str), Some("Придём."));
    let other_family = signed_in(&relay, "parent-s5a1").await;
    assert!(
        !announcements(&other_family).contains(&"Придём.".to_owned()),
        "another family does not see the reply"
    );

    // Only the class teacher announces to the class.
    let mut math = signed_in(&relay, "t-math").await;
    let refused = math
        .journal
        .announce(year, &class_5a(), Audience::Parents, "Тема", "Текст")
        .expect_err("not the class teacher");
    assert!(
        refused.to_string().contains("only the class teacher of 5a"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_digest_for_a_class_of_25_holds_each_students_true_week() {
    let relay = Relay::start_demo();
    let director = relay.token("director");
    // 22 more students join 5a (25 in all), each with a parent account.
    let mut csv = String::from("class,student_id,student_name,guardian_id,guardian_name\n");
    for i in 4..=25 {
        csv.push_str(&format!(
            "5a,s5a{i},Ученик {i},parent-s5a{i},Родитель {i}\n"
        ));
    }
    let imported = reqwest::Client::new()
        .post(format!("{}/v1/admin/roster", relay.url))
        .bearer_auth(&director)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    assert!(
        imported.status().is_success(),
        "{:?}",
        imported.text().await
    );

    let mut teacher = signed_in(&relay, "t-5a").await;
    let year = year_of(&teacher);
    let first_day =
        time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 1).expect("date");
    for i in 4..=25 {
        teacher
            .journal
            .enrol_student(
                year,
                &class_5a(),
                &student(&format!("s5a{i}")),
                &format!("Ученик {i}"),
                first_day,
            )
            .expect("enrol");
    }
    // The week: the first Monday on or after 10 September.
    let mut monday = time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 10)
        .expect("date");
    while monday.weekday() != time::Weekday::Monday {
        monday = monday.next_day().expect("date");
    }
    let day = |offset: i64| (monday + time::Duration::days(offset)).day();
    let students: Vec<String> = (1..=25).map(|i| format!("s5a{i}")).collect();
    let russian = lesson_5a(&mut teacher, day(0), 1, "russian", "t-5a");
    let literature = lesson_5a(&mut teacher, day(2), 1, "literature", "t-5a");
    let history = lesson_5a(&mut teacher, day(4), 1, "history", "t-5a");
    let next_week = lesson_5a(&mut teacher, day(7), 1, "russian", "t-5a");
    let before = lesson_5a(&mut teacher, day(-3), 1, "history", "t-5a");
    teacher
        .journal
        .batch(|j| {
            let everyone: Vec<_> = students
                .iter()
                .enumerate()
                .map(|(i, s)| attendance(s, ((i + 1) % 5 == 0).then_some("н")))
                .collect();
            j.mark_attendance(&russian, &everyone)?;
            let mut wednesday: Vec<_> = students.iter().map(|s| attendance(s, None)).collect();
            wednesday[0].code = Some("б".into());
            wednesday[0].note = "справка".into();
            j.mark_attendance(&literature, &wednesday)?;
            for (i, s) in students.iter().enumerate() {
                j.put_mark(
                    &student(s),
                    &russian,
                    &mark(((i + 1) % 4) as u8 + 2, "oral"),
                )?;
            }
            let mut test = mark(4, "test");
            test.comment = "Хорошая работа".into();
            j.put_mark(&student("s5a1"), &history, &test)?;
            j.put_mark(&student("s5a1"), &next_week, &mark(2, "oral"))?;
            j.put_mark(&student("s5a1"), &before, &mark(5, "oral"))?;
            Ok(())
        })
        .expect("the week");

    let digests = teacher
        .journal
        .weekly_digest(year, &class_5a(), monday + time::Duration::days(2))
        .expect("digest");
    assert_eq!(digests.len(), 25);
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");

    // Worked out by hand for Иванов Иван (s5a1): a 3 on Monday (index 1 → 1 % 4 + 2), the test on Friday
    // with its comment, ill on Wednesday with a note; the marks of the weeks around are not in it.
    let dm = |offset: i64| {
        let d = monday + time::Duration::days(offset);
        format!("{:02}.{:02}", d.day(), u8::from(d.month()))
    };
    let expected = format!(
        "Иванов Иван, 5А класс\n\
         Неделя {}.{y} – {}.{y}\n\
         \n\
         Оценки:\n  \
         пн {} Русский язык: 3 (Устный ответ)\n  \
         пт {} История: 4 (Контрольная работа)\n\
         \n\
         Пропуски и опоздания:\n  \
         ср {} Литература, 5-й урок: б (болел)\n\
         \n\
         Замечания учителей:\n  \
         ср {} Литература: справка\n  \
         пт {} История: Хорошая работа\n",
        dm(0),
        dm(6),
        dm(0),
        dm(4),
        dm(2),
        dm(2),
        dm(4),
        y = monday.year()
    );
    let mut parent = signed_in(&relay, "parent-s5a1").await;
    let threads = parent.journal.threads().expect("threads");
    assert_eq!(threads.len(), 1, "one digest for the family");
    let digest = threads[0].last.as_ref().expect("message");
    assert_eq!(digest.message.text, expected);
    assert_eq!(
        threads[0].info.as_ref().map(|i| i.kind),
        Some(ThreadKind::Digest)
    );
    parent.sync().await;

    // Student 10 (index 9) was absent on Monday ((9 + 1) % 5 == 0) and got (9 + 1) % 4 + 2 = 4.
    let token = reqwest::Client::new()
        .post(format!("{}/v1/admin/devices", relay.url))
        .bearer_auth(&director)
        .json(&serde_json::json!({ "account": "parent-s5a10", "label": "phone" }))
        .send()
        .await
        .expect("device")
        .json::<serde_json::Value>()
        .await
        .expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    relay.secret(&token);
    let mut tenth = Device::new(&relay, &token);
    tenth.sync().await;
    let threads = tenth.journal.threads().expect("threads");
    assert_eq!(threads.len(), 1);
    let text = &threads[0].last.as_ref().expect("message").message.text;
    assert!(text.starts_with("Ученик 10, 5А класс\n"), "{text}");
    assert!(
        text.contains(&format!("пн {} Русский язык: 4 (Устный ответ)", dm(0))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "пн {} Русский язык, 5-й урок: н (отсутствовал)",
            dm(0)
        )),
        "{text}"
    );
    assert!(!text.contains("Замечания"), "{text}");
    assert!(!text.contains("Иванов"), "nothing of another child: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_ten_years_ahead_does_not_keep_its_conversation_on_top() {
    let relay = Relay::start_demo();
    let mut parent = signed_in(&relay, "parent-s5a1").await;
    let year = year_of(&parent);
    let ahead = parent
        .journal
        .start_conversation(
            &[to("t-5a")],
            "Справка",
            "Справку принесём завтра",
            Vec::new(),
        )
        .expect("conversation");
    parent.sync().await;

    // The parent's tablet, its clock ten years ahead, writes the next message.
    let thread_doc = DocId::Thread(year, ahead.clone());
    let (mut client, _) = RawClient::join(&relay, &relay.token("parent-s5a1")).await;
    let mut tablet =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("replica");
    assert_eq!(
        raw_sync(&mut client, &mut tablet, false).await,
        Access::Granted
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ten_years = 10 * 365 * 24 * 3600;
    let future_id = MessageId::new(format!("{:013}-f0", (now + ten_years) * 1000)).expect("id");
    tablet
        .put_message(
            &future_id,
            &Message {
                author: "parent-s5a1".into(),
                written_at: now + ten_years,
                text: "Спасибо!".into(),
                attachments: Vec::new(),
            },
        )
        .expect("message");
    assert_eq!(
        raw_sync(&mut client, &mut tablet, true).await,
        Access::Granted
    );
    // Nor may a tablet write the relay's stamp itself.
    let mut forger =
        Document::create(thread_doc.clone(), &automerge::ActorId::random()).expect("replica");
    raw_sync(&mut client, &mut forger, false).await;
    forger
        .stamp_arrivals(&[MessageId::new("0000000000001-ab").expect("id")], 1)
        .expect("raw stamp");
    let refused = raw_sync(&mut client, &mut forger, true).await;
    assert!(
        matches!(&refused, Access::Refused(reason) if reason.contains("only the relay records")),
        "{refused:?}"
    );

    // A later conversation, on a true clock, comes first; the message shows when it arrived.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut teacher = signed_in(&relay, "t-5a").await;
    let later = teacher
        .journal
        .start_conversation(
            &[to("parent-s5a2")],
            "Собрание",
            "Собрание в четверг",
            Vec::new(),
        )
        .expect("conversation");
    teacher.sync().await;
    let threads = teacher.journal.threads().expect("threads");
    let order: Vec<&ThreadId> = threads.iter().map(|t| &t.thread).collect();
    assert_eq!(order, [&later, &ahead], "newest activity first");
    let shown = threads[1].last.as_ref().expect("the tablet's message");
    assert_eq!(shown.id, future_id);
    let arrived = shown.arrived_at.expect("stamped by the relay");
    assert!(
        (arrived - now).abs() < 120 && shown.shown_at() == arrived,
        "shown at {} (arrived {arrived}, written {})",
        shown.shown_at(),
        shown.message.written_at
    );
    // A message written on a true clock keeps the time it was written.
    let first = &teacher.journal.thread_messages(&ahead).expect("messages")[0];
    assert_eq!(first.shown_at(), first.message.written_at);
    assert!(
        first.arrived_at.is_some(),
        "the first message is stamped too"
    );
}
