//! The relay's state and router, kept apart from `main` so tests drive it on any listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::watch;

use crate::hub::Hub;
use crate::routes;
use crate::store::RelayStore;

/// Limits that keep one client from hurting the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message or HTTP body, in bytes.
    pub max_frame_bytes: usize,
    /// Most documents one session or batch may touch.
    pub max_documents_per_session: usize,
    /// Sustained messages per second per session.
    pub messages_per_second: u32,
    /// Messages a session may send in a burst above the sustained rate.
    pub message_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_documents_per_session: 10_000,
            messages_per_second: 200,
            message_burst: 4_000,
        }
    }
}

/// Everything a request needs.
#[derive(Debug)]
pub struct App {
    /// The documents.
    pub hub: Hub,
    /// Limits.
    pub limits: Limits,
    /// Flips to `true` when the relay shuts down; live sessions close.
    pub shutdown: watch::Receiver<bool>,
    /// The relay's peer id on the wire.
    pub peer_id: String,
}

impl App {
    /// The store behind the hub.
    pub fn store(&self) -> &Arc<dyn RelayStore> {
        self.hub.store()
    }
}

/// The relay's routes.
pub fn build_router(app: Arc<App>) -> Router {
    let body_limit = app.limits.max_frame_bytes;
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/v1/sync", get(routes::ws::upgrade))
        .route("/v1/index", get(routes::batch::index))
        .route("/v1/batch", post(routes::batch::batch))
        .nest("/v1/admin", routes::admin::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}
