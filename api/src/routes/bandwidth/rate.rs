//! Per-user request rate of the Bandwidth API: a token bucket per user id, refilled at
//! `[bandwidth] rate_per_sec` up to `burst`. Past it, 429 `rate-limit-reached` with
//! `X-RateLimit-Reset` (when the next request will pass, ms since the epoch).
//!
//! The buckets are a bounded table: at [`MAX_USERS`] users the full buckets (users idle long
//! enough to have refilled) are dropped first, and if none is full the table is cleared —
//! an attacker with many user ids gains at most one burst each, never unbounded memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most users with a bucket at once.
pub const MAX_USERS: usize = 10_000;

/// The pure core: decides with the time it is given.
#[derive(Debug)]
pub struct Buckets {
    rate: f64,
    burst: f64,
    users: HashMap<String, (f64, Instant)>,
}

impl Buckets {
    pub fn new(rate_per_sec: u32, burst: u32) -> Buckets {
        Buckets {
            rate: f64::from(rate_per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            users: HashMap::new(),
        }
    }

    /// Takes one request of `user` at `now`: `Err(wait)` when refused (the next token comes
    /// after `wait`).
    pub fn take(&mut self, now: Instant, user: &str) -> Result<(), Duration> {
        if !self.users.contains_key(user) && self.users.len() >= MAX_USERS {
            self.evict(now);
        }
        let (rate, burst) = (self.rate, self.burst);
        let (tokens, at) = self.users.entry(user.to_owned()).or_insert((burst, now));
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }

    fn evict(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.users.retain(|_, (tokens, at)| {
            *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
        });
        if self.users.len() >= MAX_USERS {
            self.users.clear();
        }
    }
}

/// The shell shared by the HTTP workers.
#[derive(Debug)]
pub struct UserRate(Mutex<Buckets>);

impl UserRate {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        UserRate(Mutex::new(Buckets::new(rate_per_sec, burst)))
    }

    /// `Err(reset_ms)` when `user` is over its rate.
    pub fn check(&self, user: &str) -> Result<(), u64> {
        let mut b = self.0.lock().unwrap_or_else(|p| p.into_inner());
        b.take(Instant::now(), user).map_err(|wait| {
            let reset = std::time::SystemTime::now() + wait;
            reset
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = Buckets::new(2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take(t0, "u-a").is_ok());
        }
        let wait = b.take(t0, "u-a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        // Another user has its own bucket.
        assert!(b.take(t0, "u-b").is_ok());
        // Half a second later one more token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take(t1, "u-a").is_ok());
        assert!(b.take(t1, "u-a").is_err());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut b = Buckets::new(1, 1);
        let t0 = Instant::now();
        for i in 0..MAX_USERS + 5 {
            let _ = b.take(t0, &format!("u-{i}"));
        }
        assert!(b.users.len() <= MAX_USERS);
    }
}
