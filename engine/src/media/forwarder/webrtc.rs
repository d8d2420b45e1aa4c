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
use std::time::{Duration, Instant};

use std::sync::Arc;

use str0m::config::{CryptoProvider, DtlsCert};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, IceCreds, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::media::codec::AudioCodec;
use crate::media::control::WebRtcSession;
use crate::media::opus_bridge::{to_opus_clock, to_telephony_clock, OpusBridge};

/// Decrypted packets waiting for the relay path at most (a burst after a stall).
const INBOUND_LIMIT: usize = 256;
/// How long a browser has to complete ICE and DTLS after the leg is set up (browsers take
/// well under a second on a LAN; seconds over TURN).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long ICE may stay disconnected (no consent checks from the browser) before the leg
/// is given up; a short network change recovers within it.
const DISCONNECTED_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// Something was written since the last drain (str0m has output to give).
    dirty: bool,
    created: Instant,
    /// The time of the latest `drain`.
    last_now: Instant,
    /// Since when ICE has been disconnected, if it is.
    disconnected_since: Option<Instant>,
    /// Decrypted RTP rebuilt as plain datagrams, oldest first.
    inbound: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Bundled video: its mid and our SSRC for it.
    video: Option<(Mid, Ssrc)>,
    /// Video packets received, for the other leg's peer (never decoded or relayed to SIP).
    video_inbound: VecDeque<VideoPacket>,
    /// The browser asked for a keyframe (PLI/FIR) of the video we send it.
    keyframe_wanted: bool,
    last_video_seq: Option<SeqNo>,
    /// An Opus-only browser: its payload type, the codec, and the sequence numbers of what
    /// we write to it (frames are regrouped, so the relayed numbers cannot be kept).
    opus: Option<(u8, Box<OpusBridge>, u64)>,
}

/// One video RTP packet as it crosses from one browser leg to another.
#[derive(Debug)]
pub(super) struct VideoPacket {
    /// Codec name, so the payload type can be the other leg's number for it.
    codec: Codec,
    seq: u16,
    timestamp: u32,
    marker: bool,
    payload: Arc<[u8]>,
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
    #[error("no Opus codec: {0}")]
    Opus(String),
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
        let video_pts = session.video.iter().flat_map(|v| v.payload_types.iter());
        for &(pt, ref encoding, rate) in session.payload_types.iter().chain(video_pts) {
            let Some(codec) = codec_named(encoding) else {
                continue;
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
        let opus = match session.opus {
            Some(pt) => Some((
                pt,
                Box::new(OpusBridge::new().map_err(|e| PeerError::Opus(e.to_string()))?),
                u64::from(rand::random::<u16>()),
            )),
            None => None,
        };
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
            // No NACKs for audio (a late voice frame is useless, and the NACK timer would
            // wake every idle leg about 30 times a second).
            api.expect_stream_rx(ssrc.into(), None, mid, None)
                .suppress_nack(true);
        }
        let video = session.video.as_ref().map(|v| {
            let vmid: Mid = v.mid.as_str().into();
            let vtx: Ssrc = session.local.video_ssrc.into();
            api.declare_media(vmid, MediaKind::Video);
            api.declare_stream_tx(vtx, None, vmid, None);
            for &ssrc in &v.ssrcs {
                api.expect_stream_rx(ssrc.into(), None, vmid, None);
            }
            (vmid, vtx)
        });
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
            dirty: true,
            created: now,
            last_now: now,
            disconnected_since: None,
            inbound: VecDeque::new(),
            video,
            video_inbound: VecDeque::new(),
            keyframe_wanted: false,
            last_video_seq: None,
            opus,
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
        true
    }

