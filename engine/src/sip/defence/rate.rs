//! Per-source flood limit (in the spirit of Kamailio's pike): a token bucket per source IP
//! address, refilled at `rate` messages per second up to `burst`. A message that finds its
//! bucket empty is dropped before it is parsed, so a flood costs one table lookup per packet
//! and never reaches the transaction layer. Sans-IO: the caller passes `now`.
//!
//! The table of buckets is capped; a source evicted from it comes back with a full bucket,
//! which is the right failure mode (a flood from more sources than the cap is a distributed
//! flood that the transaction table's own caps answer).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::table::CappedMap;

/// Messages per second and burst per source address; `rate == 0` disables the limit.
#[derive(Debug, Clone)]
pub struct RateConfig {
    pub rate: u32,
    pub burst: u32,
    pub max_sources: usize,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            rate: 1000,
            burst: 2000,
            max_sources: 16_384,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens, in millionths, so refills of a few microseconds are not lost to rounding.
    micro: u64,
    at: Instant,
}

/// What [`RateLimiter::allow`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allow,
    /// Dropped; `first` is true for the first drop since this source was last allowed (log
    /// that one, not every packet of a flood).
    Drop {
        first: bool,
    },
}

/// The buckets of every source seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateConfig,
    buckets: CappedMap<IpAddr, (Bucket, bool)>,
    dropped: u64,
}

const MICRO: u64 = 1_000_000;

impl RateLimiter {
    pub fn new(cfg: RateConfig) -> Self {
        RateLimiter {
            buckets: CappedMap::new(cfg.max_sources),
            cfg,
            dropped: 0,
        }
    }

    /// Takes one token for a message from `source`.
    pub fn allow(&mut self, now: Instant, source: IpAddr) -> RateDecision {
        if self.cfg.rate == 0 {
            return RateDecision::Allow;
        }
        let cap = u64::from(self.cfg.burst.max(self.cfg.rate)) * MICRO;
        let rate = u64::from(self.cfg.rate);
        let (bucket, dropping) = self.buckets.entry_or_insert_with(source, || {
            (
                Bucket {
                    micro: cap,
                    at: now,
                },
                false,
            )
        });
        let elapsed = now.saturating_duration_since(bucket.at);
        // rate tokens per second = rate micro-tokens per microsecond.
        let refill = elapsed
            .as_micros()
            .saturating_mul(u128::from(rate))
            .min(u128::from(cap)) as u64;
        bucket.micro = bucket.micro.saturating_add(refill).min(cap);
        bucket.at = now;
        if bucket.micro >= MICRO {
            bucket.micro -= MICRO;
            *dropping = false;
            RateDecision::Allow
        } else {
            let first = !*dropping;
            *dropping = true;
            self.dropped += 1;
            RateDecision::Drop { first }
        }
    }

    /// Messages dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sources with a bucket.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }

    /// How long a source that just hit the limit waits for its next token.
    pub fn token_interval(&self) -> Duration {
        Duration::from_micros(MICRO / u64::from(self.cfg.rate.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateConfig {
            rate: 100,
            burst: 200,
            max_sources: 10,
        });
        let allowed = (0..1000)
            .filter(|_| r.allow(t0, ip(1)) == RateDecision::Allow)
            .count();
        assert_eq!(allowed, 200, "the burst");
        assert_eq!(r.dropped(), 800);
        // Another source has its own bucket.
        assert_eq!(r.allow(t0, ip(2)), RateDecision::Allow);
        // One second later: 100 more, not a full burst.
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..1000)
            .filter(|_| r.allow(t1, ip(1)) == RateDecision::Allow)
            .count();
        assert_eq!(allowed, 100);
        // Over 10 s at 1000 packets/s, about 100/s get through.
        let mut allowed = 0;
        for ms in 0..10_000u64 {
            if r.allow(t1 + Duration::from_millis(ms + 1), ip(1)) == RateDecision::Allow {
                allowed += 1;
            }
        }
        assert!((990..=1010).contains(&allowed), "{allowed}");
    }

    #[test]
    fn the_first_drop_of_a_run_is_flagged_for_the_log() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateConfig {
            rate: 1,
            burst: 1,
            max_sources: 10,
        });
        assert_eq!(r.allow(t0, ip(1)), RateDecision::Allow);
        assert_eq!(r.allow(t0, ip(1)), RateDecision::Drop { first: true });
        assert_eq!(r.allow(t0, ip(1)), RateDecision::Drop { first: false });
        assert_eq!(
            r.allow(t0 + Duration::from_secs(1), ip(1)),
            RateDecision::Allow
        );
        assert_eq!(
            r.allow(t0 + Duration::from_secs(1), ip(1)),
            RateDecision::Drop { first: true }
        );
        assert_eq!(r.token_interval(), Duration::from_secs(1));
    }

    #[test]
    fn zero_rate_means_no_limit_and_the_table_is_capped() {
        let t0 = Instant::now();
        let mut off = RateLimiter::new(RateConfig {
            rate: 0,
            burst: 0,
            max_sources: 10,
        });
        assert!((0..10_000).all(|_| off.allow(t0, ip(1)) == RateDecision::Allow));
        let mut r = RateLimiter::new(RateConfig {
            rate: 10,
            burst: 10,
            max_sources: 50,
        });
        for i in 0..100_000u32 {
            r.allow(t0, IpAddr::from(i.to_be_bytes()));
        }
        assert_eq!(r.sources(), 50);
    }
}
