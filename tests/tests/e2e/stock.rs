//! Stock automerge-repo peers against the real relay, within their rights: the pinned JavaScript
//! `@automerge/automerge-repo` with its WebSocket client adapter (`tests/stock/peer.mjs`, installed by the
//! test command with `npm install`), speaking the plain protocol with the token in the URL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use journal_core::DocId;
use journal_e2e::{Device, Relay};
use serde_json::Value;

use crate::{lesson_5a, mark, student, student_doc, year_of};

fn stock_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stock")
}

/// The node command for the stock peer, failing clearly when the test command has not installed it.
fn node(args: &[&str]) -> Command {
    let dir = stock_dir();
    assert!(
        dir.join("node_modules/@automerge/automerge-repo").is_dir(),
        "the stock peer is not installed: run `npm install` in {} (tests/run-all.sh does)",
        dir.display()
    );
    let mut command = Command::new("node");
    command.current_dir(&dir).arg("peer.mjs").args(args);
    command
}

/// Runs one command of the stock peer and returns the JSON it printed last.
fn stock(args: &[&str]) -> Value {
    let out = node(args).output().expect("run node");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "the stock peer printed {text:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ws(relay: &Relay) -> String {
    relay.url.replace("http://", "ws://") + "/v1/sync"
}

/// The caller's readable documents as `GET /v1/me/documents` lists them.
async fn documents(relay: &Relay, token: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{}/v1/me/documents", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("documents")
        .json()
        .await
        .expect("json")
}

fn url_of(listed: &[Value], id: &DocId) -> String {
    listed
        .iter()
        .find(|d| d["id"] == id.to_string())
        .and_then(|d| d["url"].as_str())
        .unwrap_or_else(|| panic!("{id} is not listed: {listed:?}"))
        .to_owned()
}

