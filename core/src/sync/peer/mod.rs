//! The sync peer without I/O, in the manner of samod-core: protocol messages and events in, messages to
//! send out. Two roles drive the same wire protocol (`super::protocol`):
//! - [`ClientPeer`]: the device's side, which keeps the journal in step with the relay;
//! - [`ServerPeer`] and [`BatchPeer`]: the relay's side of a WebSocket session and of an HTTP batch, which
//!   ask the relay about rights and documents through [`RelaySide`].
//!
//! The transports (the device's WebSocket and HTTP client, the relay's routes) only move bytes and call
//! these; the fuzz targets drive them with no runtime and no database.

mod client;
#[cfg(any(test, feature = "testing"))]
mod memory;
mod server;

pub use client::{ClientPeer, DocStatus, RELAY_PEER, SyncError, SyncEvent};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryRelay;
pub use server::{
    Ask, BatchFault, BatchPeer, CANNOT_STORE, Closing, DATABASE_UNAVAILABLE, Outcome, PeerFault,
    RelaySide, ServerPeer,
};
