//! What changed on the relay, told to live sessions: the event bus. Services and the hub publish; each
//! session subscribes. A relay alone on its SQLite database carries events in process; commands run beside
//! it (the relay's command line) post theirs to the store's mailbox, which the serving relay reads every
//! [`MAIL_INTERVAL`]. A backend shared by several relays brings its own bus.

use std::sync::Arc;
use std::time::Duration;

use journal_core::DocId;
use journal_core::sync::protocol::WireMessage;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::clock::{Clock, SystemClock};
use crate::store::RelayStore;
use crate::store::postgres::PostgresStore;

/// How often a serving relay reads the mailbox: well inside the second a revocation may take.
pub const MAIL_INTERVAL: Duration = Duration::from_millis(250);

/// Mail older than this is deleted when new mail is posted: a relay that was down missed nothing it
/// needs, since it reads the directory afresh when it starts.
const MAIL_KEPT_SECONDS: i64 = 3600;

/// Something live sessions must hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayEvent {
    /// A document accepted changes.
    Changed {
        /// The document.
        doc: DocId,
        /// The session that delivered them, so they are not pushed back to it (0: not a session here).
        origin: u64,
    },
    /// The directory changed: sessions recompute their rights.
    DirectoryChanged,
    /// A device was revoked: its sessions close.
    DeviceRevoked {
        /// The device.
        device: String,
    },
    /// Events may have been missed (the connection to the other relays' events was lost): sessions check
    /// their device, their rights and their documents afresh.
    Missed,
    /// An `ephemeral` message about a document, for the other sessions that may read it.
    Ephemeral {
        /// The document.
        doc: DocId,
        /// The session it came from.
        origin: u64,
        /// The message.
        message: WireMessage,
    },
}

/// Carries events to every live session of this relay (and, by its backend, of others).
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Tells every subscriber, here and in the other processes the bus reaches; an event nobody hears is
    /// dropped.
    fn publish(&self, event: RelayEvent);
    /// Tells this process's subscribers only: an event heard from another process.
    fn tell_here(&self, event: RelayEvent);
    /// A new subscription, from now on.
    fn subscribe(&self) -> broadcast::Receiver<RelayEvent>;
}

/// Events within one process.
#[derive(Debug, Clone)]
pub struct LocalBus {
    sender: broadcast::Sender<RelayEvent>,
}

impl LocalBus {
    /// A bus whose slowest subscriber may fall `capacity` events behind before it is told it lagged.
    pub fn new(capacity: usize) -> Self {
        LocalBus {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus::new(4096)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: RelayEvent) {
        // No receiver means no live session: nothing to tell.
        let _ = self.sender.send(event);
    }

    fn tell_here(&self, event: RelayEvent) {
        self.publish(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.sender.subscribe()
    }
}

/// An event as another process sends it: what is only meaningful inside one relay (the session it came
/// from, ephemeral messages) stays there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Mail {
    /// A document changed.
    Changed {
        /// The document id.
        doc: String,
    },
    /// The directory changed.
    DirectoryChanged,
    /// A device was revoked.
    DeviceRevoked {
        /// The device.
        device: String,
    },
}

impl Mail {
    /// The mail for an event, if it travels between processes.
    pub fn of(event: &RelayEvent) -> Option<Mail> {
        match event {
            RelayEvent::Changed { doc, .. } => Some(Mail::Changed {
                doc: doc.to_string(),
            }),
            RelayEvent::DirectoryChanged => Some(Mail::DirectoryChanged),
            RelayEvent::DeviceRevoked { device } => Some(Mail::DeviceRevoked {
                device: device.clone(),
            }),
            RelayEvent::Ephemeral { .. } | RelayEvent::Missed => None,
        }
    }

