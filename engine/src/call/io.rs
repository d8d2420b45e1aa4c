//! The call core's vocabulary: what a call is created with ([`CallSetup`], [`OutboundCall`]),
//! everything that can happen to it ([`Input`]) and everything it asks its shell to do
//! ([`Output`]), with the payloads they carry. The call's state lives elsewhere; this module
//! only names the words it speaks (as `pcmo` keeps `event.rs` and `command.rs`).

use std::net::IpAddr;
use std::time::Instant;

use pcmo::{AudioSource, Destination, FetchError, TargetId, TimerId, Voice};

use super::fork::{BranchPlan, ClientAuth, ForkEvent};
use super::report::Report;
use super::LegId;
use crate::media::sdp::Anchor;
use crate::media::{Command as MediaCommand, SpeakRequest};
use crate::sip::message::{Request, Response, Uri};
use crate::sip::transaction::TxId;
use crate::sip::Peer;

/// A connect round's number within the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RingId(pub u32);

/// Why a request the call sent was sent, so its response finds its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Bye,
    /// A re-INVITE relayed from the other leg, whose server transaction waits for the answer.
    Reinvite {
        origin: LegId,
        tx: TxId,
    },
}

/// Where a target can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// One contact per device (a SIP user's registrations), or the trunk for a number.
    Contacts(Vec<Contact>),
    /// A SIP user without a live registration.
    NotRegistered,
    /// Cannot be called (no trunk configured, unknown agent...): this status.
    Unroutable(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The Request-URI of the branch INVITE.
    pub uri: Uri,
    /// The To header value.
    pub to: String,
    pub peer: Peer,
    /// Credentials for a server that challenges (a trunk's).
    pub auth: Option<ClientAuth>,
    /// A binding whose flow another node holds: `peer` is that node, and the INVITE names
    /// it and the flow in a signed Route (`sip::proxy`).
    pub via: Option<NodeHop>,
}

/// The node a contact is reached through, and the flow it holds for the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHop {
    pub node: String,
    /// The device's flow on that node (its transport and source address).
    pub flow: Peer,
    pub key: crate::sip::proxy::route::RouteKey,
}

impl Contact {
    /// The transport the device itself is reached on (a browser is one over WebSocket, even
    /// through another node).
    pub fn flow_transport(&self) -> crate::sip::Transport {
        self.via
            .as_ref()
            .map_or(self.peer.transport, |h| h.flow.transport)
    }

    /// Where the device's signalling comes from, for the media latch: its own address, not
    /// the node that forwards its SIP.
    pub fn media_source(&self) -> std::net::IpAddr {
        self.via
            .as_ref()
            .map_or(self.peer.addr, |h| h.flow.addr)
            .ip()
    }

    /// The signed Route of an INVITE through `via`'s node (`None` for a direct contact).
    pub fn node_route(&self, call_id: &str, from_tag: &str) -> Option<String> {
        let hop = self.via.as_ref()?;
        let flow = crate::sip::proxy::route::flow_token(hop.flow.transport, hop.flow.addr);
        Some(crate::sip::proxy::route::request_route(
            &hop.key,
            &hop.node,
            self.peer.addr,
            &flow,
            call_id,
            from_tag,
            &self.uri.to_string(),
        ))
    }
}

/// What a call is created with.
#[derive(Debug, Clone)]
pub struct CallSetup {
    pub cmiuuid: String,
    pub appid: u64,
    pub answer_url: String,
    /// The app's fallback PCMO, run when the answer URL fails.
    pub fallback: Option<String>,
    /// The caller and the called party as the app sees them (user names or numbers).
    pub from: String,
    pub to: String,
    /// Our Contact header value (UDP; see `contacts` for the others).
    pub contact: String,
    /// Our Contact on TLS and WebSocket legs (`call::contact`), shared by every call.
    pub contacts: std::sync::Arc<super::contact::OurContacts>,
    /// Our SIP domain (host part of the caller id on B legs).
    pub domain: String,
    /// The address put in SDP `o=` lines.
    pub local_ip: IpAddr,
    /// Max-Forwards of the A leg's INVITE (B legs get one less).
    pub max_forwards: u32,
    /// Where this call's recordings go (the app's directory under the recordings root).
    pub recordings_dir: std::path::PathBuf,
    pub seed: u64,
    /// The SRTP policy and our keys for this call's legs.
    pub srtp: super::sdes::SrtpSetup,
}

/// A call ringmaster places over REST (`pcmo_make_call`).
#[derive(Debug, Clone)]
pub struct OutboundCall {
    /// Who is dialled first (the A leg).
    pub to: Destination,
    /// The script: inline PCMO, or fetched from the app's answer URL once A answers.
    pub script: Option<pcmo::Script>,
    /// Caps the whole call once A answers.
    pub max_duration: Option<std::time::Duration>,
    /// `extra_params` echoed in events and CDRs (JSON text).
    pub extra_params: Option<String>,
    /// The REST request's id, echoed in the answer-URL request and reports.
    pub request_id: String,
    /// Extra headers of the INVITE to A (Bandwidth `sipHeaders`), checked by the API.
    pub headers: Vec<pcmo::SipHeader>,
}

