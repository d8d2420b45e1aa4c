//! What the interpreter asks the engine to do.
//!
//! Commands come out of [`crate::Interpreter::poll`] in the order they must be carried out. In
//! particular an [`Command::Answer`] comes before the media command that needs it, and a
//! [`Command::Cancel`] of the losing legs comes before the [`Command::Bridge`] of the winner.

use std::fmt;
use std::time::Instant;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::action::audio::{AudioSource, Voice};
use crate::action::connect::targets::Target;
use crate::action::connect::{CallerId, ConnectKind, MediaKind};
use crate::action::gather::DigitRules;
use crate::action::param::ParamValue;
use crate::action::record::Recording;
use crate::action::stream::Stream;
use crate::error::ScriptError;
use crate::id::{FetchId, MediaId, TargetId, TimerId};

/// One thing for the engine to do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Answer the A leg (200 OK). Emitted once, before the first action that needs media and
    /// before the first bridge; never if [`crate::CallInfo::answered`] was true.
    Answer,
    /// Start B legs to these targets (INVITE). Each target gets its own [`TargetId`]; the
    /// engine reports back with `TargetRinging`/`TargetAnswered`/`TargetFailed` for that id.
    Ring(Ring),
    /// End these B legs however far they got: CANCEL if still ringing, BYE if they answered
    /// meanwhile (a 200 OK that crossed our CANCEL). Each still gets its own terminal event.
    Cancel {
        /// The legs to end.
        target_ids: Vec<TargetId>,
    },
    /// Join the A leg's media with this answered B leg.
    Bridge {
        /// The answered leg.
        target_id: TargetId,
    },
    /// The bridge with this leg is over (its B leg hung up); A's media is the script's again.
    Unbridge {
        /// The leg that was bridged.
        target_id: TargetId,
    },
    /// Play a file to the caller; report [`crate::Event::MediaDone`] with `media_id` when it
    /// ends (finished, stopped or failed).
    Play {
        /// Id for the `MediaDone` report.
        media_id: MediaId,
        /// What to play.
        source: AudioSource,
    },
    /// Speak text to the caller; report `MediaDone` like [`Command::Play`].
    Speak {
        /// Id for the `MediaDone` report.
        media_id: MediaId,
        /// The text.
        text: String,
        /// Voice settings (`None` fields: engine default).
        voice: Voice,
    },
    /// Stop a play/speak early (the caller started typing over a prompt). The engine still
    /// reports `MediaDone` for it; the interpreter ignores that report.
    StopMedia {
        /// The media to stop.
        media_id: MediaId,
    },
    /// Record the call from now until it ends, in the background (the script goes on).
    Record(Recording),
    /// Stream the call's audio to a WebSocket (PIOPIY `stream`); report `MediaDone` with
    /// `media_id` when the stream ends, then the script goes on.
    Stream {
        /// Id for the `MediaDone` report.
        media_id: MediaId,
        /// Where and how to stream.
        stream: Stream,
    },
    /// The interpreter is now collecting digits with these rules. It applies the rules and runs
    /// the digit timers itself; the engine only makes sure DTMF detection is on for the A leg
    /// and forwards every digit as [`crate::Event::Digits`]. The rules are here for logs and
    /// for engines that switch detectors on only when needed.
    CollectDigits(DigitRules),
    /// Fetch a script from the app (POST `payload` as JSON to an action URL, or resolve a PCMO
    /// reference) and report [`crate::Event::ScriptFetched`] with `fetch_id`.
    FetchScript {
        /// Id for the `ScriptFetched` report.
        fetch_id: FetchId,
        /// Where the script comes from.
        source: ScriptSource,
        /// The request body (`{from, to, dtmf, cmiuuid, cmuuid}`).
        payload: DigitsPayload,
    },
    /// Tell the app something through its event URL.
    PostEvent(ScriptEvent),
    /// Report [`crate::Event::TimerFired`] with `id` at `at` (or as soon after as possible).
    /// Timers are never cancelled: when one is no longer wanted its id simply goes stale and
    /// the report is ignored. The engine may drop pending timers once the interpreter is
    /// finished.
    StartTimer {
        /// The timer's id.
        id: TimerId,
        /// When it fires.
        at: Instant,
    },
    /// Remember this value for the call; it is echoed as `extra_params` in events and CDRs.
    SetParam(ParamValue),
    /// A script the app returned mid-call is invalid: report this in the event stream and the
    /// log. One command per error; the call goes on with the rest of the current script.
    ScriptError(ScriptError),
    /// End the call: hang up the A leg if it is still up and every B leg that is still up.
    /// Always the last command; [`crate::Interpreter::is_finished`] is true afterwards.
    ///
    /// An A leg that was never answered is rejected instead of hung up; after a failed connect
    /// [`ConnectOutcome::sip_status`] of the last `ConnectFinished` gives a fitting status.
    Hangup {
        /// Why.
        reason: HangupReason,
    },
}