    /// The event it stands for here; `None` for a document id this relay cannot read.
    pub fn into_event(self) -> Option<RelayEvent> {
        Some(match self {
            Mail::Changed { doc } => RelayEvent::Changed {
                doc: doc.parse().ok()?,
                origin: 0,
            },
            Mail::DirectoryChanged => RelayEvent::DirectoryChanged,
            Mail::DeviceRevoked { device } => RelayEvent::DeviceRevoked { device },
        })
    }
}

/// The bus of a command run beside a serving relay: what it publishes is posted to the store's mailbox,
/// where the relay picks it up, and told to this process's own subscribers.
pub struct MailboxBus {
    store: Arc<dyn RelayStore>,
    local: LocalBus,
}

impl std::fmt::Debug for MailboxBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailboxBus")
    }
}

impl MailboxBus {
    /// A bus posting to `store`'s mailbox.
    pub fn new(store: Arc<dyn RelayStore>) -> Self {
        MailboxBus {
            store,
            local: LocalBus::default(),
        }
    }
}

impl EventBus for MailboxBus {
    fn publish(&self, event: RelayEvent) {
        if let Some(mail) = Mail::of(&event) {
            let payload = serde_json::to_string(&mail).expect("mail serializes");
            // The change itself is stored; a relay that misses this mail catches up at its sessions' next
            // sync, so a failure here is logged rather than undoing the command.
            if let Err(e) = self.store.post_mail(
                &payload,
                SystemClock.now(),
                SystemClock.now() - MAIL_KEPT_SECONDS,
            ) {
                warn!(error = %e, "could not tell a running relay about a change");
            }
        }
        self.local.publish(event);
    }

    fn tell_here(&self, event: RelayEvent) {
        self.local.publish(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.local.subscribe()
    }
}

/// The PostgreSQL channel on which relays sharing a database tell each other what changed.
const CHANNEL: &str = "journal_relay_events";

/// A notice between relays sharing a PostgreSQL database: the mail, and who sent it.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    origin: String,
    mail: Mail,
}

/// The bus of relays sharing a PostgreSQL database: events go to this relay's sessions at once and, by
/// `NOTIFY`, to every other relay (and a command line's changes to all of them), where [`PostgresBus::hear`]
/// delivers them.
pub struct PostgresBus {
    store: Arc<PostgresStore>,
    local: LocalBus,
    /// This process's name on the channel, so it does not hear its own events twice.
    origin: String,
    /// Whether publishing waits for the database: a command exits right after, a relay goes on.
    waits: bool,
}

impl std::fmt::Debug for PostgresBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresBus({})", self.origin)
    }
}

impl PostgresBus {
    /// The bus of a serving relay named `origin`: what it publishes goes out without holding up the
    /// session that caused it.
    pub fn for_relay(store: Arc<PostgresStore>, origin: String) -> Self {
        PostgresBus {
            store,
            local: LocalBus::default(),
            origin,
            waits: false,
        }
    }

    /// The bus of a command (the relay's command line): each event is in the database before the call
    /// returns, so the relays hear of it even though the command exits at once.
    pub fn for_command(store: Arc<PostgresStore>, origin: String) -> Self {
        PostgresBus {
            waits: true,
            ..PostgresBus::for_relay(store, origin)
        }
    }

    /// Hands every event the other relays and commands publish to `deliver`, until `shutdown`; after a
    /// lost connection, `missed` is delivered, since events may have gone by unheard.
    pub fn hear(
        &self,
        deliver: impl Fn(RelayEvent) + Send + Sync + 'static,
        missed: impl Fn() + Send + Sync + 'static,
        shutdown: watch::Receiver<bool>,
    ) {
        let origin = self.origin.clone();
        self.store.listen(
            CHANNEL,
            move |payload| match serde_json::from_str::<Notice>(payload) {
                Ok(notice) if notice.origin == origin => {}
                Ok(notice) => {
                    if let Some(event) = notice.mail.into_event() {
                        debug!(?event, from = %notice.origin, "event from another relay");
                        deliver(event);
                    }
                }
                Err(e) => warn!(error = %e, "ignored an unreadable notice from another relay"),
            },
            missed,
            shutdown,
        );
    }
}

