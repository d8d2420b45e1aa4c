//! The interpreter: a script, a call, and a pure step function.
//!
//! ```text
//!            ┌──────────── Event (+ now) ────────────┐
//!   engine ──┤                                       ├──▶ Interpreter::handle
//!            └──── Command ◀── Interpreter::poll ────┘
//! ```
//!
//! The interpreter runs one action at a time. An action that needs nothing from the engine
//! (`param`, `record`) finishes inside the same `handle` call and the next one starts at once;
//! an action that waits (ringing, media, digits, a fetch) leaves a running [`Step`] behind and
//! returns. When the actions run out, or a `hangup` runs, or the caller hangs up, the last
//! command is [`Command::Hangup`] and [`Interpreter::is_finished`] turns true.
//!
//! A script fetched mid-call (from an `action_url`) **replaces the rest of the script**. If the
//! fetch fails, the body is empty, or the body is not a valid script, the call goes on with the
//! rest of the current script instead (after one [`Command::ScriptError`] per error for an
//! invalid body): the caller keeps hearing a working call, and the app learns what was wrong.

use std::collections::VecDeque;
use std::time::Instant;

use crate::action::gather::buffer_typeahead;
use crate::action::{self, Action};
use crate::call::CallInfo;
use crate::command::{Command, HangupReason};
use crate::event::{Event, FetchError};
use crate::id::FetchId;
use crate::script::Script;
use crate::step::{Effects, Flow, Outbox, Step};

/// Runs one script for one call. See the crate docs for the `handle`/`poll` contract.
#[derive(Debug)]
pub struct Interpreter {
    core: Core,
    out: Outbox,
}

#[derive(Debug)]
struct Core {
    remaining: VecDeque<Action>,
    step: Option<Step>,
    /// Digits typed while no input was collecting.
    typeahead: String,
    started: bool,
    finished: bool,
}

impl Interpreter {
    /// An interpreter for `script` in `call`. Nothing happens until [`Event::Start`].
    pub fn new(script: Script, call: CallInfo) -> Self {
        Interpreter {
            core: Core {
                remaining: script.into_actions().into(),
                step: None,
                typeahead: String::new(),
                started: false,
                finished: false,
            },
            out: Outbox::new(call),
        }
    }

    /// Feeds one event, at `now`. Commands it causes are queued for [`Interpreter::poll`].
    /// Events that do not fit (stale ids, anything after the end) are ignored.
    pub fn handle(&mut self, now: Instant, event: Event) {
        let mut fx = Effects::new(now, &mut self.out);
        self.core.handle(&mut fx, event);
    }

    /// The next command to carry out, in order.
    pub fn poll(&mut self) -> Option<Command> {
        self.out.pop()
    }

    /// True once the call is over for the script (the last command is a `Hangup`). Pending
    /// timers may be dropped; further events are ignored.
    pub fn is_finished(&self) -> bool {
        self.core.finished
    }
}

impl Core {
    fn handle(&mut self, fx: &mut Effects<'_>, event: Event) {
        if self.finished {
            tracing::trace!(?event, "event after the script finished; ignored");
            return;
        }
        match event {
            Event::Start => {
                if !self.started {
                    self.started = true;
                    self.advance(fx);
                }
            }
            Event::CallerHungUp => {
                if let Some(mut step) = self.step.take() {
                    step.abort(fx);
                }
                self.finish(fx, HangupReason::CallerHungUp);
            }
            _ if !self.started => tracing::trace!(?event, "event before Start; ignored"),
            Event::ScriptFetched { fetch_id, result } => self.fetched(fx, fetch_id, result),
            Event::Digits { digits } if !matches!(self.step, Some(Step::Gather(_))) => {
                buffer_typeahead(&mut self.typeahead, &digits);
            }
            event => {
                let flow = match self.step.as_mut() {
                    Some(step) => step.on_event(fx, &event),
                    None => None,
                };
                if let Some(flow) = flow {
                    self.follow(fx, flow);
                }
            }
        }
    }

    /// Carries out what a step decided.
    fn follow(&mut self, fx: &mut Effects<'_>, flow: Flow) {
        match flow {
            Flow::Wait(step) => self.step = Some(step),
            Flow::Next => {
                self.step = None;
                self.advance(fx);
            }
            Flow::Fetch(id) => self.step = Some(Step::Fetch(id)),
            Flow::Hangup(reason) => self.finish(fx, reason),
        }
    }

    /// Starts actions until one has to wait or the script ends. Each turn consumes an action,
    /// so this ends.
    fn advance(&mut self, fx: &mut Effects<'_>) {
        loop {
            let Some(action) = self.remaining.pop_front() else {
                self.finish(fx, HangupReason::ScriptEnded);
                return;
            };
            tracing::debug!(action = action.name(), "starting action");
            match action::start(action, fx, &mut self.typeahead) {
                Flow::Next => continue,
                flow => {
                    self.follow(fx, flow);
                    return;
                }
            }
        }
    }

