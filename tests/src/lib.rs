//! End-to-end test support: starts the real `journal-relay` binary on 127.0.0.1 with a fresh data
//! directory, and offers devices (real journals with the real sync client) and a raw protocol client.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use journal_core::certificate_pin::CertificatePin;
use journal_core::sync::SyncEvent;
use journal_core::sync::client::{
    NoListener, RelayConfig, SyncListener, SyncReport, Transport, sync_now,
};
use journal_core::sync::protocol::{WireMessage, decode, encode};
use journal_core::{DocId, Journal};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Builds the workspace's binaries (once per test run) and returns the path of one of them.
///
/// The build selects what `cargo test --workspace` selects, so under it the build is fresh and reuses every
/// artifact; building one package alone would resolve other features and compile the whole tree again.
fn workspace_binary(bin: &str) -> PathBuf {
    static TARGET_DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = TARGET_DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
            ])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the workspace's binaries failed");
        let exe = std::env::current_exe().expect("test executable");
        exe.ancestors()
            .find(|dir| dir.join("journal-relay").is_file())
            .expect("journal-relay next to the test executable's target directory")
            .to_path_buf()
    });
    dir.join(bin)
}

/// The relay binary: this workspace's, or the one `JOURNAL_E2E_RELAY` names (to show that a test fails
/// on an older relay).
pub fn relay_binary() -> PathBuf {
    std::env::var_os("JOURNAL_E2E_RELAY")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_binary("journal-relay"))
}

/// The `journal` command-line binary.
pub fn journal_binary() -> PathBuf {
    workspace_binary("journal")
}

/// A sync listener that keeps every event.
#[derive(Default)]
struct Collected(std::sync::Mutex<Vec<SyncEvent>>);

impl SyncListener for Collected {
    fn on_event(&self, event: &SyncEvent) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

/// A running relay. Its log goes to a file; when the relay is dropped the whole log is checked for every
/// secret the test saw (tokens, access codes), so no secret ever reaches a log unnoticed.
pub struct Relay {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub url: String,
    /// The fingerprint of the certificate the relay made for itself, when it serves one.
    pub pin: Option<CertificatePin>,
    data: PathBuf,
    log: PathBuf,
    /// Demo device tokens by account id.
    pub tokens: HashMap<String, String>,
    /// Demo access codes by account id.
    pub codes: HashMap<String, String>,
    secrets: std::sync::Mutex<Vec<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Relay {
    /// Starts a relay with the demo school in a new data directory.
    pub fn start_demo() -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut relay = Self::spawn(&data, true);
        relay._dir = Some(dir);
        relay
    }

    /// Starts a relay with the demo school and extra `serve` options (limits a test wants small).
    pub fn start_demo_with(options: &[&str]) -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut relay = Self::spawn_with(&data, true, "127.0.0.1:0", options);
        relay._dir = Some(dir);
        relay
    }

    /// Starts a relay with the demo school in the data directory `data` (which the test owns).
    pub fn start_demo_at(data: &Path, options: &[&str]) -> Relay {
        Self::spawn_with(data, true, "127.0.0.1:0", options)
    }

