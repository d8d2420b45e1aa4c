//! `stream`: a call's live audio to and from a WebSocket (voice agents, transcription), in
//! Twilio Media Streams' message shapes, with PIOPIY's `StreamAction` messages understood too.
//!
//! # Shape
//!
//! The call core asks for a stream with [`Command::Stream`](super::Command::Stream) (a
//! [`StreamSpec`]). The call's media task then
//! * taps the legs the spec names: every admitted audio packet is decoded and cut into 20 ms
//!   frames of 160 samples ([`Tap::Audio`]), digits go too ([`Tap::Digit`]), over a bounded
//!   channel to the stream's [`session`] task — never more than [`TAP_QUEUE`] frames wait; a
//!   full queue drops the frame (counted) rather than slowing the relay;
//! * plays what the agent sent to the caller from the shared [`Playout`] queue, one frame per
//!   20 ms, exactly as it plays a prompt (the relayed audio to the caller is held meanwhile).
//!
//! The session task (`media::forwarder`'s shell) (on the call's media runtime) owns the WebSocket: it resolves and
//! checks the address under `[policy]`, connects within [`CONNECT_TIMEOUT`], signs the
//! upgrade request, sends `connected` and `start`, then `media` per frame and track
//! (resampled and encoded by [`convert`]), `dtmf`, `mark` when queued audio has played, and
//! `stop` when the stream ends. What the agent sends is parsed by [`wire`] and lands in the
//! [`Playout`] queue (bounded at [`MAX_QUEUED_SECS`] seconds). The session's end is reported
//! once, as [`Event::StreamDone`](super::Event::StreamDone) with why.
//!
//! Limits: a message from the agent is at most [`MAX_MESSAGE`] bytes (larger ones are dropped
//! and counted, as malformed ones are); queued audio at most [`MAX_QUEUED_SECS`] s.

pub mod convert;
pub mod playout;

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use playout::Playout;

use crate::egress::EgressPolicy;
use crate::media::control::Leg;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
/// Frames that may wait between the media task and the session (2 s of both tracks).
pub const TAP_QUEUE: usize = 200;
/// Audio from the agent queued for the caller, at most.
pub const MAX_QUEUED_SECS: usize = 120;
/// The largest message read from the agent.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Resolving, connecting and the upgrade together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the call core asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// `ws://` or `wss://`.
    pub url: String,
    /// Whose audio goes out: `[A, B]` (`caller`, `callee`, `both`).
    pub tracks: [bool; 2],
    /// 8000 (μ-law), 16000 or 32000 (L16).
    pub rate: u32,
    /// `start.start` fields besides the stream's own: callSid, from, to, appid,
    /// customParameters.
    pub start: serde_json::Value,
    /// The app's secret: the upgrade request is signed with it (set by the call's shell).
    pub secret: String,
    /// `[policy]` for the agent's address (set by the call's shell).
    pub policy: Option<Arc<EgressPolicy>>,
}

impl StreamSpec {
    /// The `mediaFormat.encoding` of the stream.
    pub fn encoding(&self) -> &'static str {
        if self.rate == 8000 {
            "audio/x-mulaw"
        } else {
            "audio/x-l16"
        }
    }
}

/// One item from the media task to the session. Not boxed: frames go by value through a
/// bounded channel, with no allocation per frame; a digit wasting the frame's room is rare.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    Audio { leg: Leg, samples: [i16; FRAME] },
    Digit { leg: Leg, digit: char },
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The agent closed the WebSocket.
    Closed,
    /// The agent sent `stop`.
    Stopped,
    /// The call or the script ended it.
    Ended,
    /// It never worked, or broke: the reason.
    Failed(String),
}

impl StreamEnd {
    pub fn reason(&self) -> &str {
        match self {
            StreamEnd::Closed => "closed by the agent",
            StreamEnd::Stopped => "stopped by the agent",
            StreamEnd::Ended => "ended by the call",
            StreamEnd::Failed(why) => why,
        }
    }
}
