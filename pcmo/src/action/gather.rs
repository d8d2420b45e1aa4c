//! Digit collection shared by `input` and `play_get_input`: the rules, where the digits go,
//! the v3 sub-objects (`dtmf`, `retries`, `on_result`, `input`), and the collecting state
//! machine.
//!
//! The interpreter does the collecting itself, with its own timers, so the engine only has to
//! forward each DTMF digit; the rules are applied in one place and tested without a clock.
//!
//! One attempt: play the prompt(s); digits typed during a prompt stop it (barge-in); after the
//! prompt the caller has `first_digit_timeout` for the first digit and `inter_digit_timeout`
//! for each next one. The attempt ends at `max_digits` digits, on `finish_on_key` (not part of
//! the digits), or when a timer runs out. Then:
//! * at least `min_digits` digits → fetch the next script with them;
//! * none ("no input") or too few ("invalid") → if retries are left, play the matching retry
//!   prompt (v3 `no_input_prompt` / `invalid_prompt`) and the main prompt again;
//! * no retries left → fetch the next script with `dtmf: ""`, so the app decides what happens
//!   (ringmaster's choice: PIOPIY does not document this case).

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;

use super::audio::{parse_prompt, Prompt};
use crate::command::{Command, ScriptSource};
use crate::error::{quote, ErrorKind, JsonKind, WarningKind};
use crate::event::Event;
use crate::fields::{Diagnostics, Fields};
use crate::id::{MediaId, TimerId};
use crate::limits::{
    DEFAULT_FIRST_DIGIT_TIMEOUT, DEFAULT_INTER_DIGIT_TIMEOUT, DIGITS_RANGE, DIGIT_TIMEOUT_RANGE,
    RETRY_RANGE, TYPEAHEAD_DIGITS,
};
use crate::pointer::Pointer;
use crate::step::{Effects, Flow, Step};

/// How digits are collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitRules {
    /// Fewer digits than this is "invalid input" (v3 `min_digits`; legacy: 1).
    pub min_digits: u8,
    /// Collection ends at this many digits (legacy `max_digit`, v3 `max_digits`).
    pub max_digits: u8,
    /// This key ends collection early and is not part of the digits (v3 `finish_on_key`;
    /// legacy: none).
    pub finish_on_key: Option<char>,
    /// Wait for the first digit after the prompt (legacy: `timeout`).
    pub first_digit_timeout: Duration,
    /// Wait between digits (legacy: `timeout`).
    pub inter_digit_timeout: Duration,
    /// Throw away digits typed before the input started (v3 `flush_buffer`; default true, so
    /// an early key press on a previous prompt does not answer this one).
    pub flush_buffer: bool,
}

impl DigitRules {
    /// The legacy rules: up to `max_digit` digits, `timeout` seconds per digit, no finish key.
    pub(crate) fn legacy(max_digits: u8, timeout_secs: u64) -> Self {
        DigitRules {
            min_digits: 1,
            max_digits,
            finish_on_key: None,
            first_digit_timeout: Duration::from_secs(timeout_secs),
            inter_digit_timeout: Duration::from_secs(timeout_secs),
            flush_buffer: true,
        }
    }

    fn describe(&self) -> String {
        let count = if self.max_digits == 1 {
            "one digit".to_string()
        } else if self.min_digits == self.max_digits {
            format!("{} digits", self.max_digits)
        } else {
            format!("{} to {} digits", self.min_digits, self.max_digits)
        };
        let finish = match self.finish_on_key {
            Some(key) => format!(", or until the caller presses {key}"),
            None => String::new(),
        };
        let waits = if self.first_digit_timeout == self.inter_digit_timeout {
            format!(
                "waiting up to {} s for each digit",
                self.first_digit_timeout.as_secs()
            )
        } else {
            format!(
                "waiting up to {} s for the first digit and {} s for each next one",
                self.first_digit_timeout.as_secs(),
                self.inter_digit_timeout.as_secs()
            )
        };
        format!("collects {count}{finish}, {waits}")
    }
}