    /// Starts a relay with the demo school on a PostgreSQL database (its keys in a new data directory).
    pub fn start_demo_on(database: &str) -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut relay = Self::spawn_with(&data, true, "127.0.0.1:0", &["--database", database]);
        relay._dir = Some(dir);
        relay
    }

    /// Starts another relay on the PostgreSQL database `first` serves, with a copy of its hashing key, as
    /// a district's second relay; it knows `first`'s demo tokens and codes.
    pub fn start_beside(first: &Relay, database: &str) -> Relay {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data directory");
        std::fs::copy(first.data.join("hash.key"), data.join("hash.key")).expect("hash.key");
        let mut relay = Self::spawn_with(&data, false, "127.0.0.1:0", &["--database", database]);
        relay._dir = Some(dir);
        relay.tokens = first.tokens.clone();
        relay.codes = first.codes.clone();
        relay
            .secrets
            .lock()
            .expect("lock")
            .extend(first.secrets.lock().expect("lock").iter().cloned());
        relay
    }

    /// Starts a relay (no demo seeding) on an existing data directory with extra `serve` options, keeping
    /// `tokens` for the test.
    pub fn start_at_with(data: &Path, tokens: HashMap<String, String>, options: &[&str]) -> Relay {
        let mut relay = Self::spawn_with(data, false, "127.0.0.1:0", options);
        relay
            .secrets
            .lock()
            .expect("lock")
            .extend(tokens.values().cloned());
        relay.tokens = tokens;
        relay
    }

    fn spawn(data: &Path, demo: bool) -> Relay {
        Self::spawn_on(data, demo, "127.0.0.1:0")
    }

    fn spawn_on(data: &Path, demo: bool, listen: &str) -> Relay {
        Self::spawn_with(data, demo, listen, &[])
    }

    fn spawn_with(data: &Path, demo: bool, listen: &str, options: &[&str]) -> Relay {
        // The tests' own plain HTTP clients need a TLS provider once rustls is in the build.
        journal_core::sync::tls::install_default_provider();
        let log = data.with_file_name("relay.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("relay log file");
        let mut command = Command::new(relay_binary());
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        // Verbose, so that the secret check reads as much as the relay can write.
        command.args(["--log", "info,journal_relay=debug,journal_core=debug"]);
        if demo {
            command.arg("--demo");
            // The tests enter September's lessons on any day they run; the edit-lock window's own tests
            // ask for it.
            if !options.contains(&"--demo-edit-lock-days") {
                command.args(["--demo-edit-lock-days", "0"]);
            }
            // The tests count the three demo students' marks and lessons: their demo is the bare one of
            // three a class unless a test asks for a class size, and so for the demo as shipped.
            if !options.contains(&"--demo-class-size") {
                command.args(["--demo-class-size", "3", "--demo-without-history"]);
            }
            // Their days are UTC's, as `now_utc().date()` in the tests says.
            if !options.contains(&"--demo-time-zone") {
                command.args(["--demo-time-zone", "UTC"]);
            }
        }
        command.args(options);
        let mut child = command.spawn().expect("start the relay");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut tokens = HashMap::new();
        let mut codes = Vec::new();
        let mut demo_codes = HashMap::new();
        let mut fingerprint = None;
        let mut pin = None;
        let url = loop {
            let line = lines
                .next()
                .expect("the relay prints its address")
                .expect("readable stdout");
            if let Some(rest) = line.strip_prefix("demo-code\t") {
                let fields: Vec<&str> = rest.split('\t').collect();
                codes.push(fields[2].to_owned());
                demo_codes.insert(fields[0].to_owned(), fields[2].to_owned());
                codes.push(fields[2].replace('-', ""));
            }
            if let Some(rest) = line.strip_prefix("demo-token\t") {
                let fields: Vec<&str> = rest.split('\t').collect();
                tokens.insert(fields[0].to_owned(), fields[2].to_owned());
            }
            if let Some(printed) = line.strip_prefix("TLS certificate fingerprint (SHA-256): ") {
                fingerprint = Some(printed.parse().expect("a fingerprint"));
            }
            if line.starts_with("The certificate is the relay's own") {
                pin = fingerprint;
            }
            if let Some(url) = line.strip_prefix("journal-relay listening on ") {
                break url.to_owned();
            }
        };
        // Keep draining stdout so the relay never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let secrets = std::sync::Mutex::new(tokens.values().cloned().chain(codes).collect());
        Relay {
            child,
            url,
            pin,
            data: data.to_owned(),
            log,
            tokens,
            codes: demo_codes,
            secrets,
            _dir: None,
        }
    }

    /// Remembers a secret the relay must never log (a code or token the test obtained).
    pub fn secret(&self, secret: &str) {
        let mut secrets = self.secrets.lock().expect("lock");
        secrets.push(secret.to_owned());
        // Codes are typed with or without dashes: look for both.
        secrets.push(secret.replace('-', ""));
    }

    /// Everything the relay logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts a relay (no demo seeding) on an existing data directory, keeping `tokens` for the test.
    pub fn start_at(data: &Path, tokens: HashMap<String, String>) -> Relay {
        Self::start_at_with(data, tokens, &[])
    }

    /// The relay's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The relay's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs `journal-relay` with `args` (a CLI subcommand) and returns its output.
    pub fn cli(args: &[&str]) -> std::process::Output {
        Command::new(relay_binary())
            .args(args)
            .output()
            .expect("run journal-relay")
    }

    /// The token of a demo account.
    pub fn token(&self, account: &str) -> String {
        self.tokens
            .get(account)
            .unwrap_or_else(|| panic!("no demo account {account}"))
            .clone()
    }

    /// Kills the relay with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the relay again on the same data directory (on a new port).
    pub fn restart(&mut self) {
        self.restart_at("127.0.0.1:0");
    }

    /// Starts the relay again on the same data directory and the same address.
    pub fn restart_same_address(&mut self) {
        let address = self
            .url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        self.restart_at(&address);
    }

    fn restart_at(&mut self, listen: &str) {
        self.kill();
        let fresh = Self::spawn_on(&self.data.clone(), false, listen);
        let old = std::mem::replace(self, fresh);
        let mut old = std::mem::ManuallyDrop::new(old);
        self._dir = old._dir.take();
        self.tokens = std::mem::take(&mut old.tokens);
        self.codes = std::mem::take(&mut old.codes);
        *self.secrets.lock().expect("lock") =
            std::mem::take(&mut *old.secrets.lock().expect("lock"));
    }

    /// Sends SIGTERM and waits for the relay to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        // The relay drains for up to 5 s, and a loaded machine slows what follows.
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// An HTTP client that trusts the relay's certificate (its own, pinned, when it made one).
    pub fn http(&self) -> reqwest::Client {
        let tls = journal_core::sync::tls::client_config(self.pin.as_ref());
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls.as_ref().clone())
            .build()
            .expect("an HTTP client")
    }

    /// Calls the admin API as `admin` (a token).
    pub async fn admin(
        &self,
        admin: &str,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http()
            .request(method, format!("{}/v1/admin{path}", self.url))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .expect("admin call")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            return;
        }
        let log = self.log_text();
        let secrets = self.secrets.lock().expect("lock");
        for secret in secrets.iter().filter(|s| s.len() >= 12) {
            assert!(
                !log.contains(secret.as_str()),
                "a secret reached the relay's log ({}): {}…",
                self.log.display(),
                &secret[..6]
            );
        }
        assert!(
            log.lines().count() > 0,
            "the relay wrote no log at all ({})",
            self.log.display()
        );
    }
}

