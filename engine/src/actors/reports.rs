//! Turning a call's neutral reports (`call::report`) into what the app receives: PIOPIY live
//! events and CDRs (`webhook::LiveEvent`, `store::Cdr`), numbered per call so the receiver can
//! order and de-duplicate them.

use super::call::{CallRef, ReportSink};
use super::outbox::{Outbox, OutboxError};
use crate::call::media_actions::RecordingReport;
use crate::call::report::{self, EventStatus as Status, LegCdr, LegEvent, Report, Side};
use crate::call::LegId;
use crate::log_field::Escaped;
use crate::store::{App, CallUuid, Cdr, CdrKind, CdrStatus, Direction, Leg};
use crate::webhook::event::EventTag;
use crate::webhook::{EventError, EventStatus, LiveEvent, RecordingEvent};

fn leg_id(l: LegId) -> String {
    if l == LegId::A {
        "a".into()
    } else {
        format!("b{}", l.0)
    }
}

fn side(s: Side) -> Leg {
    match s {
        Side::A => Leg::A,
        Side::B => Leg::B,
    }
}

fn direction(d: report::Direction) -> Direction {
    match d {
        report::Direction::Inbound => Direction::Inbound,
        report::Direction::Outbound => Direction::Outbound,
    }
}

fn status(s: Status) -> EventStatus {
    match s {
        Status::Started => EventStatus::Started,
        Status::Ringing => EventStatus::Ringing,
        Status::InAnswered => EventStatus::InAnswered,
        Status::OutAnswered => EventStatus::OutAnswered,
        Status::OutBridged => EventStatus::OutBridged,
        Status::Hangup => EventStatus::Hangup,
    }
}

/// A live event for `app`'s event URL; `seq` counts the call's reports from 1.
pub fn live_event(app: &App, call: &CallRef<'_>, seq: u64, e: &LegEvent) -> LiveEvent {
    let cmiuuid = call.cmiuuid;
    LiveEvent {
        tag: EventTag::default(),
        leg: side(e.side),
        leg_id: leg_id(e.leg),
        conversation_uuid: cmiuuid.to_string(),
        time: e.at_ms,
        to: e.to.clone(),
        from: e.from.clone(),
        cmiuuid: CallUuid(cmiuuid.to_string()),
        direction: direction(e.direction),
        appid: app.id,
        callerid: e.from.clone(),
        vn: String::new(),
        request_id: call.request_id.map(str::to_string),
        extra_params: e.extra_params.clone().unwrap_or_default(),
        metadata: metadata(&e.metadata),
        status: status(e.status),
        event_id: format!("{cmiuuid}-{seq}"),
        seq,
        hangup_cause: e.cause.clone(),
        sip_status: e.sip_status,
        error: None,
    }
}

/// An `error` event: the script could not run as written.
pub fn error_event(
    app: &App,
    call: &CallRef<'_>,
    seq: u64,
    problem: (&str, &str, &str),
    at_ms: u64,
) -> LiveEvent {
    let (cmiuuid, (code, path, message)) = (call.cmiuuid, problem);
    LiveEvent {
        tag: EventTag::default(),
        leg: Leg::A,
        leg_id: "a".into(),
        conversation_uuid: cmiuuid.to_string(),
        time: at_ms,
        to: String::new(),
        from: String::new(),
        cmiuuid: CallUuid(cmiuuid.to_string()),
        direction: Direction::Inbound,
        appid: app.id,
        callerid: String::new(),
        vn: String::new(),
        request_id: call.request_id.map(str::to_string),
        extra_params: String::new(),
        metadata: None,
        status: EventStatus::Error,
        event_id: format!("{cmiuuid}-{seq}"),
        seq,
        hangup_cause: None,
        sip_status: None,
        error: Some(EventError {
            code: code.into(),
            path: path.into(),
            message: message.into(),
        }),
    }
}