    /// Send a plain RTP packet (header as the relay made it) to the browser.
    pub fn write_rtp(&mut self, packet: &[u8], now: Instant) {
        self.dirty = true;
        let Some((header_len, pt, seq, ts, marker)) = parse_rtp(packet) else {
            return;
        };
        if let Some((opus_pt, bridge, next_seq)) = self.opus.as_mut() {
            // An Opus-only browser: G.711 becomes Opus frames, other types (telephone-event)
            // pass; every packet takes our own next sequence number.
            let law = match pt {
                0 => Some(AudioCodec::Pcmu),
                8 => Some(AudioCodec::Pcma),
                _ => None,
            };
            let mut writes = Vec::new();
            match law {
                Some(law) => bridge.encode(law, &packet[header_len..], &mut |at, opus| {
                    let at_ts = i64::from(ts) + at;
                    writes.push((*opus_pt, to_opus_clock(at_ts as u32), opus.to_vec()));
                }),
                None => writes.push((pt, ts, packet[header_len..].to_vec())),
            }
            let mut api = self.rtc.direct_api();
            for (pt, ts, payload) in writes {
                *next_seq += 1;
                let write = RtpWrite::new(pt.into(), SeqNo::from(*next_seq), ts, now, payload)
                    .marker(marker);
                if let Some(stream) = api.stream_tx(&self.tx) {
                    stream.write_rtp(write);
                }
            }
            return;
        }
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
        self.last_now = now;
        self.dirty = false;
        if self.deadline.is_some_and(|at| at <= now) {
            self.deadline = None;
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        if self.state == PeerState::Connecting && now >= self.created + CONNECT_TIMEOUT {
            self.state = PeerState::Failed("ice-timeout");
        }
        if self
            .disconnected_since
            .is_some_and(|since| now >= since + DISCONNECTED_TIMEOUT)
        {
            self.state = PeerState::Failed("ice-failed");
        }
        if matches!(self.state, PeerState::Failed(_)) {
            self.deadline = None;
            return;
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
                    // STUN answers go to every candidate pair the browser checks (a browser
                    // with two interfaces checks from both); DTLS and SRTP go only to the
                    // selected one, which is where its media comes from.
                    if !is_stun(&t.contents) {
                        self.remote = Some(t.destination);
                    }
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

    /// Whether [`WebRtcPeer::drain`] has anything to do: a write since the last one, or a
    /// timer due. (Each drain polls str0m to its timeout: the task's cost per packet.)
    pub fn needs_drain(&self, now: Instant) -> bool {
        self.dirty || self.deadline.is_some_and(|at| at <= now)
    }

    /// Whether the task has anything to take from this peer or do for it.
    pub fn has_work(&self, now: Instant) -> bool {
        self.needs_drain(now)
            || !self.inbound.is_empty()
            || !self.video_inbound.is_empty()
            || self.keyframe_wanted
            || self.state != self.reported
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
                self.disconnected_since
                    .get_or_insert(self.created.max(self.last_now));
            }
            RtcEvent::IceConnectionStateChange(_) => self.disconnected_since = None,
            RtcEvent::KeyframeRequest(_) => self.keyframe_wanted = true,
            RtcEvent::RtpPacket(packet)
                if self
                    .video
                    .is_some_and(|(mid, _)| mid == packet.header.ext_vals.mid.unwrap_or(mid))
                    && self.is_video_ssrc(packet.header.ssrc) =>
            {
                if self.video_inbound.len() >= INBOUND_LIMIT {
                    return;
                }
                let pt = packet.header.payload_type;
                let Some(codec) = self
                    .rtc
                    .codec_config()
                    .find(|p| p.pt() == pt)
                    .map(|p| p.spec().codec)
                else {
                    return;
                };
                self.video_inbound.push_back(VideoPacket {
                    codec,
                    seq: packet.header.sequence_number,
                    timestamp: packet.header.timestamp,
                    marker: packet.header.marker,
                    payload: packet.payload,
                });
            }
            RtcEvent::RtpPacket(packet) => {
                if self.inbound.len() >= INBOUND_LIMIT {
                    return;
                }
                let h = &packet.header;
                let (mut pt, mut ts) = (*h.payload_type & 0x7f, h.timestamp);
                // Room behind the packet for an SRTP tag, should the other leg be an SDES one.
                let mut datagram = Vec::with_capacity(12 + packet.payload.len().max(160) + 32);
                datagram.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                match self.opus.as_mut() {
                    // An Opus-only browser's voice reaches the relay as μ-law.
                    Some((opus_pt, bridge, _)) if *opus_pt == pt => {
                        if bridge.decode(&packet.payload, &mut datagram) == 0 {
                            return;
                        }
                        (pt, ts) = (0, to_telephony_clock(ts));
                    }
                    _ => datagram.extend_from_slice(&packet.payload),
                }
                datagram[1] = (u8::from(h.marker) << 7) | pt;
                datagram[2..4].copy_from_slice(&h.sequence_number.to_be_bytes());
                datagram[4..8].copy_from_slice(&ts.to_be_bytes());
                datagram[8..12].copy_from_slice(&(*h.ssrc).to_be_bytes());
                let from = self.remote.unwrap_or(self.local);
                self.inbound.push_back((from, datagram));
            }
            _ => {}
        }
    }

    fn is_video_ssrc(&mut self, ssrc: Ssrc) -> bool {
        let Some((mid, _)) = self.video else {
            return false;
        };
        self.rtc
            .direct_api()
            .stream_rx(&ssrc)
            .is_some_and(|s| s.mid() == mid)
    }

    /// New ICE credentials on both sides (the browser restarted ICE); the DTLS association
    /// and SRTP keys stay, media keeps flowing on the old path until the new one is checked.
    pub fn restart_ice(&mut self, local: (String, String), remote: (String, String)) {
        self.dirty = true;
        let mut api = self.rtc.direct_api();
        api.set_local_ice_credentials(IceCreds {
            ufrag: local.0,
            pass: local.1,
        });
        api.set_remote_ice_credentials(IceCreds {
            ufrag: remote.0,
            pass: remote.1,
        });
    }

    /// The next video packet received.
    pub fn video_inbound(&mut self) -> Option<VideoPacket> {
        self.video_inbound.pop_front()
    }

    /// Send a video packet from the other browser leg (its payload type renumbered for this
    /// leg's negotiated one of the same codec).
    pub fn write_video(&mut self, packet: VideoPacket, now: Instant) {
        self.dirty = true;
        let Some((_, tx)) = self.video else {
            return;
        };
        let Some(pt) = self
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == packet.codec)
            .map(|p| p.pt())
        else {
            return;
        };
        let seq = match self.last_video_seq {
            None => SeqNo::from(u64::from(packet.seq)),
            Some(last) => extend(last, packet.seq),
        };
        self.last_video_seq = Some(seq);
        let write = RtpWrite::new(pt, seq, packet.timestamp, now, packet.payload)
            .marker(packet.marker)
            .nackable(false);
        let mut api = self.rtc.direct_api();
        if let Some(stream) = api.stream_tx(&tx) {
            stream.write_rtp(write);
        }
    }

