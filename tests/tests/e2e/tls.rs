//! TLS (issue 18): a relay serving a certificate it made for itself, reached by devices that pinned its
//! fingerprint from the access slip; a wrong pin, or none, refused before anything is sent; and a relay
//! with a certificate from the school's authority, trusted through the platform's roots.

use std::path::Path;
use std::process::{Command, Output};

use journal_core::certificate_pin::CertificatePin;
use journal_core::sync::client::{ClientError, NoListener, RelayConfig, redeem_code, sync_now};
use journal_e2e::{Device, Relay, journal_binary};

use crate::{lesson_5a, mark, student, student_doc, year_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_that_pinned_the_relays_own_certificate_sync_over_tls() {
    let relay = Relay::start_demo_with(&["--tls-self-signed"]);
    assert!(relay.url.starts_with("https://127.0.0.1:"), "{}", relay.url);
    let pin = relay
        .pin
        .expect("the relay prints the fingerprint of its own certificate");
    assert_eq!(
        journal_relay::tls::self_signed_fingerprint(relay.data_dir()),
        Some(pin),
        "the certificate is kept in the data directory"
    );

    // The teacher over a WebSocket, the parent (signed in with a code and the pin) over HTTP requests.
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let lesson = lesson_5a(&mut teacher, 9, 1, "russian", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(4, "oral"))
        .expect("mark");
    let sent = teacher.sync().await;
    assert!(!sent.sent.is_empty() && sent.refused.is_empty(), "{sent:?}");

    let code = relay.codes["parent-s5a1"].clone();
    let redeemed = redeem_code(&relay.url, &code, "телефон", None, Some(&pin), None)
        .await
        .expect("a code redeemed over TLS");
    let token = redeemed.token.expect("a device token");
    relay.secret(&token);
    let mut parent = Device::new(&relay, &token).over_http();
    parent.sync().await;
    let doc = student_doc(year_of(&teacher), "s5a1");
    assert_eq!(
        parent.journal.heads_hex(&doc),
        teacher.journal.heads_hex(&doc),
        "the parent sees the teacher's mark"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_or_none_is_refused_before_anything_is_sent() {
    let relay = Relay::start_demo_with(&["--tls-self-signed"]);
    let pin = relay.pin.expect("pin");
    let someone_else = CertificatePin::of(b"a certificate in the middle");

    // A teacher whose device pinned another certificate keeps its edits and is told why.
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let lesson = lesson_5a(&mut teacher, 10, 1, "russian", "t-5a");
    teacher
        .journal
        .put_mark(&student("s5a2"), &lesson, &mark(5, "oral"))
        .expect("mark");
    let doc = student_doc(year_of(&teacher), "s5a2");
    let before = journal_e2e::relay_heads(&relay, &relay.token("director"), &doc).await;
    for transport in [
        journal_core::sync::client::Transport::WebSocket,
        journal_core::sync::client::Transport::HttpBatch,
    ] {
        let mut config = teacher.config.clone().pinned(Some(someone_else));
        config.transport = transport;
        let Err(ClientError::Certificate(message)) =
            sync_now(&mut teacher.journal, &config, &NoListener).await
        else {
            panic!("a certificate that is not the pinned one is refused ({transport:?})");
        };
        assert!(
            message.contains("not the one this device was signed in with"),
            "{message}"
        );
        assert!(
            message.contains(&pin.to_string()),
            "names what it was shown: {message}"
        );
    }
    assert_eq!(
        journal_e2e::relay_heads(&relay, &relay.token("director"), &doc).await,
        before,
        "nothing reached the relay"
    );

    // Without a pin, a certificate from no known authority is refused with what to do.
    let unpinned = RelayConfig::new(&relay.url, &relay.token("t-5a"));
    let Err(ClientError::Certificate(message)) =
        sync_now(&mut teacher.journal, &unpinned, &NoListener).await
    else {
        panic!("an unknown authority is refused");
    };
    assert!(
        message.contains("fingerprint printed on the access slip"),
        "{message}"
    );

    // A code sent to the wrong certificate is not spent: the right pin still redeems it.
    let code = relay.codes["parent-s5a2"].clone();
    let refused = redeem_code(&relay.url, &code, "x", None, Some(&someone_else), None).await;
    assert!(
        matches!(refused, Err(ClientError::Certificate(_))),
        "{refused:?}"
    );
    redeem_code(&relay.url, &code, "x", None, Some(&pin), None)
        .await
        .expect("the code is still good");

    // With the right pin, the waiting mark goes out.
    let report = teacher.sync().await;
    assert!(report.sent.contains(&doc), "{report:?}");
}

fn journal(home: &Path, args: &[&str], roots: Option<&Path>) -> Output {
    let mut command = Command::new(journal_binary());
    command.arg("--home").arg(home).args(args);
    if let Some(roots) = roots {
        command.env("SSL_CERT_FILE", roots);
    }
    command.output().expect("run journal")
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A school authority and a certificate it issued for 127.0.0.1, as PEM files in `dir`.
fn school_authority(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "School 5 authority");
    let authority = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("authority");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &authority)
        .expect("certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("relay.pem"),
        dir.join("relay.key"),
    );
    std::fs::write(&paths.0, authority.pem()).expect("write");
    std::fs::write(&paths.1, leaf.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

#[test]
fn the_command_line_signs_in_over_https_with_the_slips_pin_or_the_schools_authority() {
    let home = tempfile::tempdir().expect("home");

    // The relay's own certificate: login with the pin, which the profile keeps for later syncs.
    let relay = Relay::start_demo_with(&["--tls-self-signed"]);
    let pin = relay.pin.expect("pin").to_string();
    let code = relay.codes["t-5a"].clone();
    let without = journal(
        home.path(),
        &["--profile", "p1", "login", &relay.url, &code],
        None,
    );
    assert!(!without.status.success());
    let said = String::from_utf8_lossy(&without.stderr);
    assert!(
        said.contains("fingerprint printed on the access slip"),
        "{said}"
    );
    let login = journal(
        home.path(),
        &[
            "--profile",
            "p1",
            "login",
            &relay.url,
            &code,
            "--pin",
            &pin.to_lowercase(),
        ],
        None,
    );
    assert!(succeeded(&login).contains("signed in"));
    succeeded(&journal(home.path(), &["--profile", "p1", "sync"], None));

    // A certificate from the school's authority, which the platform trusts: no pin needed.
    let dir = tempfile::tempdir().expect("dir");
    let (authority, cert, key) = school_authority(dir.path());
    let relay = Relay::start_demo_with(&[
        "--tls-cert",
        cert.to_str().expect("path"),
        "--tls-key",
        key.to_str().expect("path"),
    ]);
    assert!(relay.url.starts_with("https://") && relay.pin.is_none());
    let code = relay.codes["t-5a"].clone();
    let login = journal(
        home.path(),
        &["--profile", "p2", "login", &relay.url, &code],
        Some(&authority),
    );
    assert!(succeeded(&login).contains("signed in"));
    // Without the authority among the trusted roots, the same relay is refused.
    let untrusted = journal(home.path(), &["--profile", "p2", "sync"], None);
    assert!(!untrusted.status.success());
    succeeded(&journal(
        home.path(),
        &["--profile", "p2", "sync"],
        Some(&authority),
    ));
}
