//! The relay's state and router, kept apart from `main` so tests drive it on any listener.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::watch;

use crate::hub::Hub;
use crate::ratelimit::{KeyedLimit, Rate, RedeemLimits};
use crate::read_model::ReadModel;
use crate::routes;
use crate::secrets::HashKey;
use crate::services::Services;
use crate::sessions::Sessions;
use crate::store::RelayStore;

/// Limits that keep one client from hurting the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message or HTTP body, in bytes.
    pub max_frame_bytes: usize,
    /// Most bytes of replies one HTTP batch gets; the documents beyond wait for the next batch.
    pub max_reply_bytes: usize,
    /// Most documents one session or batch may touch.
    pub max_documents_per_session: usize,
    /// Sync messages per device (its WebSocket sessions and HTTP batches together).
    pub messages: Rate,
    /// Code redemptions per client address.
    pub redeem_per_address: Rate,
    /// Code redemptions per code family (the first characters of the code tried).
    pub redeem_per_family: Rate,
    /// Live sessions per device; when another opens, the oldest closes.
    pub sessions_per_device: usize,
    /// Open connections per client address; more are closed as they arrive.
    pub connections_per_address: usize,
    /// Time a client has to send a request's headers, and the longest a connection may sit idle between
    /// requests.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_reply_bytes: 16 * 1024 * 1024,
            max_documents_per_session: 10_000,
            messages: Rate {
                per_minute: 200 * 60,
                burst: 4_000,
            },
            redeem_per_address: Rate {
                per_minute: 5,
                burst: 10,
            },
            redeem_per_family: Rate {
                per_minute: 5,
                burst: 10,
            },
            sessions_per_device: 4,
            // A school's whole network may reach a district relay from one address.
            connections_per_address: 1024,
            // Generous enough for a relay starved of CPU by a morning burst (under the load generator a
            // 10 s deadline closed connections whose headers had long arrived), short enough that a
            // connection dribbling its headers or saying nothing is gone in half a minute.
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything a request needs.
#[derive(Debug)]
pub struct App {
    /// The documents.
    pub hub: Arc<Hub>,
    /// Every change to the directory and the school's years goes through these.
    pub services: Services,
    /// Limits.
    pub limits: Limits,
    /// Flips to `true` when the relay shuts down; live sessions close.
    pub shutdown: watch::Receiver<bool>,
    /// The relay's peer id on the wire.
    pub peer_id: String,
    /// Limits code redemption attempts.
    pub redeem_limits: RedeemLimits,
    /// Limits sync messages per device.
    pub message_limits: KeyedLimit<String>,
    /// Live sessions by device.
    pub sessions: Sessions,
    /// The installation's key for code and token hashes.
    pub secrets: HashKey,
    /// The documents reports read, kept parsed between reports.
    pub read_model: Arc<ReadModel>,
    /// The fingerprint of the certificate the relay made for itself and serves, for the access slips.
    pub certificate_pin: Option<journal_core::certificate_pin::CertificatePin>,
    /// What the relay counts, for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The data directory, whose disk and backups the health checks look at (none in unit tests).
    pub data_dir: Option<std::path::PathBuf>,
    /// Free bytes below which the disk counts as nearly full (default: 5% of it, at most 512 MiB).
    pub min_free_disk: Option<u64>,
    /// Whether `/metrics` answers clients beyond this machine.
    pub metrics_public: bool,
    /// Whether the console's cookie is marked `Secure` (the relay serves TLS).
    pub secure_cookies: bool,
    /// The PostgreSQL store when the relay serves one, for the console's backups.
    pub postgres: Option<Arc<crate::store::postgres::PostgresStore>>,
}

impl App {
    /// The relay's state over `hub`, with `limits` and the installation's hashing key.
    pub fn new(
        hub: Arc<Hub>,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
        peer_id: String,
        secrets: HashKey,
    ) -> Self {
        App {
            redeem_limits: RedeemLimits::new(
                limits.redeem_per_address,
                limits.redeem_per_family,
                hub.clock().clone(),
            ),
            message_limits: KeyedLimit::new(limits.messages, hub.clock().clone()),
            sessions: Sessions::new(limits.sessions_per_device),
            services: Services::new(hub.clone(), secrets.clone()),
            hub,
            limits,
            shutdown,
            peer_id,
            secrets,
            read_model: Arc::new(ReadModel::default()),
            certificate_pin: None,
            metrics: crate::metrics::Metrics::default(),
            data_dir: None,
            min_free_disk: None,
            metrics_public: false,
            secure_cookies: false,
            postgres: None,
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
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/v1/sync", get(routes::ws::upgrade))
        .route("/v1/index", get(routes::batch::index))
        .route("/v1/batch", post(routes::batch::batch))
        .route("/v1/codes", post(routes::codes::issue))
        .route("/v1/redeem", post(routes::codes::redeem))
        .route(
            "/v1/consents",
            post(routes::consent::record).get(routes::consent::register),
        )
        .route("/v1/me/devices", get(routes::codes::my_devices))
        .route("/v1/me/directory", get(routes::directory::my_directory))
        .route("/v1/me/documents", get(routes::directory::my_documents))
        .route(
            "/v1/me/devices/{id}/revoke",
            post(routes::codes::revoke_my_device),
        )
        .nest("/v1/admin", routes::admin::router())
        .nest("/admin", crate::console::router())
        .route(
            "/admin/",
            get(|| async { axum::response::Redirect::permanent("/admin") }),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            routes::count_refusal,
        ))
        .with_state(app)
}