/// Where collected digits go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnResult {
    /// POST `{from, to, dtmf, cmiuuid, cmuuid}` to this URL (legacy `action_url`, v3
    /// `on_result {"type": "url"}`); the PCMO in the response replaces the rest of the script.
    Url(String),
    /// v3 `on_result {"type": "pcmo", "ref": ...}`: run the stored script with this reference.
    Pcmo {
        /// The reference.
        reference: String,
    },
}

impl OnResult {
    fn source(&self) -> ScriptSource {
        match self {
            OnResult::Url(url) => ScriptSource::Url(url.clone()),
            OnResult::Pcmo { reference } => ScriptSource::Reference(reference.clone()),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            OnResult::Url(url) => format!(
                "POSTs them to {url} (as {{from, to, dtmf, cmiuuid, cmuuid}}); the PCMO it returns replaces the rest of this script"
            ),
            OnResult::Pcmo { reference } => {
                format!("runs the stored PCMO {reference:?} in place of the rest of this script")
            }
        }
    }
}

/// Retry policy of `play_get_input`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retries {
    /// How many times the prompt is played *again* after no or invalid input (legacy
    /// `max_retry`, documented default 1; v3 `retries.max`, default 0). The caller hears the
    /// prompt at most `1 + max` times.
    pub max: u8,
    /// Played before the prompt again after no input (v3).
    pub no_input_prompt: Option<Prompt>,
    /// Played before the prompt again after too few digits (v3).
    pub invalid_prompt: Option<Prompt>,
}

impl Retries {
    pub(crate) fn describe(&self) -> Option<String> {
        (self.max > 0).then(|| {
            let times = if self.max == 1 {
                "once more".to_string()
            } else {
                format!("up to {} more times", self.max)
            };
            let extra = match (&self.no_input_prompt, &self.invalid_prompt) {
                (None, None) => String::new(),
                (a, b) => {
                    let mut parts = Vec::new();
                    if let Some(p) = a {
                        parts.push(format!("after no input it first {}", p.describe()));
                    }
                    if let Some(p) = b {
                        parts.push(format!("after too few digits it first {}", p.describe()));
                    }
                    format!(" ({})", parts.join("; "))
                }
            };
            format!("On no input or too few digits the prompt is played {times}{extra}.")
        })
    }
}

const HTTP: &[&str] = &["http", "https"];
const HTTP_URL: &str = "an http:// or https:// URL";

/// v3 `dtmf {min_digits, max_digits, finish_on_key, first_digit_timeout, inter_digit_timeout,
/// flush_buffer}`; all optional. Defaults: 1 digit, no finish key, 5 s / 3 s, flush.
pub(crate) fn read_dtmf(f: Option<Fields<'_>>, d: &mut Diagnostics) -> DigitRules {
    let mut rules = DigitRules {
        min_digits: 1,
        max_digits: 1,
        finish_on_key: None,
        first_digit_timeout: Duration::from_secs(DEFAULT_FIRST_DIGIT_TIMEOUT),
        inter_digit_timeout: Duration::from_secs(DEFAULT_INTER_DIGIT_TIMEOUT),
        flush_buffer: true,
    };
    let Some(mut f) = f else { return rules };
    let min = f.uint("min_digits", DIGITS_RANGE, "", d);
    let max = f.uint("max_digits", DIGITS_RANGE, "", d);
    // Unset max_digits follows min_digits: "4 digits" needs only `min_digits: 4`.
    let (min, max) = match (min, max) {
        (Some(min), Some(max)) if min > max => {
            d.error(
                f.at("min_digits"),
                ErrorKind::MinAboveMax {
                    min_field: "min_digits",
                    min,
                    max_field: "max_digits",
                    max,
                },
            );
            (min, min)
        }
        (min, max) => {
            let min = min.unwrap_or(1);
            (min, max.unwrap_or(min))
        }
    };
    rules.min_digits = u8::try_from(min).unwrap_or(u8::MAX);
    rules.max_digits = u8::try_from(max).unwrap_or(u8::MAX);
    if let Some(key) = f.string("finish_on_key", d) {
        let mut chars = key.chars();
        match (chars.next(), chars.next()) {
            (None, _) => {}
            (Some(c), None) if is_dtmf(c) => rules.finish_on_key = Some(c.to_ascii_uppercase()),
            _ => d.error(
                f.at("finish_on_key"),
                ErrorKind::InvalidValue {
                    expected: "one key: 0-9, *, # or A-D",
                    got: quote(key),
                },
            ),
        }
    }
    if let Some(s) = f.uint("first_digit_timeout", DIGIT_TIMEOUT_RANGE, " seconds", d) {
        rules.first_digit_timeout = Duration::from_secs(s);
    }
    if let Some(s) = f.uint("inter_digit_timeout", DIGIT_TIMEOUT_RANGE, " seconds", d) {
        rules.inter_digit_timeout = Duration::from_secs(s);
    }
    if let Some(flush) = f.boolean("flush_buffer", d) {
        rules.flush_buffer = flush;
    }
    f.finish(d);
    rules
}

