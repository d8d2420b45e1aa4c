//! `connect` (and `bridge`, which shares all of this): ring one or more targets, bridge the
//! first that answers, and cap the connected call.
//!
//! Legacy (the documented SIP-user form; the SDKs send the targets under `connect` instead of
//! `call`, and both keys are accepted):
//! ```json
//! {"action": "connect", "from": 914471000000, "duration": 600, "timeout": 20, "loop": 1,
//!  "call_type": "audio", "ring_type": "group",
//!  "call": [{"type": "sip", "user": "alice"}, {"type": "sip", "user": "bob"}]}
//! ```
//! | field | default | range / values |
//! |---|---|---|
//! | `call` or `connect` | required | 1–10 targets (see [`targets`]) |
//! | `from` | engine default | caller id, number or string |
//! | `timeout` | 40 s | 5–300 s: each round (group) or each target attempt (single) |
//! | `loop` | 1 | 1–10 rounds (1 = ring once) |
//! | `duration` | 5400 s | 10–14400 s cap on the connected call |
//! | `ring_type` | `single` | `single` (one after another) or `group` (all at once) |
//! | `call_type` | `audio` | `audio` or `video` |
//! | `record` | false | record the connected call (Node SDK field) |
//!
//! v3:
//! ```json
//! {"action": "connect",
//!  "params": {"caller_id": "919999999999", "strategy": "sequential",
//!             "options": {"ring_timeout_sec": 20, "max_duration_sec": 3600,
//!                         "recording": {"enabled": true, "channels": "dual", "format": "mp3"},
//!                         "waiting_music": "hold.mp3", "machine_detection": false},
//!             "metadata": {"priority": 1}},
//!  "endpoints": [{"type": "pstn", "number": "918888888887"}, {"type": "sip", "uri": "sip:bob@example.com"}]}
//! ```
//! `params.caller_id` and `endpoints` are required. `strategy` defaults to `sequential` (the
//! legacy default, single, behaves the same way); `ring_timeout_sec` 5–120 (default 40) bounds
//! each attempt or round; `max_duration_sec` 10–7200 (default 5400); `recording` records only
//! with `enabled: true`; `machine_detection: true` is accepted with an `unsupported_option`
//! warning. v3 has no `loop`: one round.
//!
//! How it runs is in [`ring`].

pub mod ring;
pub mod targets;

use std::fmt;
use std::time::Duration;

use self::ring::{LoopCount, RingPlan, RingTimeout, RingType};
use self::targets::{parse_targets, Target};
use super::audio::{file_name_source, AudioSource};
use super::param::{read_variables, Scalar};
use super::record::{read_recording, Recording};
use super::Dialect;
use crate::error::{quote, ErrorKind, WarningKind};
use crate::fields::{Diagnostics, Fields};
use crate::limits::{
    DEFAULT_DURATION, DEFAULT_RING_TIMEOUT, LEGACY_DURATION, LEGACY_RING_TIMEOUT, LOOP_RANGE,
    MAX_METADATA_KEYS, MAX_STRING_BYTES, V3_MAX_DURATION, V3_RING_TIMEOUT,
};

/// Which action name a connect was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectKind {
    /// `connect` (SIP and WebRTC users, in PIOPIY's words).
    Connect,
    /// `bridge` (PSTN forward).
    Bridge,
}

impl ConnectKind {
    /// `"connect"` or `"bridge"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectKind::Connect => "connect",
            ConnectKind::Bridge => "bridge",
        }
    }
}

/// Which media a B leg is offered (`call_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio` (default).
    Audio,
    /// `video`: audio and video.
    Video,
}

/// The caller id presented to the targets (`from` / v3 `caller_id`): a number or a SIP user
/// part, 1–64 characters of letters, digits and `+ - _ .`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallerId(String);

impl CallerId {
    /// A caller id, if `value` is one.
    pub fn new(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-_.".contains(c));
        ok.then(|| CallerId(value.to_string()))
    }

