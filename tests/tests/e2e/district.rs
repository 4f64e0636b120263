//! A district's relays on one PostgreSQL database: a change accepted on one relay reaches a live parent on
//! the other; a relay killed during a teacher's sync loses nothing acknowledged and the device fails over;
//! writers on both relays converge; codes, revocation and the admin log hold across relays; a relay with
//! the wrong key or an unreachable database says so; backups and restore work for PostgreSQL. Every test
//! has a database of its own, dropped at its end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use journal_core::Journal;
use journal_core::sync::client::{NoListener, RelayConfig, SyncListener, run_live, sync_now};
use journal_core::sync::peer::SyncEvent;
use journal_core::sync::protocol::WireMessage;
use journal_e2e::{Device, RawClient, Relay, relay_binary, relay_heads};
use journal_relay::store::postgres::testing::TestDatabase;

use crate::{attendance, lesson_5a, mark, student, student_doc, year_of};

#[derive(Default)]
struct Heard(Mutex<Vec<SyncEvent>>);

impl SyncListener for Heard {
    fn on_event(&self, event: &SyncEvent) {
        self.0.lock().expect("lock").push(event.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_accepted_on_one_relay_reaches_a_live_parent_on_the_other_within_a_second() {
    let db = TestDatabase::create("live");
    let a = Relay::start_demo_on(db.url());
    let b = Relay::start_beside(&a, db.url());
    let mut teacher = Device::new(&a, &a.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 9, 3, "history", "t-5a");
    teacher.sync().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let parent = Arc::new(tokio::sync::Mutex::new(
        Journal::open(&dir.path().join("p.db")).expect("open"),
    ));
    let heard = Arc::new(Heard::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = tokio::spawn(run_live(
        parent.clone(),
        RelayConfig::new(&b.url, &b.token("parent-s5a1")),
        heard.clone(),
        stopped,
    ));
    let doc = student_doc(year, "s5a1");
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if heard
            .0
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, SyncEvent::Received { id } if *id == doc))
        {
            break;
        }
    }
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "test"))
        .expect("mark");
    teacher.sync().await;
    // From the moment relay A acknowledged the mark.
    let acknowledged = Instant::now();
    let mut arrived = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let journal = parent.lock().await;
        if journal
            .student_marks(year, &student("s5a1"), None, None)
            .map(|m| m.len())
            .unwrap_or(0)
            == 1
        {
            arrived = Some(acknowledged.elapsed());
            break;
        }
    }
    stop.send(true).expect("stop");
    live.await.expect("live task");
    let arrived = arrived.expect("the mark reached the parent connected to the other relay");
    assert!(arrived < Duration::from_secs(1), "took {arrived:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_during_a_sync_loses_nothing_acknowledged_and_the_device_fails_over() {
    let db = TestDatabase::create("failover");
    let mut a = Relay::start_demo_on(db.url());
    let b = Relay::start_beside(&a, db.url());
    let mut teacher = Device::new(&a, &a.token("t-5a"));
    teacher.config = RelayConfig::new(&format!("{},{}", a.url, b.url), &a.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let mut acknowledged = Vec::new();
    for day in 1..=4u8 {
        let lesson = lesson_5a(&mut teacher, day + 14, 1, "russian", "t-5a");
        teacher
            .journal
            .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
            .expect("mark");
        teacher.sync().await;
        acknowledged.push(lesson);
    }
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
        a.kill();
        a
    });
    let interrupted = sync_now(&mut journal, &config, &NoListener).await;
    let _a = killer.await.expect("killer");
    eprintln!(
        "the sync under the kill ended with: {:?}",
        interrupted.as_ref().map(|r| r.round_trips)
    );
    // Relay A is gone: the device's next sync goes to B by itself.
    let report = sync_now(&mut journal, &config, &NoListener)
        .await
        .expect("the device fails over to the other relay");
    assert!(report.refused.is_empty(), "{report:?}");

    let mut parent = Device::new(&b, &b.token("parent-s5a1"));
    parent.sync().await;
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks")
            .len(),
        acknowledged.len(),
        "every acknowledged mark is on the surviving relay"
    );
    let totals = parent
        .journal
        .attendance_totals(year, &student("s5a1"), crate::whole_year(year))
        .expect("totals");
    assert_eq!(totals.by_code["н"].lessons as usize, in_flight.len());
    for id in ["s5a1", "s5a2", "s5a3"] {
        let doc = student_doc(year, id);
        assert_eq!(
            relay_heads(&b, &b.token("director"), &doc).await,
            Some(journal.heads_hex(&doc)),
            "{id}: the surviving relay holds what the teacher holds"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_both_relays_at_once_converge() {
    let db = TestDatabase::create("converge");
    let a = Relay::start_demo_on(db.url());
    let b = Relay::start_beside(&a, db.url());
    let mut class_teacher = Device::new(&a, &a.token("t-5a"));
    let mut math = Device::new(&b, &b.token("t-math"));
    class_teacher.sync().await;
    math.sync().await;
    let year = year_of(&class_teacher);
    // Both write to the same students' documents, then sync at the same moment, three times over.
    for round in 0..3u8 {
        let history = lesson_5a(&mut class_teacher, 14 + round, 1, "history", "t-5a");
        let algebra = lesson_5a(&mut math, 14 + round, 2, "math", "t-math");
        for id in ["s5a1", "s5a2", "s5a3"] {
            class_teacher
                .journal
                .put_mark(&student(id), &history, &mark(5, "oral"))
                .expect("mark");
            math.journal
                .put_mark(&student(id), &algebra, &mark(4, "test"))
                .expect("mark");
        }
        let (left, right) = tokio::join!(class_teacher.sync(), math.sync());
        assert!(left.refused.is_empty() && right.refused.is_empty());
    }
    class_teacher.sync().await;
    math.sync().await;
    class_teacher.sync().await;
    let director = a.token("director");
    for id in ["s5a1", "s5a2", "s5a3"] {
        let doc = student_doc(year, id);
        let on_a = relay_heads(&a, &director, &doc).await;
        assert_eq!(on_a, relay_heads(&b, &director, &doc).await, "{id}");
        assert_eq!(on_a, Some(class_teacher.journal.heads_hex(&doc)), "{id}");
        assert_eq!(on_a, Some(math.journal.heads_hex(&doc)), "{id}");
        assert_eq!(
            math.journal
                .student_marks(year, &student(id), None, None)
                .expect("marks")
                .len(),
            6,
            "{id}: both teachers' marks, none lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_revocation_and_the_admin_log_hold_across_relays() {
    let db = TestDatabase::create("rights");
    let a = Relay::start_demo_on(db.url());
    let b = Relay::start_beside(&a, db.url());
    // A code is spent once, whichever relay is asked.
    let code = a.codes["parent-s5a2"].clone();
    let redeem = |relay: &Relay| {
        let url = format!("{}/v1/redeem", relay.url);
        let code = code.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({ "code": code, "label": "phone" }))
                .send()
                .await
                .expect("redeem")
        }
    };
    let first = redeem(&b).await;
    assert_eq!(first.status(), 200);
    let body: serde_json::Value = first.json().await.expect("json");
    let token = body["token"].as_str().expect("token").to_owned();
    a.secret(&token);
    b.secret(&token);
    let again = redeem(&a).await;
    assert_eq!(again.status(), 400, "spent on the other relay");
    assert!(again.text().await.expect("body").contains("not valid"));
    // Guesses count against the address on every relay: spread over both, the address still gets only
    // its burst of ten attempts (two are spent above).
    let guess = |relay: &Relay, n: usize| {
        let url = format!("{}/v1/redeem", relay.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({ "code": format!("ZZZZ-ZZZZ-ZZ{n:02}"), "label": "x" }))
                .send()
                .await
                .expect("redeem")
                .status()
        }
    };
    for n in 0..8 {
        let relay = if n % 2 == 0 { &a } else { &b };
        assert_eq!(
            guess(relay, n).await,
            400,
            "attempt {n} is within the burst"
        );
    }
    assert_eq!(
        guess(&a, 8).await,
        429,
        "the eleventh attempt, on either relay"
    );
    assert_eq!(guess(&b, 9).await, 429);
    // The new device works on both relays.
    let (mut on_a, _) = RawClient::join(&a, &token).await;
    assert!(!on_a.closed().await);

    // Revoked over HTTP on B: its session on A closes within a second, and B's log says who did it.
    let device = token.split('.').next().expect("device id").to_owned();
    let revoked = b
        .admin(
            &b.token("director"),
            reqwest::Method::POST,
            &format!("/devices/{device}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), on_a.closed())
            .await
            .expect("closed within a second on the other relay")
    );
    assert!(
        on_a.received
            .iter()
            .any(|m| matches!(m, WireMessage::Error { message } if message.contains("revoked"))),
        "{:?}",
        on_a.received
    );
    assert_eq!(RawClient::connect(&a, &token).await.err(), Some(401));

    // Revoked from the command line on the shared database: closed on both relays.
    let (mut student_on_a, _) = RawClient::join(&a, &a.token("student-s5a1")).await;
    let (mut student_on_b, _) = RawClient::join(&b, &b.token("student-s5a1")).await;
    let student_devices = a
        .admin(
            &a.token("director"),
            reqwest::Method::GET,
            "/accounts/student-s5a1/devices",
            serde_json::json!({}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .expect("devices");
    let student_device = student_devices[0]["id"].as_str().expect("id").to_owned();
    let data = tempfile::tempdir().expect("dir");
    std::fs::copy(a.data_dir().join("hash.key"), data.path().join("hash.key")).expect("key");
    let cli = std::process::Command::new(relay_binary())
        .args(["directory", "--data-dir"])
        .arg(data.path())
        .args([
            "--database",
            db.url(),
            "revoke-device",
            "--device",
            &student_device,
        ])
        .output()
        .expect("run the command line");
    assert!(cli.status.success(), "{cli:?}");
    for (relay, session) in [("A", &mut student_on_a), ("B", &mut student_on_b)] {
        assert!(
            tokio::time::timeout(Duration::from_secs(1), session.closed())
                .await
                .unwrap_or_else(|_| panic!("closed within a second on relay {relay}")),
            "relay {relay}"
        );
    }
    let log: serde_json::Value = a
        .admin(
            &a.token("director"),
            reqwest::Method::GET,
            "/log",
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .expect("log");
    let entries: Vec<(String, String)> = log
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or_default().to_owned(),
                e["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("parent-s5a2", "redeem-code"),
        ("director", "revoke-device"),
        ("cli", "revoke-device"),
    ] {
        assert!(
            entries.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {entries:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_refuses_a_database_it_cannot_reach_or_a_key_the_others_do_not_use() {
    let unreachable = std::process::Command::new(relay_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tempfile::tempdir().expect("dir").path())
        .args([
            "--database",
            "postgres://journal:s3cret-pw@127.0.0.1:1/district",
        ])
        .output()
        .expect("run the relay");
    assert!(!unreachable.status.success());
    let said = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        said.contains("cannot reach PostgreSQL at postgres://journal@127.0.0.1:1/district"),
        "{said}"
    );
    assert!(
        !said.contains("s3cret-pw"),
        "the password is never shown: {said}"
    );

    let db = TestDatabase::create("wrongkey");
    let a = Relay::start_demo_on(db.url());
    let other = tempfile::tempdir().expect("dir");
    let refused = std::process::Command::new(relay_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(other.path())
        .args(["--database", db.url()])
        .output()
        .expect("run the relay");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("hash.key"), "{said}");
    // The first relay is unharmed.
    let mut teacher = Device::new(&a, &a.token("t-5a"));
    assert!(teacher.sync().await.documents > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_connection_heals_by_itself_and_nothing_is_lost() {
    let db = TestDatabase::create("heal");
    let a = Relay::start_demo_on(db.url());
    let mut teacher = Device::new(&a, &a.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    // The database drops every connection of the relay (a restart, a failover of the server).
    let drop_connections = || {
        let url = db.url().to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                let driver = tokio::spawn(connection);
                client
                    .batch_execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    )
                    .await
                    .expect("terminate");
                drop(client);
                let _ = driver.await;
            });
        })
        .join()
        .expect("thread");
    };
    let mut marked = 0;
    for day in 1..=3u8 {
        let lesson = lesson_5a(&mut teacher, day + 14, 3, "history", "t-5a");
        teacher
            .journal
            .put_mark(&student("s5a2"), &lesson, &mark(3, "oral"))
            .expect("mark");
        marked += 1;
        drop_connections();
        // The first attempt after the loss may be told the database is unavailable; the edits stay on
        // the device and the next attempt goes through.
        let mut synced = false;
        for _ in 0..5 {
            match sync_now(&mut teacher.journal, &teacher.config, &NoListener).await {
                Ok(report) if report.refused.is_empty() => {
                    synced = true;
                    break;
                }
                Ok(report) => panic!("refused: {report:?}"),
                Err(e) => {
                    eprintln!("a sync after the loss: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        assert!(synced, "the relay recovered by itself");
    }
    let mut parent = Device::new(&a, &a.token("parent-s5a2"));
    parent.sync().await;
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a2"), None, None)
            .expect("marks")
            .len(),
        marked
    );
    let health = reqwest::get(format!("{}/healthz", a.url))
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_verifies_and_restores_into_a_new_database() {
    let db = TestDatabase::create("backup");
    let a = Relay::start_demo_on(db.url());
    let mut teacher = Device::new(&a, &a.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 16, 4, "history", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(5, "test"))
        .expect("mark");
    teacher.sync().await;
    let data = a.data_dir().to_str().expect("path").to_owned();
    let backups = tempfile::tempdir().expect("dir");
    let backups_dir = backups.path().to_str().expect("path");
    let now = std::process::Command::new(relay_binary())
        .args(["backup", "--data-dir", &data, "--database", db.url()])
        .args(["--backups", backups_dir, "now"])
        .output()
        .expect("backup");
    assert!(now.status.success(), "{now:?}");
    let snapshot = std::fs::read_dir(backups.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jbak"))
        .expect("a snapshot");
    let verify = std::process::Command::new(relay_binary())
        .args(["backup", "--data-dir", &data, "verify"])
        .arg(&snapshot)
        .output()
        .expect("verify");
    assert!(verify.status.success(), "{verify:?}");

    let restored_db = TestDatabase::create("restored");
    let restored_data = tempfile::tempdir().expect("dir");
    let target = restored_data.path().join("data");
    let restore = std::process::Command::new(relay_binary())
        .arg("restore")
        .arg(&snapshot)
        .arg("--to")
        .arg(&target)
        .args(["--database", restored_db.url(), "--key"])
        .arg(a.data_dir().join("backup.key"))
        .output()
        .expect("restore");
    assert!(restore.status.success(), "{restore:?}");
    // Restoring over a database that now holds the school is refused.
    let again = std::process::Command::new(relay_binary())
        .arg("restore")
        .arg(&snapshot)
        .arg("--to")
        .arg(&target)
        .args(["--database", restored_db.url(), "--key"])
        .arg(a.data_dir().join("backup.key"))
        .output()
        .expect("restore");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds"),
        "{again:?}"
    );

    let mut restored = Relay::start_at_with(
        &target,
        a.tokens.clone(),
        &["--database", restored_db.url()],
    );
    restored.secret(&a.token("parent-s5a3"));
    let mut parent = Device::new(&restored, &restored.token("parent-s5a3"));
    parent.sync().await;
    assert_eq!(
        parent
            .journal
            .student_marks(year, &student("s5a3"), None, None)
            .expect("marks")
            .len(),
        1,
        "the mark and the parent's device came back with the restore"
    );
    restored.kill();
}