/// v3 `on_result {"type": "url", "url": ...}` or `{"type": "pcmo", "ref": ...}`.
pub(crate) fn read_on_result(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<OnResult> {
    #[derive(Clone, Copy)]
    enum Kind {
        Url,
        Pcmo,
    }
    let kind = if f.has("type") {
        f.choice(
            "type",
            &[("url", Kind::Url), ("pcmo", Kind::Pcmo)],
            "\"url\" or \"pcmo\"",
            d,
        )
    } else {
        f.accept(&["type"]);
        f.missing("type", d);
        None
    };
    let result = match kind {
        Some(Kind::Url) => {
            f.accept(&["ref"]);
            f.required_url("url", HTTP, HTTP_URL, d)
                .map(|u| OnResult::Url(u.to_string()))
        }
        Some(Kind::Pcmo) => {
            f.accept(&["url"]);
            f.required_string("ref", d).map(|r| OnResult::Pcmo {
                reference: r.to_string(),
            })
        }
        None => {
            f.accept(&["url", "ref"]);
            None
        }
    };
    f.finish(d);
    result
}

/// v3 `retries {max, no_input_prompt, invalid_prompt}`.
pub(crate) fn read_retries(mut f: Fields<'_>, d: &mut Diagnostics) -> Retries {
    let max = f.uint("max", RETRY_RANGE, "", d).unwrap_or(0);
    let prompt = |key: &'static str, f: &mut Fields<'_>, d: &mut Diagnostics| {
        let path = f.at(key);
        f.raw(key).and_then(|v| parse_prompt(v, path, d))
    };
    let no_input_prompt = prompt("no_input_prompt", &mut f, d);
    let invalid_prompt = prompt("invalid_prompt", &mut f, d);
    f.finish(d);
    Retries {
        max: u8::try_from(max).unwrap_or(u8::MAX),
        no_input_prompt,
        invalid_prompt,
    }
}

/// v3 `input: ["dtmf"]`. `speech` is refused with its own code: ringmaster has no speech
/// recognition, and a caller waiting to be understood would otherwise hear nothing happen.
pub(crate) fn check_input_modes(value: &Value, path: Pointer, d: &mut Diagnostics) {
    let Value::Array(modes) = value else {
        d.error(
            path,
            ErrorKind::InvalidType {
                expected: "an array",
                found: JsonKind::of(value),
            },
        );
        return;
    };
    if modes.is_empty() {
        d.error(path, ErrorKind::EmptyList { field: "input" });
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let at = path.index(i);
        match mode {
            Value::String(m) if m == "speech" => d.error(at, ErrorKind::SpeechInputUnsupported),
            Value::String(m) if m == "dtmf" => {
                if seen.contains(&"dtmf") {
                    d.warn(
                        at,
                        WarningKind::DuplicateValue {
                            value: "dtmf".into(),
                        },
                    );
                }
                seen.push("dtmf");
            }
            Value::String(m) => d.error(
                at,
                ErrorKind::InvalidValue {
                    expected: "\"dtmf\"",
                    got: quote(m),
                },
            ),
            other => d.error(
                at,
                ErrorKind::InvalidType {
                    expected: "a string",
                    found: JsonKind::of(other),
                },
            ),
        }
    }
}

/// Everything a gather needs to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GatherSpec {
    pub(crate) prompt: Option<Prompt>,
    pub(crate) rules: DigitRules,
    pub(crate) retries: Retries,
    pub(crate) on_result: OnResult,
}