    /// The caller id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long a connected call may last (`duration` / v3 `max_duration_sec`). When it runs out
/// the whole call is hung up (`HangupReason::DurationLimit`), not just the B leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationCap(Duration);

impl DurationCap {
    /// A cap of `secs` seconds.
    pub fn from_secs(secs: u64) -> Self {
        DurationCap(Duration::from_secs(secs))
    }

    /// The cap.
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

/// A `connect` or `bridge` action.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// The action name used.
    pub kind: ConnectKind,
    /// The dialect used.
    pub dialect: Dialect,
    /// Whom to ring, in order.
    pub targets: Vec<Target>,
    /// Single/group, rounds, ring timeout.
    pub plan: RingPlan,
    /// Cap on the connected call.
    pub duration: DurationCap,
    /// Caller id for the B legs; `None`: the engine's default.
    pub caller_id: Option<CallerId>,
    /// Audio or audio+video.
    pub media: MediaKind,
    /// Record the connected call.
    pub recording: Option<Recording>,
    /// Played to the caller while the targets ring (v3 `waiting_music`).
    pub waiting_music: Option<AudioSource>,
    /// v3 `params.metadata`, kept for the engine's events.
    pub metadata: Vec<(String, Scalar)>,
}

pub(crate) fn parse(mut f: Fields<'_>, kind: ConnectKind, d: &mut Diagnostics) -> Option<Connect> {
    let connect = if f.has("params") || f.has("endpoints") {
        parse_v3(&mut f, kind, d)
    } else {
        parse_legacy(&mut f, kind, d)
    };
    f.finish(d);
    connect
}

fn caller_id(
    value: Option<String>,
    path: crate::pointer::Pointer,
    d: &mut Diagnostics,
) -> Option<CallerId> {
    let value = value?;
    let id = CallerId::new(&value);
    if id.is_none() {
        d.error(
            path,
            ErrorKind::InvalidValue {
                expected: "a caller id (digits, letters, + - _ .)",
                got: quote(&value),
            },
        );
    }
    id
}

fn parse_legacy(f: &mut Fields<'_>, kind: ConnectKind, d: &mut Diagnostics) -> Option<Connect> {
    // The documents put targets under `call`; the Node SDK's forward() and every bridge use
    // `connect`. Either is fine, both at once is ambiguous.
    let documented = match kind {
        ConnectKind::Connect => "call",
        ConnectKind::Bridge => "connect",
    };
    let targets = match (f.has("call"), f.has("connect")) {
        (true, true) => {
            f.accept(&["call", "connect"]);
            d.error(
                f.at("connect"),
                ErrorKind::ConflictingFields {
                    first: "call",
                    second: "connect",
                },
            );
            None
        }
        (false, false) => {
            f.accept(&["call", "connect"]);
            d.error(
                f.at(documented),
                ErrorKind::MissingOneOf {
                    fields: "`call` or `connect`",
                },
            );
            None
        }
        (has_call, _) => {
            let key = if has_call { "call" } else { "connect" };
            f.array(key, d)
                .map(|items| parse_targets(items, f.at(key), key, Dialect::Legacy, d))
        }
    };
    let caller = f.number_or_string("from", d);
    let caller_id = caller_id(caller, f.at("from"), d);
    let duration = f
        .uint("duration", LEGACY_DURATION, " seconds", d)
        .unwrap_or(DEFAULT_DURATION);
    let timeout = f
        .uint("timeout", LEGACY_RING_TIMEOUT, " seconds", d)
        .unwrap_or(DEFAULT_RING_TIMEOUT);
    let loops = f.uint("loop", LOOP_RANGE, "", d).unwrap_or(1);
    let ring_type = f
        .choice(
            "ring_type",
            &[("single", RingType::Single), ("group", RingType::Group)],
            "\"single\" or \"group\"",
            d,
        )
        .unwrap_or(RingType::Single);
    let media = f
        .choice(
            "call_type",
            &[("audio", MediaKind::Audio), ("video", MediaKind::Video)],
            "\"audio\" or \"video\"",
            d,
        )
        .unwrap_or(MediaKind::Audio);
    let recording = f
        .boolean("record", d)
        .unwrap_or(false)
        .then(Recording::default);
    Some(Connect {
        kind,
        dialect: Dialect::Legacy,
        targets: targets?,
        plan: RingPlan {
            ring_type,
            loops: LoopCount::new(loops).unwrap_or_default(),
            timeout: RingTimeout::from_secs(timeout),
        },
        duration: DurationCap::from_secs(duration),
        caller_id,
        media,
        recording,
        waiting_music: None,
        metadata: Vec::new(),
    })
}

fn parse_v3(f: &mut Fields<'_>, kind: ConnectKind, d: &mut Diagnostics) -> Option<Connect> {
    for legacy_key in ["call", "connect"] {
        if f.has(legacy_key) {
            d.error(
                f.at(legacy_key),
                ErrorKind::ConflictingFields {
                    first: "endpoints",
                    second: legacy_key,
                },
            );
        }
    }
    f.accept(&["call", "connect"]);
    let params_ok;
    let mut caller = None;
    let mut ring_type = RingType::Single;
    let mut timeout = DEFAULT_RING_TIMEOUT;
    let mut duration = DEFAULT_DURATION;
    let mut recording = None;
    let mut waiting_music = None;
    let mut metadata = Vec::new();
    match f.object("params", d) {
        None => {
            if !f.has("params") {
                f.missing("params", d);
            }
            params_ok = false;
        }
        Some(mut p) => {
            if p.has("caller_id") {
                let value = p.number_or_string("caller_id", d);
                caller = caller_id(value, p.at("caller_id"), d);
                params_ok = caller.is_some();
            } else {
                p.accept(&["caller_id"]);
                p.missing("caller_id", d);
                params_ok = false;
            }
            ring_type = p
                .choice(
                    "strategy",
                    &[
                        ("sequential", RingType::Single),
                        ("simultaneous", RingType::Group),
                    ],
                    "\"sequential\" or \"simultaneous\"",
                    d,
                )
                .unwrap_or(RingType::Single);
            if let Some(mut o) = p.object("options", d) {
                duration = o
                    .uint("max_duration_sec", V3_MAX_DURATION, " seconds", d)
                    .unwrap_or(DEFAULT_DURATION);
                timeout = o
                    .uint("ring_timeout_sec", V3_RING_TIMEOUT, " seconds", d)
                    .unwrap_or(DEFAULT_RING_TIMEOUT);
                if o.boolean("machine_detection", d) == Some(true) {
                    d.warn(
                        o.at("machine_detection"),
                        WarningKind::UnsupportedOption {
                            field: "machine_detection",
                        },
                    );
                }
                if let Some(mut r) = o.object("recording", d) {
                    let enabled = r.boolean("enabled", d).unwrap_or(false);
                    let settings = read_recording(&mut r, d);
                    r.finish(d);
                    recording = enabled.then_some(settings);
                }
                if let Some(music) = o.string("waiting_music", d).filter(|m| !m.is_empty()) {
                    waiting_music = file_name_source(music, o.at("waiting_music"), d);
                }
                o.finish(d);
            }
            if let Some(m) = p.raw("metadata") {
                metadata =
                    read_variables(m, p.at("metadata"), MAX_METADATA_KEYS, MAX_STRING_BYTES, d)
                        .unwrap_or_default();
            }
            p.finish(d);
        }
    }
    let targets = if f.has("endpoints") {
        f.array("endpoints", d)
            .map(|items| parse_targets(items, f.at("endpoints"), "endpoints", Dialect::V3, d))
    } else {
        f.accept(&["endpoints"]);
        f.missing("endpoints", d);
        None
    };
    if !params_ok {
        return None;
    }
    Some(Connect {
        kind,
        dialect: Dialect::V3,
        targets: targets?,
        plan: RingPlan {
            ring_type,
            loops: LoopCount::default(),
            timeout: RingTimeout::from_secs(timeout),
        },
        duration: DurationCap::from_secs(duration),
        caller_id: caller,
        media: MediaKind::Audio,
        recording,
        waiting_music,
        metadata,
    })
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 && s % 60 == 0 {
        format!("{s} s ({} min)", s / 60)
    } else {
        format!("{s} s")
    }
}

fn list(names: &[String], last_join: &str) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {last_join} {last}", init.join(", ")),
    }
}

