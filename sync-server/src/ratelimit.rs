//! Token buckets for code redemption: per client address and for the whole relay.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bucket that refills `per_minute` tokens a minute up to `burst`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Rates for one limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Bucket {
    fn full(rate: Rate) -> Self {
        Bucket {
            tokens: f64::from(rate.burst),
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, rate: Rate) -> Result<(), Duration> {
        let now = Instant::now();
        let refill =
            now.duration_since(self.last).as_secs_f64() * f64::from(rate.per_minute) / 60.0;
        self.tokens = (self.tokens + refill).min(f64::from(rate.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err(Duration::from_secs_f64(
                missing * 60.0 / f64::from(rate.per_minute.max(1)),
            ))
        }
    }
}

/// Limits on attempts, per address and in all.
#[derive(Debug)]
pub struct RateLimiter {
    per_client: Rate,
    global: Rate,
    clients: Mutex<HashMap<IpAddr, Bucket>>,
    all: Mutex<Bucket>,
}

impl RateLimiter {
    /// A limiter with the given rates.
    pub fn new(per_client: Rate, global: Rate) -> Self {
        RateLimiter {
            per_client,
            global,
            clients: Mutex::new(HashMap::new()),
            all: Mutex::new(Bucket::full(global)),
        }
    }

    /// Admits one attempt from `client`, or returns how long to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            if clients.len() > 100_000 {
                // Forget addresses whose bucket has refilled: they are no different from new ones.
                let rate = self.per_client;
                clients.retain(|_, b| b.clone().take(rate).is_err());
            }
            clients
                .entry(client)
                .or_insert_with(|| Bucket::full(self.per_client))
                .take(self.per_client)?;
        }
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(self.global)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_beyond_its_burst_waits_and_others_are_not_affected() {
        let limiter = RateLimiter::new(
            Rate {
                per_minute: 6,
                burst: 3,
            },
            Rate {
                per_minute: 600,
                burst: 100,
            },
        );
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..3 {
            limiter.check(a).expect("within the burst");
        }
        let wait = limiter.check(a).expect_err("over the limit");
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        limiter.check(b).expect("another client is not limited");
    }

    #[test]
    fn the_global_limit_holds_across_clients() {
        let limiter = RateLimiter::new(
            Rate {
                per_minute: 60,
                burst: 60,
            },
            Rate {
                per_minute: 60,
                burst: 5,
            },
        );
        for i in 0..5u8 {
            limiter
                .check(IpAddr::from([10, 0, 0, i]))
                .expect("within the global burst");
        }
        assert!(limiter.check(IpAddr::from([10, 0, 1, 1])).is_err());
    }
}
