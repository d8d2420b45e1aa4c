//! When a failed delivery is tried again.
//!
//! Retried: connection failures, timeouts, other transport errors (a connection reset
//! mid-exchange), HTTP 5xx and 429. Not retried: any other status outside 2xx (the receiver
//! said no: 4xx; or it redirected, which webhooks do not follow, because a redirected POST
//! turns into a GET and loses its body), and a request that cannot be built (a malformed URL).
//!
//! Delays: 1 s after the first failure, doubling after each, capped at 10 min; at most 8
//! attempts in all (so the default gives up about 2 min 7 s after the first try). A
//! `Retry-After` from a 429 or 503 is honoured: the wait is the longer of it and the backoff,
//! and never above the cap.

use std::time::{Duration, UNIX_EPOCH};

/// How one attempt went, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// No connection (refused, unreachable, DNS, TLS handshake).
    ConnectFailed,
    /// No complete answer within the timeout.
    TimedOut,
    /// The exchange broke after connecting.
    Transport,
    /// The request could not be built (the URL does not parse).
    Unsendable,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// Stop and drop the delivery.
    GiveUp(GiveUp),
}

/// Why a delivery was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// A status that is not retried.
    Refused(u16),
    /// The last allowed attempt failed too.
    Exhausted,
    /// The request cannot be built.
    Unsendable,
}

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(600),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The backoff after `failed` failed attempts (from 1): `first_delay × 2^(failed-1)`,
    /// capped.
    pub fn backoff(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }

    /// The verdict on attempt number `attempt` (from 1) that ended with `outcome`.
    pub fn judge(&self, attempt: u32, outcome: Outcome) -> Verdict {
        let retry_after = match outcome {
            Outcome::Status { code, .. } if (200..300).contains(&code) => {
                return Verdict::Delivered
            }
            Outcome::Status { code, retry_after } if code == 429 || (500..600).contains(&code) => {
                retry_after
            }
            Outcome::Status { code, .. } => return Verdict::GiveUp(GiveUp::Refused(code)),
            Outcome::Unsendable => return Verdict::GiveUp(GiveUp::Unsendable),
            Outcome::ConnectFailed | Outcome::TimedOut | Outcome::Transport => None,
        };
        if attempt >= self.max_attempts {
            return Verdict::GiveUp(GiveUp::Exhausted);
        }
        let wait = self
            .backoff(attempt)
            .max(retry_after.unwrap_or(Duration::ZERO))
            .min(self.max_delay);
        Verdict::Retry(wait)
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP date, read against
/// `now` (Unix seconds). A date in the past is no wait; anything else that does not parse is
/// ignored (`None`).
pub fn parse_retry_after(value: &str, now: u64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate; the policy's cap applies anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = at.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn the_default_schedule() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (1..8)
            .map(|n| match p.judge(n, Outcome::ConnectFailed) {
                Verdict::Retry(d) => d.as_secs(),
                other => panic!("attempt {n}: {other:?}"),
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(
            p.judge(8, Outcome::ConnectFailed),
            Verdict::GiveUp(GiveUp::Exhausted),
            "8 attempts at most"
        );
        assert_eq!(p.backoff(11), Duration::from_secs(600), "capped at 10 min");
        assert_eq!(p.backoff(100), Duration::from_secs(600), "no overflow");
    }

    #[test]
    fn what_is_retried() {
        let p = RetryPolicy::default();
        for retried in [
            status(500),
            status(503),
            status(599),
            status(429),
            Outcome::TimedOut,
            Outcome::Transport,
        ] {
            assert_eq!(
                p.judge(1, retried),
                Verdict::Retry(Duration::from_secs(1)),
                "{retried:?}"
            );
        }
        for done in [200, 201, 204, 299] {
            assert_eq!(p.judge(3, status(done)), Verdict::Delivered);
        }
        for refused in [301, 302, 400, 401, 404, 410, 413, 100] {
            assert_eq!(
                p.judge(1, status(refused)),
                Verdict::GiveUp(GiveUp::Refused(refused))
            );
        }
        assert_eq!(
            p.judge(1, Outcome::Unsendable),
            Verdict::GiveUp(GiveUp::Unsendable)
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = RetryPolicy::default();
        let with = |secs| Outcome::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.judge(1, with(30)),
            Verdict::Retry(Duration::from_secs(30))
        );
        assert_eq!(
            p.judge(5, with(3)),
            Verdict::Retry(Duration::from_secs(16)),
            "never shorter than the backoff"
        );
        assert_eq!(
            p.judge(1, with(86_400)),
            Verdict::Retry(Duration::from_secs(600)),
            "capped"
        );
        assert_eq!(p.judge(8, with(1)), Verdict::GiveUp(GiveUp::Exhausted));
    }

    #[test]
    fn retry_after_values() {
        let now = 1_445_412_480; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-1", "soon", "1.5"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