/// Everything that can happen to a call.
#[derive(Debug, Clone)]
pub enum Input {
    /// The media ports are bound.
    MediaReady {
        a: Anchor,
        b: Anchor,
        /// Our WebRTC side of each leg, should it be a browser (`None`: no DTLS identity).
        webrtc: Option<Box<[crate::media::sdp::webrtc::WebRtcLocal; 2]>>,
    },
    MediaFailed,
    /// The answer URL's body, or why there is none.
    AnswerScript(Result<String, FetchError>),
    /// An action URL's body.
    ScriptFetched {
        fetch_id: pcmo::FetchId,
        result: Result<String, FetchError>,
    },
    Resolved {
        ring: RingId,
        results: Vec<(TargetId, Resolution)>,
    },
    Fork {
        ring: RingId,
        event: ForkEvent,
    },
    /// A request in one of the call's dialogs.
    Request {
        leg: LegId,
        tx: TxId,
        request: Request,
    },
    /// The ACK of our 2xx on a leg.
    Ack {
        leg: LegId,
    },
    /// The caller CANCELled its INVITE.
    CallerCancelled,
    /// Our 2xx to A was never acknowledged.
    AckTimeout,
    /// A response to a request the call sent.
    Response {
        leg: LegId,
        purpose: Purpose,
        response: Response,
    },
    /// A request the call sent got no response (timeout or broken connection).
    RequestFailed {
        leg: LegId,
        purpose: Purpose,
    },
    Timer(TimerId),
    Media(crate::media::Event),
    /// The video ports are bound ([`Output::AllocateVideo`]).
    VideoReady {
        a: Anchor,
        b: Anchor,
    },
    VideoFailed,
    /// The audio of a prompt ([`Output::LoadAudio`]), or why there is none.
    AudioLoaded {
        media_id: pcmo::MediaId,
        result: Result<crate::media::Audio, AudioFailure>,
    },
}

/// What the shell must do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Answer a server transaction (A's INVITE or an in-dialog request).
    Respond {
        tx: TxId,
        response: Response,
    },
    /// Send an in-dialog request on a leg (a client transaction).
    Send {
        leg: LegId,
        purpose: Purpose,
        request: Request,
        peer: Peer,
    },
    SendAck {
        request: Request,
        peer: Peer,
    },
    /// Bind the media ports; answer with `MediaReady` or `MediaFailed`.
    AllocateMedia,
    Media(MediaCommand),
    /// Bind a second media task for video; answer with `VideoReady` or `VideoFailed`.
    AllocateVideo,
    /// A command for the video task.
    VideoMedia(MediaCommand),
    /// POST `body` to `url`: the answer URL (`fetch_id` None) or an action URL.
    Fetch {
        fetch_id: Option<pcmo::FetchId>,
        url: String,
        body: serde_json::Value,
    },
    /// Look up where these targets can be reached; answer with `Resolved`.
    Resolve {
        ring: RingId,
        targets: Vec<(TargetId, Destination)>,
    },
    /// Start ringing (a group-ring actor).
    StartFork {
        ring: RingId,
        branches: Vec<BranchPlan>,
    },
    /// Stop ringing these targets of a round.
    CancelFork {
        ring: RingId,
        targets: Vec<TargetId>,
    },
    Timer {
        id: TimerId,
        at: Instant,
    },
    Report(Report),
    /// Load a prompt's audio (may block: a file, a download, text to speech); answer with
    /// `AudioLoaded`.
    LoadAudio {
        media_id: pcmo::MediaId,
        request: AudioRequest,
    },
    /// Something the app driving the call live hears of (rendered as its platform's
    /// callbacks by the shell).
    Live(super::live::LiveEvent),
    /// The call is over: every leg ended and reported.
    Finished,
}

/// Audio a prompt needs. The shell loads it off the call's thread and answers
/// [`Input::AudioLoaded`].
#[derive(Debug, Clone, PartialEq)]
pub enum AudioRequest {
    /// `file_name`: from the prompts directory.
    File(String),
    /// `file_url`: downloaded (size-limited) and cached by URL.
    Url(String),
    /// `speak` or a v3 `say` prompt: text to speech.
    Speak(SpeakRequest),
}

impl AudioRequest {
    pub fn play(source: AudioSource) -> AudioRequest {
        match source {
            AudioSource::FileName(name) => AudioRequest::File(name),
            AudioSource::FileUrl(url) => AudioRequest::Url(url),
        }
    }

    pub fn speak(text: String, voice: Voice) -> AudioRequest {
        AudioRequest::Speak(SpeakRequest {
            text,
            voice: voice.voice_id,
            language: voice.language,
            speed: voice.speed.map(|s| s as f32),
        })
    }
}

/// Why a prompt's audio could not be had: a stable code for the app's error event and a
/// message saying what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFailure {
    pub code: &'static str,
    pub message: String,
}
