//! The HTTP transport for networks where WebSockets fail: `GET /v1/index` and `POST /v1/batch`, CBOR in and
//! out, sync state kept on the relay between requests.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use journal_core::DocId;
use journal_core::sync::protocol::{BatchRequest, BatchResponse, WireMessage, decode, encode};
use tracing::{Instrument, info_span};

use super::{AppError, principal};
use crate::acl::Grants;
use crate::app::App;
use crate::hub::{Outcome, attribution};

fn cbor(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    response
}

fn grants(app: &App, account: &str) -> Result<Grants, AppError> {
    Grants::load(app.store().as_ref(), account)?.ok_or(AppError::Unauthorized)
}

/// `GET /v1/index`: the documents the caller may read, with the relay's heads.
pub async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    let who = principal(&app, &headers)?;
    let grants = grants(&app, &who.account.id)?;
    let documents = app.hub.index(&grants, &who.device.id)?;
    Ok(cbor(encode(&WireMessage::Index {
        sender_id: app.peer_id.clone(),
        target_id: who.device.id.clone(),
        documents,
    })))
}

/// `POST /v1/batch`: a list of sync messages in, the replies out.
pub async fn batch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let who = principal(&app, &headers)?;
    let mut grants = grants(&app, &who.account.id)?;
    let request: BatchRequest = decode(&body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if request.messages.len() > app.limits.max_documents_per_session {
        return Err(AppError::BadRequest(format!(
            "more than {} messages in one batch",
            app.limits.max_documents_per_session
        )));
    }
    let store = app.store().clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let session = store.start_session(&who.account.id, &who.device.id, now)?;
    let span = info_span!("batch", session, account = %who.account.id, device = %who.device.id);
    let mut replies = Vec::new();
    async {
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
                        "a batch holds only request and sync messages".into(),
                    ));
                }
            };
            let doc: DocId = document_id
                .parse()
                .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))?;
            let mut state = app.hub.load_state(&who.device.id, &doc)?;
            let by = attribution(&who.account.id, &who.device.id);
            let outcome = app
                .hub
                .off_runtime(
                    app.hub
                        .receive(&grants, &by, 0, &mut state, &doc, &data, create)
                        .instrument(info_span!("sync", doc = %doc)),
                )
                .await?;
            let (sender_id, target_id) = (app.peer_id.clone(), request.storage_id.clone());
            if matches!(outcome, Outcome::Created(_)) {
                grants = self::grants(&app, &who.account.id)?;
            }
            match outcome {
                Outcome::Reply(reply) | Outcome::Created(reply) => {
                    app.hub.save_state(&who.device.id, &doc, &state)?;
                    if let Some(data) = reply {
                        replies.push(WireMessage::Sync {
                            document_id,
                            sender_id,
                            target_id,
                            data,
                        });
                    }
                }
                Outcome::Snapshot(data) => replies.push(WireMessage::Snapshot {
                    document_id,
                    sender_id,
                    target_id,
                    data: data.as_ref().clone(),
                }),
                Outcome::Unavailable => replies.push(WireMessage::DocUnavailable {
                    document_id,
                    sender_id,
                    target_id,
                }),
                Outcome::Refused(reason) => {
                    app.hub
                        .save_state(&who.device.id, &doc, &automerge::sync::State::new())?;
                    replies.push(WireMessage::Refused {
                        document_id,
                        sender_id,
                        target_id,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
    .instrument(span)
    .await?;
    let synced = i64::try_from(replies.len()).unwrap_or(i64::MAX);
    store.end_session(
        session,
        time::OffsetDateTime::now_utc().unix_timestamp(),
        synced,
    )?;
    Ok(cbor(encode(&BatchResponse { messages: replies })))
}