/// The legs of one ring attempt (all the targets of a group round, or the one target of a
/// sequential attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    /// `connect` (SIP users) or `bridge` (PSTN); both may ring any kind of target.
    pub kind: ConnectKind,
    /// The legs to start.
    pub targets: Vec<RingTarget>,
    /// The caller id to present (`from` / v3 `caller_id`); `None`: the engine's default (the
    /// A leg's caller for `connect`, the account's default number for `bridge`).
    pub caller_id: Option<CallerId>,
    /// Offer audio only, or audio and video (`call_type`).
    pub media: MediaKind,
    /// What the caller hears while the targets ring, if the script chose it (v3
    /// `waiting_music`); otherwise ringback as the engine sees fit.
    pub waiting_music: Option<AudioSource>,
    /// v3 `params.metadata` as a compact JSON object (`None` when the connect has none): the
    /// engine carries it into the call's events and CDRs beside `extra_params`.
    pub metadata: Option<String>,
}

/// One leg to start.
#[derive(Debug, Clone, PartialEq)]
pub struct RingTarget {
    /// The leg's id.
    pub target_id: TargetId,
    /// Whom to ring, with any extra SIP headers.
    pub target: Target,
    /// When the interpreter gives up on this leg (it also runs a timer for this; the engine may
    /// use the deadline for its own INVITE timeout).
    pub deadline: Instant,
}

/// Where a script fetch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// POST the payload to this `http(s)://` URL; the response body is the new script.
    Url(String),
    /// v3 `on_result {"type": "pcmo", "ref": ...}`: a script stored under this name; how
    /// references resolve is the engine's business.
    Reference(String),
}

impl fmt::Display for ScriptSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptSource::Url(url) => f.write_str(url),
            ScriptSource::Reference(name) => write!(f, "pcmo:{name}"),
        }
    }
}

/// The body of an action-URL request: `{"from","to","dtmf","cmiuuid","cmuuid"}`.
///
/// PIOPIY's table spells the call id `cmiuuid` and its sample `cmuuid`; both are sent, with the
/// same value. `from` and `to` are sent as JSON numbers when they are plain digits without a
/// leading zero (as PIOPIY documents them), otherwise as strings. `dtmf` is `""` when the caller
/// typed nothing valid before the retries ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitsPayload {
    /// The caller.
    pub from: String,
    /// The called number or user.
    pub to: String,
    /// The digits collected.
    pub dtmf: String,
    /// The call id.
    pub cmiuuid: String,
}

impl Serialize for DigitsPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn number_like<M: SerializeMap>(m: &mut M, key: &str, value: &str) -> Result<(), M::Error> {
            let plain = !value.is_empty()
                && !value.starts_with('0')
                && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u64>() {
                Ok(n) if plain => m.serialize_entry(key, &n),
                _ => m.serialize_entry(key, value),
            }
        }
        let mut m = serializer.serialize_map(Some(5))?;
        number_like(&mut m, "from", &self.from)?;
        number_like(&mut m, "to", &self.to)?;
        m.serialize_entry("dtmf", &self.dtmf)?;
        m.serialize_entry("cmiuuid", &self.cmiuuid)?;
        m.serialize_entry("cmuuid", &self.cmiuuid)?;
        m.end()
    }
}

