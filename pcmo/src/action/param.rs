//! `param`: set a value that is echoed as `extra_params` in the call's events and CDRs.
//!
//! ```json
//! {"action": "param", "text": "order-1234"}
//! {"action": "param", "data": {"order": 1234, "vip": true, "lang": "ta"}}
//! ```
//!
//! Legacy `text` is a string (the SDK's `setValue`). v3 `data` is an object of at most 10
//! keys matching `^[A-Za-z_][A-Za-z0-9_]*$`, each a string (≤ 256 bytes), number or boolean.
//! The action is instantaneous; a later `param` replaces an earlier one.

use serde_json::{Map, Number, Value};

use crate::command::Command;
use crate::error::{quote, ErrorKind, JsonKind};
use crate::fields::{string_value, Diagnostics, Fields};
use crate::limits::{MAX_PARAM_KEYS, MAX_PARAM_STRING_BYTES};
use crate::pointer::Pointer;
use crate::step::{Effects, Flow};

/// One value of a v3 `data` (or `metadata`) object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// A string.
    String(String),
    /// A number, exactly as written.
    Number(Number),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    fn to_json(&self) -> Value {
        match self {
            Scalar::String(s) => Value::String(s.clone()),
            Scalar::Number(n) => Value::Number(n.clone()),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }
}

/// The value a `param` action sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// Legacy `text`.
    Text(String),
    /// v3 `data`, in key order.
    Data(Vec<(String, Scalar)>),
}

impl ParamValue {
    /// The string to echo as `extra_params` (PIOPIY sends it as a string): the text itself, or
    /// the data as a compact JSON object.
    pub fn to_extra_params(&self) -> String {
        match self {
            ParamValue::Text(text) => text.clone(),
            ParamValue::Data(pairs) => {
                let map: Map<String, Value> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                Value::Object(map).to_string()
            }
        }
    }
}

/// True for a variable name `^[A-Za-z_][A-Za-z0-9_]*$`.
pub(crate) fn is_variable_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a v3 variables object (`param.data`, `params.metadata`).
pub(crate) fn read_variables(
    value: &Value,
    path: Pointer,
    max_keys: usize,
    max_string: usize,
    d: &mut Diagnostics,
) -> Option<Vec<(String, Scalar)>> {
    let Value::Object(map) = value else {
        d.error(
            path,
            ErrorKind::InvalidType {
                expected: "an object",
                found: JsonKind::of(value),
            },
        );
        return None;
    };
    let mut ok = true;
    if map.len() > max_keys {
        d.error(
            path.clone(),
            ErrorKind::TooManyKeys {
                count: map.len(),
                limit: max_keys,
            },
        );
        ok = false;
    }
    let mut out = Vec::with_capacity(map.len().min(max_keys));
    for (key, item) in map {
        let at = path.key(key);
        if !is_variable_name(key) {
            d.error(
                at,
                ErrorKind::InvalidValue {
                    expected: "a name like `order_id` (letters, digits, `_`)",
                    got: quote(key),
                },
            );
            ok = false;
            continue;
        }
        let scalar = match item {
            Value::String(_) => {
                string_value(item, at, max_string, d).map(|s| Scalar::String(s.to_string()))
            }
            Value::Number(n) => Some(Scalar::Number(n.clone())),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            other => {
                d.error(
                    at,
                    ErrorKind::InvalidType {
                        expected: "a string, number or boolean",
                        found: JsonKind::of(other),
                    },
                );
                None
            }
        };
        match scalar {
            Some(s) => out.push((key.clone(), s)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<ParamValue> {
    let value = match (f.has("text"), f.has("data")) {
        (true, true) => {
            f.accept(&["text", "data"]);
            d.error(
                f.at("data"),
                ErrorKind::ConflictingFields {
                    first: "text",
                    second: "data",
                },
            );
            None
        }
        (false, false) => {
            f.accept(&["text", "data"]);
            d.error(
                f.at("text"),
                ErrorKind::MissingOneOf {
                    fields: "`text` or `data`",
                },
            );
            None
        }
        (true, false) => f.number_or_string("text", d).map(ParamValue::Text),
        (false, true) => {
            let path = f.at("data");
            f.raw("data").and_then(|v| {
                read_variables(v, path, MAX_PARAM_KEYS, MAX_PARAM_STRING_BYTES, d)
                    .map(ParamValue::Data)
            })
        }
    };
    f.finish(d);
    value
}

/// Emits `SetParam` and goes on.
pub(crate) fn start(value: ParamValue, fx: &mut Effects<'_>) -> Flow {
    fx.push(Command::SetParam(value));
    Flow::Next
}

pub(crate) fn describe(value: &ParamValue, then: &str) -> Vec<String> {
    vec![format!(
        "param: sets extra_params to {} (sent with the call's events and CDRs), then {then}.",
        quote(&value.to_extra_params())
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::script::Script;

    #[test]
    fn text_and_data_forms() {
        let s = Script::parse(r#"[{"action":"param","text":"abc"},{"action":"param","data":{"a":1,"b_2":"x","c":true}}]"#)
            .unwrap();
        assert_eq!(
            s.actions()[0],
            Action::Param(ParamValue::Text("abc".into()))
        );
        let Action::Param(data) = &s.actions()[1] else {
            panic!()
        };
        assert_eq!(data.to_extra_params(), r#"{"a":1,"b_2":"x","c":true}"#);
    }

    #[test]
    fn data_rules() {
        let e =
            Script::parse(r#"[{"action":"param","data":{"1x":1,"ok":{"nested":1}}}]"#).unwrap_err();
        assert_eq!(
            e.error_codes(),
            vec![
                ("invalid_value", "/0/data/1x"),
                ("invalid_type", "/0/data/ok")
            ]
        );
        let many: Vec<String> = (0..11).map(|i| format!("\"k{i}\":{i}")).collect();
        let json = format!(r#"[{{"action":"param","data":{{{}}}}}]"#, many.join(","));
        let e = Script::parse(&json).unwrap_err();
        assert_eq!(e.error_codes(), vec![("too_many_keys", "/0/data")]);
        let long = "x".repeat(257);
        let e = Script::parse(&format!(
            r#"[{{"action":"param","data":{{"k":"{long}"}}}}]"#
        ))
        .unwrap_err();
        assert_eq!(e.error_codes(), vec![("string_too_long", "/0/data/k")]);
    }

    #[test]
    fn variable_names() {
        assert!(is_variable_name("_a1"));
        assert!(!is_variable_name("a-b"));
        assert!(!is_variable_name(""));
    }
}
