//! Sync: the wire protocol, the journal's side of Automerge sync, and the sync peer of both ends.

#[cfg(feature = "client")]
pub mod client;
mod local;
pub mod peer;
pub mod protocol;
#[cfg(feature = "client")]
pub mod tls;

pub use local::RefusedEdit;
pub use peer::{ClientPeer, DocStatus, RELAY_PEER, SyncError, SyncEvent};
