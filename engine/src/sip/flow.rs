//! When a stream connection is closed, sans-IO (the shell passes `now` and whether the
//! connection carries a flow).
//!
//! A **flow** (RFC 5626 §3) is a connection a binding was registered over: calls to that
//! binding must come back on it, because the device behind NAT cannot be connected to. A flow
//! stays open while its binding lives, and the device's CRLF keep-alives keep the NAT
//! mapping alive. Every other connection is closed once it has been quiet for `idle`:
//! otherwise a handful of addresses that connect and send one CRLF each fill the connection
//! table for good (issue "Security", item 9). Keep-alives do not count as activity there; only
//! complete SIP messages do.
//!
//! Independently, a message must be completed within `incomplete` of its first byte, and a
//! new connection must deliver its first complete message within `incomplete` (slowloris: a
//! trickle of bytes does not reset this clock).

use std::time::{Duration, Instant};

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No complete message in time (none since opening, or one half-sent).
    Incomplete,
    /// Quiet for the idle time and carrying no flow.
    Idle,
}

/// The clocks of one connection.
#[derive(Debug, Clone)]
pub struct Liveness {
    opened: Instant,
    partial_since: Option<Instant>,
    last_message: Option<Instant>,
    incomplete: Duration,
    idle: Duration,
}

impl Liveness {
    pub fn new(now: Instant, incomplete: Duration, idle: Duration) -> Liveness {
        Liveness {
            opened: now,
            partial_since: None,
            last_message: None,
            incomplete,
            idle,
        }
    }

    /// A complete SIP message arrived.
    pub fn on_message(&mut self, now: Instant) {
        self.last_message = Some(now);
        self.partial_since = None;
    }

    /// After a read: `buffered` bytes of an unfinished message are held.
    pub fn on_buffered(&mut self, now: Instant, buffered: usize) {
        if buffered == 0 {
            self.partial_since = None;
        } else if self.partial_since.is_none() {
            self.partial_since = Some(now);
        }
    }

    /// The next moment [`Liveness::expired`] must be asked.
    pub fn deadline(&self) -> Instant {
        let incomplete = match (self.partial_since, self.last_message) {
            (Some(p), _) => Some(p + self.incomplete),
            (None, None) => Some(self.opened + self.incomplete),
            (None, Some(_)) => None,
        };
        let idle = self.last_message.unwrap_or(self.opened) + self.idle;
        incomplete.map_or(idle, |i| i.min(idle))
    }

    /// Whether to close at `now`. A flow is exempt from the idle rule only; when it is
    /// spared, the idle clock starts again, so the question comes back one idle time later.
    pub fn expired(&mut self, now: Instant, is_flow: bool) -> Option<CloseReason> {
        let since_open_or_partial = match (self.partial_since, self.last_message) {
            (Some(p), _) => Some(p),
            (None, None) => Some(self.opened),
            (None, Some(_)) => None,
        };
        if since_open_or_partial.is_some_and(|t| now >= t + self.incomplete) {
            return Some(CloseReason::Incomplete);
        }
        let quiet_since = self.last_message.unwrap_or(self.opened);
        if now >= quiet_since + self.idle {
            if !is_flow {
                return Some(CloseReason::Idle);
            }
            self.last_message = Some(now);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn live(t0: Instant) -> Liveness {
        Liveness::new(t0, 30 * S, 120 * S)
    }

    #[test]
    fn a_connection_that_only_pings_is_closed_as_incomplete() {
        let t0 = Instant::now();
        let mut l = live(t0);
        // CRLF keep-alives arrive but are no messages: the clock from opening runs on.
        l.on_buffered(t0 + 10 * S, 0);
        assert_eq!(l.deadline(), t0 + 30 * S);
        assert_eq!(l.expired(t0 + 29 * S, false), None);
        assert_eq!(l.expired(t0 + 30 * S, false), Some(CloseReason::Incomplete));
    }

    #[test]
    fn a_quiet_connection_without_a_flow_is_closed_after_the_idle_time() {
        let t0 = Instant::now();
        let mut l = live(t0);
        l.on_message(t0 + S);
        assert_eq!(l.deadline(), t0 + 121 * S);
        assert_eq!(l.expired(t0 + 120 * S, false), None);
        assert_eq!(l.expired(t0 + 121 * S, false), Some(CloseReason::Idle));
        // Each message starts the idle clock again.
        let mut l = live(t0);
        l.on_message(t0 + S);
        l.on_message(t0 + 100 * S);
        assert_eq!(l.expired(t0 + 150 * S, false), None);
        assert_eq!(l.deadline(), t0 + 220 * S);
    }

    #[test]
    fn a_flow_is_never_closed_for_quiet_and_the_question_comes_back() {
        let t0 = Instant::now();
        let mut l = live(t0);
        l.on_message(t0);
        assert_eq!(l.expired(t0 + 120 * S, true), None);
        assert_eq!(
            l.deadline(),
            t0 + 240 * S,
            "asked again one idle time later"
        );
        // Once the binding is gone, the next check closes it.
        assert_eq!(l.expired(t0 + 240 * S, false), Some(CloseReason::Idle));
    }

    #[test]
    fn a_half_sent_message_must_finish_in_time_whatever_trickles_in() {
        let t0 = Instant::now();
        let mut l = live(t0);
        l.on_message(t0);
        l.on_buffered(t0 + 50 * S, 10);
        l.on_buffered(t0 + 60 * S, 20);
        l.on_buffered(t0 + 70 * S, 30);
        assert_eq!(l.deadline(), t0 + 80 * S);
        assert_eq!(l.expired(t0 + 79 * S, true), None);
        assert_eq!(l.expired(t0 + 80 * S, true), Some(CloseReason::Incomplete));
        // Completing it clears the clock.
        let mut l = live(t0);
        l.on_buffered(t0 + S, 10);
        l.on_message(t0 + 2 * S);
        l.on_buffered(t0 + 2 * S, 0);
        assert_eq!(l.expired(t0 + 100 * S, false), None);
    }
}
