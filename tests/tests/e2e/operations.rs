//! Running the relay on a school's server (issue 18): honest health, metrics, and a disk that fills up
//! while teachers sync.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use journal_core::sync::client::{ClientError, NoListener, sync_now};
use journal_core::sync::peer::CANNOT_STORE;
use journal_e2e::{Device, Relay};

use crate::{lesson_5a, mark, student, student_doc, year_of};

/// A small disk of its own (a tmpfs), unmounted when dropped.
struct SmallDisk {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(
            mounted.status.success(),
            "this test mounts a small tmpfs, which needs root: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        SmallDisk { _dir: dir, path }
    }

    /// Fills the disk to the last byte with one file, whose path it returns.
    fn fill(&self) -> PathBuf {
        let ballast = self.path.join("ballast");
        let mut file = std::fs::File::create(&ballast).expect("ballast");
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
        let _ = file.sync_all();
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

async fn get(relay: &Relay, path: &str) -> (u16, String) {
    let response = relay
        .http()
        .get(format!("{}{path}", relay.url))
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The value of one metric line (`name{labels} value`).
fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

fn restart_after_clean_stop(relay: &mut Relay, data: &Path) -> Relay {
    assert!(relay.terminate(), "the relay stops cleanly");
    Relay::start_at(data, relay.tokens.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_honestly_and_edits_wait_on_the_tablet_until_it_has_room() {
    let disk = SmallDisk::mount(16);
    let data = disk.path.join("data");
    let mut seeded = Relay::start_demo_at(&data, &[]);
    // A clean stop folds the write-ahead log into the database, as on a server that ran for a while.
    let relay = restart_after_clean_stop(&mut seeded, &data);

    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let (status, health) = get(&relay, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    let (status, metrics) = get(&relay, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metric(&metrics, "journal_syncs_total{transport=\"websocket\"}") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "journal_store_bytes") > Some(0.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "journal_disk_free_bytes") > Some(0.0),
        "{metrics}"
    );

    let ballast = disk.fill();
    let (status, health) = get(&relay, "/healthz").await;
    assert_eq!(status, 503, "{health}");
    assert!(health.contains("nearly full"), "{health}");

    // The teacher's mark is refused in words, over either transport, and kept on the tablet.
    let lesson = lesson_5a(&mut teacher, 11, 1, "russian", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a3"), &lesson, &mark(4, "oral"))
        .expect("mark");
    let doc = student_doc(year_of(&teacher), "s5a3");
    for transport in [
        journal_core::sync::client::Transport::WebSocket,
        journal_core::sync::client::Transport::HttpBatch,
    ] {
        let mut config = teacher.config.clone();
        config.transport = transport;
        let error = sync_now(&mut teacher.journal, &config, &NoListener)
            .await
            .expect_err("the relay cannot store the mark");
        let said = error.to_string();
        assert!(
            matches!(error, ClientError::Sync(_)) && said.contains(CANNOT_STORE),
            "{transport:?}: {said}"
        );
        assert!(
            !said.contains("disk is full") && !said.contains("database"),
            "{said}"
        );
    }
    let (_, metrics) = get(&relay, "/metrics").await;
    assert!(
        metric(&metrics, "journal_refusals_total{reason=\"cannot_store\"}") >= Some(2.0),
        "{metrics}"
    );

    // Room again: healthy, and the waiting mark goes out.
    std::fs::remove_file(ballast).expect("remove the ballast");
    let (status, health) = get(&relay, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    let report = teacher.sync().await;
    assert!(report.sent.contains(&doc), "{report:?}");
    let (status, _) = get(&relay, "/readyz").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_syncs_and_refusals_and_say_nothing_personal() {
    let relay = Relay::start_demo();
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1")).over_http();
    parent.sync().await;
    let refused = relay
        .http()
        .get(format!("{}/v1/index", relay.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 401);
    let (status, metrics) = get(&relay, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metric(&metrics, "journal_syncs_total{transport=\"http\"}") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "journal_refusals_total{reason=\"unauthorized\"}") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "journal_sync_message_seconds_count") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "journal_received_bytes_total") > Some(0.0),
        "{metrics}"
    );
    for personal in ["s5a1", "parent", "5a", &relay.token("parent-s5a1")] {
        assert!(!metrics.contains(personal), "{personal} in the metrics");
    }
}

#[test]
fn a_users_mistake_is_one_line_without_a_backtrace_whatever_rust_backtrace_says() {
    let relay = Relay::start_demo();
    let out = tempfile::tempdir().expect("dir");
    let output = Command::new(journal_e2e::relay_binary())
        .env("RUST_BACKTRACE", "full")
        .args(["report", "--data-dir"])
        .arg(relay.data_dir())
        .args(["progress", "--class", "5a", "--out"])
        .arg(out.path().join("progress.pdf"))
        .output()
        .expect("run journal-relay");
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.starts_with("error: "), "{said}");
    assert!(!said.to_lowercase().contains("backtrace"), "{said}");
    assert_eq!(said.trim_end().lines().count(), 1, "{said}");
}

/// The unit in `deploy/`, its `ExecStart` pointed at the relay this test run built.
fn unit_for_this_build(dir: &Path) -> (PathBuf, String) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join("journal-relay.service");
    let text = std::fs::read_to_string(&shipped)
        .expect("deploy/journal-relay.service")
        .replace(
            "/usr/local/bin/journal-relay",
            journal_e2e::relay_binary().to_str().expect("path"),
        );
    let unit = dir.join("journal-relay.service");
    std::fs::write(&unit, &text).expect("write the unit");
    (unit, text)
}

#[test]
fn the_systemd_unit_verifies_is_hardened_and_its_settings_start_a_relay_over_https() {
    let dir = tempfile::tempdir().expect("dir");
    let (unit, text) = unit_for_this_build(dir.path());
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    for setting in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=journal-relay",
    ] {
        assert!(text.lines().any(|l| l == setting), "{setting}");
    }
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("journal-relay.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|level| level.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in:\n{report}"));
    assert!(
        exposure < 2.0,
        "exposure {exposure} (systemd calls 2 and above 'medium')"
    );

    // The unit's own settings (its Environment= lines) start a relay over HTTPS.
    let data = dir.path().join("state");
    let mut relay = Command::new(journal_e2e::relay_binary());
    relay.arg("serve");
    for line in text.lines() {
        if let Some((name, value)) = line
            .strip_prefix("Environment=")
            .and_then(|setting| setting.split_once('='))
        {
            relay.env(name, value);
        }
    }
    let mut child = relay
        .env("JOURNAL_DATA_DIR", &data)
        .env("JOURNAL_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the relay");
    let stdout = child.stdout.take().expect("stdout");
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .find(|line| line.starts_with("journal-relay listening on "));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listening
            .as_deref()
            .is_some_and(|l| l.contains("https://127.0.0.1:")),
        "{listening:?}"
    );
    assert!(data.join(journal_relay::tls::SELF_SIGNED_CERT).exists());
}

/// The IT officer's list of an account's devices has a header, and says when each was added and last
/// synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_devices_are_listed_with_a_header_and_when_they_last_synced() {
    let mut relay = Relay::start_demo();
    let mut tablet = Device::new(&relay, &relay.token("t-5a"));
    tablet.sync().await;
    let data = relay.data_dir().to_str().expect("path").to_owned();
    assert!(relay.terminate());
    let listed = Relay::cli(&[
        "directory",
        "--data-dir",
        &data,
        "devices",
        "--account",
        "t-5a",
    ]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("device\tstate\tadded\tlast seen\tlabel"),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(!rows.is_empty(), "{out}");
    let today = time::OffsetDateTime::now_utc().date().year().to_string();
    let seen: Vec<_> = rows.iter().filter(|row| row[3] != "never").collect();
    assert_eq!(seen.len(), 1, "the tablet that synced: {out}");
    assert!(
        seen[0][1] == "active" && seen[0][2].starts_with(&today) && seen[0][3].starts_with(&today),
        "{out}"
    );
}

#[test]
fn a_stop_sent_while_the_relay_starts_lets_it_finish_and_exit_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let relay = Command::new(journal_e2e::relay_binary())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the relay");
    // The lock is taken before the demo school is seeded, which takes the relay a while.
    let lock = data.join("relay.lock");
    for _ in 0..600 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(lock.exists(), "the relay took its data directory");
    let _ = Command::new("kill")
        .args(["-TERM", &relay.id().to_string()])
        .status();
    let output = relay.wait_with_output().expect("the relay ends");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a stop during start-up drains the relay instead of killing it: {:?}\n{printed}",
        output.status
    );
    assert!(printed.contains("Demo school seeded"), "{printed}");
}