impl GatherSpec {
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}; then {}",
            self.rules.describe(),
            self.on_result.describe()
        )
    }
}

/// A running gather.
#[derive(Debug)]
pub(crate) struct Gathering {
    spec: GatherSpec,
    retries_left: u8,
    digits: String,
    /// Prompts still to play in this attempt.
    queue: VecDeque<Prompt>,
    playing: Option<MediaId>,
    timer: Option<TimerId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    NoInput,
    Invalid,
}

/// True for a DTMF key (RFC 4733 events 0–15).
pub(crate) fn is_dtmf(c: char) -> bool {
    matches!(c.to_ascii_uppercase(), '0'..='9' | '*' | '#' | 'A'..='D')
}

/// Keeps digits typed while nothing collects them, for a later non-flushing input.
pub(crate) fn buffer_typeahead(buffer: &mut String, digits: &str) {
    for c in digits.chars().filter(|c| is_dtmf(*c)) {
        if buffer.len() < TYPEAHEAD_DIGITS {
            buffer.push(c.to_ascii_uppercase());
        }
    }
}

impl Gathering {
    /// Starts collecting (the A leg is already answered: see [`crate::action::Requirement`]).
    pub(crate) fn start(spec: GatherSpec, fx: &mut Effects<'_>, typeahead: &mut String) -> Flow {
        fx.push(Command::CollectDigits(spec.rules.clone()));
        let buffered = std::mem::take(typeahead);
        let mut g = Gathering {
            retries_left: spec.retries.max,
            spec,
            digits: String::new(),
            queue: VecDeque::new(),
            playing: None,
            timer: None,
        };
        let flow = if !g.spec.rules.flush_buffer && !buffered.is_empty() {
            // The caller already answered this prompt: skip it and take the digits.
            g.take_digits(fx, &buffered)
        } else {
            g.queue.extend(g.spec.prompt.clone());
            g.play_or_listen(fx)
        };
        match flow {
            Some(flow) => flow,
            None => Flow::Wait(Step::Gather(Box::new(g))),
        }
    }

    pub(crate) fn on_event(&mut self, fx: &mut Effects<'_>, event: &Event) -> Option<Flow> {
        match event {
            Event::MediaDone { media_id } if self.playing == Some(*media_id) => {
                self.playing = None;
                self.play_or_listen(fx)
            }
            Event::Digits { digits } => self.take_digits(fx, digits),
            Event::TimerFired(id) if self.timer == Some(*id) => self.complete(fx),
            _ => None,
        }
    }

    /// Plays the next queued prompt, or starts waiting for digits.
    fn play_or_listen(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        if let Some(prompt) = self.queue.pop_front() {
            self.playing = Some(prompt.start(fx));
            self.timer = None;
        } else {
            let wait = if self.digits.is_empty() {
                self.spec.rules.first_digit_timeout
            } else {
                self.spec.rules.inter_digit_timeout
            };
            self.timer = Some(fx.timer(wait));
        }
        None
    }

    fn take_digits(&mut self, fx: &mut Effects<'_>, digits: &str) -> Option<Flow> {
        let keys: Vec<char> = digits
            .chars()
            .filter(|c| is_dtmf(*c))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if keys.is_empty() {
            return None;
        }
        if let Some(media_id) = self.playing.take() {
            fx.push(Command::StopMedia { media_id });
            self.queue.clear();
        }
        for key in keys {
            if Some(key) == self.spec.rules.finish_on_key {
                return self.complete(fx);
            }
            self.digits.push(key);
            if self.digits.len() >= usize::from(self.spec.rules.max_digits) {
                return self.complete(fx);
            }
        }
        self.timer = Some(fx.timer(self.spec.rules.inter_digit_timeout));
        None
    }

