//! The PCMO actions, one module per action (as mini-redis does with its commands).
//!
//! Each module owns three things about its action: the typed form and how it is parsed from
//! JSON (both dialects), how it runs (`start`, and for the long-running ones a state machine),
//! and how it is described in plain words for `explain`. This module owns the [`Action`] enum,
//! the dispatch by `"action"` name, and each action's precondition ([`Requirement`]).
//!
//! Dialects: PIOPIY's legacy actions and its v3 "pipeline" shapes share action names. An action
//! is read as v3 when it carries a v3-only field (`params`/`endpoints` for connect; `prompt`,
//! `dtmf`, `on_result`, `retries` or `input` for the input actions; `data` for param), otherwise
//! as legacy. Both may be mixed in one script.

pub mod audio;
pub mod bridge;
pub mod connect;
pub mod gather;
pub mod hangup;
pub mod input;
pub mod param;
pub mod play;
pub mod play_get_input;
pub mod record;
pub mod speak;
pub mod stream;

use serde_json::Value;

use crate::error::{quote, ErrorKind, JsonKind};
use crate::fields::{Diagnostics, Fields};
use crate::pointer::Pointer;
use crate::step::{Effects, Flow};

use self::connect::Connect;
use self::input::Input;
use self::param::ParamValue;
use self::play::Play;
use self::play_get_input::PlayGetInput;
use self::record::Recording;
use self::speak::Speak;
use self::stream::Stream;

/// Which PIOPIY dialect an action was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// The v1/v2 answer-URL actions.
    Legacy,
    /// The v3 pipeline shapes.
    V3,
}

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// `connect` or `bridge`: ring targets and bridge the first to answer.
    Connect(Connect),
    /// `play`: play a file.
    Play(Play),
    /// `speak`: text to speech.
    Speak(Speak),
    /// `input`: collect digits and send them to the app.
    Input(Input),
    /// `play_get_input`: play a prompt, collect digits, retry, send them to the app.
    PlayGetInput(PlayGetInput),
    /// `record`: record the call in the background.
    Record(Recording),
    /// `hangup`: end the call.
    Hangup,
    /// `param`: set the call's `extra_params`.
    Param(ParamValue),
    /// `stream`: stream the call's audio to a WebSocket.
    Stream(Stream),
}

/// What an action needs before it can run. The interpreter meets the need (answering the A leg)
/// right before starting the action, so no action hides that check inside itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Runs on a ringing or answered call alike.
    Nothing,
    /// Needs the A leg answered (media flows to and from the caller).
    AnsweredCall,
}

/// The action names, in the order the error message lists them.
pub const ACTION_NAMES: &[&str] = &[
    "connect",
    "bridge",
    "play",
    "speak",
    "input",
    "play_get_input",
    "record",
    "hangup",
    "param",
    "stream",
];

impl Action {
    /// The action's name as written in the script (`"bridge"` for a PSTN bridge).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Connect(c) => c.kind.as_str(),
            Action::Play(_) => "play",
            Action::Speak(_) => "speak",
            Action::Input(_) => "input",
            Action::PlayGetInput(_) => "play_get_input",
            Action::Record(_) => "record",
            Action::Hangup => "hangup",
            Action::Param(_) => "param",
            Action::Stream(_) => "stream",
        }
    }

    /// What the action needs before it runs. `connect`/`bridge` need nothing: the caller hears
    /// ringback while the targets ring and is answered only when a target answers.
    pub fn requires(&self) -> Requirement {
        match self {
            Action::Connect(_) | Action::Hangup | Action::Param(_) => Requirement::Nothing,
            // Waits for a callee to answer (the caller is answered with it).
            Action::Stream(s) if s.stream_on_answer => Requirement::Nothing,
            Action::Play(_)
            | Action::Speak(_)
            | Action::Input(_)
            | Action::PlayGetInput(_)
            | Action::Record(_)
            | Action::Stream(_) => Requirement::AnsweredCall,
        }
    }

    /// Plain-words description: the first line is a summary, the rest details. `then` says
    /// what comes after this action ("go on with step 3").
    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        match self {
            Action::Connect(c) => c.describe(then),
            Action::Play(p) => p.describe(then),
            Action::Speak(s) => s.describe(then),
            Action::Input(i) => i.describe(then),
            Action::PlayGetInput(p) => p.describe(then),
            Action::Record(r) => record::describe(r, then),
            Action::Hangup => hangup::describe(),
            Action::Param(p) => param::describe(p, then),
            Action::Stream(s) => s.describe(then),
        }
    }
}