impl Connect {
    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        let names: Vec<String> = self.targets.iter().map(Target::describe).collect();
        let timeout = seconds(self.plan.timeout.as_duration());
        let loops = self.plan.loops.get();
        let mut lines = Vec::new();
        let how = match (self.plan.ring_type, names.len()) {
            (_, 1) => format!("rings {} for up to {timeout}", list(&names, "and")),
            (RingType::Group, _) => {
                format!(
                    "rings {} at the same time for up to {timeout}",
                    list(&names, "and")
                )
            }
            (RingType::Single, _) => {
                format!(
                    "rings {}, one at a time, each for up to {timeout}",
                    list(&names, "then")
                )
            }
        };
        lines.push(format!("{}: {how}.", self.kind.as_str()));
        if loops > 1 {
            let per_round = match self.plan.ring_type {
                RingType::Group => self.plan.timeout.as_duration(),
                RingType::Single => {
                    let targets = u32::try_from(names.len()).unwrap_or(u32::MAX);
                    self.plan.timeout.as_duration().saturating_mul(targets)
                }
            };
            lines.push(format!(
                "If nobody answers, the whole round is tried again: {loops} rounds in all \
                 (at most {} of ringing).",
                seconds(per_round.saturating_mul(u32::from(loops)))
            ));
        }
        let caller = match &self.caller_id {
            Some(id) => format!("Caller id {id}"),
            None => "Caller id: the engine's default".to_string(),
        };
        let media = match self.media {
            MediaKind::Audio => "audio only",
            MediaKind::Video => "audio and video",
        };
        let meanwhile = match &self.waiting_music {
            Some(music) => format!(" While it rings, the caller hears {music}."),
            None => String::new(),
        };
        lines.push(format!("{caller}; {media}.{meanwhile}"));
        let group = names.len() > 1 && self.plan.ring_type == RingType::Group;
        let winner = if group {
            "The first to answer is connected to the caller and the others stop ringing."
        } else {
            "Whoever answers is connected to the caller."
        };
        let recorded = if self.recording.is_some() {
            " The connected call is recorded."
        } else {
            ""
        };
        lines.push(format!(
            "{winner}{recorded} The connected call is cut after {}, which hangs up the whole call.",
            seconds(self.duration.as_duration())
        ));
        if self
            .targets
            .iter()
            .any(|t| matches!(t.destination, targets::Destination::SipUser(_)))
        {
            lines.push(
                "A SIP user with no live registration is skipped at once, without waiting for \
                 the timeout."
                    .into(),
            );
        }
        let later = if loops > 1 {
            " and is not rung again in a later round"
        } else {
            ""
        };
        lines.push(match (names.len(), self.plan.ring_type) {
            (1, _) => format!(
                "If the target is busy (486) or declines (600/603), ringing ends at once{later}."
            ),
            (_, RingType::Group) => format!(
                "A target that is busy (486) or declines (600/603) is given up at once{later}; \
                 the others keep ringing."
            ),
            (_, RingType::Single) => format!(
                "A target that is busy (486) or declines (600/603) is given up at once{later}; \
                 the next one rings."
            ),
        });
        lines.push(format!(
            "If nobody answers (no answer, busy, declined or failed), {then}."
        ));
        lines.push(format!(
            "When the connected call ends because the other side hangs up, {then}."
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::connect::targets::Destination;
    use crate::action::Action;
    use crate::script::Script;

    fn connect(json: &str) -> Connect {
        match Script::parse(json).unwrap().actions() {
            [Action::Connect(c)] => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn documented_group_example() {
        let c = connect(
            r#"[{"action":"connect","duration":600,"timeout":20,"from":914471000000,"loop":1,"call_type":"audio","ring_type":"group",
                "call":[{"type":"sip","user":"YOUR_USERNAME"},{"type":"sip","user":"YOUR_USERNAME_1"}]}]"#,
        );
        assert_eq!(c.kind, ConnectKind::Connect);
        assert_eq!(c.plan.ring_type, RingType::Group);
        assert_eq!(c.plan.timeout.as_duration(), Duration::from_secs(20));
        assert_eq!(c.duration.as_duration(), Duration::from_secs(600));
        assert_eq!(
            c.caller_id.as_ref().map(CallerId::as_str),
            Some("914471000000")
        );
        assert_eq!(c.targets.len(), 2);
    }

    #[test]
    fn legacy_defaults() {
        let c = connect(r#"[{"action":"connect","connect":[{"type":"sip","user":"alice"}]}]"#);
        assert_eq!(c.plan.ring_type, RingType::Single);
        assert_eq!(c.plan.loops.get(), 1);
        assert_eq!(c.plan.timeout.as_duration(), Duration::from_secs(40));
        assert_eq!(c.duration.as_duration(), Duration::from_secs(5400));
        assert_eq!(c.media, MediaKind::Audio);
        assert_eq!(c.caller_id, None);
        assert_eq!(c.recording, None);
    }

    #[test]
    fn v3_shape() {
        let c = connect(
            r#"[{"action":"connect","params":{"caller_id":"919999999999","strategy":"simultaneous",
                "options":{"ring_timeout_sec":25,"max_duration_sec":600,"recording":{"enabled":true,"format":"wav"},"waiting_music":"hold.mp3"},
                "metadata":{"priority":1}},
                "endpoints":[{"type":"sip","uri":"sip:bob@example.com"},{"type":"pstn","number":"918888888887"}]}]"#,
        );
        assert_eq!(c.dialect, Dialect::V3);
        assert_eq!(c.plan.ring_type, RingType::Group);
        assert_eq!(c.plan.timeout.as_duration(), Duration::from_secs(25));
        assert_eq!(c.duration.as_duration(), Duration::from_secs(600));
        assert!(c.recording.is_some());
        assert_eq!(
            c.waiting_music,
            Some(AudioSource::FileName("hold.mp3".into()))
        );
        assert_eq!(
            c.targets[0].destination,
            Destination::SipUri("sip:bob@example.com".into())
        );
        assert_eq!(c.metadata.len(), 1);
    }

