//! The HTTP transport for networks where WebSockets fail: `GET /v1/index` and `POST /v1/batch`, CBOR in and
//! out, sync state kept on the relay between requests.
//!
//! A batch is checked whole before any of it is applied: one malformed item (a bad id, a message that is
//! not a sync message, a document named twice) refuses the batch and nothing is stored. Its messages count
//! against the device's message rate, as on the WebSocket, and its reply stops growing at the reply limit:
//! the documents beyond are named as deferred, untouched, for the client's next batch.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use journal_core::DocId;
use journal_core::docs::decode_sync_message;
use journal_core::sync::protocol::{BatchRequest, BatchResponse, WireMessage, decode, encode};
use tracing::{Instrument, info_span};

use super::{AppError, Caller};
use crate::app::App;
use crate::hub::{HubError, Outcome, attribution};

fn cbor(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    response
}

/// `GET /v1/index`: the documents the caller may read, with the relay's heads.
pub async fn index(State(app): State<Arc<App>>, Caller(who): Caller) -> Result<Response, AppError> {
    let grants = app
        .hub
        .grants(&who.account.id)?
        .ok_or(AppError::Unauthorized)?;
    let documents = app.hub.index(&grants, &who.device.id)?;
    Ok(cbor(encode(&WireMessage::Index {
        sender_id: app.peer_id.clone(),
        target_id: who.device.id.clone(),
        documents,
    })))
}

/// One checked item of a batch.
struct Item {
    doc: DocId,
    /// The id as the client wrote it, for the reply.
    document_id: String,
    data: Vec<u8>,
    /// A `sync` (which may create the document) rather than a `request`.
    create: bool,
}

/// Checks every message of a batch; the first fault refuses the whole batch.
fn check_items(request: BatchRequest) -> Result<Vec<Item>, AppError> {
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(request.messages.len());
    for message in request.messages {
        let (document_id, data, create) = match message {
            WireMessage::Request {
                document_id, data, ..
            } => (document_id, data, false),
            WireMessage::Sync {
                document_id, data, ..
            } => (document_id, data, true),
            _ => {
                return Err(AppError::BadRequest(
                    "a batch holds only request and sync messages; nothing was applied".into(),
                ));
            }
        };
        let doc: DocId = document_id.parse().map_err(|e: journal_core::InputError| {
            AppError::BadRequest(format!("{e}; nothing was applied"))
        })?;
        if !seen.insert(doc.clone()) {
            return Err(AppError::BadRequest(format!(
                "document {doc} appears twice in one batch; nothing was applied"
            )));
        }
        decode_sync_message(&data).map_err(|e| {
            AppError::BadRequest(format!("document {doc}: {e}; nothing was applied"))
        })?;
        items.push(Item {
            doc,
            document_id,
            data,
            create,
        });
    }
    Ok(items)
}

/// The length of a reply's payload.
fn payload(message: &WireMessage) -> usize {
    match message {
        WireMessage::Sync { data, .. } | WireMessage::Snapshot { data, .. } => data.len(),
        WireMessage::Refused { reason, .. } => reason.len(),
        _ => 0,
    }
}

