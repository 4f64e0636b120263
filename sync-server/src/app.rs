//! The relay's state and router, kept apart from `main` so tests drive it on any listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::watch;

use crate::hub::Hub;
use crate::ratelimit::{Rate, RateLimiter};
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
    /// Code redemptions per client address.
    pub redeem_per_client: Rate,
    /// Code redemptions for the whole relay.
    pub redeem_global: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_documents_per_session: 10_000,
            messages_per_second: 200,
            message_burst: 4_000,
            redeem_per_client: Rate {
                per_minute: 5,
                burst: 10,
            },
            redeem_global: Rate {
                per_minute: 60,
                burst: 120,
            },
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
    /// Limits code redemption attempts.
    pub redeem_limiter: RateLimiter,
}

impl App {
    /// The relay's state over `hub`, with `limits`.
    pub fn new(hub: Hub, limits: Limits, shutdown: watch::Receiver<bool>, peer_id: String) -> Self {
        App {
            redeem_limiter: RateLimiter::new(limits.redeem_per_client, limits.redeem_global),
            hub,
            limits,
            shutdown,
            peer_id,
        }
    }

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
        .route("/v1/codes", post(routes::codes::issue))
        .route("/v1/redeem", post(routes::codes::redeem))
        .route("/v1/me/devices", get(routes::codes::my_devices))
        .route("/v1/me/directory", get(routes::directory::my_directory))
        .route(
            "/v1/me/devices/{id}/revoke",
            post(routes::codes::revoke_my_device),
        )
        .nest("/v1/admin", routes::admin::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}
