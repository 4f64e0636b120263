//! Rate limits, all on one keyed token bucket ([`gcra`]): code redemption per client address and per code
//! family, and sync messages per device, shared by its WebSocket sessions and HTTP batches. The buckets
//! live in this relay's memory, or for redemption in the store every relay of a district shares.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::store::{RelayStore, gcra};

/// A rate: `per_minute` sustained, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Rate {
    /// Milliseconds between two requests at the sustained rate.
    fn interval_ms(self) -> i64 {
        60_000 / i64::from(self.per_minute.max(1))
    }
}

/// How many checks pass between sweeps of keys whose bucket has refilled.
const SWEEP_EVERY: u64 = 4096;

/// What a request beyond the burst waits: it never fits, so a full minute.
const BEYOND_THE_BURST: Duration = Duration::from_secs(60);

fn wait(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A token bucket per key, in this relay's memory.
#[derive(Debug)]
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    rate: Rate,
    clock: Arc<dyn Clock>,
    /// Each key's theoretical arrival time (ms): when its bucket is full again.
    due: Mutex<HashMap<K, i64>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// A limit of `rate` for every key, on `clock`.
    pub fn new(rate: Rate, clock: Arc<dyn Clock>) -> Self {
        KeyedLimit {
            rate,
            clock,
            due: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes `n` tokens of `key`'s bucket, or says how long until they are there. More than the burst
    /// never fits; it waits a full minute.
    pub fn take(&self, key: &K, n: u32) -> Result<(), Duration> {
        if n > self.rate.burst.max(1) {
            return Err(BEYOND_THE_BURST);
        }
        let now = self.clock.now_ms();
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Forget keys whose bucket has refilled: they are no different from keys never seen.
            due.retain(|_, tat| *tat > now);
        }
        let next = gcra(
            due.get(key).copied(),
            now,
            self.rate.interval_ms(),
            self.rate.burst,
            n.max(1),
        )
        .map_err(wait)?;
        due.insert(key.clone(), next);
        Ok(())
    }
}

/// Characters of a code that make its family: 3 of Crockford base32, so 32,768 families.
pub const CODE_FAMILY_CHARS: usize = 3;

/// Limits on code redemption. Every attempt counts against its client address, so one address guesses
/// slowly; and against the family of the code it tries (its first characters), so guessers spread over
/// many addresses tire every family evenly and none runs dry for the people who hold a real code. There
/// is deliberately no limit for the whole relay: that is what let a few addresses lock everybody out.
pub struct RedeemLimits {
    per_address: KeyedLimit<IpAddr>,
    per_family: KeyedLimit<String>,
    rates: (Rate, Rate),
    clock: Arc<dyn Clock>,
    /// The store all relays of one database share: the limits hold across them.
    shared: Option<Arc<dyn RelayStore>>,
}

impl std::fmt::Debug for RedeemLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeemLimits")
            .field("rates", &self.rates)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl RedeemLimits {
    /// Limits with these rates, kept in this relay's memory.
    pub fn new(per_address: Rate, per_family: Rate, clock: Arc<dyn Clock>) -> Self {
        RedeemLimits {
            per_address: KeyedLimit::new(per_address, clock.clone()),
            per_family: KeyedLimit::new(per_family, clock.clone()),
            rates: (per_address, per_family),
            clock,
            shared: None,
        }
    }

    /// Limits with these rates kept in `store`, which every relay of a district shares, so a guesser gets
    /// no more attempts by spreading them over the relays.
    pub fn shared(
        per_address: Rate,
        per_family: Rate,
        clock: Arc<dyn Clock>,
        store: Arc<dyn RelayStore>,
    ) -> Self {
        RedeemLimits {
            shared: Some(store),
            ..RedeemLimits::new(per_address, per_family, clock)
        }
    }

    /// Admits one attempt from `client` at the code whose canonical form is `canonical`, or returns how
    /// long to wait.
    pub fn admit(&self, client: IpAddr, canonical: &str) -> Result<(), Duration> {
        let family: String = canonical.chars().take(CODE_FAMILY_CHARS).collect();
        self.take(client, Some(family))
    }

    /// Admits one sign-in from `client` with a device key, or returns how long to wait. A key's secret is
    /// 256 bits, beyond guessing, so only the address counts: a family of keys would let anyone hold back
    /// a device whose id they know by signing in badly under it.
    pub fn admit_device_key(&self, client: IpAddr) -> Result<(), Duration> {
        self.take(client, None)
    }

    fn take(&self, client: IpAddr, family: Option<String>) -> Result<(), Duration> {
        let Some(store) = &self.shared else {
            self.per_address.take(&client, 1)?;
            return family.map_or(Ok(()), |family| self.per_family.take(&family, 1));
        };
        let now_ms = self.clock.now_ms();
        let (address_rate, family_rate) = self.rates;
        let address = (format!("redeem-address:{client}"), address_rate);
        let family = family.map(|family| (format!("redeem-family:{family}"), family_rate));
        for (key, rate) in std::iter::once(address).chain(family) {
            match store.take_token(&key, now_ms, rate.interval_ms(), rate.burst) {
                Ok(None) => {}
                Ok(Some(wait_ms)) => return Err(wait(wait_ms)),
                // No attempt is admitted unchecked; the database being away refuses redemption anyway.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check the code redemption limits");
                    return Err(Duration::from_secs(1));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_key_beyond_its_burst_waits_until_its_bucket_refills_and_other_keys_are_not_affected() {
        let clock = Arc::new(ManualClock::starting_now());
        let limit = KeyedLimit::new(
            Rate {
                per_minute: 6,
                burst: 3,
            },
            clock.clone(),
        );
        for _ in 0..3 {
            limit.take(&"a", 1).expect("within the burst");
        }
        let wait = limit.take(&"a", 1).expect_err("over the limit");
        assert_eq!(wait, Duration::from_secs(10), "one request every 10 s");
        limit.take(&"b", 1).expect("another key is not limited");
        assert_eq!(
            limit.take(&"c", 4),
            Err(BEYOND_THE_BURST),
            "more than the burst at once"
        );
        clock.advance(Duration::from_secs(9));
        assert_eq!(limit.take(&"a", 1), Err(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        limit.take(&"a", 1).expect("one token back after 10 s");
        clock.advance(Duration::from_secs(30));
        limit
            .take(&"a", 3)
            .expect("the whole burst back after 30 s");
    }

    #[test]
    fn guesses_from_many_addresses_leave_real_codes_their_family() {
        let limits = RedeemLimits::new(
            Rate {
                per_minute: 5,
                burst: 10,
            },
            Rate {
                per_minute: 5,
                burst: 10,
            },
            Arc::new(ManualClock::starting_now()),
        );
        // 14 addresses guess 10 times each, in many families.
        for address in 1..=14u8 {
            for guess in 0..10u8 {
                let code = format!(
                    "{:03}ABCDEFGHJK",
                    u32::from(address) * 10 + u32::from(guess)
                );
                limits
                    .admit(IpAddr::from([10, 0, 0, address]), &code)
                    .expect("each address within its burst");
            }
            assert!(
                limits
                    .admit(IpAddr::from([10, 0, 0, address]), "ZZZABCDEFGHJK")
                    .is_err(),
                "the 11th guess of one address waits"
            );
        }
        limits
            .admit(IpAddr::from([10, 0, 1, 1]), "K7QM2D9XH4TBR")
            .expect("a real code from another address goes through");
        // One family hammered from many addresses runs dry; the others do not.
        for address in 0..10u8 {
            limits
                .admit(IpAddr::from([10, 0, 2, address]), "ZZZ0000000000")
                .expect("within the family's burst");
        }
        assert!(
            limits
                .admit(IpAddr::from([10, 0, 3, 1]), "ZZZ1111111111")
                .is_err()
        );
        limits
            .admit(IpAddr::from([10, 0, 3, 1]), "YYY1111111111")
            .expect("another family");
    }
}
