//! The sync client: one `sync_now` over WebSocket or HTTP batch, and a live session that keeps the journal
//! in step, reconnecting with exponential backoff and jitter. The protocol logic is [`ClientPeer`]; this
//! module only moves its messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ring::rand::{SecureRandom, SystemRandom};
use thiserror::Error;
use tokio::sync::{Mutex, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::peer::{ClientPeer, DocStatus, RELAY_PEER, SyncError, SyncEvent};
use super::protocol::{BatchRequest, BatchResponse, WireMessage, decode, encode};
use super::tls::{certificate_refusal, client_config};
use crate::certificate_pin::CertificatePin;
use crate::directory::MyDirectory;
use crate::ids::DocId;
use crate::journal::Journal;

/// How the client reaches the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One WebSocket, live updates.
    WebSocket,
    /// HTTP requests, for networks where WebSockets fail.
    HttpBatch,
}

/// Where and as whom to sync.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Base URL of the relay, `http://host:port`.
    pub url: String,
    /// Other relays serving the same school (a district's relays behind one database), tried in order
    /// when `url` cannot be reached.
    pub fallbacks: Vec<String>,
    /// This device's token.
    pub token: String,
    /// Transport.
    pub transport: Transport,
    /// Longest wait for the relay during a sync.
    pub timeout: Duration,
    /// The fingerprint of the one certificate to trust, for a relay that made its own; `None` trusts
    /// certificates from the web PKI's and the platform's authorities.
    pub pin: Option<CertificatePin>,
}

impl RelayConfig {
    /// A WebSocket configuration with a 60-second timeout. `urls` is one relay's base URL, or several
    /// separated by commas: the first is tried first, the others when it cannot be reached.
    pub fn new(urls: &str, token: &str) -> Self {
        let mut urls = urls
            .split(',')
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        RelayConfig {
            url: urls.next().unwrap_or_default(),
            fallbacks: urls.collect(),
            token: token.to_owned(),
            transport: Transport::WebSocket,
            timeout: Duration::from_secs(60),
            pin: None,
        }
    }

    /// The same configuration, trusting only the certificate with fingerprint `pin` when given.
    pub fn pinned(mut self, pin: Option<CertificatePin>) -> Self {
        self.pin = pin;
        self
    }

    /// An HTTP client that trusts what this configuration trusts.
    fn http(&self) -> Result<reqwest::Client, ClientError> {
        http_client(self.pin.as_ref(), self.timeout)
    }

    /// Every relay this configuration knows, in the order they are tried.
    pub fn relays(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.fallbacks.iter().map(String::as_str))
    }

    /// The same configuration for one of its relays only.
    fn only(&self, url: &str) -> RelayConfig {
        RelayConfig {
            url: url.to_owned(),
            fallbacks: Vec::new(),
            ..self.clone()
        }
    }
}

/// Whether a failure means the relay could not be reached (so another relay may be tried), rather than
/// an answer from it.
fn unreachable(error: &ClientError) -> bool {
    matches!(error, ClientError::Offline(_) | ClientError::Timeout)
}

/// Receives progress, per-document status and new-data events.
pub trait SyncListener: Send + Sync {
    /// Called for every event, in order.
    fn on_event(&self, event: &SyncEvent);
}

/// A listener that ignores everything.
#[derive(Debug, Default)]
pub struct NoListener;

impl SyncListener for NoListener {
    fn on_event(&self, _event: &SyncEvent) {}
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Documents the session covered.
    pub documents: usize,
    /// Documents that received new data.
    pub received: Vec<DocId>,
    /// Documents whose local edits went to the relay.
    pub sent: Vec<DocId>,
    /// Documents whose local edits the relay refused (see the refused-edits list).
    pub refused: Vec<DocId>,
    /// Documents the relay does not have for this account.
    pub unavailable: Vec<DocId>,
    /// Round trips on the wire: over WebSocket, where documents sync side by side, the joining exchange
    /// plus the most exchanges any one document needed; over HTTP, one per request.
    pub round_trips: usize,
    /// Bytes sent (protocol frames or HTTP bodies).
    pub bytes_sent: usize,
    /// Bytes received.
    pub bytes_received: usize,
}

