//! A script: JSON text → a checked list of [`Action`]s, or every problem found.

use serde_json::Value;

use crate::action::{self, Action};
use crate::error::{ErrorKind, JsonKind, Report, ScriptWarning};
use crate::fields::{Diagnostics, Fields};
use crate::limits::{MAX_ACTIONS, MAX_SCRIPT_BYTES};
use crate::pointer::Pointer;

/// A valid PCMO script: the actions to run, in order, and the warnings found while checking it.
///
/// The top level is a JSON array of actions (answer URL, `action_url`, REST `pcmo` field). An
/// object `{"pipeline": [...]}` (the v3 REST body shape) is accepted too; its paths then start
/// with `/pipeline`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    actions: Vec<Action>,
    warnings: Vec<ScriptWarning>,
}

impl Script {
    /// Parses and checks a script. On failure the report lists every error (and warning).
    pub fn parse(json: &str) -> Result<Script, Report> {
        Script::parse_bytes(json.as_bytes())
    }

    /// [`Script::parse`] for raw bytes (an HTTP body); bytes that are not UTF-8 are
    /// `invalid_json`. A leading UTF-8 byte-order mark is skipped.
    pub fn parse_bytes(json: &[u8]) -> Result<Script, Report> {
        if json.len() > MAX_SCRIPT_BYTES {
            let mut d = Diagnostics::default();
            d.error(
                Pointer::root(),
                ErrorKind::TooLarge {
                    size: json.len(),
                    limit: MAX_SCRIPT_BYTES,
                },
            );
            return Err(d.into_report());
        }
        let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
        match serde_json::from_slice::<Value>(json) {
            Ok(value) => Script::from_value(&value),
            Err(e) => {
                let mut d = Diagnostics::default();
                d.error(Pointer::root(), invalid_json(&e));
                Err(d.into_report())
            }
        }
    }

    /// Checks an already-parsed JSON value (e.g. the `pcmo` member of a REST body). The size
    /// limit is the caller's business here; every other limit applies.
    pub fn from_value(value: &Value) -> Result<Script, Report> {
        let mut d = Diagnostics::default();
        let actions = read_actions(value, &mut d);
        let report = d.into_report();
        if report.is_ok() {
            Ok(Script {
                actions,
                warnings: report.warnings,
            })
        } else {
            Err(report)
        }
    }

    /// A script made of these actions (for engine-built scripts such as a fallback).
    pub fn from_actions(actions: Vec<Action>) -> Script {
        Script {
            actions,
            warnings: Vec::new(),
        }
    }

    /// The actions, in order.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// Warnings found while checking (unknown fields, unsupported options, duplicates).
    pub fn warnings(&self) -> &[ScriptWarning] {
        &self.warnings
    }

    /// The actions, by value.
    pub fn into_actions(self) -> Vec<Action> {
        self.actions
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when there is no action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Checks a script and returns everything found: what `ringmaster pcmo check` prints. The
/// script is valid when [`Report::is_ok`].
pub fn check(json: &str) -> Report {
    match Script::parse(json) {
        Ok(script) => Report {
            warnings: script.warnings,
            ..Report::default()
        },
        Err(report) => report,
    }
}

fn invalid_json(e: &serde_json::Error) -> ErrorKind {
    let text = e.to_string();
    // serde_json appends " at line L column C"; the position has fields of its own.
    let reason = match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_string(),
        None => text.clone(),
    };
    ErrorKind::InvalidJson {
        line: e.line(),
        column: e.column(),
        reason,
    }
}

fn read_actions(value: &Value, d: &mut Diagnostics) -> Vec<Action> {
    let (items, path) = match value {
        Value::Array(items) => (items.as_slice(), Pointer::root()),
        Value::Object(map) if map.get("pipeline").is_some_and(Value::is_array) => {
            let Some(mut f) = Fields::new(value, Pointer::root(), d) else {
                return Vec::new();
            };
            let items = f.array("pipeline", d);
            f.finish(d);
            match items {
                Some(items) => (items, Pointer::root().key("pipeline")),
                None => return Vec::new(),
            }
        }
        other => {
            d.error(
                Pointer::root(),
                ErrorKind::NotAnArray {
                    found: JsonKind::of(other),
                },
            );
            return Vec::new();
        }
    };
    read_items(items, path, d)
}

fn read_items(items: &[Value], path: Pointer, d: &mut Diagnostics) -> Vec<Action> {
    if items.is_empty() {
        d.error(path, ErrorKind::EmptyScript);
        return Vec::new();
    }
    if items.len() > MAX_ACTIONS {
        d.error(
            path.clone(),
            ErrorKind::TooManyActions {
                count: items.len(),
                limit: MAX_ACTIONS,
            },
        );
    }
    let mut actions: Vec<Action> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| action::parse(item, path.index(i), d))
        .collect();
    // A script lives as long as its call; `filter_map` gives no size hint, so the vector
    // would keep room for four actions (1.4 KiB) under a one-action script.
    actions.shrink_to_fit();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_shapes() {
        assert_eq!(check("{}").error_codes(), vec![("not_an_array", "")]);
        assert_eq!(check("[]").error_codes(), vec![("empty_script", "")]);
        assert_eq!(check("[1,").error_codes(), vec![("invalid_json", "")]);
        assert_eq!(check("").error_codes(), vec![("invalid_json", "")]);
        let r = check(r#"{"pipeline":[{"action":"hangup"}]}"#);
        assert!(r.is_ok(), "{r}");
        assert_eq!(
            check(r#"{"pipeline":[{"action":"x"}]}"#).error_codes(),
            vec![("unknown_action", "/pipeline/0/action")]
        );
    }

    #[test]
    fn invalid_json_has_position() {
        let r = check("[\n{\"action\": }]");
        let e = &r.errors[0];
        assert_eq!(e.code().as_str(), "invalid_json");
        assert!(
            e.message().starts_with("not valid JSON at line 2, column "),
            "{}",
            e.message()
        );
        assert!(
            !e.message().contains(" at line 2 column"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn size_and_count_limits() {
        let big = format!("[{}]", vec![r#"{"action":"hangup"}"#; 20_000].join(","));
        assert_eq!(check(&big).error_codes(), vec![("too_large", "")]);
        let many = format!("[{}]", vec![r#"{"action":"hangup"}"#; 101].join(","));
        assert_eq!(check(&many).error_codes(), vec![("too_many_actions", "")]);
        let hundred = format!("[{}]", vec![r#"{"action":"hangup"}"#; 100].join(","));
        assert!(check(&hundred).is_ok());
    }

    #[test]
    fn collects_errors_from_every_action() {
        let r = check(r#"[{"action":"speak"},{"action":"play"},{"action":"nope"}]"#);
        assert_eq!(
            r.error_codes(),
            vec![
                ("missing_field", "/0/text"),
                ("missing_field", "/1/file_name"),
                ("unknown_action", "/2/action")
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(check(&deep).error_codes(), vec![("invalid_json", "")]);
    }

    #[test]
    fn bom_and_invalid_utf8() {
        assert!(Script::parse_bytes(b"\xEF\xBB\xBF[{\"action\":\"hangup\"}]").is_ok());
        let r = Script::parse_bytes(b"[\"\xFF\"]").unwrap_err();
        assert_eq!(r.error_codes(), vec![("invalid_json", "")]);
    }
}
