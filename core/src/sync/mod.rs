//! Sync: the wire protocol, the journal's side of Automerge sync, and the client session state machine.

#[cfg(feature = "client")]
pub mod client;
mod engine;
mod local;
pub mod protocol;

pub use engine::{ClientEngine, DocStatus, RELAY_PEER, SyncError, SyncEvent};
pub use local::RefusedEdit;