/// A device: a real journal on disk with the real sync client.
pub struct Device {
    /// Its journal.
    pub journal: Journal,
    /// How it reaches the relay.
    pub config: RelayConfig,
    _dir: tempfile::TempDir,
}

impl Device {
    /// A new device signed in with `token`.
    pub fn new(relay: &Relay, token: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(&dir.path().join("journal.db")).expect("open journal");
        Device {
            journal,
            config: RelayConfig::new(&relay.url, token).pinned(relay.pin),
            _dir: dir,
        }
    }

    /// The same device talking over HTTP batch instead of WebSocket.
    pub fn over_http(mut self) -> Device {
        self.config.transport = Transport::HttpBatch;
        self
    }

    /// Syncs once.
    pub async fn sync(&mut self) -> SyncReport {
        sync_now(&mut self.journal, &self.config, &NoListener)
            .await
            .expect("sync")
    }

    /// Syncs once and returns what the sync told its listener, in order.
    pub async fn sync_with_events(&mut self) -> (SyncReport, Vec<SyncEvent>) {
        let events = Collected::default();
        let report = sync_now(&mut self.journal, &self.config, &events)
            .await
            .expect("sync");
        let events = events.0.into_inner().unwrap_or_else(|p| p.into_inner());
        (report, events)
    }