    /// The attempt is over: hand the digits on, or retry.
    fn complete(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        self.timer = None;
        let verdict = if self.digits.is_empty() {
            Verdict::NoInput
        } else if self.digits.len() < usize::from(self.spec.rules.min_digits) {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        if verdict == Verdict::Valid {
            let digits = std::mem::take(&mut self.digits);
            return Some(self.fetch(fx, digits));
        }
        if self.retries_left == 0 {
            return Some(self.fetch(fx, String::new()));
        }
        self.retries_left -= 1;
        self.digits.clear();
        let lead = match verdict {
            Verdict::Invalid => self.spec.retries.invalid_prompt.clone(),
            _ => self.spec.retries.no_input_prompt.clone(),
        };
        self.queue.extend(lead);
        self.queue.extend(self.spec.prompt.clone());
        self.play_or_listen(fx)
    }

    fn fetch(&mut self, fx: &mut Effects<'_>, dtmf: String) -> Flow {
        let fetch_id = fx.fetch_id();
        let payload = fx.digits_payload(dtmf);
        fx.push(Command::FetchScript {
            fetch_id,
            source: self.spec.on_result.source(),
            payload,
        });
        Flow::Fetch(fetch_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtmf(json: Value) -> (DigitRules, Vec<(&'static str, String)>) {
        let mut d = Diagnostics::default();
        let f = Fields::new(&json, Pointer::root().key("dtmf"), &mut d);
        let rules = read_dtmf(f, &mut d);
        let errors = d
            .into_report()
            .errors
            .iter()
            .map(|e| (e.code().as_str(), e.path.to_string()))
            .collect();
        (rules, errors)
    }

    #[test]
    fn dtmf_defaults_and_min_only() {
        let (rules, errors) = dtmf(serde_json::json!({}));
        assert!(errors.is_empty());
        assert_eq!((rules.min_digits, rules.max_digits), (1, 1));
        assert_eq!(rules.first_digit_timeout, Duration::from_secs(5));
        assert_eq!(rules.inter_digit_timeout, Duration::from_secs(3));
        assert!(rules.flush_buffer);
        let (rules, _) = dtmf(serde_json::json!({"min_digits": 4}));
        assert_eq!((rules.min_digits, rules.max_digits), (4, 4));
    }

    #[test]
    fn dtmf_errors() {
        let (_, errors) = dtmf(
            serde_json::json!({"min_digits": 5, "max_digits": 3, "finish_on_key": "##", "first_digit_timeout": 0}),
        );
        assert_eq!(
            errors,
            vec![
                ("invalid_value", "/dtmf/min_digits".to_string()),
                ("invalid_value", "/dtmf/finish_on_key".to_string()),
                ("out_of_range", "/dtmf/first_digit_timeout".to_string()),
            ]
        );
        let (rules, errors) = dtmf(serde_json::json!({"finish_on_key": "#", "max_digits": "6"}));
        assert!(errors.is_empty());
        assert_eq!(rules.finish_on_key, Some('#'));
        assert_eq!(rules.max_digits, 6);
    }

    #[test]
    fn speech_is_refused_at_its_index() {
        let mut d = Diagnostics::default();
        check_input_modes(
            &serde_json::json!(["dtmf", "speech"]),
            Pointer::root().key("input"),
            &mut d,
        );
        assert_eq!(
            d.into_report().error_codes(),
            vec![("speech_input_unsupported", "/input/1")]
        );
    }

    #[test]
    fn typeahead_is_bounded_and_filtered() {
        let mut buffer = String::new();
        buffer_typeahead(&mut buffer, "1x2*");
        assert_eq!(buffer, "12*");
        buffer_typeahead(&mut buffer, &"9".repeat(100));
        assert_eq!(buffer.len(), TYPEAHEAD_DIGITS);
    }
}
