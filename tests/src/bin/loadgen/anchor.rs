//! The anchor of the 8 a.m. bursts: a stock automerge-repo sync server (Node, `tests/stock/anchor-server.mjs`)
//! serving the same students' year documents, synced by raw-protocol clients that hold each document as
//! the journal's devices do, so the relay's figures stand next to what the stock stack does with the same
//! documents on the same machine in the same run.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use automerge::sync::{State, SyncDoc as _};
use automerge::{Automerge, ChangeHash};
use futures_util::{SinkExt as _, StreamExt as _};
use journal_core::DocId;
use journal_core::docs::Document;
use journal_core::sync::protocol::{PROTOCOL_VERSION, PeerMetadata, WireMessage, decode, encode};
use journal_relay::store::DocumentStore as _;
use journal_relay::store::sqlite::SqliteStore;
use tokio_tungstenite::tungstenite::Message;

use crate::{YEAR, cpu_seconds, overnight_entries, percentile};

/// The Node sync server, killed when dropped.
struct AnchorServer {
    child: Child,
    url: String,
}

impl AnchorServer {
    fn start(script: &Path, storage: &Path) -> Result<AnchorServer> {
        let mut child = Command::new("node")
            .arg(script)
            .arg("serve")
            .arg(storage)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start node (the anchor needs Node and tests/stock's npm install)")?;
        let stdout = child.stdout.take().context("anchor stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().context("the anchor server exited")??;
            if let Some(port) = line.strip_prefix("listening on ") {
                break port.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(AnchorServer {
            child,
            url: format!("ws://127.0.0.1:{port}"),
        })
    }

    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    fn peak_rss_mb(&self) -> f64 {
        crate::peak_rss_mb(self.child.id())
    }
}

impl Drop for AnchorServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client's copy of a document and its sync state with the server.
struct Held {
    id: DocId,
    doc: Automerge,
    state: State,
}

/// Syncs `held` with the server over one connection, as automerge-repo's protocol goes: `join`, then
/// `request` (holding nothing) or `sync` messages until the server says it has exactly our heads.
async fn sync_once(url: &str, storage_id: &str, held: &mut Held) -> Result<()> {
    let repo_id = held.id.repo_id();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    // automerge-repo keys its sockets by peer id: every connection has its own.
    static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
    let me = format!("loadgen-{}", CONNECTIONS.fetch_add(1, Ordering::Relaxed));
    let send = |message: WireMessage| Message::Binary(encode(&message).into());
    socket
        .send(send(WireMessage::Join {
            sender_id: me.clone(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
            metadata: Some(PeerMetadata {
                storage_id: Some(storage_id.to_owned()),
                ..PeerMetadata::default()
            }),
        }))
        .await?;
    let mut server = None;
    let timeout = Duration::from_secs(120);
    loop {
        let frame = tokio::time::timeout(timeout, socket.next())
            .await
            .context("the anchor server did not answer in time")?
            .context("the anchor server closed the connection")??;
        let Message::Binary(bytes) = frame else {
            continue;
        };
        let data = match decode::<WireMessage>(&bytes)? {
            WireMessage::Peer { sender_id, .. } => {
                server = Some(sender_id);
                None
            }
            WireMessage::Sync { data, .. } | WireMessage::Request { data, .. } => Some(data),
            WireMessage::DocUnavailable { .. } => bail!("the anchor server lacks {repo_id}"),
            WireMessage::Error { message } => bail!("the anchor server: {message}"),
            _ => continue,
        };
        if let Some(data) = data {
            let message = automerge::sync::Message::decode(&data)?;
            held.doc.receive_sync_message(&mut held.state, message)?;
        }
        let mut ours = held.doc.get_heads();
        ours.sort();
        let theirs = held
            .state
            .their_heads
            .clone()
            .map(|mut h: Vec<ChangeHash>| {
                h.sort();
                h
            });
        if !ours.is_empty() && theirs.as_ref() == Some(&ours) {
            let _ = socket.close(None).await;
            return Ok(());
        }
        let Some(target) = server.clone() else {
            continue;
        };
        if let Some(message) = held.doc.generate_sync_message(&mut held.state) {
            let data = message.encode();
            socket
                .send(send(WireMessage::sync_or_request(
                    !ours.is_empty(),
                    repo_id.clone(),
                    me.clone(),
                    target,
                    data,
                )))
                .await?;
        }
    }
}

/// Syncs every client at once; each one's latency in seconds, sorted, and the wall time.
async fn all_at_once(
    url: &str,
    clients: Vec<(String, Held)>,
) -> Result<(Vec<f64>, f64, Vec<(String, Held)>)> {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(storage, mut held)| {
            let url = url.to_owned();
            tokio::spawn(async move {
                let begun = Instant::now();
                let outcome = sync_once(&url, &storage, &mut held).await;
                (begun.elapsed().as_secs_f64(), outcome, storage, held)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut back = Vec::new();
    for task in tasks {
        let (latency, outcome, storage, held) = task.await?;
        outcome.with_context(|| format!("syncing {}", held.id))?;
        latencies.push(latency);
        back.push((storage, held));
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, started.elapsed().as_secs_f64(), back))
}

/// The stock automerge-repo sync server through the same two bursts as the relay: every parent's phone
/// empty on the first day, then, after the same five entries a child written overnight, all of them at
/// once again.
pub async fn burst(students: &[String], data: &Path, scratch: &Path) -> Result<()> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stock/anchor-server.mjs");
    let work = scratch.join("anchor");
    let (docs, storage) = (work.join("docs"), work.join("storage"));
    std::fs::create_dir_all(&docs)?;
    let store = SqliteStore::open(&data.join("relay.db"))?;
    let ids: Vec<DocId> = students
        .iter()
        .map(|s| Ok(DocId::Student(YEAR, s.parse()?)))
        .collect::<Result<_>>()?;
    for id in &ids {
        let bytes = store
            .load_document(&id.to_string())?
            .context("student doc")?;
        std::fs::write(docs.join(format!("{}.am", id.repo_id())), bytes)?;
    }
    drop(store);
    let imported = Command::new("node")
        .arg(&script)
        .arg("import")
        .arg(&storage)
        .arg(&docs)
        .output()
        .context("cannot run node")?;
    anyhow::ensure!(
        imported.status.success(),
        "the anchor import failed: {}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let server = AnchorServer::start(&script, &storage)?;
    let clients: Vec<(String, Held)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("phone-{i}"),
                Held {
                    id: id.clone(),
                    doc: Automerge::new(),
                    state: State::new(),
                },
            )
        })
        .collect();
    let (cpu, devices_cpu) = (server.cpu_seconds(), own_cpu());
    let (latencies, total, clients) = all_at_once(&server.url, clients)
        .await
        .context("the first day")?;
    println!(
        "| first day (stock automerge-repo sync server): {} empty devices at once | all served in {:.1} s, p50 {:.2} s, p99 {:.2} s; server peak RSS {:.0} MB; CPU: server {:.1} ms a sync, the simulated devices {:.1} s | | | |",
        latencies.len(),
        total,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        server.peak_rss_mb(),
        (server.cpu_seconds() - cpu) * 1000.0 / latencies.len() as f64,
        own_cpu() - devices_cpu,
    );

    // Overnight: the same five entries a child as the relay's typical morning, written by one writer
    // through the server, outside the timed burst.
    let actor = automerge::ActorId::random();
    for chunk in clients.chunks(8) {
        let mut tasks = Vec::new();
        for (_, held) in chunk {
            let mut written = Document::load(held.id.clone(), &held.doc.save(), &actor)?;
            overnight_entries(&mut written)?;
            let mut written = Held {
                id: held.id.clone(),
                doc: written.automerge().clone(),
                state: State::new(),
            };
            let url = server.url.clone();
            tasks.push(tokio::spawn(async move {
                sync_once(&url, "overnight-writer", &mut written).await
            }));
        }
        for task in tasks {
            task.await?.context("overnight")?;
        }
    }
    // The server writes what it received a little later; then it restarts, as the relays do.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(server);
    let server = AnchorServer::start(&script, &storage)?;
    let clients: Vec<(String, Held)> = clients
        .into_iter()
        .map(|(storage, held)| {
            // A new connection keeps only what a sync state persists.
            let state = State::decode(&held.state.encode()).unwrap_or_default();
            (storage, Held { state, ..held })
        })
        .collect();
    let (cpu, devices_cpu) = (server.cpu_seconds(), own_cpu());
    let (latencies, total, _) = all_at_once(&server.url, clients)
        .await
        .context("the typical morning")?;
    println!(
        "| typical morning (stock automerge-repo sync server): {} devices, ~5 new entries each, at once | {:.0} syncs/s, p50 {:.2} s, p99 {:.2} s; server peak RSS {:.0} MB; CPU: server {:.1} ms a sync, the simulated devices {:.1} s | | | |",
        latencies.len(),
        latencies.len() as f64 / total,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        server.peak_rss_mb(),
        (server.cpu_seconds() - cpu) * 1000.0 / latencies.len() as f64,
        own_cpu() - devices_cpu,
    );
    Ok(())
}

fn own_cpu() -> f64 {
    cpu_seconds("/proc/self/stat")
}