/// Parses one action at `path`. Returns `None` when it has errors (all recorded in `d`).
pub(crate) fn parse(value: &Value, path: Pointer, d: &mut Diagnostics) -> Option<Action> {
    let mut f = Fields::new(value, path, d)?;
    let name = match f.raw("action") {
        None => {
            f.missing("action", d);
            return None;
        }
        Some(Value::String(name)) => name.as_str(),
        Some(other) => {
            d.error(
                f.at("action"),
                ErrorKind::InvalidType {
                    expected: "a string",
                    found: JsonKind::of(other),
                },
            );
            return None;
        }
    };
    let errors_before = d.error_count();
    let action = match name {
        "connect" => connect::parse(f, connect::ConnectKind::Connect, d).map(Action::Connect),
        "bridge" => bridge::parse(f, d).map(Action::Connect),
        "play" => play::parse(f, d).map(Action::Play),
        "speak" => speak::parse(f, d).map(Action::Speak),
        "input" => input::parse(f, d).map(Action::Input),
        "play_get_input" => play_get_input::parse(f, d).map(Action::PlayGetInput),
        "record" => record::parse(f, d).map(Action::Record),
        "hangup" => hangup::parse(f, d).map(|()| Action::Hangup),
        "param" => param::parse(f, d).map(Action::Param),
        "stream" => stream::parse(f, d).map(Action::Stream),
        unknown => {
            // No field warnings for an unknown action: we cannot know its fields.
            let hint = ACTION_NAMES
                .iter()
                .copied()
                .find(|known| known.eq_ignore_ascii_case(unknown));
            d.error(
                f.at("action"),
                ErrorKind::UnknownAction {
                    name: quote(unknown),
                    hint,
                },
            );
            return None;
        }
    };
    // An action parser may build a value from defaults after recording an error in a nested
    // field; such an action is still invalid.
    action.filter(|_| d.error_count() == errors_before)
}

/// Starts `action`: meets its [`Requirement`], then runs it until it has to wait.
/// `typeahead` holds digits the caller typed while no input was collecting them.
pub(crate) fn start(action: Action, fx: &mut Effects<'_>, typeahead: &mut String) -> Flow {
    if action.requires() == Requirement::AnsweredCall {
        fx.ensure_answered();
    }
    match action {
        Action::Connect(c) => connect::ring::Ringing::start(c, fx),
        Action::Play(p) => p.start(fx),
        Action::Speak(s) => s.start(fx),
        Action::Input(i) => i.start(fx, typeahead),
        Action::PlayGetInput(p) => p.start(fx, typeahead),
        Action::Record(r) => record::start(r, fx),
        Action::Hangup => hangup::start(),
        Action::Param(p) => param::start(p, fx),
        Action::Stream(s) => s.start(fx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(value: Value) -> Vec<(&'static str, String)> {
        let mut d = Diagnostics::default();
        let _ = parse(&value, Pointer::root().index(0), &mut d);
        d.into_report()
            .errors
            .iter()
            .map(|e| (e.code().as_str(), e.path.to_string()))
            .collect()
    }

    #[test]
    fn action_name_is_required_and_a_string() {
        assert_eq!(
            codes(json!({"text": "x"})),
            vec![("missing_field", "/0/action".into())]
        );
        assert_eq!(
            codes(json!({"action": 3})),
            vec![("invalid_type", "/0/action".into())]
        );
        assert_eq!(codes(json!("play")), vec![("invalid_type", "/0".into())]);
    }

    #[test]
    fn unknown_action_is_an_error() {
        assert_eq!(
            codes(json!({"action": "dial"})),
            vec![("unknown_action", "/0/action".into())]
        );
    }

    #[test]
    fn preconditions_are_explicit() {
        assert_eq!(Action::Hangup.requires(), Requirement::Nothing);
        assert_eq!(
            Action::Speak(Speak { text: "hi".into() }).requires(),
            Requirement::AnsweredCall
        );
    }
}
