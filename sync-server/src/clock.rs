//! What time it is for the relay: the system's clock in service, one a test sets and moves.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::{Date, OffsetDateTime};

/// The relay's source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Today's date, in UTC.
    fn today(&self) -> Date {
        OffsetDateTime::from_unix_timestamp(self.now())
            .map_or(OffsetDateTime::UNIX_EPOCH.date(), OffsetDateTime::date)
    }
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock showing the system's time now.
    pub fn starting_now() -> Self {
        ManualClock {
            ms: AtomicI64::new(SystemClock.now_ms()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_names_the_day() {
        let clock = ManualClock::starting_now();
        let start = clock.now();
        assert!((start - SystemClock.now()).abs() <= 1);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now(), start, "it stands still");
        let before = clock.today();
        clock.advance(Duration::from_secs(86_400));
        assert_eq!(clock.now(), start + 86_400);
        assert_eq!(clock.today(), before.next_day().expect("a next day"));
    }
}
