//! The vocabulary between the interpreter and the running action.
//!
//! An action starts with `start(.., &mut Effects<'_>) -> Flow`. If it has to wait for the engine it
//! returns [`Flow::Wait`] with its running state, a [`Step`]; the interpreter then feeds it
//! events through [`Step::on_event`] until it returns another flow. Actions never see the
//! command queue directly: they go through [`Effects`], which also hands out ids and makes the
//! "answer before media" precondition one call.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::action::connect::ring::{Bridged, Ringing};
use crate::action::gather::Gathering;
use crate::call::CallInfo;
use crate::command::{Command, DigitsPayload, HangupReason};
use crate::event::Event;
use crate::id::{FetchId, MediaId, TargetId, TimerId};

/// The interpreter's outputs and counters, kept between events.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Command>,
    next_id: u64,
    answered: bool,
    call: CallInfo,
}

impl Outbox {
    pub(crate) fn new(call: CallInfo) -> Self {
        Outbox {
            queue: VecDeque::new(),
            next_id: 0,
            answered: call.answered,
            call,
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Command> {
        self.queue.pop_front()
    }
}

/// Side effects of one step at one instant: queued commands, fresh ids, timers relative to
/// `now`, and the A leg's answer state. Built by the interpreter for each event it handles.
#[derive(Debug)]
pub(crate) struct Effects<'a> {
    now: Instant,
    out: &'a mut Outbox,
}

impl<'a> Effects<'a> {
    pub(crate) fn new(now: Instant, out: &'a mut Outbox) -> Self {
        Effects { now, out }
    }

    pub(crate) fn push(&mut self, command: Command) {
        self.out.queue.push_back(command);
    }

    fn next(&mut self) -> u64 {
        self.out.next_id += 1;
        self.out.next_id
    }

    pub(crate) fn target_id(&mut self) -> TargetId {
        TargetId(self.next())
    }

    pub(crate) fn media_id(&mut self) -> MediaId {
        MediaId(self.next())
    }

    pub(crate) fn fetch_id(&mut self) -> FetchId {
        FetchId(self.next())
    }

    /// `now + after`. Saturates instead of panicking on an absurd duration.
    pub(crate) fn deadline(&self, after: Duration) -> Instant {
        self.now.checked_add(after).unwrap_or(self.now)
    }

    /// Starts a timer that fires `after` from now.
    pub(crate) fn timer(&mut self, after: Duration) -> TimerId {
        let id = TimerId(self.next());
        let at = self.deadline(after);
        self.push(Command::StartTimer { id, at });
        id
    }

    /// The media precondition: the A leg must be answered before anything is played to it or
    /// bridged with it. Emits [`Command::Answer`] the first time only.
    pub(crate) fn ensure_answered(&mut self) {
        if !self.out.answered {
            self.out.answered = true;
            self.push(Command::Answer);
        }
    }

    /// The action-URL body for `dtmf`.
    pub(crate) fn digits_payload(&self, dtmf: String) -> DigitsPayload {
        let call = &self.out.call;
        DigitsPayload {
            from: call.from.clone(),
            to: call.to.clone(),
            dtmf,
            cmiuuid: call.cmiuuid.clone(),
        }
    }
}

/// What happens next, after an action started or handled an event.
#[derive(Debug)]
pub(crate) enum Flow {
    /// The action is running and waits for events.
    Wait(Step),
    /// The action is done; go on with the next one.
    Next,
    /// The action is done and asked the app for a script; wait for it.
    Fetch(FetchId),
    /// End the call.
    Hangup(HangupReason),
}

/// A running action.
#[derive(Debug)]
pub(crate) enum Step {
    /// A connect/bridge ringing.
    Connect(Box<Ringing>),
    /// A connect/bridge whose target answered.
    Bridged(Box<Bridged>),
    /// An input/play_get_input collecting digits.
    Gather(Box<Gathering>),
    /// A play/speak/stream waiting for its `MediaDone`.
    Media(MediaId),
    /// Waiting for a script from the app.
    Fetch(FetchId),
}

impl Step {
    /// Feeds one event to the running action. `None`: keep waiting.
    pub(crate) fn on_event(&mut self, fx: &mut Effects<'_>, event: &Event) -> Option<Flow> {
        match self {
            Step::Connect(ringing) => ringing.on_event(fx, event),
            Step::Bridged(bridged) => bridged.on_event(fx, event),
            Step::Gather(gathering) => gathering.on_event(fx, event),
            Step::Media(id) => match event {
                Event::MediaDone { media_id } if media_id == id => Some(Flow::Next),
                _ => None,
            },
            // The interpreter handles ScriptFetched itself; nothing else concerns a fetch.
            Step::Fetch(_) => None,
        }
    }

    /// The caller hung up: release what the action holds (ringing legs).
    pub(crate) fn abort(&mut self, fx: &mut Effects<'_>) {
        if let Step::Connect(ringing) = self {
            ringing.abort(fx);
        }
    }
}
