//! A WebRTC leg of a call's media task: str0m (sans-IO) terminates ICE-lite, DTLS-SRTP and
//! rtcp-mux on the leg's RTP socket, and the rest of the task sees plain RTP.
//!
//! The task feeds every datagram of a WebRTC leg's socket to [`WebRtcPeer::receive`], and
//! writes the plain RTP it would send that leg through [`WebRtcPeer::write_rtp`]; after
//! either, and when [`WebRtcPeer::deadline`] passes, [`WebRtcPeer::drain`] sends what str0m
//! has to send (STUN answers, DTLS, SRTP, RTCP) and queues the decrypted RTP packets, rebuilt
//! as plain RTP datagrams, for the task's relay path ([`WebRtcPeer::inbound`]).
//!
//! One engine-wide DTLS certificate serves every peer (its fingerprint goes into every SDP we
//! write): generating a key per call would cost milliseconds of CPU at call setup.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use std::sync::Arc;

use str0m::config::{CryptoProvider, DtlsCert};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::rtp::{Extension, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, IceCreds, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::media::control::WebRtcSession;

/// Decrypted packets waiting for the relay path at most (a burst after a stall).
const INBOUND_LIMIT: usize = 256;

/// What happened to a peer's connection, for the call core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PeerState {
    Connecting,
    Connected,
    /// ICE gave up or DTLS failed: the leg is dead.
    Failed(&'static str),
}

/// The engine's one DTLS identity, shared by every WebRTC leg.
#[derive(Clone)]
pub struct WebRtcIdentity {
    provider: Arc<CryptoProvider>,
    cert: DtlsCert,
    /// Its `a=fingerprint` value (`sha-256 AB:…`).
    fingerprint: String,
}

impl WebRtcIdentity {
    /// Generate the key and self-signed certificate (browsers check only the fingerprint
    /// given in SDP, so self-signed is what WebRTC uses).
    pub fn generate(now: Instant) -> Option<Self> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider.dtls_provider.generate_certificate()?;
        let provider = Arc::new(provider);
        let mut probe = Rtc::builder()
            .set_crypto_provider(provider.clone())
            .set_dtls_cert(cert.clone())
            .build(now);
        let fingerprint = probe.direct_api().local_dtls_fingerprint().to_string();
        Some(WebRtcIdentity {
            provider,
            cert,
            fingerprint,
        })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl std::fmt::Debug for WebRtcIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

pub(super) struct WebRtcPeer {
    rtc: Rtc,
    /// Our host candidate: the advertised address and the leg's RTP port.
    local: SocketAddr,
    tx: Ssrc,
    /// The last 16-bit sequence number written, extended (str0m wants the extended one).
    last_seq: Option<SeqNo>,
    /// Where the browser's checks and media come from (the latest authenticated source).
    pub remote: Option<SocketAddr>,
    deadline: Option<Instant>,
    state: PeerState,
    /// The state the task was last told of.
    reported: PeerState,
    /// Decrypted RTP rebuilt as plain datagrams, oldest first.
    inbound: VecDeque<(SocketAddr, Vec<u8>)>,
    /// What str0m had to send while `receive` polled it, sent by the next `drain`.
    outbound: VecDeque<Transmit>,
}

/// Why a peer could not be set up.
#[derive(Debug, thiserror::Error)]
pub(super) enum PeerError {
    #[error("bad DTLS fingerprint: {0}")]
    Fingerprint(String),
    #[error("bad host candidate: {0}")]
    Candidate(String),
    #[error("DTLS did not start: {0}")]
    Dtls(String),
}

impl WebRtcPeer {
    pub fn new(
        session: &WebRtcSession,
        identity: &WebRtcIdentity,
        local: SocketAddr,
        now: Instant,
    ) -> Result<Self, PeerError> {
        let fingerprint = session
            .remote
            .fingerprint
            .parse()
            .map_err(PeerError::Fingerprint)?;
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_crypto_provider(identity.provider.clone())
            .set_dtls_cert(identity.cert.clone())
            .set_local_ice_credentials(IceCreds {
                ufrag: session.local.ufrag.clone(),
                pass: session.local.pwd.clone(),
            })
            .clear_codecs();
        if let Some(id) = session
            .remote
            .mid_extension
            .filter(|id| (1..=14).contains(id))
        {
            config = config.set_extension(id, Extension::RtpMid);
        }
        let codecs = config.codec_config();
        for &(pt, ref encoding, rate) in &session.payload_types {
            let codec = match encoding.to_ascii_lowercase().as_str() {
                "pcmu" => Codec::PCMU,
                "pcma" => Codec::PCMA,
                "telephone-event" => Codec::Tele,
                "opus" => Codec::Opus,
                _ => continue,
            };
            let channels = (codec == Codec::Opus).then_some(2);
            let Some(rate) = std::num::NonZeroU32::new(rate) else {
                continue;
            };
            codecs.add_config(
                pt.into(),
                None,
                codec,
                Frequency::from(rate),
                channels,
                FormatParams::default(),
            );
        }
        let mut rtc = config.build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| PeerError::Candidate(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mid: Mid = session.remote.mid.as_deref().unwrap_or("0").into();
        let tx: Ssrc = session.local.ssrc.into();
        let mut api = rtc.direct_api();
        api.set_ice_controlling(false);
        api.set_remote_ice_credentials(IceCreds {
            ufrag: session.remote.ufrag.clone(),
            pass: session.remote.pwd.clone(),
        });
        api.set_remote_fingerprint(fingerprint);
        api.declare_media(mid, MediaKind::Audio);
        api.declare_stream_tx(tx, None, mid, None);
        for &ssrc in &session.remote.ssrcs {
            api.expect_stream_rx(ssrc.into(), None, mid, None);
        }
        api.start_dtls(session.remote.we_are_dtls_client())
            .map_err(|e| PeerError::Dtls(e.to_string()))?;
        Ok(WebRtcPeer {
            rtc,
            local,
            tx,
            last_seq: None,
            remote: None,
            deadline: Some(now),
            state: PeerState::Connecting,
            reported: PeerState::Connecting,
            inbound: VecDeque::new(),
            outbound: VecDeque::new(),
        })
    }

    /// A datagram arrived on the leg's socket. `false` if it is not for this peer (not
    /// STUN/DTLS/SRTP from an authenticated source): the caller counts it as foreign.
    pub fn receive(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> bool {
        let Ok(receive) = Receive::new(Protocol::Udp, from, self.local, datagram) else {
            return false;
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return false;
        }
        if self.rtc.handle_input(input).is_err() {
            return false;
        }
        // In RTP mode str0m holds one decrypted packet until its output is polled: the next
        // datagram of the same batch would overwrite it (a burst lost all but its last).
        self.poll_pending();
        true
    }

    /// Takes str0m's output up to its next timeout: media into `inbound`, datagrams to send
    /// into `outbound` (no socket here), both bounded.
    fn poll_pending(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.deadline = Some(at);
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    if self.outbound.len() < INBOUND_LIMIT {
                        self.outbound.push_back(t);
                    }
                }
                Ok(Output::Event(event)) => self.on_event(event),
                // `drain` meets the same error and reports it.
                Err(_) => return,
            }
        }
    }

    /// Send a plain RTP packet (header as the relay made it) to the browser.
    pub fn write_rtp(&mut self, packet: &[u8], now: Instant) {
        let Some((header_len, pt, seq, ts, marker)) = parse_rtp(packet) else {
            return;
        };
        let seq = match self.last_seq {
            None => SeqNo::from(u64::from(seq)),
            Some(last) => extend(last, seq),
        };
        self.last_seq = Some(seq);
        let payload = &packet[header_len..];
        let write = RtpWrite::new(pt.into(), seq, ts, now, payload.to_vec()).marker(marker);
        let mut api = self.rtc.direct_api();
        if let Some(stream) = api.stream_tx(&self.tx) {
            stream.write_rtp(write);
        }
    }

    /// Run str0m's timers if due, send what it has to send out of `socket`, and queue
    /// decrypted media.
    pub fn drain(&mut self, socket: &UdpSocket, now: Instant) {
        while let Some(t) = self.outbound.pop_front() {
            let _ = socket.try_send_to(&t.contents, t.destination);
            self.remote = Some(t.destination);
        }
        if self.deadline.is_some_and(|at| at <= now) {
            self.deadline = None;
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.deadline = Some(at);
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    // A full socket buffer loses this datagram like the network would.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                    self.remote = Some(t.destination);
                }
                Ok(Output::Event(event)) => self.on_event(event),
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC peer failed");
                    self.state = PeerState::Failed("dtls-failed");
                    self.deadline = None;
                    break;
                }
            }
        }
    }

    /// The state, if it changed since last asked.
    pub fn state_change(&mut self) -> Option<PeerState> {
        (self.state != self.reported).then(|| {
            self.reported = self.state;
            self.state
        })
    }

    fn on_event(&mut self, event: RtcEvent) {
        match event {
            RtcEvent::Connected => self.state = PeerState::Connected,
            RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.state = PeerState::Failed("ice-failed");
            }
            RtcEvent::RtpPacket(packet) => {
                if self.inbound.len() >= INBOUND_LIMIT {
                    return;
                }
                let h = &packet.header;
                let mut datagram = Vec::with_capacity(12 + packet.payload.len());
                datagram.push(0x80);
                datagram.push((u8::from(h.marker) << 7) | (*h.payload_type & 0x7f));
                datagram.extend_from_slice(&h.sequence_number.to_be_bytes());
                datagram.extend_from_slice(&h.timestamp.to_be_bytes());
                datagram.extend_from_slice(&(*h.ssrc).to_be_bytes());
                datagram.extend_from_slice(&packet.payload);
                let from = self.remote.unwrap_or(self.local);
                self.inbound.push_back((from, datagram));
            }
            _ => {}
        }
    }

    /// The next decrypted RTP datagram and where it came from.
    pub fn inbound(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.inbound.pop_front()
    }

    /// When [`WebRtcPeer::drain`] must run again.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// (header length, payload type, sequence number, timestamp, marker) of a plain RTP packet.
