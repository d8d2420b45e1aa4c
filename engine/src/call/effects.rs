//! The call's outbox and the borrowed view its parts write through (the `Effects` pattern of
//! `pcmo`'s step machine): a part of the call (its media actions, its video, its legs) never
//! sees the [`super::Call`]; it gets an [`Effects`] for the input being handled, queues
//! outputs for the shell and events for the script on it, and reads the instant from it.

use std::collections::VecDeque;
use std::time::Instant;

use super::io::Output;
use super::report::Report;
use crate::log_field::Escaped;
use crate::media::Command as MediaCommand;

/// The call's queues and the instant of the input being handled, kept between inputs.
#[derive(Debug)]
pub(super) struct Outbox {
    out: VecDeque<Output>,
    /// Events for the script, fed to the interpreter once the input is handled.
    events: VecDeque<pcmo::Event>,
    now: Instant,
    wall_ms: u64,
    /// The last v3 connect's `params.metadata`, stamped on every leg event and CDR from then on.
    metadata: Option<String>,
}

impl Outbox {
    pub(super) fn new(now: Instant, wall_ms: u64) -> Outbox {
        Outbox {
            out: VecDeque::new(),
            events: VecDeque::new(),
            now,
            wall_ms,
            metadata: None,
        }
    }

    /// A connect with `params.metadata` ran: its events and CDRs carry it from now on.
    pub(super) fn set_metadata(&mut self, metadata: Option<String>) {
        if metadata.is_some() {
            self.metadata = metadata;
        }
    }

    /// A new input arrives at `now` (wall clock `wall_ms`).
    pub(super) fn set_clock(&mut self, now: Instant, wall_ms: u64) {
        self.now = now;
        self.wall_ms = wall_ms;
    }

    pub(super) fn now(&self) -> Instant {
        self.now
    }

    pub(super) fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    pub(super) fn push(&mut self, mut o: Output) {
        if let Output::Report(r) = &mut o {
            r.carry_metadata(&self.metadata);
        }
        self.out.push_back(o);
    }

    pub(super) fn pop(&mut self) -> Option<Output> {
        let next = self.out.pop_front();
        if next.is_none() && self.out.capacity() > 4 {
            // A set-up burst grew the queue to 16 outputs (288 bytes each); a held call
            // should not keep that for its whole life.
            self.out = VecDeque::new();
        }
        next
    }

    /// Queues an event for the script.
    pub(super) fn event(&mut self, e: pcmo::Event) {
        self.events.push_back(e);
    }

    pub(super) fn next_event(&mut self) -> Option<pcmo::Event> {
        self.events.pop_front()
    }

    /// The script is gone: what it would have heard does not matter any more.
    pub(super) fn clear_events(&mut self) {
        self.events.clear();
    }
}

/// One step's view of the outbox, with the call's id for the log.
pub(super) struct Effects<'a> {
    out: &'a mut Outbox,
    call: &'a str,
}

impl<'a> Effects<'a> {
    pub(super) fn new(out: &'a mut Outbox, call: &'a str) -> Self {
        Effects { out, call }
    }

    /// The call's id (`cmiuuid`), for log lines.
    pub(super) fn call(&self) -> &str {
        self.call
    }

    pub(super) fn now(&self) -> Instant {
        self.out.now
    }

    pub(super) fn wall_ms(&self) -> u64 {
        self.out.wall_ms
    }

    pub(super) fn push(&mut self, o: Output) {
        self.out.push(o);
    }

    /// A command for the media task.
    pub(super) fn media(&mut self, c: MediaCommand) {
        self.out.push(Output::Media(c));
    }

    pub(super) fn report(&mut self, r: Report) {
        self.out.push(Output::Report(r));
    }

    /// Queues an event for the script.
    pub(super) fn event(&mut self, e: pcmo::Event) {
        self.out.event(e);
    }

    /// The script could not run as written: the app gets an error event, the log a line.
    pub(super) fn script_error(&mut self, code: &str, path: &str, message: &str) {
        tracing::info!(call = %self.call, code, path = %Escaped(path), message = %Escaped(message), "script error");
        let at_ms = self.out.wall_ms;
        self.report(Report::ScriptError {
            code: code.into(),
            path: path.into(),
            message: message.into(),
            at_ms,
        });
    }
}
