//! `input`: collect DTMF digits (no prompt) and send them to the app, whose answer replaces
//! the rest of the script.
//!
//! Legacy:
//! ```json
//! {"action": "input", "action_url": "https://app.example.com/dtmf", "max_digit": 4, "timeout": 10}
//! ```
//! `action_url` is required; `max_digit` defaults to 1 (range 1–32) and `timeout` to 5 s
//! (range 1–60), used both for the first digit and between digits.
//!
//! v3:
//! ```json
//! {"action": "input", "dtmf": {"max_digits": 4, "finish_on_key": "#"},
//!  "on_result": {"type": "url", "url": "https://app.example.com/dtmf"}}
//! ```
//! `on_result` is required; `dtmf` is optional (see [`DigitRules`] for defaults).

use super::gather::{
    read_dtmf, read_on_result, DigitRules, GatherSpec, Gathering, OnResult, Retries,
};
use super::Dialect;
use crate::fields::{Diagnostics, Fields};
use crate::limits::{DEFAULT_INPUT_TIMEOUT, DIGITS_RANGE, DIGIT_TIMEOUT_RANGE};
use crate::step::{Effects, Flow};

/// An `input` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Which dialect it was written in.
    pub dialect: Dialect,
    /// How digits are collected.
    pub rules: DigitRules,
    /// Where they go.
    pub on_result: OnResult,
}

const HTTP: &[&str] = &["http", "https"];
const HTTP_URL: &str = "an http:// or https:// URL";

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<Input> {
    let input = if f.has("on_result") || f.has("dtmf") {
        let dtmf = f.object("dtmf", d);
        let rules = read_dtmf(dtmf, d);
        let on_result = match f.object("on_result", d) {
            Some(o) => read_on_result(o, d),
            None => {
                if !f.has("on_result") {
                    f.missing("on_result", d);
                }
                None
            }
        };
        on_result.map(|on_result| Input {
            dialect: Dialect::V3,
            rules,
            on_result,
        })
    } else {
        let url = f.required_url("action_url", HTTP, HTTP_URL, d);
        let max_digit = f.uint("max_digit", DIGITS_RANGE, "", d).unwrap_or(1);
        let timeout = f
            .uint("timeout", DIGIT_TIMEOUT_RANGE, " seconds", d)
            .unwrap_or(DEFAULT_INPUT_TIMEOUT);
        url.map(|url| Input {
            dialect: Dialect::Legacy,
            rules: DigitRules::legacy(u8::try_from(max_digit).unwrap_or(u8::MAX), timeout),
            on_result: OnResult::Url(url.to_string()),
        })
    };
    f.finish(d);
    input
}

impl Input {
    fn spec(&self) -> GatherSpec {
        GatherSpec {
            prompt: None,
            rules: self.rules.clone(),
            retries: Retries::default(),
            on_result: self.on_result.clone(),
        }
    }

    /// Starts collecting.
    pub(crate) fn start(self, fx: &mut Effects<'_>, typeahead: &mut String) -> Flow {
        Gathering::start(self.spec(), fx, typeahead)
    }

    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        vec![
            format!("input: answers the call if needed and {}.", self.spec().describe()),
            format!("If the caller types nothing, the app still gets the request with an empty dtmf. If the app returns no usable script, {then}."),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::script::Script;
    use std::time::Duration;

    #[test]
    fn sdk_shape_legacy() {
        let s = Script::parse(r#"[{"action":"input","action_url":"https://app.example.com/d","max_digit":4,"timeout":10}]"#).unwrap();
        let Action::Input(input) = &s.actions()[0] else {
            panic!()
        };
        assert_eq!(input.dialect, Dialect::Legacy);
        assert_eq!(input.rules.max_digits, 4);
        assert_eq!(input.rules.first_digit_timeout, Duration::from_secs(10));
        assert_eq!(
            input.on_result,
            OnResult::Url("https://app.example.com/d".into())
        );
    }

    #[test]
    fn v3_needs_on_result() {
        let e = Script::parse(r#"[{"action":"input","dtmf":{"max_digits":2}}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("missing_field", "/0/on_result")]);
        let e = Script::parse(r#"[{"action":"input"}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("missing_field", "/0/action_url")]);
    }
}
