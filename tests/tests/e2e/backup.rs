//! Restore drill (regulation 6.1, 7.2): fill a relay, back it up while it serves, lose it, restore the
//! snapshot into a new data directory. Every document comes back with the snapshot's heads, and devices
//! send in everything newer: nothing is lost. A damaged snapshot is refused and nothing is written.

use journal_core::sync::client::{
    ClientError, NoListener, RelayConfig, issue_code, redeem_code, sync_now,
};
use journal_e2e::{Access, Device, RawClient, Relay, raw_sync};

use crate::{lesson_5a, mark, student, year_of};

/// A new access code for the class teacher of 5a, issued by the director.
async fn class_teacher_code(relay: &Relay) -> String {
    let code = issue_code(
        &RelayConfig::new(&relay.url, &relay.token("director")),
        "staff".parse().expect("role"),
        Some("t-5a"),
        None,
        None,
    )
    .await
    .expect("a code");
    relay.secret(&code);
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_relay_gets_back_everything_newer_from_the_devices() {
    let mut relay = Relay::start_demo();
    let data = relay.data_dir().to_owned();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lessons: Vec<_> = (0..3u8)
        .map(|i| lesson_5a(&mut teacher, 7 + i, 1, "russian", "t-5a"))
        .collect();
    teacher
        .journal
        .put_mark(&student("s5a1"), &lessons[0], &mark(5, "oral"))
        .expect("mark");
    teacher.sync().await;

    // A snapshot while the relay serves.
    let backups = data.with_file_name("backups");
    let data_arg = data.to_str().expect("path");
    let out = Relay::cli(&[
        "backup",
        "--data-dir",
        data_arg,
        "--backups",
        backups.to_str().expect("path"),
        "now",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot = std::fs::read_dir(&backups)
        .expect("backups")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "jbak"))
        .expect("a snapshot");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(snapshot.with_extension("manifest.json")).expect("manifest"),
    )
    .expect("json");

    // After the snapshot: one mark synced, one still only on the tablet.
    teacher
        .journal
        .put_mark(&student("s5a1"), &lessons[1], &mark(4, "oral"))
        .expect("mark");
    teacher.sync().await;
    // A parent's phone receives that mark too.
    let mut phone = Device::new(&relay, &relay.token("parent-s5a1"));
    phone.sync().await;
    teacher
        .journal
        .put_mark(&student("s5a1"), &lessons[2], &mark(3, "oral"))
        .expect("mark");

    // Then a second tablet signs in, and its three marks reach the relay (and no other tablet).
    let code = class_teacher_code(&relay).await;
    let mut late = Device::new(&relay, "");
    let signed_in = redeem_code(
        &relay.url,
        &code,
        "второй планшет",
        None,
        None,
        Some(&mut late.journal),
    )
    .await
    .expect("signed in");
    late.config.token = signed_in.token.expect("token");
    relay.secret(&late.config.token);
    late.sync().await;
    for (i, kid) in ["s5a2", "s5a3", "s5a2"].iter().enumerate() {
        let lesson = lesson_5a(&mut late, 20 + i as u8, 2, "russian", "t-5a");
        late.journal
            .put_mark(&student(kid), &lesson, &mark(4, "oral"))
            .expect("mark");
    }
    assert!(late.sync().await.refused.is_empty());

    // The server is lost. The IT officer restores into a new directory from the USB stick, where the
    // snapshot was copied alone, beside the key kept there.
    relay.kill();
    let restored = data.with_file_name("restored");
    let usb = data.with_file_name("usb");
    std::fs::create_dir(&usb).expect("usb");
    let key = usb.join("backup.key");
    std::fs::copy(data.join("backup.key"), &key).expect("the key on the stick");
    let alone = usb.join("school.jbak");
    std::fs::copy(&snapshot, &alone).expect("the snapshot on the stick");
    let key_arg = key.to_str().expect("path");
    let restored_arg = restored.to_str().expect("path");
    let snapshot_arg = snapshot.to_str().expect("path");
    let verified = Relay::cli(&[
        "backup",
        "--data-dir",
        data_arg,
        "verify",
        alone.to_str().expect("path"),
        "--key",
        key_arg,
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // Not over a directory that holds a relay database…
    let refused = Relay::cli(&["restore", snapshot_arg, "--to", data_arg, "--key", key_arg]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds a relay database"));
    // …but into a new one.
    let out = Relay::cli(&[
        "restore",
        alone.to_str().expect("path"),
        "--to",
        restored_arg,
        "--key",
        key_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored_relay = Relay::start_at(&restored, relay.tokens.clone());

    // Every document is back with the snapshot's heads.
    let mut director = Device::new(&restored_relay, &restored_relay.token("director"));
    director.sync().await;
    for doc in manifest["documents"].as_array().expect("documents") {
        let id: journal_core::DocId = doc["id"].as_str().expect("id").parse().expect("doc id");
        let mut heads: Vec<String> = doc["heads"]
            .as_array()
            .expect("heads")
            .iter()
            .map(|h| h.as_str().expect("hex").to_owned())
            .collect();
        heads.sort();
        if director.journal.document(&id).is_some() {
            assert_eq!(director.journal.heads_hex(&id), heads, "{id}");
        }
    }
    let parent_token = restored_relay.token("parent-s5a1");
    let mut before = Device::new(&restored_relay, &parent_token);
    before.sync().await;
    assert_eq!(
        before
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks")
            .len(),
        1
    );

    // The parent's phone holds a mark the restored relay lacks. It is the teacher's, not the parent's:
    // the phone does not offer it, keeps it, and its feed repeats nothing.
    phone.config.url = restored_relay.url.clone();
    let feed = phone.journal.news().expect("news").len();
    let report = phone.sync().await;
    assert!(
        report.refused.is_empty() && report.sent.is_empty(),
        "{report:?}"
    );
    assert!(phone.journal.refused_edits().expect("list").is_empty());
    assert_eq!(
        phone.journal.news().expect("news").len(),
        feed,
        "the feed repeats nothing"
    );
    let s5a1 = crate::student_doc(year, "s5a1");
    assert_eq!(
        phone
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks")
            .len(),
        2,
        "the phone keeps the mark the relay lost"
    );
    // A client that does offer it (an older app, a stock Automerge peer) is not refused either: the
    // audit trail gives the change to the teacher, so the relay leaves it aside for the teacher's tablet.
    let held = phone.journal.document(&s5a1).expect("held").snapshot();
    let mut replica =
        journal_core::docs::Document::load(s5a1.clone(), &held, &automerge::ActorId::random())
            .expect("replica");
    let (mut offering, _) = RawClient::join(&restored_relay, &parent_token).await;
    assert_eq!(
        raw_sync(&mut offering, &mut replica, false).await,
        Access::Granted
    );
    // A parent's own edit is still refused (in a new session: in this one, the relay has told the
    // client it takes nothing from it, and Automerge's client then offers nothing).
    let own_lesson = "l-own".parse().expect("id");
    replica
        .put_attendance(
            &own_lesson,
            &journal_core::Attendance {
                subject: "math".parse().expect("id"),
                date: time::Date::from_calendar_date(i32::from(year.0), time::Month::September, 7)
                    .expect("date"),
                period: 1,
                code: None,
                note: "the parent's own".into(),
            },
        )
        .expect("local edit");
    let (mut editing, _) = RawClient::join(&restored_relay, &parent_token).await;
    assert!(matches!(
        raw_sync(&mut editing, &mut replica, false).await,
        Access::Refused(reason) if reason.contains("not change")
    ));

    // The tablet syncs: the relay gets back the synced-after-snapshot mark and the offline one.
    teacher.config.url = restored_relay.url.clone();
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");
    let mut parent = Device::new(&restored_relay, &parent_token);
    parent.sync().await;
    let marks = parent
        .journal
        .student_marks(year, &student("s5a1"), None, None)
        .expect("marks");
    let values: Vec<String> = marks.iter().map(|m| m.mark.value.to_string()).collect();
    assert_eq!(values, ["5", "4", "3"], "nothing is lost");
    assert_eq!(
        std::fs::read(restored.join("backup.key")).expect("key"),
        std::fs::read(&key).expect("key"),
        "the restored relay seals its snapshots with the key on the stick"
    );

    // The tablet signed in after the snapshot is unknown to the restored relay: it is told to sign in
    // again, does so with a new code, and its three marks go out.
    late.config.url = restored_relay.url.clone();
    let refused = sync_now(&mut late.journal, &late.config, &NoListener).await;
    assert!(
        matches!(refused, Err(ClientError::Unauthorized)),
        "{refused:?}"
    );
    let code = class_teacher_code(&restored_relay).await;
    let again = redeem_code(
        &restored_relay.url,
        &code,
        "второй планшет",
        Some(journal_core::sync::client::SignedIn {
            token: &late.config.token,
            keep_account: None,
        }),
        None,
        Some(&mut late.journal),
    )
    .await
    .expect("the stale sign-in does not stand in the way");
    late.config.token = again.token.expect("a new token");
    restored_relay.secret(&late.config.token);
    let report = late.sync().await;
    assert!(
        report.refused.is_empty() && report.sent.len() >= 2,
        "{report:?}"
    );
    let mut director = Device::new(&restored_relay, &restored_relay.token("director"));
    director.sync().await;
    for kid in ["s5a2", "s5a3"] {
        assert!(
            !director
                .journal
                .student_marks(year, &student(kid), None, None)
                .expect("marks")
                .is_empty(),
            "{kid}'s mark from the late tablet is back"
        );
    }

    // A damaged snapshot is refused by verify and by restore, and restore writes nothing.
    let mut bytes = std::fs::read(&snapshot).expect("snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snapshot, bytes).expect("damage");
    let verify = Relay::cli(&[
        "backup",
        "--data-dir",
        data_arg,
        "verify",
        snapshot_arg,
        "--key",
        key_arg,
    ]);
    assert!(!verify.status.success());
    assert!(
        String::from_utf8_lossy(&verify.stderr)
            .contains("the key is wrong or the file was damaged")
    );
    let elsewhere = data.with_file_name("elsewhere");
    let out = Relay::cli(&[
        "restore",
        snapshot_arg,
        "--to",
        elsewhere.to_str().expect("path"),
        "--key",
        key_arg,
    ]);
    assert!(!out.status.success());
    assert!(!elsewhere.join("relay.db").exists(), "nothing written");
    drop(restored_relay);
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_year_refuses_writes_and_its_signed_bundle_verifies_until_tampered_with() {
    let relay = Relay::start_demo();
    let data = relay.data_dir().to_owned();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 10, 2, "history", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(4, "oral"))
        .expect("mark");
    teacher.sync().await;

    let bundle = data.with_file_name("archive");
    let data_arg = data.to_str().expect("path");
    let bundle_arg = bundle.to_str().expect("path");
    let year_arg = year.to_string();
    let freeze = |extra: &[&str]| {
        let mut args = vec![
            "archive",
            "--data-dir",
            data_arg,
            "freeze",
            "--year",
            &year_arg,
            "--out",
            bundle_arg,
        ];
        args.extend_from_slice(extra);
        Relay::cli(&args)
    };
    // The year is still running: freezing it needs --force; and a script must say --yes.
    let early = freeze(&["--yes"]);
    assert!(!early.status.success());
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(
        said.contains(&format!("{year} runs until")) && said.contains("--force"),
        "{said}"
    );
    let unconfirmed = freeze(&["--force"]);
    assert!(!unconfirmed.status.success());
    assert!(String::from_utf8_lossy(&unconfirmed.stdout).contains("read-only for everyone"));
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
    assert!(!bundle.exists(), "nothing was frozen or written");
    let out = freeze(&["--force", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("5А"),
        "the outline names the classes"
    );
    assert!(
        bundle
            .join("documents")
            .join(format!("{year}_student_s5a2.json"))
            .exists()
    );
    let json = std::fs::read_to_string(
        bundle
            .join("documents")
            .join(format!("{year}_student_s5a2.json")),
    )
    .expect("json");
    assert!(json.contains("oral"), "the readable copy holds the mark");

    // Writes to the frozen year are refused, with a message that says why; the edit is kept on the tablet.
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(5, "oral"))
        .expect("local edit");
    let report = teacher.sync().await;
    assert_eq!(report.refused.len(), 1, "{report:?}");
    let refused = teacher.journal.refused_edits().expect("list");
    assert!(refused[0].reason.contains("is archived"), "{refused:?}");

    let verify = |bundle: &str| Relay::cli(&["archive", "--data-dir", data_arg, "verify", bundle]);
    let ok = verify(bundle_arg);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A changed file or a changed signature fails verification.
    let file = bundle
        .join("documents")
        .join(format!("{year}_student_s5a2.json"));
    std::fs::write(&file, json.replace("oral", "test")).expect("tamper");
    let tampered = verify(bundle_arg);
    assert!(!tampered.status.success());
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("was changed"));
    std::fs::write(&file, &json).expect("restore the file");
    let mut signature = std::fs::read(bundle.join("manifest.sig")).expect("sig");
    signature[0] ^= 1;
    std::fs::write(bundle.join("manifest.sig"), signature).expect("tamper");
    let forged = verify(bundle_arg);
    assert!(!forged.status.success());
    assert!(String::from_utf8_lossy(&forged.stderr).contains("signature does not match"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollover_makes_5a_into_6a_with_its_students_and_guardians_and_keeps_last_year() {
    let relay = Relay::start_demo();
    let data = relay.data_dir().to_owned();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 11, 3, "literature", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("mark");
    teacher.sync().await;
    let last_year_doc = crate::student_doc(year, "s5a1");
    let heads_before = teacher.journal.heads_hex(&last_year_doc);

    let data_arg = data.to_str().expect("path");
    let unconfirmed = Relay::cli(&[
        "archive",
        "--data-dir",
        data_arg,
        "rollover",
        "--from",
        &year.to_string(),
    ]);
    assert!(!unconfirmed.status.success(), "a script must say --yes");
    let out = Relay::cli(&[
        "archive",
        "--data-dir",
        data_arg,
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
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("5a → 6a") && printed.contains("6b → 7b"),
        "{printed}"
    );

    let next = journal_core::YearId(year.0 + 1);
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    let new_class: journal_core::ClassId = "6a".parse().expect("id");
    let start = parent
        .journal
        .school_settings(next)
        .expect("next year synced")
        .year
        .start;
    let mut roster: Vec<String> = parent
        .journal
        .roster(next, &new_class, start)
        .expect("the new class")
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    roster.sort();
    assert_eq!(roster, ["s5a1", "s5a2", "s5a3"], "the same students");
    assert!(
        parent
            .journal
            .document(&crate::student_doc(next, "s5a1"))
            .is_some(),
        "the guardian follows the child"
    );
    assert!(
        parent
            .journal
            .document(&crate::student_doc(next, "s5a2"))
            .is_none(),
        "and sees no other child"
    );
    assert_eq!(
        parent.journal.heads_hex(&last_year_doc),
        heads_before,
        "last year's marks untouched"
    );
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks")
            .len(),
        1
    );
    // The class teacher moved up with the class and can write next year's documents.
    teacher.sync().await;
    let next_lesson = teacher
        .journal
        .add_lesson(
            next,
            &new_class,
            &journal_core::NewLesson {
                date: start,
                period: 1,
                subject: "russian".parse().expect("id"),
                teacher: "t-5a".parse().expect("id"),
                topic: "Повторение".into(),
            },
        )
        .expect("lesson next year");
    teacher
        .journal
        .put_mark(&student("s5a1"), &next_lesson, &mark(4, "oral"))
        .expect("mark");
    let report = teacher.sync().await;
    assert!(report.refused.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_taken_while_clients_sync_verify_and_restore() {
    let relay = Relay::start_demo();
    let data = relay.data_dir().to_owned();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let lessons: Vec<_> = (0..8u8)
        .map(|i| lesson_5a(&mut teacher, 1 + i, 4, "literature", "t-5a"))
        .collect();
    teacher.sync().await;
    // A teacher keeps marking and syncing while three snapshots are taken.
    let writer = tokio::spawn(async move {
        for (i, lesson) in lessons.iter().enumerate() {
            for kid in ["s5a1", "s5a2", "s5a3"] {
                teacher
                    .journal
                    .put_mark(&student(kid), lesson, &mark(2 + (i % 4) as u8, "classwork"))
                    .expect("mark");
            }
            teacher.sync().await;
        }
    });
    let backups = data.with_file_name("backups-under-load");
    let data_arg = data.to_str().expect("path").to_owned();
    let backups_arg = backups.to_str().expect("path").to_owned();
    for _ in 0..3 {
        let (d, b) = (data_arg.clone(), backups_arg.clone());
        let out = tokio::task::spawn_blocking(move || {
            Relay::cli(&["backup", "--data-dir", &d, "--backups", &b, "now"])
        })
        .await
        .expect("backup");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    writer.await.expect("writer");
    let key = data.join("backup.key");
    let snapshots: Vec<_> = std::fs::read_dir(&backups)
        .expect("backups")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jbak"))
        .collect();
    assert!(!snapshots.is_empty());
    for (i, snapshot) in snapshots.iter().enumerate() {
        let snapshot_arg = snapshot.to_str().expect("path");
        let out = Relay::cli(&["backup", "--data-dir", &data_arg, "verify", snapshot_arg]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = data.with_file_name(format!("restored-{i}"));
        let out = Relay::cli(&[
            "restore",
            snapshot_arg,
            "--to",
            target.to_str().expect("path"),
            "--key",
            key.to_str().expect("path"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::copy(&key, target.join("backup.key")).expect("key");
        let restored = Relay::start_at(&target, relay.tokens.clone());
        let mut director = Device::new(&restored, &restored.token("director"));
        director.sync().await;
        assert!(
            director.journal.documents().count() >= 15,
            "every document loads from snapshot {i}"
        );
    }
}
