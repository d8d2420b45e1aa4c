//! Live control's vocabulary: the commands an app sends a running call over REST (Bandwidth
//! App Platform v1 calls, bridges, audio and gather; PIOPIY's call actions), the events a
//! live call reports back, and why a command is refused.
//!
//! A call has one driver at a time: a PCMO script or the app's commands. Commands reach the
//! call through its actor's mailbox and the call core decides at once whether the call's
//! state allows them ([`LiveError`] when not: the API maps it to the platform's error shape).
//! What follows from a command (a prompt ending, digits collected, the call's end) comes back
//! as [`LiveEvent`]s, which each platform renders as its own callbacks.

use std::time::Duration;

use crate::media::sdp::Anchor;

/// How a live call starts: an inbound call of a live app, or one the app places over REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSetup {
    /// Answer an inbound call before telling the app (Bandwidth `autoAnswer`, default true).
    pub auto_answer: bool,
    /// How long a placed call may ring before it is given up (`callTimeout`, 1–300 s).
    pub call_timeout: Duration,
    /// How long an inbound call that is not auto-answered may ring unanswered before the
    /// caller gets 480 (Cloud SIP UA); `None`: until the caller gives up.
    pub answer_timeout: Option<Duration>,
    /// A thin device's RTP endpoint the call's B side relays with once the call is answered
    /// (a Cloud SIP UA placed call).
    pub device: Option<DeviceMedia>,
}

/// A device that sends and receives its own RTP (Cloud SIP UA): the call's B side relays the
/// caller's audio to it, in its codec, SRTP when it gave keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMedia {
    /// Where the device receives (`receiveIp`/`receivePort`); RTCP on the next port.
    pub rtp: std::net::SocketAddr,
    pub codec: crate::media::codec::AudioCodec,
    /// `telephoneEventPayloadType`.
    pub event_pt: u8,
    /// SDES keys of the device's leg: its own (inbound) and ours (outbound).
    pub srtp: Option<Box<crate::media::srtp::LegKeys>>,
}

impl Default for LiveSetup {
    fn default() -> Self {
        LiveSetup {
            auto_answer: true,
            call_timeout: Duration::from_secs(60),
            answer_timeout: None,
            device: None,
        }
    }
}

/// What a prompt plays.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveSource {
    /// Text to speech (Bandwidth `sentence` with `gender`/`locale`/`voice`).
    Speak { text: String, voice: pcmo::Voice },
    /// A WAV at a URL of the app's (`fileUrl`), under the egress policy.
    File { url: String },
}

/// A prompt to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePrompt {
    pub source: LiveSource,
    /// Play it again when it ends, until stopped (`loopEnabled`).
    pub looped: bool,
    pub tag: Option<String>,
}

/// `POST /calls/{id}/gather`: collect digits from the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct GatherSpec {
    /// 1–30 (`maxDigits`).
    pub max_digits: usize,
    /// Waiting for the first digit and between digits (`interDigitTimeout`, 1–30 s).
    pub inter_digit_timeout: Duration,
    /// Digits that end the gather and are not part of the result (`terminatingDigits`).
    pub terminating_digits: String,
    pub prompt: Option<LivePrompt>,
    /// A digit stops the prompt (`prompt.bargeable`, default true).
    pub bargeable: bool,
    pub tag: Option<String>,
}

