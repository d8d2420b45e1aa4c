//! RFC 3261 timer values (§17, Table 4) and the retransmission schedule.

use std::time::Duration;

/// T1, T2 and T4. Everything else derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J, L and M.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: at least 32 s over unreliable transports, 0 over reliable ones.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.t1 * 64)
        }
    }

    /// Timers I and K: T4 over unreliable transports, 0 over reliable ones.
    pub fn timer_t4(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64*T1 over unreliable transports, 0 over reliable ones.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.transaction_timeout()
        }
    }

    /// The next interval of a schedule that doubles and is capped at T2 (Timers E and G, and
    /// the 2xx retransmissions of §13.3.1.4).
    pub fn double_capped(&self, interval: Duration) -> Duration {
        (interval * 2).min(self.t2)
    }
}
