//! How the call rig writes what a call did into its log: one short line per report, live
//! event and leg, so tests compare logs rather than structures.

use engine::call::live::LiveEvent;
use engine::call::report::Report;
use engine::call::LegId;

pub(super) fn leg_name(l: LegId) -> String {
    if l == LegId::A {
        "A".into()
    } else {
        format!("B{}", l.0)
    }
}

pub(super) fn describe(r: &Report) -> String {
    match r {
        Report::Event(e) => {
            let leg = leg_name(e.leg);
            match &e.cause {
                Some(c) => format!("ev {leg} {}({c})", e.status.as_str()),
                None => format!("ev {leg} {}", e.status.as_str()),
            }
        }
        Report::Cdr(c) => format!("cdr {} {} {}", leg_name(c.leg), c.kind(), c.cause),
        Report::ScriptError { code, .. } => format!("error {code}"),
        Report::Recording(r) => format!("recording {} ok={}", r.recording_id, r.ok),
    }
}

/// A live event's short name for the log: `incoming`, `answered`, `speak-started`, ...
pub fn live_name(ev: &LiveEvent) -> String {
    use engine::call::live::PromptKind;
    match ev {
        LiveEvent::Incoming { answered } => format!("incoming answered={answered}"),
        LiveEvent::Answered => "answered".into(),
        LiveEvent::Ringing => "ringing".into(),
        LiveEvent::Reoffer { update } => format!("reoffer update={update}"),
        LiveEvent::MediaReady { .. } => "media-ready".into(),
        LiveEvent::Timeout => "timeout".into(),
        LiveEvent::Prompt { kind, done, .. } => format!(
            "{}-{}",
            if *kind == PromptKind::Speak {
                "speak"
            } else {
                "playback"
            },
            if *done { "done" } else { "started" }
        ),
        LiveEvent::Gather { digits, reason, .. } => {
            format!("gather {digits} {}", reason.as_str())
        }
        LiveEvent::Dtmf(d) => format!("dtmf {d}"),
        LiveEvent::Recording { ok, .. } => format!("recording ok={ok}"),
        LiveEvent::Transferred => "transferred".into(),
        LiveEvent::Ended { cause, status } => format!("ended {cause} {status:?}"),
    }
}
