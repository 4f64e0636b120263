//! The relay of the school journal: a thin axum server that authenticates devices, syncs many Automerge
//! documents per session, refuses every read or write the directory does not allow and every change the
//! core validator rejects, and keeps the durable copy with an attested audit trail.

pub mod acl;
pub mod app;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod console;
pub mod data_dir;
pub mod demo;
pub mod fuzzing;
pub mod health;
pub mod hub;
pub mod known_peer;
pub mod metrics;
pub mod ratelimit;
pub mod read_model;
pub mod reports;
pub mod roster;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod sessions;
pub mod side;
pub mod store;
pub mod tls;

pub use app::{App, Limits, build_router};
