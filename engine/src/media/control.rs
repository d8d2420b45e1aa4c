//! The vocabulary between the call core and a call's media task: legs, commands, events and
//! statistics. Pure data, so the call core can produce commands and consume events without
//! touching tokio.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::codec::LegCodecs;
use super::prompt::Audio;
use super::rtp::PayloadTypes;
use super::sdp::webrtc::{WebRtcLocal, WebRtcRemote};

/// One side of a bridged call. Leg A is the leg that came in (or was dialled first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    A,
    B,
}

impl Leg {
    /// The leg whose media this leg's media is relayed to.
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
        }
    }
}

/// RTP or RTCP: each has its own port, latch and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rtp,
    Rtcp,
}

/// What the call core asks of a call's media task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// The address the leg's SDP gave (offer or answer). `rtcp: None` means RTP port + 1.
    SetRemote {
        leg: Leg,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
    },
    /// Where the leg's SIP signalling comes from: its RTP may latch from that address (any
    /// port) as well as from its SDP address (`media::latch`).
    SetSignallingSource { leg: Leg, ip: std::net::IpAddr },
    /// Open the leg's symmetric-latching window (after the answer, or after a re-INVITE).
    OpenLatchWindow { leg: Leg },
    /// Which payload types the leg may send us (from the negotiated SDP); others are dropped.
    SetPayloadTypes { leg: Leg, allowed: PayloadTypes },
    /// The RTP inactivity timeout while bridged; `None` switches it off (e.g. while a leg is
    /// on hold with `inactive` and sends nothing).
    SetRtpTimeout { after: Option<Duration> },
    /// Relay A↔B, RTP and RTCP, both ways.
    Bridge,
    /// Stop relaying; packets are still received, checked and counted as not bridged.
    Unbridge,
    /// The leg's negotiated codecs ([`LegCodecs::from_media`] of its SDP): the law sent to it
    /// (bridged audio is transcoded μ↔A when the legs differ), and its telephone-event type
    /// (DTMF is detected on it and sent with it). Until then: PCMU, no telephone-events.
    SetCodecs { leg: Leg, codecs: LegCodecs },
    /// Play 8 kHz mono samples to the leg, in its law, 20 ms per packet at real-time pace.
    /// While it plays, audio relayed to that leg is replaced by the prompt. A new `Play` to the
    /// same leg ends the one playing (`PlayDone { completed: false }`). Ends with
    /// [`Event::PlayDone`].
    Play { id: u64, leg: Leg, audio: Audio },
    /// End a prompt early ([`Event::PlayDone`] with `completed: false`); unknown ids are
    /// ignored (the prompt may have just ended).
    StopPlay { id: u64 },
    /// Send DTMF digits (`0-9*#A-D`) to the leg as RFC 4733 events on its telephone-event
    /// type (100 ms tones, 100 ms apart). Digits sent while others are still going out are
    /// queued behind them. Ignored (and logged) if the leg negotiated no telephone-events or a
    /// character is not a digit; check with [`super::dtmf::schedule`] first.
    SendDtmf { leg: Leg, digits: String },
    /// Record both legs at 8 kHz to `path`, in `layout` (WAV or MP3; stereo, left: A's side,
    /// right: B's, prompts played to a leg on the other side's channel; or both mixed to
    /// mono). A `Record` while one runs ends that one first. Ends with [`Event::RecordDone`]
    /// (also when the task stops).
    Record {
        id: u64,
        path: PathBuf,
        layout: crate::media::record::Layout,
    },
    /// End the recording `id`.
    StopRecord { id: u64 },
    /// Terminate SRTP on the leg with these SDES keys (`media::srtp`): what it sends is
    /// checked and decrypted, what goes to it is protected. `None`: the leg is plain RTP (the
    /// default). The same keys again change nothing (the indexes go on).
    SetSrtp {
        leg: Leg,
        keys: Option<Box<crate::media::srtp::LegKeys>>,
    },
    /// Make `leg` a WebRTC peer terminated here (ICE-lite, DTLS-SRTP, rtcp-mux on the leg's
    /// RTP socket), or restart it with new credentials (an ICE restart); `None` makes the leg
    /// plain RTP again. Relayed media, prompts and DTMF reach the peer as SRTP.
    SetWebRtc {
        leg: Leg,
        session: Option<Box<WebRtcSession>>,
    },
    /// A browser leg restarted ICE: new (ufrag, password) on both sides; DTLS and SRTP stay.
    RestartIce {
        leg: Leg,
        local: (String, String),
        remote: (String, String),
    },
    /// Stream the call's audio to and from a WebSocket (`media::stream`); ends with
    /// [`Event::StreamDone`].
    Stream {
        id: u64,
        spec: Box<crate::media::stream::StreamSpec>,
    },
    /// End the stream `id` (its session sends `stop` and closes).
    StopStream { id: u64 },
    /// End the task, release the ports, and send the final [`Event::Stats`].
    Stop,
}