    /// Whether the browser asked for a keyframe since last asked.
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_wanted)
    }

    /// Ask the browser for a keyframe of the video it sends (the other leg needs one).
    pub fn request_keyframe(&mut self) {
        self.dirty = true;
        let Some((mid, _)) = self.video else {
            return;
        };
        let mut api = self.rtc.direct_api();
        if let Some(rx) = api.stream_rx_by_mid(mid, None) {
            rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
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

/// A STUN message (RFC 7983: first byte 0-3), as opposed to DTLS (20-63) or SRTP (128-191).
fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| *b < 4)
}

/// The str0m codec of an SDP encoding name (the ones a browser leg may carry).
fn codec_named(encoding: &str) -> Option<Codec> {
    Some(match encoding.to_ascii_lowercase().as_str() {
        "pcmu" => Codec::PCMU,
        "pcma" => Codec::PCMA,
        "telephone-event" => Codec::Tele,
        "opus" => Codec::Opus,
        "vp8" => Codec::Vp8,
        "vp9" => Codec::Vp9,
        "h264" => Codec::H264,
        "av1" => Codec::Av1,
        _ => return None,
    })
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
    fn only_stun_answers_are_told_from_media() {
        // A binding success response, a DTLS record, an SRTP packet (RFC 7983's first bytes).
        assert!(is_stun(&[0x01, 0x01, 0, 0]));
        assert!(!is_stun(&[22, 0xfe, 0xfd]));
        assert!(!is_stun(&[0x80, 0x00]));
        assert!(!is_stun(&[]));
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