fn types(result: &Value) -> Vec<String> {
    result["types"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parents_stock_client_reads_its_childs_mark_by_the_url_the_relay_lists() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 9, 2, "russian", "t-5a");
    let mark_id = teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("mark");
    teacher.sync().await;

    let parent = relay.token("parent-s5a1");
    let listed = documents(&relay, &parent).await;
    let own = student_doc(year, "s5a1");
    assert!(
        !listed
            .iter()
            .any(|d| d["id"] == student_doc(year, "s5a2").to_string()),
        "only what the parent may read: {listed:?}"
    );
    let entry = listed
        .iter()
        .find(|d| d["id"] == own.to_string())
        .expect("listed");
    assert_eq!(entry["kind"], "student");
    assert!(
        entry["title"]
            .as_str()
            .is_some_and(|t| t.contains("Иванов")),
        "{entry}"
    );

    let result = stock(&["find", &ws(&relay), &parent, &url_of(&listed, &own)]);
    assert_eq!(result["ok"], true, "{result}");
    let cell = result["doc"]["marks"][mark_id.as_str()]
        .as_str()
        .unwrap_or_else(|| panic!("the mark: {result}"));
    assert!(cell.contains("\"value\":\"5\""), "{cell}");
    assert!(
        types(&result).iter().all(|t| !t.starts_with("x-journal")),
        "a stock peer gets the plain protocol: {result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teachers_stock_client_writes_a_mark_a_device_then_reads() {
    let relay = Relay::start_demo();
    let teacher = relay.token("t-5a");
    let mut parent = Device::new(&relay, &relay.token("parent-s5a1"));
    parent.sync().await;
    let year = year_of(&parent);
    let own = student_doc(year, "s5a1");
    let listed = documents(&relay, &teacher).await;
    let json = format!(
        r#"{{"lesson":"stock1","subject":"russian","date":"{}-09-15","value":"4","kind":"oral","teacher":"t-5a"}}"#,
        year.0
    );
    let result = stock(&[
        "write",
        &ws(&relay),
        &teacher,
        &url_of(&listed, &own),
        "stock1_oral",
        &json,
    ]);
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        result["errors"].as_array().is_some_and(Vec::is_empty),
        "{result}"
    );
    parent.sync().await;
    let marks = parent
        .journal
        .student_marks(year, &student("s5a1"), None, None)
        .expect("marks");
    assert!(
        marks
            .iter()
            .any(|m| m.mark.value.to_string() == "4" && m.mark.teacher.as_str() == "t-5a"),
        "{marks:?}"
    );

    // A plain JavaScript string becomes an Automerge text object: refused, and the refusal says so.
    let result = stock(&[
        "write-text",
        &ws(&relay),
        &teacher,
        &url_of(&listed, &own),
        "stock2_oral",
        &json,
    ]);
    let errors = result["errors"].to_string();
    assert!(
        errors.contains(&own.to_string())
            && errors.contains("plain string (an immutable string in automerge-repo)"),
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_change_reaches_a_connected_stock_client_within_a_second() {
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 10, 3, "history", "t-5a");
    let parent = relay.token("parent-s5a1");
    let listed = documents(&relay, &parent).await;
    let url = url_of(&listed, &student_doc(year, "s5a1"));
    let mark_id = journal_core::docs::mark_id(&lesson, &"oral".parse().expect("kind"));
    let mut watcher = node(&["watch", &ws(&relay), &parent, &url, mark_id.as_str()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(watcher.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("a line").expect("text");
    assert!(ready.contains("ready"), "{ready}");
    teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(3, "oral"))
        .expect("mark");
    teacher.sync().await;
    let synced = Instant::now();
    let seen = tokio::task::spawn_blocking(move || lines.next())
        .await
        .expect("reader")
        .expect("a result")
        .expect("text");
    let after = synced.elapsed();
    let _ = watcher.wait();
    let result: Value = serde_json::from_str(&seen).expect("json");
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        after < Duration::from_secs(1),
        "the mark took {after:?} to reach the stock client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parents_stock_write_is_refused_visibly_and_without_a_loop() {
    let relay = Relay::start_demo();
    let parent = relay.token("parent-s5a1");
    let (_, index) = journal_e2e::RawClient::join(&relay, &parent).await;
    let year = index
        .iter()
        .find_map(|id| id.parse::<DocId>().ok())
        .map(|id| id.year())
        .expect("year");
    let own = student_doc(year, "s5a1");
    let heads_before = journal_e2e::relay_heads(&relay, &relay.token("director"), &own).await;
    let listed = documents(&relay, &parent).await;
    let json = format!(
        r#"{{"lesson":"x","subject":"math","date":"{}-09-15","value":"5","kind":"oral","teacher":"t-math"}}"#,
        year.0
    );
    let result = stock(&[
        "write",
        &ws(&relay),
        &parent,
        &url_of(&listed, &own),
        "forged_oral",
        &json,
    ]);
    let errors: Vec<&str> = result["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&own.to_string()) && e.contains("not change")),
        "the user sees why: {result}"
    );
    assert_eq!(result["closed"], true, "{result}");
    assert!(
        result["messages"].as_u64().is_some_and(|n| n < 10),
        "no loop: {result}"
    );
    assert_eq!(
        journal_e2e::relay_heads(&relay, &relay.token("director"), &own).await,
        heads_before,
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_forbidden_ids_get_doc_unavailable_and_ephemeral_keeps_the_session() {
    let relay = Relay::start_demo();
    let parent = relay.token("parent-s5a1");
    let listed = documents(&relay, &parent).await;
    let own: DocId = listed
        .iter()
        .filter_map(|d| d["id"].as_str()?.parse::<DocId>().ok())
        .find(|id| matches!(id, DocId::Student(..)))
        .expect("the child's record");
    let year = own.year();
    for (what, url) in [
        ("unknown", student_doc(year, "nobody").repo_url()),
        ("forbidden", student_doc(year, "s5a2").repo_url()),
    ] {
        let result = stock(&["find", &ws(&relay), &parent, &url]);
        assert_eq!(result["ok"], false, "{what}: {result}");
        assert!(
            result["error"]
                .as_str()
                .is_some_and(|e| e.contains("unavailable")),
            "{what}: {result}"
        );
        assert!(
            types(&result).contains(&"doc-unavailable".to_owned()),
            "{what}: {result}"
        );
        assert!(
            !types(&result).contains(&"error".to_owned()),
            "{what}: {result}"
        );
    }
    let result = stock(&["ephemeral", &ws(&relay), &parent, &url_of(&listed, &own)]);
    assert_eq!(result["ok"], true, "{result}");
}

/// samod dialing the relay through this crate's WebSocket client, with the token in the URL (samod's own
/// dialer needs native TLS, which this machine's build does not carry).
struct RelayDialer {
    url: samod::Url,
}

impl samod::Dialer for RelayDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> samod::Url {
        self.url.clone()
    }

    fn connect(
        &self,
    ) -> futures_util::future::BoxFuture<
        'static,
        Result<samod::Transport, samod::DialError<Self::Error>>,
    > {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let url = self.url.clone();
        Box::pin(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(samod::DialError::transient)?;
            let (sink, stream) = socket.split();
            let stream = Box::pin(stream.filter_map(|frame| async move {
                match frame {
                    Ok(Message::Binary(bytes)) => Some(Ok(bytes.to_vec())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            }));
            let sink = Box::pin(sink.with(|bytes: Vec<u8>| async move {
                Ok::<_, tokio_tungstenite::tungstenite::Error>(Message::Binary(bytes.into()))
            }));
            Ok(samod::Transport::new(stream, sink))
        })
    }
}

/// A samod repo connected to the relay as `token`'s device.
async fn samod_repo(relay: &Relay, token: &str) -> samod::Repo {
    let repo = samod::Repo::build_tokio().load().await;
    let url = samod::Url::parse(&format!("{}?token={token}", ws(relay))).expect("url");
    let dialer = repo
        .dial(
            samod::BackoffConfig::default(),
            std::sync::Arc::new(RelayDialer { url }),
        )
        .expect("dial");
    tokio::time::timeout(Duration::from_secs(10), dialer.established())
        .await
        .expect("in time")
        .expect("the handshake");
    repo
}

fn samod_id(id: &DocId) -> samod::DocumentId {
    id.repo_id().parse().expect("a samod document id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samod_reads_and_writes_within_its_rights() {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    let relay = Relay::start_demo();
    let mut teacher = Device::new(&relay, &relay.token("t-5a"));
    teacher.sync().await;
    let year = year_of(&teacher);
    let lesson = lesson_5a(&mut teacher, 16, 1, "literature", "t-5a");
    let mark_id = teacher
        .journal
        .put_mark(&student("s5a1"), &lesson, &mark(5, "oral"))
        .expect("mark");
    teacher.sync().await;
    let own = student_doc(year, "s5a1");

    // A parent reads their child's record, and nothing else.
    let parent = samod_repo(&relay, &relay.token("parent-s5a1")).await;
    let handle = parent
        .find(samod_id(&own))
        .await
        .expect("running")
        .expect("the child's record is available");
    let has_mark = handle.with_document(|doc| {
        doc.get(ROOT, "marks")
            .ok()
            .flatten()
            .and_then(|(_, marks)| doc.get(&marks, mark_id.as_str()).ok().flatten())
            .is_some()
    });
    assert!(has_mark, "the mark is in the parent's copy");
    for other in [student_doc(year, "s5a2"), student_doc(year, "nobody")] {
        assert!(
            parent
                .find(samod_id(&other))
                .await
                .expect("running")
                .is_none(),
            "{other} is unavailable to the parent"
        );
    }

    // A teacher writes a mark through samod; the director's device reads it (the family's token is samod's
    // now: the relay keeps one sync state per device and document).
    let writer = samod_repo(&relay, &relay.token("t-5a")).await;
    let handle = writer
        .find(samod_id(&own))
        .await
        .expect("running")
        .expect("available to the teacher");
    let json = format!(
        r#"{{"lesson":"samod1","subject":"literature","date":"{}-09-16","value":"4","kind":"oral","teacher":"t-5a"}}"#,
        year.0
    );
    handle.with_document(|doc| {
        let mut tx = doc.transaction();
        let marks = tx
            .get(ROOT, "marks")
            .expect("read")
            .expect("the marks map")
            .1;
        tx.put(&marks, "samod1_oral", json.as_str()).expect("put");
        tx.commit();
    });
    let mut director = Device::new(&relay, &relay.token("director"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        director.sync().await;
        let marks = director
            .journal
            .student_marks(year, &student("s5a1"), None, None)
            .expect("marks");
        if marks.iter().any(|m| m.mark.value.to_string() == "4") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "samod's mark did not reach the relay: {marks:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
