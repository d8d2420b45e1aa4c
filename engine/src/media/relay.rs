//! The per-packet rules of one call's relay, pure: the forwarder asks, this answers.
//!
//! For each datagram from a leg, in this order (cheapest and least trusting first):
//! 1. header sanity ([`super::rtp`]): not RTP/RTCP v2 → drop as malformed (never latches);
//! 2. RTP payload type allowed for that leg (from the negotiated SDP) → else drop;
//! 3. source admitted by the leg's [`Latch`] for that channel → else drop as foreign;
//! 4. the legs are bridged → else drop as not bridged (still counts as activity);
//! 5. the other leg has a remote for that channel → forward there.
//!
//! The forwarder then sends and reports back ([`Relay::on_sent`], [`Relay::on_send_failed`]),
//! so every counter lives here. Inactivity is judged on a coarse tick ([`Relay::on_tick`])
//! rather than per packet, so the fast path never reads a clock for it.
//!
//! Later per-packet stages (payload-type mapping, μ↔A transcoding, recording taps, DTMF
//! detection) sit between a `Forward` verdict and the send; they take the packet as
//! `&mut [u8]` and the direction, so they can rewrite in place without allocating.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::control::{Channel, Command, Leg, Stats};
use super::latch::{Admit, Latch, LatchMode};
use super::rtp::{check_rtcp, check_rtp, PayloadTypes};

/// The relay's tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// How long a latch window stays open after `OpenLatchWindow`.
    pub latch_window: Duration,
    /// RTP inactivity timeout while bridged; `None` for never.
    pub rtp_timeout: Option<Duration>,
    /// Which sources may latch ([`LatchMode`]).
    pub latch: LatchMode,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            latch_window: Duration::from_secs(3),
            rtp_timeout: Some(Duration::from_secs(60)),
            latch: LatchMode::Strict,
        }
    }
}

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it, unchanged, out of the other leg's socket for the same channel, to this address.
    Forward(SocketAddr),
    Drop(DropReason),
}

/// Why a datagram was dropped (the counters in [`super::control::Drops`] follow these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Malformed,
    PayloadType,
    ForeignSource,
    NotBridged,
    NoRemote,
}

/// A verdict, and the new remote if this packet latched one (to report as an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub latched: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
struct LegState {
    rtp: Latch,
    rtcp: Latch,
    payload_types: PayloadTypes,
    /// A valid packet arrived since the last tick.
    seen: bool,
    last_seen: Instant,
    timeout_reported: bool,
}

/// The relay state of one call: two legs, a bridge flag, counters.
#[derive(Debug, Clone)]
pub struct Relay {
    config: RelayConfig,
    legs: [LegState; 2],
    bridged: bool,
    stats: Stats,
}

impl Relay {
    pub fn new(config: RelayConfig, now: Instant) -> Self {
        let leg = LegState {
            rtp: Latch::new(config.latch),
            rtcp: Latch::new(config.latch),
            payload_types: PayloadTypes::ALL,
            seen: false,
            last_seen: now,
            timeout_reported: false,
        };
        Relay {
            config,
            legs: [leg.clone(), leg],
            bridged: false,
            stats: Stats::default(),
        }
    }

    /// Apply a command. `Stop` is the forwarder's business and changes nothing here.
    pub fn handle(&mut self, now: Instant, command: &Command) {
        match *command {
            Command::SetRemote { leg, rtp, rtcp } => {
                let rtcp = rtcp.unwrap_or_else(|| {
                    SocketAddr::new(rtp.ip(), rtp.port().checked_add(1).unwrap_or(rtp.port()))
                });
                let state = &mut self.legs[leg.index()];
                state.rtp.set_signalled(rtp);
                state.rtcp.set_signalled(rtcp);
            }
            Command::SetSignallingSource { leg, ip } => {
                let state = &mut self.legs[leg.index()];
                state.rtp.set_signalling_source(ip);
                state.rtcp.set_signalling_source(ip);
            }
            Command::OpenLatchWindow { leg } => {
                let state = &mut self.legs[leg.index()];
                state.rtp.open_window(now, self.config.latch_window);
                state.rtcp.open_window(now, self.config.latch_window);
            }
            Command::SetPayloadTypes { leg, allowed } => {
                self.legs[leg.index()].payload_types = allowed;
            }
            Command::SetRtpTimeout { after } => {
                self.config.rtp_timeout = after;
                self.restart_inactivity(now);
            }
            Command::Bridge => {
                self.bridged = true;
                self.restart_inactivity(now);
            }
            Command::Unbridge => self.bridged = false,
            // The media stages' commands, and `Stop`, are the forwarder's business.
            Command::SetCodecs { .. }
            | Command::Play { .. }
            | Command::StopPlay { .. }
            | Command::SendDtmf { .. }
            | Command::Record { .. }
            | Command::StopRecord { .. }
            | Command::SetWebRtc { .. }
            | Command::RestartIce { .. }
            | Command::SetSrtp { .. }
            | Command::Stream { .. }
            | Command::StopStream { .. }
            | Command::Stop => {}
        }
    }