/// Why a sync did not complete. Local edits are always kept.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The relay could not be reached.
    #[error("no connection to the relay ({0}): your edits are saved and will sync later")]
    Offline(String),
    /// The relay refused this device's token.
    #[error("the relay did not accept this device; sign it in again")]
    Unauthorized,
    /// The relay took too long.
    #[error("the relay did not answer in time: your edits are saved and will sync later")]
    Timeout,
    /// The session failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The access code is mistyped (caught on the device, before any request).
    #[error("{0}")]
    Code(crate::error::InputError),
    /// The relay refused the request and said why.
    #[error("{0}")]
    Refused(String),
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; try again in {0} s")]
    TooMany(u64),
    /// The relay's TLS certificate was refused (not the pinned one, from no trusted authority, expired);
    /// nothing was sent.
    #[error("{0}")]
    Certificate(String),
    /// The code is for another account than the one this device is signed in as; nothing was spent.
    #[error("{0}")]
    OtherAccount(String),
    /// A relay address that is not a web address.
    #[error(
        "relay address {0:?} is not a web address: write it as http://host:port or https://host"
    )]
    Address(String),
}

/// An HTTP client over rustls, trusting the certificate `pin` names or the usual authorities.
fn http_client(
    pin: Option<&CertificatePin>,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(client_config(pin).as_ref().clone())
        .timeout(timeout)
        .build()
        .map_err(|e| ClientError::Offline(e.to_string()))
}

/// Refuses a relay address without its scheme before anything is sent: without it nothing can be
/// reached, and the HTTP library's own complaint means nothing to a teacher.
fn check_address(url: &str) -> Result<(), ClientError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ClientError::Address(url.to_owned()))
    }
}

/// What redeeming an access code gave this device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Redeemed {
    /// The account now signed in.
    pub account: String,
    /// Its role.
    pub role: crate::roles::AccountRole,
    /// Its display name.
    pub name: String,
    /// The device id.
    pub device: Option<String>,
    /// The new device token; `None` when an already signed-in device gained a child.
    pub token: Option<String>,
}

/// One of the account's devices, as the relay lists them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct DeviceInfo {
    /// Device id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

async fn json_reply<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ClientError> {
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        return Err(ClientError::TooMany(wait));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(ClientError::Unauthorized);
    }
    if !status.is_success() {
        return Err(ClientError::Refused(error_message(response).await));
    }
    response.json().await.map_err(http_error)
}

/// The relay's answer to a redemption; `409` is a code for another account than the one kept.
async fn redemption_reply(response: reqwest::Response) -> Result<Redeemed, ClientError> {
    if response.status() == reqwest::StatusCode::CONFLICT {
        return Err(ClientError::OtherAccount(error_message(response).await));
    }
    json_reply(response).await
}

/// What the relay said in a refusal's `error` field.
async fn error_message(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["error"]
        .as_str()
        .unwrap_or("the relay refused the request")
        .to_owned()
}

/// The sign-in a device already has when it redeems another code.
#[derive(Clone, Copy, Debug)]
pub struct SignedIn<'a> {
    /// The device token.
    pub token: &'a str,
    /// The account to stay signed in as: the relay then refuses, unspent, a code for any other account
    /// ([`ClientError::OtherAccount`]) instead of switching. `None` lets the code switch the account.
    pub keep_account: Option<&'a str>,
}

