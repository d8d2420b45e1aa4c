//! `play_get_input`: play a prompt, collect DTMF digits (typing over the prompt stops it),
//! replay on no input, and send the digits to the app, whose answer replaces the rest of the
//! script.
//!
//! Legacy (as the PIOPIY SDKs build it):
//! ```json
//! {"action": "play_get_input", "action_url": "https://app.example.com/menu",
//!  "file_name": "menu.wav", "max_digit": 1, "max_retry": 3, "timeout": 5}
//! ```
//! `action_url` and one of `file_name`/`file_url` are required. `max_digit` defaults to 1
//! (1–32); `max_retry` to 1, the documented default (the Python SDK sends 3), range 0–10, the
//! number of replays after the first play; `timeout` to 1 s, the documented default (the SDKs
//! send 5), range 1–60, used for the first digit after the prompt and between digits.
//!
//! v3:
//! ```json
//! {"action": "play_get_input",
//!  "prompt": {"type": "say", "say": "Press 1 for sales", "language": "en-US", "voice_id": "female"},
//!  "input": ["dtmf"], "dtmf": {"max_digits": 1, "first_digit_timeout": 5},
//!  "retries": {"max": 1, "no_input_prompt": {"type": "file", "file_name": "sorry.wav"}},
//!  "on_result": {"type": "url", "url": "https://app.example.com/menu"}}
//! ```
//! `prompt` and `on_result` are required; `input` defaults to `["dtmf"]` and `"speech"` is an
//! error (`speech_input_unsupported`); `retries.max` defaults to 0.

use super::audio::{legacy_source, parse_prompt, Prompt};
use super::gather::{
    check_input_modes, read_dtmf, read_on_result, read_retries, DigitRules, GatherSpec, Gathering,
    OnResult, Retries,
};
use super::Dialect;
use crate::fields::{Diagnostics, Fields};
use crate::limits::{
    DEFAULT_MAX_RETRY, DEFAULT_PLAY_GET_INPUT_TIMEOUT, DIGITS_RANGE, DIGIT_TIMEOUT_RANGE,
    RETRY_RANGE,
};
use crate::step::{Effects, Flow};

/// A `play_get_input` action.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayGetInput {
    /// Which dialect it was written in.
    pub dialect: Dialect,
    /// The prompt.
    pub prompt: Prompt,
    /// How digits are collected.
    pub rules: DigitRules,
    /// When the prompt is replayed.
    pub retries: Retries,
    /// Where the digits go.
    pub on_result: OnResult,
}

const V3_FIELDS: &[&str] = &["prompt", "input", "dtmf", "retries", "on_result"];
const HTTP: &[&str] = &["http", "https"];
const HTTP_URL: &str = "an http:// or https:// URL";

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<PlayGetInput> {
    let parsed = if V3_FIELDS.iter().any(|k| f.has(k)) {
        parse_v3(&mut f, d)
    } else {
        parse_legacy(&mut f, d)
    };
    f.finish(d);
    parsed
}

fn parse_legacy(f: &mut Fields<'_>, d: &mut Diagnostics) -> Option<PlayGetInput> {
    let url = f.required_url("action_url", HTTP, HTTP_URL, d);
    let source = legacy_source(f, d);
    let max_digit = f.uint("max_digit", DIGITS_RANGE, "", d).unwrap_or(1);
    let max_retry = f
        .uint("max_retry", RETRY_RANGE, "", d)
        .unwrap_or(DEFAULT_MAX_RETRY);
    let timeout = f
        .uint("timeout", DIGIT_TIMEOUT_RANGE, " seconds", d)
        .unwrap_or(DEFAULT_PLAY_GET_INPUT_TIMEOUT);
    Some(PlayGetInput {
        dialect: Dialect::Legacy,
        prompt: Prompt::Audio(source?),
        rules: DigitRules::legacy(u8::try_from(max_digit).unwrap_or(u8::MAX), timeout),
        retries: Retries {
            max: u8::try_from(max_retry).unwrap_or(u8::MAX),
            ..Retries::default()
        },
        on_result: OnResult::Url(url?.to_string()),
    })
}

fn parse_v3(f: &mut Fields<'_>, d: &mut Diagnostics) -> Option<PlayGetInput> {
    let prompt = match f.raw("prompt") {
        Some(v) => parse_prompt(v, f.at("prompt"), d),
        None => {
            f.missing("prompt", d);
            None
        }
    };
    if let Some(modes) = f.raw("input") {
        check_input_modes(modes, f.at("input"), d);
    }
    let dtmf = f.object("dtmf", d);
    let rules = read_dtmf(dtmf, d);
    let retries = f
        .object("retries", d)
        .map(|o| read_retries(o, d))
        .unwrap_or_default();
    let on_result = if f.has("on_result") {
        f.object("on_result", d).and_then(|o| read_on_result(o, d))
    } else {
        f.accept(&["on_result"]);
        f.missing("on_result", d);
        None
    };
    Some(PlayGetInput {
        dialect: Dialect::V3,
        prompt: prompt?,
        rules,
        retries,
        on_result: on_result?,
    })
}

impl PlayGetInput {
    fn spec(&self) -> GatherSpec {
        GatherSpec {
            prompt: Some(self.prompt.clone()),
            rules: self.rules.clone(),
            retries: self.retries.clone(),
            on_result: self.on_result.clone(),
        }
    }

    /// Starts the prompt and the collection.
    pub(crate) fn start(self, fx: &mut Effects<'_>, typeahead: &mut String) -> Flow {
        Gathering::start(self.spec(), fx, typeahead)
    }

    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        let mut lines = vec![format!(
            "play_get_input: answers the call if needed, {} (typing stops the prompt), {}.",
            self.prompt.describe(),
            self.spec().describe()
        )];
        if let Some(retries) = self.retries.describe() {
            lines.push(retries);
        }
        lines.push(format!(
            "If there is still no valid input, the app gets the request with an empty dtmf. If the app returns no usable script, {then}."
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::audio::AudioSource;
    use crate::action::Action;
    use crate::script::Script;
    use std::time::Duration;

    #[test]
    fn legacy_defaults_are_the_documented_ones() {
        let s = Script::parse(r#"[{"action":"play_get_input","action_url":"https://a.example.com/x","file_name":"m.wav"}]"#)
            .unwrap();
        let Action::PlayGetInput(p) = &s.actions()[0] else {
            panic!()
        };
        assert_eq!(p.rules.max_digits, 1);
        assert_eq!(p.retries.max, 1);
        assert_eq!(p.rules.first_digit_timeout, Duration::from_secs(1));
        assert_eq!(
            p.prompt,
            Prompt::Audio(AudioSource::FileName("m.wav".into()))
        );
    }

    #[test]
    fn v3_collects_all_errors() {
        let e = Script::parse(
            r#"[{"action":"play_get_input","prompt":{"type":"file"},"input":["speech"],"on_result":{"type":"url","url":"ftp://x"}}]"#,
        )
        .unwrap_err();
        assert_eq!(
            e.error_codes(),
            vec![
                ("missing_field", "/0/prompt/file_name"),
                ("speech_input_unsupported", "/0/input/0"),
                ("invalid_url", "/0/on_result/url"),
            ]
        );
    }
}