    /// Judge one datagram that arrived on `leg`'s `channel` socket from `from`.
    pub fn on_packet(
        &mut self,
        leg: Leg,
        channel: Channel,
        from: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> Outcome {
        let drop = |reason| Outcome {
            verdict: Verdict::Drop(reason),
            latched: None,
        };
        let state = &mut self.legs[leg.index()];
        let dropped = &mut self.stats.sent_by_mut(leg).dropped;
        let valid = match channel {
            Channel::Rtp => check_rtp(packet).map(Some),
            Channel::Rtcp => check_rtcp(packet).map(|()| None),
        };
        let payload_type = match valid {
            Ok(pt) => pt,
            Err(_) => {
                dropped.malformed += 1;
                return drop(DropReason::Malformed);
            }
        };
        if payload_type.is_some_and(|pt| !state.payload_types.contains(pt)) {
            dropped.payload_type += 1;
            return drop(DropReason::PayloadType);
        }
        let latch = match channel {
            Channel::Rtp => &mut state.rtp,
            Channel::Rtcp => &mut state.rtcp,
        };
        let latched = match latch.admit(from, now) {
            Admit::Known => None,
            Admit::Latched(addr) => Some(addr),
            Admit::Refused => {
                dropped.foreign_source += 1;
                return drop(DropReason::ForeignSource);
            }
        };
        state.seen = true;
        let verdict = if !self.bridged {
            dropped.not_bridged += 1;
            Verdict::Drop(DropReason::NotBridged)
        } else {
            let other = &self.legs[leg.other().index()];
            let target = match channel {
                Channel::Rtp => other.rtp.remote(),
                Channel::Rtcp => other.rtcp.remote(),
            };
            match target {
                Some(to) => Verdict::Forward(to),
                None => {
                    dropped.no_remote += 1;
                    Verdict::Drop(DropReason::NoRemote)
                }
            }
        };
        Outcome { verdict, latched }
    }

    /// A forwarded datagram from `leg` went out.
    pub fn on_sent(&mut self, leg: Leg, channel: Channel, len: usize) {
        let stats = self.stats.sent_by_mut(leg);
        let len = len as u64;
        match channel {
            Channel::Rtp => {
                stats.packets += 1;
                stats.bytes += len;
            }
            Channel::Rtcp => {
                stats.rtcp_packets += 1;
                stats.rtcp_bytes += len;
            }
        }
    }

    /// A forwarded datagram from `leg` could not be sent.
    pub fn on_send_failed(&mut self, leg: Leg) {
        self.stats.sent_by_mut(leg).dropped.send_failed += 1;
    }

    /// A forwarded datagram from `leg` was held back by the media stages.
    pub fn on_suppressed(&mut self, leg: Leg) {
        self.stats.sent_by_mut(leg).dropped.suppressed += 1;
    }

    /// A datagram from an SRTP leg failed its check (`forwarder::protect`).
    pub fn on_srtp_refused(&mut self, leg: Leg) {
        self.stats.sent_by_mut(leg).dropped.srtp += 1;
    }

    /// Where `leg`'s media for `channel` goes: the latched source, else its SDP address.
    pub fn remote(&self, leg: Leg, channel: Channel) -> Option<SocketAddr> {
        let state = &self.legs[leg.index()];
        match channel {
            Channel::Rtp => state.rtp.remote(),
            Channel::Rtcp => state.rtcp.remote(),
        }
    }

    /// The periodic inactivity check; returns the legs that just timed out.
    pub fn on_tick(&mut self, now: Instant) -> [Option<Leg>; 2] {
        let mut timed_out = [None, None];
        for (leg, state) in [Leg::A, Leg::B].into_iter().zip(&mut self.legs) {
            if std::mem::take(&mut state.seen) {
                state.last_seen = now;
                state.timeout_reported = false;
                continue;
            }
            let expired = self
                .config
                .rtp_timeout
                .is_some_and(|t| now.saturating_duration_since(state.last_seen) >= t);
            if self.bridged && expired && !state.timeout_reported {
                state.timeout_reported = true;
                timed_out[leg.index()] = Some(leg);
            }
        }
        timed_out
    }

    /// How often [`Relay::on_tick`] should run: a quarter of the timeout, between 10 ms and 1 s.
    pub fn tick_interval(&self) -> Duration {
        self.config
            .rtp_timeout
            .map_or(Duration::from_secs(1), |t| t / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn is_bridged(&self) -> bool {
        self.bridged
    }

    fn restart_inactivity(&mut self, now: Instant) {
        for state in &mut self.legs {
            state.last_seen = now;
            state.timeout_reported = false;
        }
    }
}

#[cfg(test)]
mod tests;