/// Redeems an access code typed on this device at `urls` (one relay, or several separated by commas,
/// tried in order until one answers). A typo is reported before any request is made. A device already
/// signed in passes its sign-in, so a parent's second child joins the same account. `journal`, when given,
/// proposes the device's token secret for this code ([`Journal::redemption_secret`]), so that sending the
/// code again after a lost reply signs the device in instead of "already used".
pub async fn redeem_code(
    urls: &str,
    typed: &str,
    label: &str,
    signed_in: Option<SignedIn<'_>>,
    pin: Option<&CertificatePin>,
    journal: Option<&mut Journal>,
) -> Result<Redeemed, ClientError> {
    let code: crate::access_code::AccessCode = typed.parse().map_err(ClientError::Code)?;
    let secret = journal
        .map(|j| j.redemption_secret(&code))
        .transpose()
        .map_err(SyncError::from)?;
    let relays = RelayConfig::new(urls, "").pinned(pin.copied());
    let client = relays.http()?;
    let mut last = None;
    for url in relays.relays() {
        check_address(url)?;
        let mut body = serde_json::json!({ "code": code.canonical(), "label": label });
        if let Some(secret) = &secret {
            body["secret"] = serde_json::Value::String(secret.clone());
        }
        if let Some(kept) = signed_in.and_then(|s| s.keep_account) {
            body["keep_account"] = serde_json::Value::String(kept.to_owned());
        }
        let send = |token: Option<&str>| {
            let mut request = client.post(format!("{url}/v1/redeem")).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let answer = match send(signed_in.map(|s| s.token)).await.map_err(http_error) {
            Ok(response) => redemption_reply(response).await,
            Err(e) => Err(e),
        };
        match answer {
            // The device's old sign-in is gone (revoked, or the relay was restored from a snapshot older
            // than it): the code signs it in afresh, and its unsent edits go out under the new sign-in.
            Err(ClientError::Unauthorized) if signed_in.is_some() => {
                tracing::info!("the old sign-in was refused; redeeming the code as a new device");
                let response = send(None).await.map_err(http_error)?;
                return redemption_reply(response).await;
            }
            Err(e) if unreachable(&e) => last = Some(e),
            done => return done,
        }
    }
    Err(last.unwrap_or_else(|| ClientError::Offline("no relay address is configured".into())))
}

impl Redeemed {
    /// The device token to keep: the new one, or, when a signed-in device only gained a child, the token it
    /// already had (`signed_in`).
    pub fn device_token(&self, signed_in: Option<&str>) -> Result<String, ClientError> {
        self.token
            .clone()
            .or_else(|| signed_in.map(str::to_owned))
            .ok_or_else(|| ClientError::Refused("the relay sent no device token".into()))
    }
}

/// Issues an access code (administration: anyone; a class teacher: the students and parents of their
/// class). Returns the code to hand over, grouped for reading.
pub async fn issue_code(
    config: &RelayConfig,
    role: crate::roles::CodeRole,
    account: Option<&str>,
    student: Option<&str>,
    valid_days: Option<u32>,
) -> Result<String, ClientError> {
    let reply: serde_json::Value = json_reply(
        config
            .http()?
            .post(format!("{}/v1/codes", config.url))
            .bearer_auth(&config.token)
            .json(&serde_json::json!({ "role": role, "account": account, "student": student, "valid_days": valid_days }))
            .send()
            .await
            .map_err(http_error)?,
    )
    .await?;
    reply["code"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Refused("the relay sent no code".into()))
}

/// The devices of this device's account.
pub async fn my_devices(config: &RelayConfig) -> Result<Vec<DeviceInfo>, ClientError> {
    json_reply(
        config
            .http()?
            .get(format!("{}/v1/me/devices", config.url))
            .bearer_auth(&config.token)
            .send()
            .await
            .map_err(http_error)?,
    )
    .await
}

/// Revokes one of the account's devices (a lost phone); it is signed out at once.
pub async fn revoke_my_device(config: &RelayConfig, device: &str) -> Result<(), ClientError> {
    let response = config
        .http()?
        .post(format!("{}/v1/me/devices/{device}/revoke", config.url))
        .bearer_auth(&config.token)
        .send()
        .await
        .map_err(http_error)?;
    if response.status().is_success() {
        Ok(())
    } else {
        json_reply::<serde_json::Value>(response).await.map(|_| ())
    }
}

fn storage_id(journal: &Journal) -> String {
    journal.device_id()
}

fn record(report: &mut SyncReport, engine: &mut ClientPeer, listener: &dyn SyncListener) {
    for event in engine.take_events() {
        match &event {
            SyncEvent::Received { id } if !report.received.contains(id) => {
                report.received.push(id.clone())
            }
            SyncEvent::Document {
                id,
                status: DocStatus::Refused(_),
            } if !report.refused.contains(id) => report.refused.push(id.clone()),
            SyncEvent::Document {
                id,
                status: DocStatus::Unavailable,
            } if !report.unavailable.contains(id) => report.unavailable.push(id.clone()),
            _ => {}
        }
        listener.on_event(&event);
    }
    report.documents = engine.statuses().len();
    report.sent = engine.sent().iter().cloned().collect();
}

fn ws_url(base: &str) -> String {
    let rest = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or_else(|| base.to_owned());
    format!("{rest}/v1/sync")
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(config: &RelayConfig) -> Result<Socket, ClientError> {
    let mut request = ws_url(&config.url)
        .into_client_request()
        .map_err(|e| ClientError::Offline(e.to_string()))?;
    let auth = format!("Bearer {}", config.token)
        .parse()
        .map_err(|_| ClientError::Unauthorized)?;
    request.headers_mut().insert("authorization", auth);
    let ws_config = WebSocketConfig::default().max_message_size(Some(64 << 20));
    let tls = tokio_tungstenite::Connector::Rustls(client_config(config.pin.as_ref()));
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config), true, Some(tls));
    match tokio::time::timeout(config.timeout, connecting).await {
        Err(_) => Err(ClientError::Timeout),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) if response.status() == 401 => {
            Err(ClientError::Unauthorized)
        }
        Ok(Err(e)) => Err(certificate_refusal(&e)
            .map(ClientError::Certificate)
            .unwrap_or_else(|| ClientError::Offline(e.to_string()))),
    }
}