    /// Ids of the documents the device holds.
    pub fn doc_ids(&self) -> Vec<String> {
        self.journal
            .documents()
            .map(|d| d.id().to_string())
            .collect()
    }
}

/// A raw protocol client: speaks the wire protocol by hand, for access and bad-input tests.
pub struct RawClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Every message received, in order.
    pub received: Vec<WireMessage>,
    /// The code of the relay's close frame, once it closed.
    pub close_code: Option<u16>,
}

impl RawClient {
    /// Connects with `token`; `Err` carries the HTTP status when the upgrade is refused.
    pub async fn connect(relay: &Relay, token: &str) -> Result<RawClient, u16> {
        let url = relay.url.replace("http://", "ws://") + "/v1/sync";
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(RawClient {
                socket,
                received: Vec::new(),
                close_code: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("connect: {e}"),
        }
    }

    /// Connects with a receive buffer of `bytes`: a client that reads slowly, so the relay's sends block
    /// once the buffers are full.
    pub async fn connect_small_buffer(relay: &Relay, token: &str, bytes: u32) -> RawClient {
        let address: std::net::SocketAddr = relay
            .url
            .trim_start_matches("http://")
            .parse()
            .expect("the relay's address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
        let stream = socket.connect(address).await.expect("connect");
        let url = relay.url.replace("http://", "ws://") + "/v1/sync";
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (socket, _) = tokio_tungstenite::client_async(
            request,
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        )
        .await
        .expect("upgrade");
        RawClient {
            socket,
            received: Vec::new(),
            close_code: None,
        }
    }

    /// Sends `join` and reads the relay's `peer` and index; returns the index.
    pub async fn say_join(&mut self) -> Vec<String> {
        // The journal's own clients announce its extensions (the index, whole snapshots, refusals).
        self.send(&WireMessage::Join {
            sender_id: "raw".into(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(journal_core::sync::protocol::PeerMetadata {
                journal_extensions: journal_core::sync::protocol::JOURNAL_EXTENSIONS
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect(),
                ..Default::default()
            }),
        })
        .await;
        let peer = self.next().await.expect("peer");
        assert!(matches!(peer, WireMessage::Peer { .. }), "{peer:?}");
        let index = self.next().await.expect("index");
        let Some(documents) = index.index_documents() else {
            panic!("expected the index, got {index:?}");
        };
        documents
            .expect("the index unpacks")
            .into_iter()
            .map(|d| d.document_id)
            .collect()
    }

    /// Connects and joins; returns the index the relay sent.
    pub async fn join(relay: &Relay, token: &str) -> (RawClient, Vec<String>) {
        let mut client = Self::connect(relay, token).await.expect("connect");
        let index = client.say_join().await;
        (client, index)
    }

    /// Sends a protocol message.
    pub async fn send(&mut self, message: &WireMessage) {
        self.send_raw(encode(message)).await;
    }

    /// Sends raw bytes as one binary frame (ignoring failures: the relay may have closed).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.socket.send(Message::Binary(bytes.into())).await;
    }

    /// Sends a text frame, which the protocol does not use.
    pub async fn send_text(&mut self, text: &str) {
        let _ = self.socket.send(Message::Text(text.into())).await;
    }

    /// The next protocol message within two seconds; `None` when the relay closed or stayed silent.
    pub async fn next(&mut self) -> Option<WireMessage> {
        self.next_within(Duration::from_secs(2)).await
    }

    /// The next protocol message within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<WireMessage> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next())
                .await
                .ok()??;
            match frame {
                Ok(Message::Binary(bytes)) => {
                    let message: WireMessage =
                        decode(&bytes).expect("the relay sends valid messages");
                    self.received.push(message.clone());
                    return Some(message);
                }
                Ok(Message::Close(frame)) => {
                    self.close_code = frame.map(|f| u16::from(f.code));
                    return None;
                }
                Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Whether the relay closed the connection (reads until close or two seconds of silence).
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::from_secs(2), self.socket.next()).await {
                Err(_) => return false,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.close_code = frame.map(|f| u16::from(f.code));
                    return true;
                }
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    if let Ok(message) = decode::<WireMessage>(&bytes) {
                        self.received.push(message);
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// What the relay did with an attempt to read or write one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// It answered with sync messages (and, for a write, accepted the change).
    Granted,
    /// It said the document is unavailable.
    Unavailable,
    /// It refused the change.
    Refused(String),
}

/// Syncs one document by hand over a raw client until the relay goes quiet; `doc` is the local replica.
/// Opens with `request` (asking for the relay's copy) or, with `create`, `sync` (offering a new document).
pub async fn raw_sync(
    client: &mut RawClient,
    doc: &mut journal_core::docs::Document,
    create: bool,
) -> Access {
    let mut state = automerge::sync::State::new();
    let id = doc.id().to_string();
    let data = doc
        .generate_sync_message(&mut state)
        .expect("a first message");
    let first = WireMessage::sync_or_request(
        create,
        id.clone(),
        "raw".to_owned(),
        "relay".to_owned(),
        data,
    );
    client.send(&first).await;
    let mut granted = false;
    while let Some(message) = client.next_within(Duration::from_secs(2)).await {
        match message {
            WireMessage::Sync {
                document_id, data, ..
            } if document_id == id => {
                granted = true;
                doc.receive_sync_message(&mut state, &data, &Default::default())
                    .expect("the relay sends valid documents");
                let reply = doc.generate_sync_message(&mut state);
                if let Some(reply) = &reply {
                    client
                        .send(&WireMessage::Sync {
                            document_id: id.clone(),
                            sender_id: "raw".into(),
                            target_id: "relay".into(),
                            data: reply.clone(),
                        })
                        .await;
                }
                let mut ours = doc.heads();
                ours.sort();
                let mut theirs = state.their_heads.clone().unwrap_or_default();
                theirs.sort();
                if ours == theirs {
                    return Access::Granted;
                }
            }
            WireMessage::Snapshot {
                document_id, data, ..
            } if document_id == id => {
                granted = true;
                doc.merge_bytes(&data, &Default::default())
                    .expect("the relay sends valid documents");
                if let Some(reply) = doc.generate_sync_message(&mut state) {
                    client
                        .send(&WireMessage::Sync {
                            document_id: id.clone(),
                            sender_id: "raw".into(),
                            target_id: "relay".into(),
                            data: reply,
                        })
                        .await;
                }
            }
            WireMessage::DocUnavailable { document_id, .. } if document_id == id => {
                return Access::Unavailable;
            }
            WireMessage::Refused {
                document_id,
                reason,
                ..
            } if document_id == id => return Access::Refused(reason),
            // A live session also hears of other documents that changed meanwhile (a rollover run beside),
            // or that its account may no longer read.
            WireMessage::Sync { document_id, .. }
            | WireMessage::Snapshot { document_id, .. }
            | WireMessage::DocUnavailable { document_id, .. }
                if document_id != id => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
    if granted {
        Access::Granted
    } else {
        Access::Unavailable
    }
}

/// The heads the relay lists for a document, as seen by `token`'s index (hex, sorted).
pub async fn relay_heads(relay: &Relay, token: &str, doc: &DocId) -> Option<Vec<String>> {
    let bytes = relay
        .http()
        .get(format!("{}/v1/index", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("index")
        .bytes()
        .await
        .expect("body");
    let WireMessage::Index { documents, .. } = decode(&bytes).expect("index message") else {
        panic!("not an index");
    };
    documents
        .into_iter()
        .find(|d| d.document_id == doc.to_string())
        .map(|d| {
            let mut heads: Vec<String> = d
                .heads
                .expect("a device without sync history gets every document's heads")
                .iter()
                .map(hex::encode)
                .collect();
            heads.sort();
            heads
        })
}
