//! Symmetric RTP latching (the "comedia" rule) with a window, one latch per leg and channel.
//!
//! Endpoints behind NAT send from an address their SDP does not show; the relay learns it from
//! the packets. Learning from *any* packet at *any* time lets a stranger take over the stream
//! (RTP hijacking, as in the Asterisk "RTP bleed" advisories), so learning is allowed only while
//! a window is open, which the call core opens after an answer or a re-INVITE, and (in the
//! default [`LatchMode::Strict`]) only from a source *consistent with the leg*:
//!
//! * consistent means: the IP address its SDP names, or the IP address its SIP signalling came
//!   from ([`Latch::set_signalling_source`]), with any port. A phone behind NAT sends RTP from
//!   its public address (the one its SIP comes from) on a port nobody announced, so the port
//!   cannot be part of the rule; the address can. A stranger elsewhere cannot latch, whenever
//!   it sends. [`LatchMode::Any`] drops the address rule, for deployments behind media relays
//!   or SBCs whose media comes from addresses neither the SDP nor the signalling shows;
//! * in the window, the first valid consistent packet's source becomes the remote
//!   ([`Admit::Latched`]); a packet from the exact address the SDP gave may still replace an
//!   earlier guess, since that address is the one the endpoint vouched for; any other source
//!   is refused;
//! * outside the window, only the latched source is admitted. When nothing latched yet, a packet
//!   from the SDP address latches (endpoints with public addresses need no window);
//! * opening the window again lets the first consistent packet in it re-latch (the endpoint
//!   may have moved).
//!
//! Refused packets are counted by the relay (`Drops::foreign_source`).
//!
//! Pure: time is passed in.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Whether a packet's source is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// From the current remote.
    Known,
    /// The remote is now this source (it changed).
    Latched(SocketAddr),
    /// From somewhere else: drop.
    Refused,
}

/// Which sources may latch (`[media] latch` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatchMode {
    /// Only a source on the leg's SDP address or SIP source address (any port).
    #[default]
    Strict,
    /// The first source in the window, wherever it is (behind media relays).
    Any,
}

/// The remote of one leg's RTP or RTCP.
#[derive(Debug, Clone, Default)]
pub struct Latch {
    mode: LatchMode,
    signalled: Option<SocketAddr>,
    /// Where the leg's SIP comes from.
    signalling: Option<IpAddr>,
    latched: Option<SocketAddr>,
    window_until: Option<Instant>,
    /// Whether a packet already latched in the current window.
    latched_in_window: bool,
}

impl Latch {
    pub fn new(mode: LatchMode) -> Latch {
        Latch {
            mode,
            ..Latch::default()
        }
    }

    /// The address the leg's SIP requests or responses come from (a NATed phone's public
    /// address): its RTP may come from there too, on any port.
    pub fn set_signalling_source(&mut self, ip: IpAddr) {
        self.signalling = Some(ip);
    }

    /// Whether `from` may latch at all (see the module doc).
    fn consistent(&self, from: SocketAddr) -> bool {
        match self.mode {
            LatchMode::Any => true,
            LatchMode::Strict => {
                self.signalled.is_some_and(|s| s.ip() == from.ip())
                    || self.signalling == Some(from.ip())
            }
        }
    }

    /// The address the leg's SDP gave. It is where we send until something latches. A
    /// *different* address means the endpoint moved its media (re-INVITE), so the old latch is
    /// forgotten; the same address again (a NATed endpoint repeating its private address)
    /// keeps it.
    pub fn set_signalled(&mut self, addr: SocketAddr) {
        if self.signalled != Some(addr) {
            self.latched = None;
        }
        self.signalled = Some(addr);
    }

    pub fn open_window(&mut self, now: Instant, length: Duration) {
        self.window_until = now.checked_add(length);
        self.latched_in_window = false;
    }