    #[test]
    fn ranges_are_enforced_per_dialect() {
        let e = Script::parse(r#"[{"action":"connect","timeout":301,"loop":11,"duration":5,"call":[{"type":"sip","user":"a"}]}]"#)
            .unwrap_err();
        assert_eq!(
            e.error_codes(),
            vec![
                ("out_of_range", "/0/duration"),
                ("out_of_range", "/0/timeout"),
                ("out_of_range", "/0/loop")
            ]
        );
        let e = Script::parse(
            r#"[{"action":"connect","params":{"caller_id":"919999999999","options":{"ring_timeout_sec":121}},"endpoints":[{"type":"pstn","number":"918888888887"}]}]"#,
        )
        .unwrap_err();
        assert_eq!(
            e.error_codes(),
            vec![("out_of_range", "/0/params/options/ring_timeout_sec")]
        );
    }

    #[test]
    fn target_keys_conflict() {
        let e = Script::parse(r#"[{"action":"connect","call":[{"type":"sip","user":"a"}],"connect":[{"type":"sip","user":"b"}]}]"#)
            .unwrap_err();
        assert_eq!(e.error_codes(), vec![("conflicting_fields", "/0/connect")]);
        let e = Script::parse(r#"[{"action":"connect"}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("missing_field", "/0/call")]);
        let e = Script::parse(r#"[{"action":"bridge"}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("missing_field", "/0/connect")]);
    }

    #[test]
    fn machine_detection_is_a_warning() {
        let s = Script::parse(
            r#"[{"action":"connect","params":{"caller_id":"919999999999","options":{"machine_detection":true}},"endpoints":[{"type":"pstn","number":"918888888887"}]}]"#,
        )
        .unwrap();
        assert_eq!(
            s.warnings()[0].path.as_str(),
            "/0/params/options/machine_detection"
        );
    }

    #[test]
    fn caller_ids() {
        assert!(CallerId::new("+914471000000").is_some());
        assert!(CallerId::new("alice.smith").is_some());
        assert!(CallerId::new("a b").is_none());
        assert!(CallerId::new("").is_none());
    }
}