/// A command for a running call.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveCommand {
    /// Answer an inbound call that is still ringing.
    Answer,
    /// Refuse an inbound call that is still ringing with this status (Bandwidth: 603;
    /// Cloud SIP UA's hang-up before answer: 486).
    Reject(u16),
    /// Tell a ringing inbound caller that the callee rings (180).
    Ringback,
    /// Relay the call's B side with a device's RTP endpoint (Cloud SIP UA), from its answer
    /// on (at once when it is answered already).
    Device(DeviceMedia),
    /// End the call: a ringing caller gets 480, an answered one a BYE, a dialled one a CANCEL.
    Hangup,
    /// Play or speak to the caller; replaces the live prompt playing.
    Play(LivePrompt),
    /// Stop the live prompt (an empty `sentence` or `fileUrl`).
    StopAudio,
    /// RFC 4733 digits to the caller.
    SendDtmf(String),
    Gather(GatherSpec),
    /// End gather `id` early (`POST …/gather/{id}` with `state: completed`).
    StopGather(u32),
    /// Start (`true`) or stop recording the call.
    Record(bool),
    /// Hold (`Some(true)`), unhold (`Some(false)`) or toggle (`None`) the call's bridge.
    Hold(Option<bool>),
    /// Relay this call's audio to and from another call's B side at `peer` (a bridge of two
    /// calls); applied when this call is answered, if it is not yet.
    Join {
        peer: Anchor,
    },
    /// Leave the bridge.
    Leave,
    /// Hand the call to a PCMO script (a transfer to a script): inline ...
    RunScript(Box<pcmo::Script>),
    /// ... or fetched from a URL of the app's.
    FetchScript(String),
    /// Take a script-driven call over: the script stops, commands drive the call.
    TakeControl,
}

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAccepted {
    Done,
    /// A gather started with this id.
    Gather(u32),
    /// The call is now held (`true`) or not.
    Held(bool),
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error("the call has ended")]
    Ended,
    #[error("the call is driven by a script")]
    ScriptDriven,
    #[error("the call is not ringing")]
    NotRinging,
    #[error("the call is not active")]
    NotActive,
    #[error("the call is not in a bridge")]
    NotBridged,
    #[error("the call is already in a bridge")]
    AlreadyBridged,
    #[error("the call rings legs of its own script")]
    HasOwnLegs,
    #[error("a gather is already running on the call")]
    GatherRunning,
    #[error("no such gather")]
    NoSuchGather,
    #[error("invalid DTMF digits (0-9 * # A-D, at most 92)")]
    InvalidDigits,
    #[error("the call's media is not ready")]
    NoMedia,
}

/// Why a gather ended (Bandwidth's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatherReason {
    MaxDigits,
    TerminatingDigit,
    InterDigitTimeout,
    HungUp,
    /// The app stopped it.
    Stopped,
}

impl GatherReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GatherReason::MaxDigits => "max-digits",
            GatherReason::TerminatingDigit => "terminating-digit",
            GatherReason::InterDigitTimeout => "inter-digit-timeout",
            GatherReason::HungUp => "hung-up",
            GatherReason::Stopped => "stopped",
        }
    }
}

/// Whether a prompt was text to speech or a file (Bandwidth's `speak` and `playback` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Speak,
    Playback,
}

/// What a live call reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// An inbound call arrived; `answered` when it was answered first (`autoAnswer`).
    Incoming { answered: bool },
    /// The call was answered (a placed call's callee, or `Answer`).
    Answered,
    /// A placed call's callee rings (180/183), reported once.
    Ringing,
    /// The caller's side sent a re-INVITE (`update: false`) or an UPDATE in the dialog.
    Reoffer { update: bool },
    /// The call's media ports are bound: `b` is where a device or another call sends the
    /// call's B-side audio; `a_codec` is the law the caller's offer put first (inbound).
    MediaReady {
        b: Anchor,
        a_codec: Option<crate::media::codec::AudioCodec>,
    },
    /// A placed call rang out its `callTimeout`.
    Timeout,
    Prompt {
        kind: PromptKind,
        done: bool,
        tag: Option<String>,
    },
    Gather {
        id: u32,
        digits: String,
        reason: GatherReason,
        tag: Option<String>,
    },
    /// One digit from the caller.
    Dtmf(char),
    /// A recording of the call is final.
    Recording {
        id: String,
        ok: bool,
        started_ms: u64,
        ended_ms: u64,
    },
    /// The call was handed to a script.
    Transferred,
    /// The call is over; `cause` is ringmaster's (as in CDRs), `status` the SIP status that
    /// ended an unanswered call.
    Ended { cause: String, status: Option<u16> },
}

/// Checks DTMF for `SendDtmf`: `0-9 * # A-D`, 1 to 92 of them (Bandwidth's limit).
pub fn valid_digits(digits: &str) -> bool {
    (1..=92).contains(&digits.len())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'A'..=b'D' | b'a'..=b'd'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_checked() {
        assert!(valid_digits("123#*A"));
        assert!(!valid_digits(""));
        assert!(!valid_digits("12x"));
        assert!(!valid_digits(&"1".repeat(93)));
    }
}