/// Sends one message; a link that takes none of it for `timeout` (the relay's side went silent, the
/// network dropped away) is given up as [`ClientError::Timeout`] instead of waiting for TCP to give up.
async fn send(
    socket: &mut Socket,
    message: &WireMessage,
    timeout: Duration,
    report: &mut SyncReport,
) -> Result<(), ClientError> {
    let bytes = encode(message);
    report.bytes_sent += bytes.len();
    tokio::time::timeout(timeout, socket.send(Message::Binary(bytes.into())))
        .await
        .map_err(|_| ClientError::Timeout)?
        .map_err(|e| ClientError::Offline(e.to_string()))
}

/// Reads the next protocol message; `None` when the relay closed.
async fn receive(
    socket: &mut Socket,
    timeout: Duration,
    report: &mut SyncReport,
) -> Result<Option<WireMessage>, ClientError> {
    loop {
        let next = tokio::time::timeout(timeout, socket.next())
            .await
            .map_err(|_| ClientError::Timeout)?;
        match next {
            None | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Err(e)) => return Err(ClientError::Offline(e.to_string())),
            Some(Ok(Message::Binary(bytes))) => {
                report.bytes_received += bytes.len();
                return decode(&bytes)
                    .map(Some)
                    .map_err(|e| ClientError::Sync(SyncError::Unexpected(e.to_string())));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Syncs every document once and returns what happened. Offline is not an error for the journal: edits
/// stay in the local store and go out on the next sync.
pub async fn sync_now(
    journal: &mut Journal,
    config: &RelayConfig,
    listener: &dyn SyncListener,
) -> Result<SyncReport, ClientError> {
    let mut last = None;
    for url in config.relays() {
        check_address(url)?;
        // A sync cut short on one relay is safe to repeat on another: both hold what either acknowledged.
        match sync_with(journal, &config.only(url), listener).await {
            Err(e) if unreachable(&e) => {
                tracing::info!(relay = %url, error = %e, "relay unreachable; trying the next one it knows");
                last = Some(e);
            }
            done => return done,
        }
    }
    Err(last.unwrap_or_else(|| ClientError::Offline("no relay address is configured".into())))
}

/// Syncs every document once with the one relay of `config`.
async fn sync_with(
    journal: &mut Journal,
    config: &RelayConfig,
    listener: &dyn SyncListener,
) -> Result<SyncReport, ClientError> {
    let span = tracing::info_span!("sync", transport = ?config.transport);
    let _entered = span.enter();
    drop(_entered);
    let report = match config.transport {
        Transport::WebSocket => {
            let mut socket = connect(config).await?;
            let report = ws_session(&mut *journal, config, listener, &mut socket, None).await?;
            let _ = socket.close(None).await;
            report
        }
        Transport::HttpBatch => http_sync(journal, config, listener).await?,
    };
    refresh_directory(journal, config).await?;
    Ok(report)
}

/// Fetches what the directory says about this account (who the user is, whom they may write to) and keeps
/// it on the device, so conversations can be started offline.
pub async fn refresh_directory(
    journal: &mut Journal,
    config: &RelayConfig,
) -> Result<MyDirectory, ClientError> {
    let directory = fetch_my_directory(config).await?;
    keep_directory(journal, &directory)?;
    Ok(directory)
}

/// What the directory says about this account, from the relay.
pub async fn fetch_my_directory(config: &RelayConfig) -> Result<MyDirectory, ClientError> {
    json_reply(
        config
            .http()?
            .get(format!("{}/v1/me/directory", config.url))
            .bearer_auth(&config.token)
            .send()
            .await
            .map_err(http_error)?,
    )
    .await
}

fn keep_directory(journal: &mut Journal, directory: &MyDirectory) -> Result<(), ClientError> {
    if journal.my_directory().ok().flatten().as_ref() != Some(directory) {
        journal
            .set_my_directory(directory)
            .map_err(|e| ClientError::Refused(format!("could not keep the directory: {e}")))?;
    }
    Ok(())
}

/// How a session reaches the journal: directly for a one-off sync, or through a mutex for a live session
/// so the app can read and write between messages.
trait JournalAccess {
    async fn with<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R;
}

impl JournalAccess for &mut Journal {
    async fn with<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R {
        f(self)
    }
}

struct Shared(Arc<Mutex<Journal>>);

impl JournalAccess for Shared {
    async fn with<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R {
        let mut guard = self.0.lock().await;
        f(&mut guard)
    }
}

/// Runs a WebSocket session: join, sync everything; with `live`, keep going until `live` says stop.
async fn ws_session(
    mut journal: impl JournalAccess,
    config: &RelayConfig,
    listener: &dyn SyncListener,
    socket: &mut Socket,
    mut live: Option<&mut watch::Receiver<bool>>,
) -> Result<SyncReport, ClientError> {
    let mut engine = journal
        .with(|j| {
            j.begin_sync_session(RELAY_PEER);
            ClientPeer::new(&storage_id(j)).resuming(j.session_unsettled(RELAY_PEER))
        })
        .await;
    let mut report = SyncReport::default();
    // Messages this client sent per document: documents sync side by side, so the longest chain of
    // exchanges, not their sum, is what a slow link waits for.
    let mut exchanges: HashMap<String, usize> = HashMap::new();
    send(socket, &engine.join(), config.timeout, &mut report).await?;
    loop {
        report.round_trips = 1 + exchanges.values().copied().max().unwrap_or(0);
        if live.is_none() && engine.is_settled() {
            record(&mut report, &mut engine, listener);
            return Ok(report);
        }
        let message = match live.as_deref_mut() {
            None => receive(socket, config.timeout, &mut report).await?,
            Some(stop) => {
                tokio::select! {
                    message = receive(socket, Duration::from_secs(3600), &mut report) => message?,
                    _ = stop.changed() => {
                        record(&mut report, &mut engine, listener);
                        return Ok(report);
                    }
                    () = tokio::time::sleep(Duration::from_millis(100)) => {
                        let replies = journal
                            .with(|j| {
                                let dirty = j.take_dirty();
                                if dirty.is_empty() || !engine.is_joined() {
                                    return Ok(Vec::new());
                                }
                                engine.local_changes(j, &dirty)
                            })
                            .await?;
                        for reply in &replies {
                            count_exchange(&mut exchanges, reply);
                        }
                        for message in engine.outgoing(replies) {
                            send(socket, &message, config.timeout, &mut report).await?;
                        }
                        record(&mut report, &mut engine, listener);
                        continue;
                    }
                }
            }
        };
        let Some(message) = message else {
            return Err(ClientError::Offline(
                "the relay closed the connection".into(),
            ));
        };
        let replies = journal.with(|j| engine.handle(j, message)).await?;
        for reply in &replies {
            count_exchange(&mut exchanges, reply);
        }
        for message in engine.outgoing(replies) {
            send(socket, &message, config.timeout, &mut report).await?;
        }
        record(&mut report, &mut engine, listener);
    }
}

fn count_exchange(exchanges: &mut HashMap<String, usize>, message: &WireMessage) {
    if let WireMessage::Sync { document_id, .. } | WireMessage::Request { document_id, .. } =
        message
    {
        *exchanges.entry(document_id.clone()).or_default() += 1;
    }
}

async fn http_sync(
    journal: &mut Journal,
    config: &RelayConfig,
    listener: &dyn SyncListener,
) -> Result<SyncReport, ClientError> {
    let client = config.http()?;
    journal.begin_sync_session(RELAY_PEER);
    let mut engine =
        ClientPeer::new(&storage_id(journal)).resuming(journal.session_unsettled(RELAY_PEER));
    let mut report = SyncReport::default();
    let post = |path: &str| {
        client
            .post(format!("{}{path}", config.url))
            .bearer_auth(&config.token)
    };
    let every_head = if engine.is_resuming() {
        "?every_head=true"
    } else {
        ""
    };
    let index = client
        .get(format!("{}/v1/index{every_head}", config.url))
        .bearer_auth(&config.token)
        .send()
        .await
        .map_err(http_error)?;
    let index = checked(index).await?;
    report.round_trips += 1;
    report.bytes_received += index.len();
    let index: WireMessage = decode(&index).map_err(|e| SyncError::Unexpected(e.to_string()))?;
    let mut outgoing = engine.handle(
        journal,
        WireMessage::Peer {
            sender_id: "relay".into(),
            selected_protocol_version: super::protocol::PROTOCOL_VERSION.into(),
            target_id: storage_id(journal),
            metadata: None,
        },
    )?;
    outgoing.extend(engine.handle(journal, index)?);
    record(&mut report, &mut engine, listener);
    let mut rounds = 0;
    while !outgoing.is_empty() {
        rounds += 1;
        if rounds > 100 {
            return Err(ClientError::Sync(SyncError::Unexpected(
                "the sync did not settle in 100 rounds".into(),
            )));
        }
        let sent = std::mem::take(&mut outgoing);
        let body = encode(&BatchRequest {
            storage_id: storage_id(journal),
            messages: sent.clone(),
        });
        report.bytes_sent += body.len();
        let response = post("/v1/batch")
            .header("content-type", "application/cbor")
            .body(body)
            .send()
            .await
            .map_err(http_error)?;
        let bytes = checked(response).await?;
        report.round_trips += 1;
        report.bytes_received += bytes.len();
        let response: BatchResponse =
            decode(&bytes).map_err(|e| SyncError::Unexpected(e.to_string()))?;
        for message in response.messages {
            outgoing.extend(engine.handle(journal, message)?);
        }
        // What the relay put off for the size of its reply goes again, as it was.
        outgoing.extend(sent.into_iter().filter(|m| {
            document_of(m).is_some_and(|id| response.deferred.iter().any(|d| d == id))
        }));
        record(&mut report, &mut engine, listener);
    }
    Ok(report)
}

/// The document a `request` or `sync` message is about.
fn document_of(message: &WireMessage) -> Option<&str> {
    match message {
        WireMessage::Request { document_id, .. } | WireMessage::Sync { document_id, .. } => {
            Some(document_id)
        }
        _ => None,
    }
}

fn http_error(e: reqwest::Error) -> ClientError {
    if e.is_timeout() {
        ClientError::Timeout
    } else if let Some(refusal) = certificate_refusal(&e) {
        ClientError::Certificate(refusal)
    } else {
        ClientError::Offline(e.to_string())
    }
}

async fn checked(response: reqwest::Response) -> Result<Vec<u8>, ClientError> {
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(ClientError::Unauthorized);
    }
    let bytes = response.bytes().await.map_err(http_error)?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes)
            .chars()
            .take(300)
            .collect::<String>();
        return Err(ClientError::Sync(SyncError::Relay(format!(
            "{status}: {text}"
        ))));
    }
    Ok(bytes.to_vec())
}