/// `POST /v1/batch`: a list of sync messages in, the replies out.
pub async fn batch(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut grants = app
        .hub
        .grants(&who.account.id)?
        .ok_or(AppError::Unauthorized)?;
    let request: BatchRequest = decode(&body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if request.messages.len() > app.limits.max_documents_per_session {
        return Err(AppError::BadRequest(format!(
            "more than {} messages in one batch",
            app.limits.max_documents_per_session
        )));
    }
    let target_id = request.storage_id.clone();
    let items = check_items(request)?;
    let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
    if let Err(wait) = app.message_limits.take(&who.device.id, count) {
        tracing::warn!("sync message rate limit reached");
        return Err(AppError::TooMany(wait.as_secs().max(1)));
    }
    let store = app.store().clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let session = store.start_session(&who.account.id, &who.device.id, now)?;
    let span = info_span!("batch", session, account = %who.account.id, device = %who.device.id);
    let mut replies = Vec::new();
    let mut deferred = Vec::new();
    let mut reply_bytes = 0usize;
    async {
        for item in items {
            if reply_bytes >= app.limits.max_reply_bytes {
                deferred.push(item.document_id);
                continue;
            }
            let Item {
                doc,
                document_id,
                data,
                create,
            } = item;
            let mut state = app.hub.load_state(&who.device.id, &doc)?;
            let by = attribution(&who.account.id, &who.device.id);
            let outcome = app
                .hub
                .off_runtime(
                    app.hub
                        .receive(&grants, &by, 0, &mut state, &doc, &data, create)
                        .instrument(info_span!("sync", doc = %doc)),
                )
                .await;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                // Checked above yet not applicable: this document's change is refused, not the batch.
                Err(HubError::Malformed(reason)) => {
                    Outcome::Refused(format!("document {doc}: {reason}"))
                }
                Err(e) => return Err(AppError::from(e)),
            };
            let (sender_id, target_id) = (app.peer_id.clone(), target_id.clone());
            if matches!(outcome, Outcome::Created(_)) {
                grants = app
                    .hub
                    .grants(&who.account.id)?
                    .ok_or(AppError::Unauthorized)?;
            }
            let reply = match outcome {
                Outcome::Reply(reply) | Outcome::Created(reply) => {
                    app.hub.save_state(&who.device.id, &doc, &state)?;
                    reply.map(|data| WireMessage::Sync {
                        document_id,
                        sender_id,
                        target_id,
                        data,
                    })
                }
                Outcome::Snapshot(data) => Some(WireMessage::Snapshot {
                    document_id,
                    sender_id,
                    target_id,
                    data: data.as_ref().clone(),
                }),
                Outcome::Unavailable => Some(WireMessage::DocUnavailable {
                    document_id,
                    sender_id,
                    target_id,
                }),
                Outcome::Refused(reason) => {
                    app.hub
                        .save_state(&who.device.id, &doc, &automerge::sync::State::new())?;
                    Some(WireMessage::Refused {
                        document_id,
                        sender_id,
                        target_id,
                        reason,
                    })
                }
            };
            if let Some(reply) = reply {
                reply_bytes += payload(&reply);
                replies.push(reply);
            }
        }
        Ok::<(), AppError>(())
    }
    .instrument(span)
    .await?;
    if !deferred.is_empty() {
        tracing::debug!(
            deferred = deferred.len(),
            "the batch reply reached its limit"
        );
    }
    let synced = i64::try_from(replies.len()).unwrap_or(i64::MAX);
    store.end_session(
        session,
        time::OffsetDateTime::now_utc().unix_timestamp(),
        synced,
    )?;
    Ok(cbor(encode(&BatchResponse {
        messages: replies,
        deferred,
    })))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use journal_core::YearId;
    use tower::ServiceExt;

    use super::*;
    use crate::app::{App, Limits};
    use crate::hub::Hub;
    use crate::secrets::HashKey;
    use crate::store::sqlite::SqliteStore;

    const YEAR: YearId = YearId(2026);

    async fn relay(limits: Limits) -> (Arc<App>, String) {
        let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let (_, shutdown) = tokio::sync::watch::channel(false);
        let app = Arc::new(App::new(
            Hub::new(store),
            limits,
            shutdown,
            "relay".into(),
            HashKey::random(),
        ));
        crate::demo::seed(&app, YEAR).await.expect("demo school");
        let token =
            crate::auth::issue_device(app.store().as_ref(), &app.secrets, "director", "pc", 1)
                .expect("device")
                .token;
        (app, token)
    }

    fn opening(id: &str) -> WireMessage {
        let doc: DocId = format!("{YEAR}/{id}").parse().expect("id");
        WireMessage::Request {
            document_id: doc.to_string(),
            sender_id: "pc".into(),
            target_id: "relay".into(),
            data: journal_core::docs::Document::create(doc, &automerge::ActorId::random())
                .expect("doc")
                .generate_sync_message(&mut automerge::sync::State::new())
                .expect("first message"),
        }
    }

    async fn post(app: &Arc<App>, token: &str, messages: Vec<WireMessage>) -> BatchResponse {
        let body = encode(&BatchRequest {
            storage_id: "pc".into(),
            messages,
        });
        let response = crate::build_router(app.clone())
            .oneshot(
                Request::post("/v1/batch")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::from(body))
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        decode(&bytes).expect("a batch reply")
    }

    /// Past the reply limit, the rest of a batch is deferred untouched, and sent again it is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_stops_at_its_limit_and_the_rest_is_deferred_for_the_next_batch() {
        let (app, token) = relay(Limits {
            max_reply_bytes: 1,
            ..Limits::default()
        })
        .await;
        let asked = ["school", "class/5a", "class/6b"];
        let first = post(&app, &token, asked.iter().map(|id| opening(id)).collect()).await;
        assert_eq!(first.messages.len(), 1, "one reply fits before the limit");
        assert_eq!(
            first.deferred,
            [format!("{YEAR}/class/5a"), format!("{YEAR}/class/6b")]
        );
        let again = post(
            &app,
            &token,
            asked[1..].iter().map(|id| opening(id)).collect(),
        )
        .await;
        assert!(
            matches!(&again.messages[..], [WireMessage::Snapshot { document_id, .. }] if *document_id == format!("{YEAR}/class/5a")),
            "the deferred documents are answered in turn"
        );
        assert_eq!(again.deferred, [format!("{YEAR}/class/6b")]);
    }
}
