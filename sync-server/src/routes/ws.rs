//! `/v1/sync`: one WebSocket per device session, many documents multiplexed over it with automerge-repo's
//! framing. The bearer token is checked at the upgrade; grants are recomputed when the directory changes.
//!
//! Every message the relay sends about a document goes through the session's current grants: a document
//! the account may no longer read is dropped from the session, whether the news comes live, after the
//! session fell behind the live events, or after a reconnect.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use journal_core::sync::peer::{CANNOT_STORE, Closing, DATABASE_UNAVAILABLE, ServerPeer};
use journal_core::sync::protocol::{WireMessage, decode, encode};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::{Instrument, debug, info, info_span, warn};

use super::{AppError, principal};
use crate::app::App;
use crate::auth::Principal;
use crate::services::accounts::REVOKED;
use crate::services::events::RelayEvent;
use crate::sessions::Ticket;
use crate::side::SessionSide;
use crate::store::StoreError;

/// Bytes a session reads from its socket at a time.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// How long a client may take to send `join`: as long as it has for a request's headers. Under the load
/// generator's morning, 15 s closed sessions whose `join` a starved client had not yet written.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a stock automerge-repo client puts its device token: it cannot send headers.
#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /v1/sync` (with `Authorization: Bearer …`, or `?token=…` for clients that cannot send headers):
/// authenticates, then upgrades to the sync session.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let who = match &query.token {
        Some(token) => crate::auth::authenticate(
            app.store().as_ref(),
            &app.secrets,
            token,
            app.hub.clock().now(),
        )?,
        None => principal(&app, &headers)?,
    };
    let max = app.limits.max_frame_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        // Each session's reader keeps (and zeroes before each read) a buffer this large: at the
        // default 128 KiB, a thousand sessions at 8 a.m. held 128 MB of them. Frames larger than this
        // are read in several reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(app, who, socket)))
}

/// Why a session ends.
enum End {
    /// The client left or the connection dropped.
    Closed,
    /// A protocol or policy error, told to the client.
    Error(String),
    /// A message over the size limit.
    TooLarge(String),
}

impl From<Closing> for End {
    fn from(closing: Closing) -> Self {
        match closing {
            Closing::Left => End::Closed,
            Closing::Error(reason) => End::Error(reason),
        }
    }
}

async fn send(socket: &mut WebSocket, message: &WireMessage) -> Result<(), End> {
    socket
        .send(Message::Binary(encode(message).into()))
        .await
        .map_err(|_| End::Closed)
}

async fn send_all(
    socket: &mut WebSocket,
    messages: Vec<WireMessage>,
    app: &App,
) -> Result<(), End> {
    for message in &messages {
        let bytes = encode(message);
        app.metrics.sent(bytes.len());
        socket
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|_| End::Closed)?;
    }
    Ok(())
}