/// Both sides of a WebRTC leg as negotiated in SDP, and the payload types in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcSession {
    pub local: WebRtcLocal,
    pub remote: WebRtcRemote,
    /// (payload type, encoding name, clock rate) of the leg's negotiated m-line.
    pub payload_types: Vec<(u8, String, u32)>,
    /// Video bundled on the same transport (browser to browser calls).
    pub video: Option<WebRtcVideo>,
    /// The browser speaks only Opus (this payload type): its audio is transcoded to and from
    /// μ-law at the leg's edge, so the relay sees a PCMU leg.
    pub opus: Option<u8>,
}

/// A browser leg's video m-line, carried on its audio transport (BUNDLE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcVideo {
    pub mid: String,
    /// The browser's video SSRCs.
    pub ssrcs: Vec<u32>,
    /// (payload type, encoding name, clock rate) negotiated.
    pub payload_types: Vec<(u8, String, u32)>,
}

/// What a call's media task reports to the call core.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The leg's media source for `channel` is now `addr` (symmetric latching).
    Latched {
        leg: Leg,
        channel: Channel,
        addr: SocketAddr,
    },
    /// Nothing valid arrived from the leg for the configured time while bridged. Reported once
    /// until packets flow again (or until the next `Bridge`).
    RtpTimeout {
        leg: Leg,
    },
    /// A DTMF digit from the leg (RFC 4733), reported once per key press.
    Dtmf {
        leg: Leg,
        digit: char,
    },
    /// A prompt ended: played to the end (`completed`), or stopped, replaced or cut by `Stop`.
    PlayDone {
        id: u64,
        completed: bool,
    },
    /// A recording ended and its file is final. `ok: false` when the file could not be
    /// created or written (the log says why); `duration_ms` is what the file holds.
    RecordDone {
        id: u64,
        path: PathBuf,
        duration_ms: u64,
        ok: bool,
    },
    /// The last event of a task: its counters. Sent after the ports were released. Boxed: sent
    /// once per call, inline they would make every event (a mailbox message each) 4× larger.
    /// A WebRTC leg's transport came up (ICE and DTLS done) or failed (`reason`: `ice-failed`,
    /// `dtls-failed`); a failed leg carries no more media.
    WebRtc {
        leg: Leg,
        connected: bool,
        reason: Option<&'static str>,
    },
    /// A stream ended, and why (the script goes on).
    StreamDone {
        id: u64,
        end: crate::media::stream::StreamEnd,
    },
    Stats(Box<Stats>),
}

/// Counters for the packets received from one leg (the direction towards the other leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionStats {
    /// RTP packets relayed.
    pub packets: u64,
    /// RTP bytes relayed (UDP payload).
    pub bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
    pub dropped: Drops,
}

/// Why packets were not relayed, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drops {
    /// Not RTP/RTCP version 2, or a truncated header.
    pub malformed: u64,
    /// From an address other than the leg's latched remote (hijack attempts, stale sources).
    pub foreign_source: u64,
    /// An RTP payload type the leg did not negotiate.
    pub payload_type: u64,
    /// Arrived while the legs were not bridged.
    pub not_bridged: u64,
    /// The other leg has no remote address yet.
    pub no_remote: u64,
    /// The send failed (socket buffer full, unreachable network).
    pub send_failed: u64,
    /// Not relayed although bridged: replaced by a prompt or DTMF ringmaster was sending to
    /// the other leg, a telephone-event for a leg that negotiated none, or a late packet
    /// from before a switch of the outgoing stream.
    pub suppressed: u64,
    /// From an SRTP leg: failed authentication, replayed, or not SRTP at all.
    pub srtp: u64,
}

impl Drops {
    pub fn total(&self) -> u64 {
        self.malformed
            + self.foreign_source
            + self.payload_type
            + self.not_bridged
            + self.no_remote
            + self.send_failed
            + self.suppressed
            + self.srtp
    }
}

/// A call's counters, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub a_to_b: DirectionStats,
    pub b_to_a: DirectionStats,
}

impl Stats {
    /// The counters of what arrives from `leg`.
    pub fn sent_by(&self, leg: Leg) -> &DirectionStats {
        match leg {
            Leg::A => &self.a_to_b,
            Leg::B => &self.b_to_a,
        }
    }

    pub(crate) fn sent_by_mut(&mut self, leg: Leg) -> &mut DirectionStats {
        match leg {
            Leg::A => &mut self.a_to_b,
            Leg::B => &mut self.b_to_a,
        }
    }
}
