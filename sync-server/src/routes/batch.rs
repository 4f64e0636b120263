//! The HTTP transport for networks where WebSockets fail: `GET /v1/index` and `POST /v1/batch`, CBOR in and
//! out, sync state kept on the relay between requests. What a batch means is the sync peer's
//! ([`BatchPeer`]): checked whole before any of it is applied, bounded in its reply, the documents beyond
//! deferred. Here its messages also count against the device's message rate, as on the WebSocket.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use journal_core::sync::peer::{BatchFault, BatchPeer, PeerFault, RelaySide};
use journal_core::sync::protocol::{BatchRequest, BatchResponse, WireMessage, decode, encode};
use tracing::{Instrument, info_span};

use super::{AppError, Caller};
use crate::app::App;
use crate::side::SessionSide;

fn cbor(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    response
}

impl From<PeerFault> for AppError {
    fn from(fault: PeerFault) -> Self {
        match fault {
            PeerFault::Malformed(reason) => AppError::BadRequest(reason),
            PeerFault::Relay(detail) => AppError::Internal(detail),
            PeerFault::Unavailable(detail) => AppError::Unavailable(detail),
            PeerFault::CannotStore(detail) => AppError::CannotStore(detail),
        }
    }
}

impl From<BatchFault> for AppError {
    fn from(fault: BatchFault) -> Self {
        match fault {
            BatchFault::Invalid(_) => AppError::BadRequest(fault.to_string()),
            BatchFault::Relay(fault) => fault.into(),
        }
    }
}

/// What `GET /v1/index` may be asked.
#[derive(Debug, Default, serde::Deserialize)]
pub struct IndexQuery {
    /// Every document's heads, for a device whose last sync was cut short.
    #[serde(default)]
    every_head: bool,
}

/// `GET /v1/index`: the documents the caller may read, with the relay's heads.
pub async fn index(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    Query(query): Query<IndexQuery>,
) -> Result<Response, AppError> {
    let device = who.device.id.clone();
    let side = SessionSide::new(app.clone(), who, 0)?.ok_or(AppError::Unauthorized)?;
    app.metrics.synced("http");
    Ok(cbor(encode(&WireMessage::Index {
        sender_id: app.peer_id.clone(),
        target_id: device,
        documents: side.index(query.every_head)?,
        packed: None,
    })))
}

/// `POST /v1/batch`: a list of sync messages in, the replies out.
pub async fn batch(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    app.metrics.received(body.len());
    let request: BatchRequest = decode(&body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if request.messages.len() > app.limits.max_documents_per_session {
        return Err(AppError::BadRequest(format!(
            "more than {} messages in one batch",
            app.limits.max_documents_per_session
        )));
    }
    let mut peer = BatchPeer::new(app.peer_id.clone(), request, app.limits.max_reply_bytes)?;
    let count = u32::try_from(peer.len()).unwrap_or(u32::MAX);
    if let Err(wait) = app.message_limits.take(&who.device.id, count) {
        tracing::warn!("sync message rate limit reached");
        return Err(AppError::TooMany(wait.as_secs().max(1)));
    }
    let store = app.store().clone();
    let session = store.start_session(&who.account.id, &who.device.id, app.hub.clock().now())?;
    let span = info_span!("batch", session, account = %who.account.id, device = %who.device.id);
    let mut side = SessionSide::new(app.clone(), who, 0)?.ok_or(AppError::Unauthorized)?;
    async {
        // One message at a time, each taking its turn at the relay's cores.
        while !peer.is_empty() {
            app.hub.off_runtime(|| peer.answer_next(&mut side)).await?;
        }
        Ok::<(), AppError>(())
    }
    .instrument(span)
    .await?;
    let (messages, deferred) = peer.finish();
    if !deferred.is_empty() {
        tracing::debug!(
            deferred = deferred.len(),
            "the batch reply reached its limit"
        );
    }
    let synced = i64::try_from(messages.len()).unwrap_or(i64::MAX);
    store.end_session(session, app.hub.clock().now(), synced)?;
    let reply = encode(&BatchResponse { messages, deferred });
    app.metrics.sent(reply.len());
    Ok(cbor(reply))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use journal_core::{DocId, YearId};
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
            Arc::new(Hub::new(
                store,
                Arc::new(crate::services::events::LocalBus::default()),
            )),
            limits,
            shutdown,
            "relay".into(),
            HashKey::random(),
        ));
        crate::demo::seed(&app, YEAR, crate::demo::DemoOptions::bare()).expect("demo school");
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