/// The connect's metadata as a JSON object (the call core keeps it as compact JSON text,
/// always an object: pcmo builds it from validated keys and scalar values).
fn metadata(text: &Option<String>) -> Option<serde_json::Map<String, serde_json::Value>> {
    text.as_deref()
        .and_then(|t| serde_json::from_str::<serde_json::Map<_, _>>(t).ok())
}

/// The CDR of one leg.
pub fn cdr(app: &App, call: &CallRef<'_>, c: &LegCdr) -> Cdr {
    let cmiuuid = call.cmiuuid;
    let answered = c.answer_ms.is_some();
    let kind = match c.kind() {
        "in_answered" => CdrKind::InAnswered,
        "in_missed" => CdrKind::InMissed,
        "out_answered" => CdrKind::OutAnswered,
        _ => CdrKind::OutMissed,
    };
    Cdr {
        tag: Default::default(),
        cmiuuid: CallUuid(cmiuuid.to_string()),
        leg_id: leg_id(c.leg),
        leg: side(c.side),
        conversation_uuid: cmiuuid.to_string(),
        appid: app.id,
        from: c.from.clone(),
        to: c.to.clone(),
        callerid: c.from.clone(),
        direction: direction(c.direction),
        time: c.end_ms,
        start_time: c.start_ms / 1000,
        answer_time: c.answer_ms.map(|a| a / 1000),
        end_time: c.end_ms / 1000,
        duration: c.duration_secs(),
        status: if answered {
            CdrStatus::Answered
        } else {
            CdrStatus::Missed
        },
        cdr_kind: kind,
        extra_params: c.extra_params.clone().unwrap_or_default(),
        metadata: metadata(&c.metadata),
        call_rate: 0.0,
        balance: 0.0,
        hangup_cause: c.cause.clone(),
        sip_status: c.sip_status,
        request_id: call.request_id.map(str::to_string),
    }
}

/// A `recording` event: the file is final, or could not be written.
pub fn recording_event(
    app: &App,
    call: &CallRef<'_>,
    seq: u64,
    r: &RecordingReport,
) -> RecordingEvent {
    RecordingEvent {
        tag: Default::default(),
        recording_id: r.recording_id.clone(),
        cmiuuid: CallUuid(call.cmiuuid.to_string()),
        appid: app.id,
        request_id: call.request_id.map(str::to_string),
        status: if r.ok { "complete" } else { "error" }.into(),
        url: format!("/admin/v1/recordings/{}", r.recording_id),
        format: r.format.into(),
        channels: r.channels as u8,
        sample_rate: 8000,
        start_time: r.started_ms,
        end_time: r.ended_ms,
        duration_ms: r.duration_ms,
        event_id: format!("{}-{seq}", call.cmiuuid),
        seq,
    }
}

/// Delivers a call's reports: CDRs stored and, like live events, queued for the app's event
/// URL in the signed outbox.
pub struct AppReports {
    outbox: Outbox,
}

impl AppReports {
    pub fn new(outbox: Outbox) -> Self {
        AppReports { outbox }
    }
}

impl ReportSink for AppReports {
    fn deliver(&self, app: &App, call: &CallRef<'_>, seq: u64, r: &Report) {
        let cmiuuid = call.cmiuuid;
        let result = match r {
            Report::Cdr(c) => self.outbox.enqueue_cdr(app, &cdr(app, call, c)),
            Report::Event(e) => self
                .outbox
                .enqueue_event(app, &live_event(app, call, seq, e)),
            Report::ScriptError {
                code,
                path,
                message,
                at_ms,
            } => {
                tracing::warn!(call = cmiuuid, code, path = %Escaped(path), message = %Escaped(message), "script error");
                let ev = error_event(app, call, seq, (code, path, message), *at_ms);
                self.outbox.enqueue_event(app, &ev)
            }
            Report::Recording(rec) => self
                .outbox
                .enqueue_recording(app, &recording_event(app, call, seq, rec)),
        };
        match result {
            Ok(_) | Err(OutboxError::NoEventUrl) => {}
            Err(e) => tracing::error!(call = cmiuuid, seq, error = %e, "report not queued"),
        }
    }
}