    fn fetched(
        &mut self,
        fx: &mut Effects<'_>,
        fetch_id: FetchId,
        result: Result<String, FetchError>,
    ) {
        if !matches!(self.step, Some(Step::Fetch(id)) if id == fetch_id) {
            tracing::debug!(%fetch_id, "stale script fetch result; ignored");
            return;
        }
        self.step = None;
        match result {
            Ok(body) if body.trim().is_empty() => {
                tracing::debug!(%fetch_id, "the app returned no script; going on");
            }
            Ok(body) => match Script::parse(&body) {
                Ok(script) => {
                    for warning in script.warnings() {
                        tracing::warn!(%fetch_id, %warning, "fetched script");
                    }
                    self.remaining = script.into_actions().into();
                }
                Err(report) => {
                    tracing::warn!(%fetch_id, errors = report.errors.len(), "fetched script is invalid; going on with the current one");
                    for error in report.errors {
                        fx.push(Command::ScriptError(error));
                    }
                }
            },
            Err(error) => {
                tracing::warn!(%fetch_id, %error, "script fetch failed; going on with the current script")
            }
        }
        self.advance(fx);
    }

    fn finish(&mut self, fx: &mut Effects<'_>, reason: HangupReason) {
        tracing::debug!(%reason, "script finished");
        fx.push(Command::Hangup { reason });
        self.finished = true;
        self.step = None;
        self.remaining.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Any instant will do as the origin of a test's virtual clock.
    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn run(json: &str, answered: bool) -> (Interpreter, Instant) {
        let script = Script::parse(json).unwrap();
        let call = if answered {
            CallInfo::outbound_answered("c1", "914400000001", "914471000000")
        } else {
            CallInfo::inbound("c1", "914400000001", "914471000000")
        };
        (Interpreter::new(script, call), origin())
    }

    fn drain(i: &mut Interpreter) -> Vec<Command> {
        std::iter::from_fn(|| i.poll()).collect()
    }

    #[test]
    fn nothing_happens_before_start() {
        let (mut i, now) = run(r#"[{"action":"hangup"}]"#, false);
        i.handle(now, Event::Digits { digits: "1".into() });
        assert!(drain(&mut i).is_empty());
        i.handle(now, Event::Start);
        assert_eq!(
            drain(&mut i),
            vec![Command::Hangup {
                reason: HangupReason::Hangup
            }]
        );
        assert!(i.is_finished());
        i.handle(now, Event::Start);
        assert!(drain(&mut i).is_empty());
    }

    #[test]
    fn answered_calls_are_not_answered_again() {
        let (mut i, now) = run(r#"[{"action":"speak","text":"hi"}]"#, true);
        i.handle(now, Event::Start);
        let commands = drain(&mut i);
        assert!(!commands.contains(&Command::Answer));
        assert!(matches!(commands[0], Command::Speak { .. }));
    }

    #[test]
    fn caller_hangup_before_start_ends_the_script() {
        let (mut i, now) = run(r#"[{"action":"speak","text":"hi"}]"#, false);
        i.handle(now, Event::CallerHungUp);
        assert_eq!(
            drain(&mut i),
            vec![Command::Hangup {
                reason: HangupReason::CallerHungUp
            }]
        );
        assert!(i.is_finished());
    }

    #[test]
    fn empty_action_list_hangs_up_at_once() {
        let mut i = Interpreter::new(
            Script::from_actions(Vec::new()),
            CallInfo::inbound("c", "a", "b"),
        );
        i.handle(origin(), Event::Start);
        assert_eq!(
            drain(&mut i),
            vec![Command::Hangup {
                reason: HangupReason::ScriptEnded
            }]
        );
    }

    #[test]
    fn interpreter_can_move_between_threads() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Interpreter>();
        assert_send::<Command>();
        assert_send::<Event>();
    }

    #[test]
    fn a_fetched_script_replaces_the_rest() {
        let (mut i, now) = run(
            r#"[{"action":"input","action_url":"https://a.example.com/x"},{"action":"play","file_name":"old.wav"}]"#,
            true,
        );
        i.handle(now, Event::Start);
        i.handle(now, Event::Digits { digits: "5".into() });
        let fetch_id = drain(&mut i)
            .into_iter()
            .find_map(|c| match c {
                Command::FetchScript {
                    fetch_id, payload, ..
                } => {
                    assert_eq!(payload.dtmf, "5");
                    Some(fetch_id)
                }
                _ => None,
            })
            .unwrap();
        i.handle(
            now,
            Event::ScriptFetched {
                fetch_id,
                result: Ok(r#"[{"action":"hangup"}]"#.into()),
            },
        );
        assert_eq!(
            drain(&mut i),
            vec![Command::Hangup {
                reason: HangupReason::Hangup
            }]
        );
    }

    #[test]
    fn timers_are_relative_to_now() {
        let (mut i, now) = run(
            r#"[{"action":"input","action_url":"https://a.example.com/x","timeout":7}]"#,
            true,
        );
        let later = now + Duration::from_secs(100);
        i.handle(later, Event::Start);
        let at = drain(&mut i).into_iter().find_map(|c| match c {
            Command::StartTimer { at, .. } => Some(at),
            _ => None,
        });
        assert_eq!(at, Some(later + Duration::from_secs(7)));
    }
}
