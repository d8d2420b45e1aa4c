//! What a call reports to its app, per leg: live events and exactly one terminal event and one
//! CDR per leg, whatever path the leg's end takes (answered then hung up, cancelled while
//! ringing, refused, timed out, torn down with the call).
//!
//! Neutral records: the shell turns them into the PIOPIY webhook payloads (it adds the app id,
//! the call id, signatures) and stores the CDRs.

use std::path::PathBuf;

use super::LegId;

/// PIOPIY live event statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Started,
    Ringing,
    InAnswered,
    OutAnswered,
    OutBridged,
    Hangup,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Started => "started",
            EventStatus::Ringing => "ringing",
            EventStatus::InAnswered => "in_answered",
            EventStatus::OutAnswered => "out_answered",
            EventStatus::OutBridged => "out_bridged",
            EventStatus::Hangup => "hangup",
        }
    }
}

/// Which side of the call a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The leg that came in (or, for a call placed over REST, the first leg dialled).
    A,
    B,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

/// Inbound or outbound, from ringmaster's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// One report for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Event(LegEvent),
    Cdr(LegCdr),
    /// The script could not run as written (parse error, unsupported action, bad action-URL
    /// answer): code, JSON path (may be empty) and message.
    ScriptError {
        code: String,
        path: String,
        message: String,
        at_ms: u64,
    },
    /// A recording is final (or failed).
    Recording(RecordingReport),
}

/// A finished recording, for the app's `recording` event.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingReport {
    /// `<cmiuuid>-<n>`: unique, and safe in a path and a URL.
    pub recording_id: String,
    /// The file (`.wav` or `.mp3`).
    pub path: PathBuf,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub duration_ms: u64,
    /// `wav` or `mp3`.
    pub format: &'static str,
    /// 2 (one per party) or 1 (both mixed).
    pub channels: u16,
    /// False when the file could not be written (then it may be missing or partial).
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegEvent {
    pub leg: LegId,
    pub side: Side,
    pub direction: Direction,
    pub status: EventStatus,
    pub from: String,
    pub to: String,
    pub at_ms: u64,
    pub extra_params: Option<String>,
    /// The v3 connect's `params.metadata` (a JSON object), once a connect with one has run.
    pub metadata: Option<String>,
    /// For `hangup`: why (`caller-hung-up`, `callee-hung-up`, `no-answer`, `busy`, `cancelled`,
    /// `duration-limit`, `script-ended`, `rtp-timeout`, `error`...) and the SIP status.
    pub cause: Option<String>,
    pub sip_status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegCdr {
    pub leg: LegId,
    pub side: Side,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub start_ms: u64,
    pub answer_ms: Option<u64>,
    pub end_ms: u64,
    pub cause: String,
    pub sip_status: Option<u16>,
    pub extra_params: Option<String>,
    /// The v3 connect's `params.metadata` (a JSON object), once a connect with one has run.
    pub metadata: Option<String>,
}

impl Report {
    /// Stamps the connect's metadata on a leg event or CDR (other reports carry none).
    pub fn carry_metadata(&mut self, metadata: &Option<String>) {
        match self {
            Report::Event(e) => e.metadata.clone_from(metadata),
            Report::Cdr(c) => c.metadata.clone_from(metadata),
            _ => {}
        }
    }
}

impl LegCdr {
    /// `in_answered`, `in_missed`, `out_answered` or `out_missed`.
    pub fn kind(&self) -> &'static str {
        match (self.direction, self.answer_ms.is_some()) {
            (Direction::Inbound, true) => "in_answered",
            (Direction::Inbound, false) => "in_missed",
            (Direction::Outbound, true) => "out_answered",
            (Direction::Outbound, false) => "out_missed",
        }
    }

    /// Seconds from answer to end (0 when never answered).
    pub fn duration_secs(&self) -> u64 {
        self.answer_ms
            .map(|a| self.end_ms.saturating_sub(a) / 1000)
            .unwrap_or(0)
    }
}

/// The life of one leg, kept until its terminal event and CDR are out.
#[derive(Debug, Clone)]
pub struct LegRecord {
    pub leg: LegId,
    pub side: Side,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub start_ms: u64,
    pub ringing: bool,
    pub answer_ms: Option<u64>,
    pub ended: bool,
}

impl LegRecord {
    pub fn new(
        leg: LegId,
        side: Side,
        direction: Direction,
        from: &str,
        to: &str,
        now_ms: u64,
    ) -> Self {
        LegRecord {
            leg,
            side,
            direction,
            from: from.to_string(),
            to: to.to_string(),
            start_ms: now_ms,
            ringing: false,
            answer_ms: None,
            ended: false,
        }
    }

    pub fn event(&self, status: EventStatus, now_ms: u64, extra: &Option<String>) -> Report {
        Report::Event(LegEvent {
            leg: self.leg,
            side: self.side,
            direction: self.direction,
            status,
            from: self.from.clone(),
            to: self.to.clone(),
            at_ms: now_ms,
            extra_params: extra.clone(),
            metadata: None,
            cause: None,
            sip_status: None,
        })
    }

    /// The terminal event and the CDR, once: later calls return nothing.
    pub fn end(
        &mut self,
        now_ms: u64,
        cause: &str,
        sip_status: Option<u16>,
        extra: &Option<String>,
    ) -> Vec<Report> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let mut ev = self.event(EventStatus::Hangup, now_ms, extra);
        if let Report::Event(e) = &mut ev {
            e.cause = Some(cause.to_string());
            e.sip_status = sip_status;
        }
        vec![
            ev,
            Report::Cdr(LegCdr {
                leg: self.leg,
                side: self.side,
                direction: self.direction,
                from: self.from.clone(),
                to: self.to.clone(),
                start_ms: self.start_ms,
                answer_ms: self.answer_ms,
                end_ms: now_ms,
                cause: cause.to_string(),
                sip_status,
                extra_params: extra.clone(),
                metadata: None,
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_terminal_event_and_one_cdr_per_leg() {
        let mut r = LegRecord::new(
            LegId(1),
            Side::B,
            Direction::Outbound,
            "100",
            "alice",
            1_000,
        );
        r.answer_ms = Some(3_000);
        let first = r.end(63_500, "callee-hung-up", Some(200), &None);
        assert_eq!(first.len(), 2);
        let Report::Cdr(cdr) = &first[1] else {
            panic!()
        };
        assert_eq!(cdr.kind(), "out_answered");
        assert_eq!(cdr.duration_secs(), 60);
        assert!(r.end(70_000, "again", None, &None).is_empty());
        let mut missed = LegRecord::new(LegId::A, Side::A, Direction::Inbound, "100", "200", 0);
        let Report::Cdr(cdr) = &missed.end(5_000, "caller-hung-up", Some(487), &None)[1] else {
            panic!()
        };
        assert_eq!((cdr.kind(), cdr.duration_secs()), ("in_missed", 0));
    }
}