/// Whether a receive error is a frame or message over the size limit.
fn too_large(error: axum::Error) -> bool {
    error
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

async fn run(app: Arc<App>, who: Principal, mut socket: WebSocket) {
    let store = app.store().clone();
    let session_id =
        match store.start_session(&who.account.id, &who.device.id, app.hub.clock().now()) {
            Ok(id) => id,
            Err(e) => {
                // Said, not just dropped: a silent close reads as "no connection" on the tablet.
                tracing::error!(error = %e, "could not log a session");
                let (message, reason) = match e {
                    StoreError::CannotWrite(_) => (CANNOT_STORE, "cannot_store"),
                    StoreError::Unavailable(_) => (DATABASE_UNAVAILABLE, "database_unavailable"),
                    _ => ("the relay failed; reconnect later", "relay_failed"),
                };
                app.metrics.refused(reason);
                let _ = send(
                    &mut socket,
                    &WireMessage::Error {
                        message: message.into(),
                    },
                )
                .await;
                let frame = CloseFrame {
                    code: close_code::AGAIN,
                    reason: "".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
        };
    let span = info_span!("session", session = session_id, account = %who.account.id, device = %who.device.id);
    async move {
        let origin = u64::try_from(session_id).unwrap_or(0);
        let mut ticket = app.sessions.open(&who.device.id);
        let mut side = match SessionSide::new(app.clone(), who, origin) {
            Ok(Some(side)) => side,
            _ => {
                let _ = send(
                    &mut socket,
                    &WireMessage::Error {
                        message: "this account is not active".into(),
                    },
                )
                .await;
                return;
            }
        };
        info!("session started");
        app.metrics.synced("websocket");
        let _open = app.metrics.session_opened();
        let mut peer = ServerPeer::new(app.peer_id.clone(), app.limits.max_documents_per_session);
        let end = serve(&app, &mut peer, &mut side, origin, &mut socket, &mut ticket).await;
        let (code, reason) = match end {
            End::Closed => (close_code::NORMAL, None),
            End::Error(message) => {
                app.metrics.refused(match message.as_str() {
                    CANNOT_STORE => "cannot_store",
                    DATABASE_UNAVAILABLE => "database_unavailable",
                    _ => "session_error",
                });
                (close_code::POLICY, Some(message))
            }
            End::TooLarge(message) => {
                app.metrics.refused("too_large");
                (close_code::SIZE, Some(message))
            }
        };
        if let Some(message) = &reason {
            info!(reason = %message, "closing the session with an error");
            let _ = send(
                &mut socket,
                &WireMessage::Error {
                    message: message.clone(),
                },
            )
            .await;
        }
        let frame = CloseFrame {
            code,
            reason: reason
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect::<String>()
                .into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
        let synced = i64::try_from(peer.touched()).unwrap_or(i64::MAX);
        if let Err(e) = store.end_session(session_id, app.hub.clock().now(), synced) {
            warn!(error = %e, "could not log the end of a session");
        }
        info!(documents = synced, "session ended");
    }
    .instrument(span)
    .await;
}

/// Moves the session's bytes: frames to the peer, the relay's live events to the peer, and what the peer
/// says to the socket. The work that loads or stores documents runs off the async runtime.
async fn serve(
    app: &App,
    peer: &mut ServerPeer,
    side: &mut SessionSide,
    origin: u64,
    socket: &mut WebSocket,
    ticket: &mut Ticket,
) -> End {
    let device = side.device().to_owned();
    let mut events = app.hub.subscribe();
    let mut shutdown = app.shutdown.clone();
    let join_deadline = tokio::time::sleep(JOIN_TIMEOUT);
    tokio::pin!(join_deadline);
    loop {
        let out = tokio::select! {
            // In this order when several are ready: a session told to close closes, and a `join` that
            // waited in a busy relay's queue still counts even if the deadline passed meanwhile.
            biased;
            changed = ticket.closed.changed() => {
                // The registry only lets go of a session it has told to close.
                let reason = ticket.closed.borrow().clone();
                return End::Error(match (changed, reason) {
                    (Ok(()), Some(reason)) => reason,
                    _ => "the relay closed this session; reconnect".into(),
                });
            }
            incoming = socket.recv() => {
                let message = match incoming {
                    None => return End::Closed,
                    Some(Err(e)) => {
                        if too_large(e) {
                            return End::TooLarge(format!(
                                "a message larger than {} MiB was refused; sync fewer documents at once",
                                app.limits.max_frame_bytes >> 20
                            ));
                        }
                        return End::Closed;
                    }
                    Some(Ok(message)) => message,
                };
                let bytes = match message {
                    Message::Binary(bytes) => {
                        app.metrics.received(bytes.len());
                        bytes
                    }
                    Message::Text(_) => return End::Error("messages must be binary CBOR frames".into()),
                    Message::Close(_) => return End::Closed,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let message: WireMessage = match decode(&bytes) {
                    Ok(message) => message,
                    Err(e) => return End::Error(e.to_string()),
                };
                // A bundle counts as the messages it carries.
                let count = match &message {
                    WireMessage::Bundle { packed, .. } => {
                        match journal_core::sync::protocol::unpack_bundle(packed) {
                            Ok(inner) => u32::try_from(inner.len()).unwrap_or(u32::MAX),
                            Err(e) => return End::Error(e.to_string()),
                        }
                    }
                    _ => 1,
                };
                if app.message_limits.take(&device, count).is_err() {
                    return End::Error("too many messages; slow down and reconnect".into());
                }
                if matches!(message, WireMessage::Join { .. }) {
                    peer.on_message(side, message)
                } else {
                    app.hub.off_runtime(|| peer.on_message(side, message)).await
                }
            }
            event = events.recv() => match event {
                Ok(RelayEvent::Changed { doc, origin: from }) if from != origin => {
                    app.hub.off_runtime(|| peer.on_changed(side, &doc)).await
                }
                Ok(RelayEvent::Changed { .. }) => continue,
                Ok(RelayEvent::Ephemeral { doc, origin: from, message }) if from != origin => {
                    Ok(peer.on_ephemeral(side, &doc, &message))
                }
                Ok(RelayEvent::Ephemeral { .. }) => continue,
                Ok(RelayEvent::DirectoryChanged) => peer.on_rights_changed(side),
                Ok(RelayEvent::DeviceRevoked { device: revoked }) if revoked == device => {
                    return End::Error(REVOKED.into());
                }
                Ok(RelayEvent::DeviceRevoked { .. }) => continue,
                Ok(RelayEvent::Missed) => app.hub.off_runtime(|| peer.on_lagged(side)).await,
                Err(RecvError::Lagged(missed)) => {
                    debug!(missed, "missed live events; rechecking the device and its rights");
                    app.hub.off_runtime(|| peer.on_lagged(side)).await
                }
                Err(RecvError::Closed) => return End::Closed,
            },
            () = &mut join_deadline, if !peer.is_joined() => {
                return End::Error("no join message in time".into());
            }
            _ = shutdown.changed() => {
                return End::Error("the relay is shutting down; reconnect shortly".into());
            }
        };
        match out {
            Ok(messages) => {
                if let Err(end) = send_all(socket, messages, app).await {
                    return end;
                }
            }
            Err(closing) => return closing.into(),
        }
    }
}
