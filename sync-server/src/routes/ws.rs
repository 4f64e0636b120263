//! `/v1/sync`: one WebSocket per device session, many documents multiplexed over it with automerge-repo's
//! framing. The bearer token is checked at the upgrade; grants are recomputed when the directory changes.
//!
//! Every message the relay sends about a document goes through the session's current grants: a document
//! the account may no longer read is dropped from the session, whether the news comes live, after the
//! session fell behind the live events, or after a reconnect.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use automerge::sync;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use journal_core::DocId;
use journal_core::sync::protocol::{PROTOCOL_VERSION, PeerMetadata, WireMessage, decode, encode};
use tokio::sync::broadcast::error::RecvError;
use tracing::{Instrument, debug, info, info_span, warn};

use super::{AppError, Caller};
use crate::acl::Grants;
use crate::app::App;
use crate::auth::Principal;
use crate::hub::{HubEvent, Outcome, attribution};
use crate::sessions::Ticket;

/// How long a client may take to send `join`: as long as it has for a request's headers. Under the load
/// generator's morning, 15 s closed sessions whose `join` a starved client had not yet written.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// `GET /v1/sync`: authenticates, then upgrades to the sync session.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let max = app.limits.max_frame_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run(app, who, socket)))
}

struct Session {
    app: Arc<App>,
    who: Principal,
    grants: Grants,
    id: u64,
    client: String,
    joined: bool,
    states: HashMap<DocId, sync::State>,
    touched: HashSet<DocId>,
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

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn send(socket: &mut WebSocket, message: &WireMessage) -> Result<(), End> {
    socket
        .send(Message::Binary(encode(message).into()))
        .await
        .map_err(|_| End::Closed)
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
    let session_id = match store.start_session(&who.account.id, &who.device.id, now()) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "could not log a session");
            return;
        }
    };
    let span = info_span!("session", session = session_id, account = %who.account.id, device = %who.device.id);
    async move {
        let grants = match app.hub.grants(&who.account.id) {
            Ok(Some(grants)) => grants,
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
        let mut ticket = app.sessions.open(&who.device.id);
        info!("session started");
        let mut session = Session {
            app: app.clone(),
            who,
            grants,
            id: u64::try_from(session_id).unwrap_or(0),
            client: String::new(),
            joined: false,
            states: HashMap::new(),
            touched: HashSet::new(),
        };
        let end = session.serve(&mut socket, &mut ticket).await;
        let (code, reason) = match end {
            End::Closed => (close_code::NORMAL, None),
            End::Error(message) => (close_code::POLICY, Some(message)),
            End::TooLarge(message) => (close_code::SIZE, Some(message)),
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
        let synced = i64::try_from(session.touched.len()).unwrap_or(i64::MAX);
        if let Err(e) = store.end_session(session_id, now(), synced) {
            warn!(error = %e, "could not log the end of a session");
        }
        info!(documents = synced, "session ended");
    }
    .instrument(span)
    .await;
}

impl Session {
    async fn serve(&mut self, socket: &mut WebSocket, ticket: &mut Ticket) -> End {
        let mut events = self.app.hub.subscribe();
        let mut shutdown = self.app.shutdown.clone();
        let join_deadline = tokio::time::sleep(JOIN_TIMEOUT);
        tokio::pin!(join_deadline);
        loop {
            tokio::select! {
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
                                    self.app.limits.max_frame_bytes >> 20
                                ));
                            }
                            return End::Closed;
                        }
                        Some(Ok(message)) => message,
                    };
                    match message {
                        Message::Binary(bytes) => {
                            if self.app.message_limits.take(&self.who.device.id, 1).is_err() {
                                return End::Error("too many messages; slow down and reconnect".into());
                            }
                            if let Err(end) = self.on_frame(socket, &bytes).await {
                                return end;
                            }
                        }
                        Message::Text(_) => return End::Error("messages must be binary CBOR frames".into()),
                        Message::Close(_) => return End::Closed,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                event = events.recv() => {
                    if let Err(end) = self.on_event(socket, event).await {
                        return end;
                    }
                }
                () = &mut join_deadline, if !self.joined => {
                    return End::Error("no join message in time".into());
                }
                _ = shutdown.changed() => {
                    return End::Error("the relay is shutting down; reconnect shortly".into());
                }
            }
        }
    }

    async fn on_event(
        &mut self,
        socket: &mut WebSocket,
        event: Result<HubEvent, RecvError>,
    ) -> Result<(), End> {
        match event {
            Ok(HubEvent::Changed { doc, origin }) => {
                if self.joined && origin != self.id {
                    self.push(socket, &doc).await?;
                }
            }
            Ok(HubEvent::DirectoryChanged) => self.reload_grants()?,
            Err(RecvError::Lagged(missed)) => {
                // Whatever the missed events were (directory changes, a revocation), judge afresh: the
                // device and its rights as they are now, then every open document through them.
                debug!(
                    missed,
                    "missed live events; rechecking the device and its rights"
                );
                self.check_device()?;
                self.reload_grants()?;
                let open: Vec<DocId> = self.states.keys().cloned().collect();
                for doc in open {
                    self.push(socket, &doc).await?;
                }
            }
            Err(RecvError::Closed) => return Err(End::Closed),
        }
        Ok(())
    }

    /// Ends the session if its device was revoked meanwhile.
    fn check_device(&self) -> Result<(), End> {
        match self.app.store().device_auth(&self.who.device.id) {
            Ok(Some((device, _))) if device.revoked_at.is_none() => Ok(()),
            Ok(_) => Err(End::Error(
                "this device was revoked; sign it in again".into(),
            )),
            Err(e) => {
                warn!(error = %e, "could not check the device");
                Err(End::Error("the relay failed; reconnect later".into()))
            }
        }
    }

    /// Recomputes the account's rights and forgets the documents it may no longer read.
    fn reload_grants(&mut self) -> Result<(), End> {
        match self.app.hub.grants(&self.who.account.id) {
            Ok(Some(grants)) => {
                self.states.retain(|doc, _| grants.can_read(doc));
                self.grants = grants;
                Ok(())
            }
            Ok(None) => Err(End::Error("this account was deactivated".into())),
            Err(e) => {
                warn!(error = %e, "could not reload grants");
                Err(End::Error("the relay failed; reconnect later".into()))
            }
        }
    }

    fn state(&mut self, doc: &DocId) -> Result<&mut sync::State, End> {
        if !self.states.contains_key(doc) {
            if self.states.len() >= self.app.limits.max_documents_per_session {
                return Err(End::Error(format!(
                    "more than {} documents in one session",
                    self.app.limits.max_documents_per_session
                )));
            }
            let state = self
                .app
                .hub
                .load_state(&self.who.device.id, doc)
                .map_err(|_| End::Error("the relay failed; reconnect later".into()))?;
            self.states.insert(doc.clone(), state);
        }
        Ok(self.states.get_mut(doc).expect("inserted above"))
    }

    /// Offers a peer the relay's news about a document, if the account may read it.
    async fn push(&mut self, socket: &mut WebSocket, doc: &DocId) -> Result<(), End> {
        if !self.grants.can_read(doc) {
            self.states.remove(doc);
            return Ok(());
        }
        let mut state = self.state(doc)?.clone();
        let hub = &self.app.hub;
        let message = hub
            .off_runtime(hub.generate(doc, &mut state))
            .await
            .map_err(|_| End::Error("the relay failed; reconnect later".into()))?;
        *self.state(doc)? = state;
        if let Some(data) = message {
            self.touched.insert(doc.clone());
            send(socket, &self.wire_sync(doc, data)).await?;
        }
        Ok(())
    }

    fn wire_sync(&self, doc: &DocId, data: Vec<u8>) -> WireMessage {
        WireMessage::Sync {
            document_id: doc.to_string(),
            sender_id: self.app.peer_id.clone(),
            target_id: self.client.clone(),
            data,
        }
    }

    async fn on_frame(&mut self, socket: &mut WebSocket, bytes: &[u8]) -> Result<(), End> {
        let message: WireMessage = decode(bytes).map_err(|e| End::Error(e.to_string()))?;
        match message {
            WireMessage::Join {
                sender_id,
                supported_protocol_versions,
                ..
            } => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    return Err(End::Error(format!(
                        "unsupported protocol version; this relay speaks {PROTOCOL_VERSION}"
                    )));
                }
                if self.joined {
                    return Ok(());
                }
                self.client = sender_id.chars().take(200).collect();
                self.joined = true;
                send(
                    socket,
                    &WireMessage::Peer {
                        sender_id: self.app.peer_id.clone(),
                        selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                        target_id: self.client.clone(),
                        metadata: Some(PeerMetadata {
                            storage_id: Some(self.app.peer_id.clone()),
                            is_ephemeral: false,
                        }),
                    },
                )
                .await?;
                let documents = self
                    .app
                    .hub
                    .index(&self.grants, &self.who.device.id)
                    .map_err(|_| End::Error("the relay failed; reconnect later".into()))?;
                debug!(documents = documents.len(), "sent the index");
                send(
                    socket,
                    &WireMessage::Index {
                        sender_id: self.app.peer_id.clone(),
                        target_id: self.client.clone(),
                        documents,
                    },
                )
                .await
            }
            _ if !self.joined => Err(End::Error("the first message must be join".into())),
            WireMessage::Request {
                document_id, data, ..
            } => {
                let doc: DocId = document_id
                    .parse()
                    .map_err(|e: journal_core::InputError| End::Error(e.to_string()))?;
                self.on_sync(socket, doc, &data, false).await
            }
            WireMessage::Sync {
                document_id, data, ..
            } => {
                let doc: DocId = document_id
                    .parse()
                    .map_err(|e: journal_core::InputError| End::Error(e.to_string()))?;
                self.on_sync(socket, doc, &data, true).await
            }
            WireMessage::Leave { .. } => Err(End::Closed),
            WireMessage::Error { .. } => Err(End::Closed),
            WireMessage::DocUnavailable { .. } => Ok(()),
            other => Err(End::Error(format!(
                "unexpected message from a client: {}",
                match other {
                    WireMessage::Peer { .. } => "peer",
                    WireMessage::Index { .. } => "x-journal-index",
                    _ => "x-journal-refused",
                }
            ))),
        }
    }

    async fn on_sync(
        &mut self,
        socket: &mut WebSocket,
        doc: DocId,
        data: &[u8],
        create: bool,
    ) -> Result<(), End> {
        let span = info_span!("sync", doc = %doc);
        let mut state = self.state(&doc)?.clone();
        let by = attribution(&self.who.account.id, &self.who.device.id);
        let hub = &self.app.hub;
        let outcome = hub
            .off_runtime(
                hub.receive(&self.grants, &by, self.id, &mut state, &doc, data, create)
                    .instrument(span),
            )
            .await
            .map_err(|e| End::Error(e.to_string()))?;
        debug!(doc = %doc, create, outcome = ?outcome.kind(), "handled a sync message");
        if matches!(outcome, Outcome::Created(_)) {
            self.reload_grants()?;
        }
        let reply = match outcome {
            Outcome::Reply(data) | Outcome::Created(data) => {
                *self.state(&doc)? = state.clone();
                self.touched.insert(doc.clone());
                if let Err(e) = self.app.hub.save_state(&self.who.device.id, &doc, &state) {
                    warn!(error = %e, "could not save a sync state");
                }
                data.map(|data| self.wire_sync(&doc, data))
            }
            Outcome::Snapshot(data) => {
                // The relay's state for this peer stays fresh: the peer's next `sync` starts from its heads.
                self.touched.insert(doc.clone());
                Some(WireMessage::Snapshot {
                    document_id: doc.to_string(),
                    sender_id: self.app.peer_id.clone(),
                    target_id: self.client.clone(),
                    data: data.as_ref().clone(),
                })
            }
            Outcome::Unavailable => {
                self.states.remove(&doc);
                Some(WireMessage::DocUnavailable {
                    document_id: doc.to_string(),
                    sender_id: self.app.peer_id.clone(),
                    target_id: self.client.clone(),
                })
            }
            Outcome::Refused(reason) => {
                // The client will start this document afresh: so does its sync state here.
                let fresh = sync::State::new();
                if let Err(e) = self.app.hub.save_state(&self.who.device.id, &doc, &fresh) {
                    warn!(error = %e, "could not reset a sync state");
                }
                self.states.insert(doc.clone(), fresh);
                Some(WireMessage::Refused {
                    document_id: doc.to_string(),
                    sender_id: self.app.peer_id.clone(),
                    target_id: self.client.clone(),
                    reason,
                })
            }
        };
        match reply {
            Some(message) => send(socket, &message).await,
            None => Ok(()),
        }
    }
}