/// Script-level facts for the app's event URL (leg-level events and CDRs are the engine's).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptEvent {
    /// A `connect`/`bridge` is over.
    ConnectFinished {
        /// How it ended.
        outcome: ConnectOutcome,
        /// The leg that answered, if one did.
        answered: Option<TargetId>,
    },
}

/// How a `connect` or `bridge` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectOutcome {
    /// A target answered and was bridged (the bridge has ended since).
    Answered,
    /// At least one target rang and nobody answered in time.
    NoAnswer,
    /// No target rang out; at least one was busy (486).
    Busy,
    /// No target rang out or was busy; at least one declined (600/603).
    Declined,
    /// Every target failed otherwise (errors, cancelled by the far end).
    Failed,
    /// Every target was skipped because it had no live registration.
    NotRegistered,
}

impl ConnectOutcome {
    /// The wire form: `answered`, `no-answer`, `busy`, `declined`, `failed`, `not-registered`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectOutcome::Answered => "answered",
            ConnectOutcome::NoAnswer => "no-answer",
            ConnectOutcome::Busy => "busy",
            ConnectOutcome::Declined => "declined",
            ConnectOutcome::Failed => "failed",
            ConnectOutcome::NotRegistered => "not-registered",
        }
    }
}

impl ConnectOutcome {
    /// A final SIP response for an A leg that was never answered when the script ends after
    /// this outcome: busy → 486, declined → 603, no answer or not registered → 480, failed →
    /// 503. `None` for `Answered` (the A leg was answered).
    pub const fn sip_status(self) -> Option<u16> {
        match self {
            ConnectOutcome::Answered => None,
            ConnectOutcome::Busy => Some(486),
            ConnectOutcome::Declined => Some(603),
            ConnectOutcome::NoAnswer | ConnectOutcome::NotRegistered => Some(480),
            ConnectOutcome::Failed => Some(503),
        }
    }
}

impl fmt::Display for ConnectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the interpreter ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HangupReason {
    /// A `hangup` action.
    Hangup,
    /// The script ran out of actions.
    ScriptEnded,
    /// A connected call reached its `duration` / `max_duration_sec` cap.
    DurationLimit,
    /// The caller hung up; whatever is left (ringing or bridged B legs) is torn down.
    CallerHungUp,
}

impl HangupReason {
    /// The wire form: `hangup`, `script-ended`, `duration-limit`, `caller-hung-up`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HangupReason::Hangup => "hangup",
            HangupReason::ScriptEnded => "script-ended",
            HangupReason::DurationLimit => "duration-limit",
            HangupReason::CallerHungUp => "caller-hung-up",
        }
    }
}

impl fmt::Display for HangupReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_sends_both_uuid_spellings_and_numeric_numbers() {
        let p = DigitsPayload {
            from: "914471000000".into(),
            to: "alice".into(),
            dtmf: "0123".into(),
            cmiuuid: "c-1".into(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["from"], serde_json::json!(914471000000u64));
        assert_eq!(v["to"], "alice");
        assert_eq!(v["dtmf"], "0123");
        assert_eq!(v["cmiuuid"], "c-1");
        assert_eq!(v["cmuuid"], "c-1");
    }

    #[test]
    fn outcomes_map_to_final_responses_for_an_unanswered_caller() {
        assert_eq!(ConnectOutcome::Busy.sip_status(), Some(486));
        assert_eq!(ConnectOutcome::Declined.sip_status(), Some(603));
        assert_eq!(ConnectOutcome::NoAnswer.sip_status(), Some(480));
        assert_eq!(ConnectOutcome::Answered.sip_status(), None);
    }

    #[test]
    fn payload_keeps_leading_zero_numbers_as_strings() {
        let p = DigitsPayload {
            from: "0447100".into(),
            to: "+9144".into(),
            dtmf: String::new(),
            cmiuuid: "x".into(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["from"], "0447100");
        assert_eq!(v["to"], "+9144");
        assert_eq!(v["dtmf"], "");
    }
}
