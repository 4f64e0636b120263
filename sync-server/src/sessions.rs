//! Live sync sessions by device: at most a few per device (when another opens, the oldest closes, so a
//! phone that lost its connection is never locked out by the session it left behind), and a revoked
//! device's sessions close at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The live sessions of every device.
#[derive(Clone, Debug)]
pub struct Sessions {
    inner: Arc<Mutex<Registry>>,
    max_per_device: usize,
}

/// Closes one session with a reason.
type Closer = watch::Sender<Option<String>>;

#[derive(Debug, Default)]
struct Registry {
    next: u64,
    by_device: HashMap<String, Vec<(u64, Closer)>>,
}

/// One open session's place in the registry; leaving it (drop) frees the place.
#[derive(Debug)]
pub struct Ticket {
    sessions: Sessions,
    device: String,
    id: u64,
    /// Becomes `Some(reason)` when the session must close.
    pub closed: watch::Receiver<Option<String>>,
}

impl Sessions {
    /// A registry allowing `max_per_device` sessions per device.
    pub fn new(max_per_device: usize) -> Self {
        Sessions {
            inner: Arc::new(Mutex::new(Registry::default())),
            max_per_device: max_per_device.max(1),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new session of `device`, closing its oldest ones beyond the limit.
    pub fn open(&self, device: &str) -> Ticket {
        let (tx, rx) = watch::channel(None);
        let mut registry = self.registry();
        registry.next += 1;
        let id = registry.next;
        let open = registry.by_device.entry(device.to_owned()).or_default();
        open.push((id, tx));
        let excess = open.len().saturating_sub(self.max_per_device);
        for (_, older) in open.drain(..excess) {
            let _ = older.send(Some(
                "a newer session of this device replaced this one".to_owned(),
            ));
        }
        Ticket {
            sessions: self.clone(),
            device: device.to_owned(),
            id,
            closed: rx,
        }
    }

    /// Closes every session of `device` with `reason`; returns how many there were.
    pub fn close_device(&self, device: &str, reason: &str) -> usize {
        let open = self.registry().by_device.remove(device).unwrap_or_default();
        for (_, session) in &open {
            let _ = session.send(Some(reason.to_owned()));
        }
        open.len()
    }

    /// Live sessions open now, across every device.
    pub fn open_count(&self) -> usize {
        self.registry().by_device.values().map(Vec::len).sum()
    }

    /// Sessions of `device` open now.
    pub fn open_for(&self, device: &str) -> usize {
        self.registry().by_device.get(device).map_or(0, Vec::len)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut registry = self.sessions.registry();
        if let Some(open) = registry.by_device.get_mut(&self.device) {
            open.retain(|(id, _)| *id != self.id);
            if open.is_empty() {
                registry.by_device.remove(&self.device);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_session_of_a_device_closes_when_one_too_many_opens() {
        let sessions = Sessions::new(2);
        let first = sessions.open("d");
        let second = sessions.open("d");
        let other = sessions.open("e");
        assert!(first.closed.borrow().is_none());
        let third = sessions.open("d");
        assert!(first.closed.borrow().is_some(), "the oldest closes");
        assert!(second.closed.borrow().is_none() && third.closed.borrow().is_none());
        assert_eq!(sessions.open_for("d"), 2);
        drop(third);
        assert_eq!(sessions.open_for("d"), 1);
        assert_eq!(sessions.close_device("d", "revoked"), 1);
        assert_eq!(
            second.closed.borrow().as_deref(),
            Some("revoked"),
            "revocation closes the rest"
        );
        assert!(
            other.closed.borrow().is_none(),
            "other devices are untouched"
        );
    }
}