    /// Where packets for this leg go: the latched source, else the SDP address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    /// Decide on a valid packet from `from`.
    pub fn admit(&mut self, from: SocketAddr, now: Instant) -> Admit {
        let open = self.window_until.is_some_and(|until| now < until);
        let from_sdp = self.signalled == Some(from);
        let take = if self.latched == Some(from) {
            // Known; still counts as this window's latch so a later stranger cannot take over.
            self.latched_in_window |= open;
            return Admit::Known;
        } else if !self.consistent(from) {
            false
        } else if open {
            !self.latched_in_window || from_sdp
        } else {
            self.latched.is_none() && from_sdp
        };
        if take {
            self.latched = Some(from);
            self.latched_in_window |= open;
            Admit::Latched(from)
        } else {
            Admit::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(3);

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], port))
    }

    #[test]
    fn first_source_in_the_window_latches_and_strangers_are_refused() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        latch.set_signalled(addr(10, 4000)); // private address behind NAT
        latch.set_signalling_source(addr(99, 5060).ip()); // the NAT's public address
        latch.open_window(t0, WINDOW);
        let nat = addr(99, 31000);
        assert_eq!(latch.admit(nat, t0), Admit::Latched(nat));
        assert_eq!(latch.remote(), Some(nat));
        assert_eq!(
            latch.admit(nat, t0 + Duration::from_millis(20)),
            Admit::Known
        );
        assert_eq!(
            latch.admit(addr(66, 6666), t0 + Duration::from_secs(1)),
            Admit::Refused
        );
        assert_eq!(
            latch.admit(addr(66, 6666), t0 + Duration::from_secs(10)),
            Admit::Refused
        );
        assert_eq!(latch.remote(), Some(nat));
    }

    #[test]
    fn the_sdp_address_beats_an_earlier_guess_inside_the_window_only() {
        let t0 = Instant::now();
        let mut latch = Latch::new(LatchMode::Any);
        latch.set_signalled(addr(10, 4000));
        latch.open_window(t0, WINDOW);
        assert_eq!(
            latch.admit(addr(66, 6666), t0),
            Admit::Latched(addr(66, 6666))
        );
        assert_eq!(
            latch.admit(addr(10, 4000), t0 + Duration::from_secs(1)),
            Admit::Latched(addr(10, 4000))
        );
        assert_eq!(
            latch.admit(addr(66, 6666), t0 + Duration::from_secs(2)),
            Admit::Refused
        );

        let mut late = Latch::new(LatchMode::Any);
        late.set_signalled(addr(10, 4000));
        late.open_window(t0, WINDOW);
        assert_eq!(
            late.admit(addr(66, 6666), t0),
            Admit::Latched(addr(66, 6666))
        );
        assert_eq!(late.admit(addr(10, 4000), t0 + WINDOW), Admit::Refused);
    }

    #[test]
    fn without_a_window_only_the_sdp_address_is_admitted() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        assert_eq!(latch.admit(addr(10, 4000), t0), Admit::Refused);
        assert_eq!(latch.remote(), None);
        latch.set_signalled(addr(10, 4000));
        assert_eq!(latch.admit(addr(66, 6666), t0), Admit::Refused);
        assert_eq!(
            latch.admit(addr(10, 4000), t0),
            Admit::Latched(addr(10, 4000))
        );
        assert_eq!(latch.admit(addr(10, 4000), t0), Admit::Known);
    }

    #[test]
    fn a_new_sdp_address_forgets_the_latch_and_the_same_one_keeps_it() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        latch.set_signalling_source(addr(99, 5060).ip());
        latch.set_signalled(addr(10, 4000));
        latch.open_window(t0, WINDOW);
        assert_eq!(
            latch.admit(addr(99, 31000), t0),
            Admit::Latched(addr(99, 31000))
        );
        latch.set_signalled(addr(10, 4000));
        assert_eq!(latch.remote(), Some(addr(99, 31000)));
        latch.set_signalled(addr(11, 4000));
        assert_eq!(latch.remote(), Some(addr(11, 4000)));
    }

    #[test]
    fn reopening_the_window_lets_a_moved_endpoint_relatch() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        latch.set_signalling_source(addr(99, 5060).ip());
        latch.open_window(t0, WINDOW);
        assert_eq!(
            latch.admit(addr(99, 31000), t0),
            Admit::Latched(addr(99, 31000))
        );
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(latch.admit(addr(99, 32000), t1), Admit::Refused);
        latch.open_window(t1, WINDOW); // re-INVITE
        assert_eq!(
            latch.admit(addr(99, 32000), t1),
            Admit::Latched(addr(99, 32000))
        );
        assert_eq!(latch.admit(addr(99, 31000), t1), Admit::Refused);
    }

    #[test]
    fn strict_latching_refuses_a_stranger_even_first_in_the_window() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        latch.set_signalled(addr(10, 4000));
        latch.set_signalling_source(addr(99, 5060).ip());
        latch.open_window(t0, WINDOW);
        // The stranger is first, inside the window, again and again: never latched.
        for ms in [0, 5, 40] {
            assert_eq!(
                latch.admit(addr(66, 6666), t0 + Duration::from_millis(ms)),
                Admit::Refused
            );
        }
        assert_eq!(latch.remote(), Some(addr(10, 4000)));
        // The phone's NAT (its SIP source address) on a port nobody announced: latched.
        let nat = addr(99, 31000);
        assert_eq!(latch.admit(nat, t0 + WINDOW / 2), Admit::Latched(nat));
        assert_eq!(latch.admit(addr(66, 6666), t0 + WINDOW / 2), Admit::Refused);
        assert_eq!(latch.admit(addr(66, 6666), t0 + WINDOW * 2), Admit::Refused);
        assert_eq!(latch.remote(), Some(nat));
    }

    #[test]
    fn strict_latching_takes_the_sdp_address_on_another_port() {
        let t0 = Instant::now();
        let mut latch = Latch::default();
        latch.set_signalled(addr(10, 4000));
        latch.open_window(t0, WINDOW);
        assert_eq!(
            latch.admit(addr(10, 4010), t0),
            Admit::Latched(addr(10, 4010))
        );
        // Nothing signalled at all: nothing is consistent.
        let mut blind = Latch::default();
        blind.open_window(t0, WINDOW);
        assert_eq!(blind.admit(addr(10, 4000), t0), Admit::Refused);
        assert_eq!(blind.remote(), None);
    }

    #[test]
    fn any_mode_latches_the_first_source_wherever_it_is() {
        let t0 = Instant::now();
        let mut latch = Latch::new(LatchMode::Any);
        latch.set_signalled(addr(10, 4000));
        latch.set_signalling_source(addr(99, 5060).ip());
        latch.open_window(t0, WINDOW);
        let relay = addr(77, 40000);
        assert_eq!(latch.admit(relay, t0), Admit::Latched(relay));
        assert_eq!(latch.admit(addr(66, 6666), t0), Admit::Refused);
    }

    #[test]
    fn the_mode_reads_from_configuration_words() {
        #[derive(serde::Deserialize)]
        struct Media {
            latch: LatchMode,
        }
        let strict: Media = toml::from_str("latch = \"strict\"").unwrap();
        assert_eq!(strict.latch, LatchMode::Strict);
        let any: Media = toml::from_str("latch = \"any\"").unwrap();
        assert_eq!(any.latch, LatchMode::Any);
        assert!(toml::from_str::<Media>("latch = \"first\"").is_err());
        assert_eq!(LatchMode::default(), LatchMode::Strict);
    }
}
