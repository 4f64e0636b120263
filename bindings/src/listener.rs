//! Sync events for the apps: a listener the platform implements (Kotlin, Swift) receives progress,
//! per-document status and new-item events.

use std::sync::Arc;

use journal_core::sync::client::SyncListener;
use journal_core::sync::{DocStatus, SyncEvent};

/// One event of a sync.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncEventFfi {
    /// Documents settled out of those this session had to sync.
    Progress {
        /// Settled.
        done: u64,
        /// In all.
        total: u64,
    },
    /// A document's status: `syncing`, `in_sync`, `unavailable` or `refused` (with the relay's reason).
    Document {
        /// Document id.
        id: String,
        /// Status.
        status: String,
        /// Why the relay refused, if it did.
        reason: Option<String>,
    },
    /// New data arrived in a document.
    Received {
        /// Document id.
        id: String,
    },
    /// The "what is new" feed grew.
    NewsGrew {
        /// Items now in the feed.
        items: u64,
    },
}

/// Implemented by the app to hear sync events. Calls arrive on the sync thread: hand the event over (the
/// Kotlin `Flow` and the Swift `AsyncStream` do) rather than calling back into the journal from here.
#[uniffi::export(with_foreign)]
pub trait SyncListenerFfi: Send + Sync {
    /// One event.
    fn on_event(&self, event: SyncEventFfi);
}

/// Passes the core's events to the app's listener.
pub(crate) struct Forward(pub(crate) Option<Arc<dyn SyncListenerFfi>>);

impl From<&SyncEvent> for SyncEventFfi {
    fn from(event: &SyncEvent) -> Self {
        match event {
            SyncEvent::Progress { done, total } => SyncEventFfi::Progress {
                done: *done as u64,
                total: *total as u64,
            },
            SyncEvent::Document { id, status } => {
                let (status, reason) = match status {
                    DocStatus::Syncing => ("syncing", None),
                    DocStatus::InSync => ("in_sync", None),
                    DocStatus::Unavailable => ("unavailable", None),
                    DocStatus::Refused(reason) => ("refused", Some(reason.clone())),
                };
                SyncEventFfi::Document {
                    id: id.to_string(),
                    status: status.to_owned(),
                    reason,
                }
            }
            SyncEvent::Received { id } => SyncEventFfi::Received { id: id.to_string() },
            SyncEvent::NewsGrew { items } => SyncEventFfi::NewsGrew {
                items: *items as u64,
            },
        }
    }
}

impl SyncListener for Forward {
    fn on_event(&self, event: &SyncEvent) {
        if let Some(listener) = &self.0 {
            listener.on_event(event.into());
        }
    }
}