/// Delay before reconnection attempt `attempt` (0-based): exponential from 1 s to 5 min, with full jitter
/// so that a school's worth of tablets do not all come back at the same instant.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_secs(1)
        .saturating_mul(1 << attempt.min(9))
        .min(Duration::from_secs(300));
    let mut byte = [0u8; 2];
    SystemRandom::new().fill(&mut byte).expect("random source");
    let fraction = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX);
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

/// Keeps the journal in step with the relay over a WebSocket until `stop` turns true: syncs everything on
/// connect, applies live updates, sends local edits as they are made, and reconnects with backoff.
pub async fn run_live(
    journal: Arc<Mutex<Journal>>,
    config: RelayConfig,
    listener: Arc<dyn SyncListener>,
    mut stop: watch::Receiver<bool>,
) {
    let mut attempt = 0u32;
    let relays: Vec<RelayConfig> = config.relays().map(|url| config.only(url)).collect();
    // The relay tried next: it moves on to the next one the device knows when one cannot be reached.
    let mut current = 0;
    while !*stop.borrow() {
        let config = &relays[current % relays.len()];
        let result = match connect(config).await {
            Ok(mut socket) => {
                attempt = 0;
                match fetch_my_directory(config).await {
                    Ok(directory) => {
                        if let Err(e) = keep_directory(&mut *journal.lock().await, &directory) {
                            tracing::warn!(error = %e, "could not keep the directory");
                        }
                    }
                    Err(e) => tracing::info!(error = %e, "could not fetch the directory"),
                }
                let outcome = ws_session(
                    Shared(journal.clone()),
                    config,
                    listener.as_ref(),
                    &mut socket,
                    Some(&mut stop),
                )
                .await;
                let _ = socket.close(None).await;
                outcome.map(|_| ())
            }
            Err(e) => {
                if unreachable(&e) {
                    current += 1;
                }
                Err(e)
            }
        };
        if *stop.borrow() {
            break;
        }
        let wait = backoff(attempt);
        attempt = attempt.saturating_add(1);
        match result {
            Err(ClientError::Unauthorized) => {
                tracing::warn!("the relay refused this device; live sync stops");
                return;
            }
            Err(e) => {
                tracing::info!(error = %e, retry_in_ms = wait.as_millis() as u64, "live sync interrupted")
            }
            Ok(()) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link the far side stopped reading (the network dropped away mid-send): the send gives up after
    /// the configured wait, where it used to wait minutes for TCP.
    #[tokio::test]
    async fn a_send_the_link_stopped_taking_gives_up_in_time() {
        let listening = tokio::net::TcpSocket::new_v4().expect("socket");
        listening.set_recv_buffer_size(4096).expect("small buffer");
        listening
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let listener = listening.listen(1).expect("listen");
        let address = listener.local_addr().expect("address");
        let connecting = tokio::net::TcpSocket::new_v4().expect("socket");
        connecting.set_send_buffer_size(4096).expect("small buffer");
        let (stream, accepted) = tokio::join!(connecting.connect(address), listener.accept());
        // The far side holds its end open and never reads.
        let _silent = accepted.expect("accepted");
        let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            tokio_tungstenite::MaybeTlsStream::Plain(stream.expect("connected")),
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        let week = WireMessage::Sync {
            document_id: "2026-2027/class/5a".into(),
            sender_id: "tablet".into(),
            target_id: "relay".into(),
            data: vec![7; 32 << 20],
        };
        let mut report = SyncReport::default();
        let outcome = tokio::time::timeout(
            Duration::from_secs(60),
            send(&mut socket, &week, Duration::from_secs(1), &mut report),
        )
        .await
        .expect("the send gave up by itself");
        assert!(matches!(outcome, Err(ClientError::Timeout)), "{outcome:?}");
    }

    #[test]
    fn backoff_grows_to_a_ceiling_with_jitter() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let ceiling = Duration::from_secs(1 << attempt.min(9)).min(Duration::from_secs(300));
            assert!(d <= ceiling && d >= ceiling / 2, "attempt {attempt}: {d:?}");
        }
        let samples: std::collections::BTreeSet<_> = (0..20).map(|_| backoff(5)).collect();
        assert!(samples.len() > 1, "jitter spreads reconnections");
    }

    #[test]
    fn relay_urls_become_websocket_urls() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/v1/sync"
        );
        assert_eq!(
            ws_url("https://relay.school.ru"),
            "wss://relay.school.ru/v1/sync"
        );
    }
}