fn parse_rtp(packet: &[u8]) -> Option<(usize, u8, u16, u32, bool)> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    let csrc = usize::from(packet[0] & 0x0f) * 4;
    let mut len = 12 + csrc;
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(len + 2..len + 4)?;
        len += 4 + usize::from(u16::from_be_bytes([ext[0], ext[1]])) * 4;
    }
    if len > packet.len() {
        return None;
    }
    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    Some((len, packet[1] & 0x7f, seq, ts, packet[1] & 0x80 != 0))
}

/// The extended sequence number of `seq` nearest to `last` (RFC 3550 A.1 style).
fn extend(last: SeqNo, seq: u16) -> SeqNo {
    let last = *last;
    let base = last & !0xffff;
    let candidates = [base.wrapping_sub(0x1_0000), base, base + 0x1_0000];
    let best = candidates
        .into_iter()
        .map(|b| b | u64::from(seq))
        .min_by_key(|c| c.abs_diff(last))
        .unwrap_or(u64::from(seq));
    SeqNo::from(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_wraps() {
        let s = |v: u64| SeqNo::from(v);
        assert_eq!(*extend(s(65_535), 0), 65_536);
        assert_eq!(*extend(s(65_536), 65_535), 65_535);
        assert_eq!(*extend(s(10), 11), 11);
        assert_eq!(*extend(s(0x2_0005), 3), 0x2_0003);
    }

    #[test]
    fn rtp_headers_with_csrcs_and_extensions_are_skipped() {
        let mut p = vec![0x91, 0x80 | 8, 0, 7, 0, 0, 0, 9, 1, 2, 3, 4];
        p.extend_from_slice(&[5, 6, 7, 8]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0, 0, 0]); // one-word extension
        p.extend_from_slice(&[0xd5; 160]);
        assert_eq!(parse_rtp(&p), Some((24, 8, 7, 9, true)));
        assert_eq!(parse_rtp(&p[..20]), None);
        assert_eq!(parse_rtp(&[0x40; 20]), None);
    }
}
