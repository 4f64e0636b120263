//! What the relay counts for the IT officer's monitoring, served at `/metrics` in Prometheus text:
//! sessions open, syncs, refusals by reason, how long a sync message takes, bytes in and out, and, read at
//! each scrape, the store's size, the free disk and the age of the newest backup.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One label, as `name="value"`.
type Label = Vec<(&'static str, &'static str)>;

/// The relay's counters.
pub struct Metrics {
    registry: Registry,
    sessions_open: Gauge,
    syncs: Family<Label, Counter>,
    refusals: Family<Label, Counter>,
    sync_seconds: Histogram,
    bytes_received: Counter,
    bytes_sent: Counter,
    store_bytes: Gauge,
    disk_free_bytes: Gauge,
    backup_age_seconds: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// What is read afresh for each scrape.
#[derive(Clone, Copy, Debug, Default)]
pub struct Readings {
    /// Bytes the store's data occupies.
    pub store_bytes: Option<u64>,
    /// Free bytes on the data directory's disk.
    pub disk_free_bytes: Option<u64>,
    /// Seconds since the newest good backup was taken.
    pub backup_age_seconds: Option<i64>,
}

/// An open session's place in the gauge; leaving it (drop) counts the session closed.
#[derive(Debug)]
pub struct OpenSession(Gauge);

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("journal"),
            sessions_open: Gauge::default(),
            syncs: Family::default(),
            refusals: Family::default(),
            // 1 ms to about 33 s.
            sync_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            bytes_received: Counter::default(),
            bytes_sent: Counter::default(),
            store_bytes: Gauge::default(),
            disk_free_bytes: Gauge::default(),
            backup_age_seconds: Gauge::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "sessions_open",
            "Open WebSocket sync sessions",
            metrics.sessions_open.clone(),
        );
        registry.register(
            "syncs",
            "Syncs begun, by transport (a WebSocket session, or an HTTP index request)",
            metrics.syncs.clone(),
        );
        registry.register(
            "refusals",
            "Requests and sessions refused or failed, by reason",
            metrics.refusals.clone(),
        );
        registry.register(
            "sync_message_seconds",
            "Time to answer one document's sync message, storing included",
            metrics.sync_seconds.clone(),
        );
        registry.register(
            "received_bytes",
            "Sync bytes received from devices",
            metrics.bytes_received.clone(),
        );
        registry.register(
            "sent_bytes",
            "Sync bytes sent to devices",
            metrics.bytes_sent.clone(),
        );
        registry.register(
            "store_bytes",
            "Bytes the relay's database occupies",
            metrics.store_bytes.clone(),
        );
        registry.register(
            "disk_free_bytes",
            "Free bytes on the data directory's disk",
            metrics.disk_free_bytes.clone(),
        );
        registry.register(
            "backup_last_good_age_seconds",
            "Seconds since the newest backup snapshot was taken (since 1970 when there is none)",
            metrics.backup_age_seconds.clone(),
        );
        metrics
    }
}

impl Metrics {
    /// Counts a WebSocket session open until the returned place is dropped.
    pub fn session_opened(&self) -> OpenSession {
        self.sessions_open.inc();
        OpenSession(self.sessions_open.clone())
    }

    /// Counts a sync begun over `transport` (`websocket` or `http`).
    pub fn synced(&self, transport: &'static str) {
        self.syncs
            .get_or_create(&vec![("transport", transport)])
            .inc();
    }

    /// Counts a refusal or failure for `reason` (a short fixed word, never a client's input).
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&vec![("reason", reason)]).inc();
    }

    /// Records how long one sync message took.
    pub fn answered(&self, seconds: f64) {
        self.sync_seconds.observe(seconds);
    }

    /// Counts sync bytes received.
    pub fn received(&self, bytes: usize) {
        self.bytes_received.inc_by(bytes as u64);
    }

    /// Counts sync bytes sent.
    pub fn sent(&self, bytes: usize) {
        self.bytes_sent.inc_by(bytes as u64);
    }

    /// Everything in Prometheus text, with this scrape's `readings`.
    pub fn render(&self, readings: &Readings) -> String {
        let gauge = |gauge: &Gauge, value: Option<i64>| {
            gauge.set(value.unwrap_or(-1));
        };
        let bytes = |value: Option<u64>| value.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        gauge(&self.store_bytes, bytes(readings.store_bytes));
        gauge(&self.disk_free_bytes, bytes(readings.disk_free_bytes));
        gauge(&self.backup_age_seconds, readings.backup_age_seconds);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_readings_appear_in_prometheus_text() {
        let metrics = Metrics::default();
        let open = metrics.session_opened();
        metrics.synced("websocket");
        metrics.refused("cannot_store");
        metrics.refused("cannot_store");
        metrics.answered(0.004);
        metrics.received(100);
        let text = metrics.render(&Readings {
            store_bytes: Some(4096),
            disk_free_bytes: Some(1 << 30),
            backup_age_seconds: Some(3600),
        });
        for line in [
            "journal_sessions_open 1",
            "journal_syncs_total{transport=\"websocket\"} 1",
            "journal_refusals_total{reason=\"cannot_store\"} 2",
            "journal_sync_message_seconds_count 1",
            "journal_received_bytes_total 100",
            "journal_store_bytes 4096",
            "journal_disk_free_bytes 1073741824",
            "journal_backup_last_good_age_seconds 3600",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        drop(open);
        assert!(
            metrics
                .render(&Readings::default())
                .contains("journal_sessions_open 0")
        );
    }
}