impl EventBus for PostgresBus {
    fn publish(&self, event: RelayEvent) {
        if let Some(mail) = Mail::of(&event) {
            let notice = Notice {
                origin: self.origin.clone(),
                mail,
            };
            let payload = serde_json::to_string(&notice).expect("a notice serializes");
            if !self.waits {
                self.store.notify(CHANNEL, payload);
            } else if let Err(e) = self.store.notify_now(CHANNEL, &payload) {
                warn!(error = %e, "could not tell the running relays about a change");
            }
        }
        self.local.publish(event);
    }

    fn tell_here(&self, event: RelayEvent) {
        self.local.publish(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.local.subscribe()
    }
}

/// Reads the mailbox every [`MAIL_INTERVAL`] and hands each mail to `deliver`, from the mail posted after
/// this call on, until `shutdown` turns true.
pub async fn read_mail(
    store: Arc<dyn RelayStore>,
    deliver: impl Fn(RelayEvent) + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last = {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.last_mail()).await {
            Ok(Ok(seq)) => seq,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read the mailbox; commands run beside the relay reach sessions at their next sync");
                return;
            }
            Err(_) => return,
        }
    };
    let mut tick = tokio::time::interval(MAIL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let reader = store.clone();
        let mail = match tokio::task::spawn_blocking(move || reader.mail_after(last)).await {
            Ok(Ok(mail)) => mail,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read the mailbox");
                continue;
            }
            Err(_) => return,
        };
        for (seq, payload) in mail {
            last = last.max(seq);
            match serde_json::from_str::<Mail>(&payload).map(Mail::into_event) {
                Ok(Some(event)) => {
                    debug!(?event, "mail from a command run beside the relay");
                    deliver(event);
                }
                _ => warn!(seq, "ignored unreadable mail"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn mail_carries_what_other_processes_need_and_nothing_session_local() {
        let doc: DocId = "2026-2027/class/5a".parse().expect("id");
        for event in [
            RelayEvent::Changed {
                doc: doc.clone(),
                origin: 7,
            },
            RelayEvent::DirectoryChanged,
            RelayEvent::DeviceRevoked {
                device: "d1".into(),
            },
        ] {
            let mail = Mail::of(&event).expect("travels");
            let json = serde_json::to_string(&mail).expect("json");
            let back: Mail = serde_json::from_str(&json).expect("reads back");
            let expected = match event {
                // Another process's session numbers mean nothing here.
                RelayEvent::Changed { doc, .. } => RelayEvent::Changed { doc, origin: 0 },
                other => other,
            };
            assert_eq!(back.into_event(), Some(expected));
        }
        let ephemeral = RelayEvent::Ephemeral {
            doc,
            origin: 1,
            message: WireMessage::Leave {
                sender_id: "p".into(),
            },
        };
        assert_eq!(Mail::of(&ephemeral), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_serving_relay_reads_what_a_command_posted_after_it_started_and_only_that() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("relay.db");
        let relay: Arc<dyn RelayStore> = Arc::new(SqliteStore::open(&path).expect("store"));
        let command: Arc<dyn RelayStore> = Arc::new(SqliteStore::open(&path).expect("store"));
        MailboxBus::new(command.clone()).publish(RelayEvent::DeviceRevoked {
            device: "before".into(),
        });
        let (stop, shutdown) = watch::channel(false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(read_mail(
            relay,
            move |event| {
                let _ = tx.send(event);
            },
            shutdown,
        ));
        // Let the reader note where the mailbox stands before the command posts.
        tokio::time::sleep(MAIL_INTERVAL * 2).await;
        MailboxBus::new(command).publish(RelayEvent::DeviceRevoked {
            device: "after".into(),
        });
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("mail within seconds")
            .expect("event");
        assert_eq!(
            got,
            RelayEvent::DeviceRevoked {
                device: "after".into()
            }
        );
        stop.send(true).expect("stop");
        reader.await.expect("reader ends");
        assert!(
            rx.try_recv().is_err(),
            "mail from before the start is not replayed"
        );
    }
}
