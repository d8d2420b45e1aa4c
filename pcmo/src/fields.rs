//! Reading typed fields out of a JSON object while collecting every problem.
//!
//! The schema layer never stops at the first problem: each reader records what is wrong in
//! [`Diagnostics`] and returns `None`, and the caller carries on with the next field. A reader
//! also remembers which keys it was asked for, so [`Fields::finish`] can warn about the rest
//! (unknown fields are ignored, never fatal, as PIOPIY does).
//!
//! Leniencies, chosen for compatibility with what the PIOPIY SDKs and hand-written scripts send:
//! numbers may be JSON numbers or digit strings (`20` or `"20"`); booleans may be `true` or
//! `"true"`; a field set to `null` counts as absent (the Catapult SDK habit).

use serde_json::{Map, Value};

use crate::error::{quote, ErrorKind, JsonKind, Report, ScriptError, ScriptWarning, WarningKind};
use crate::limits::{MAX_REPORTED, MAX_STRING_BYTES};
use crate::pointer::Pointer;

/// Errors and warnings found so far, bounded so a hostile script cannot grow them without end.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    report: Report,
}

impl Diagnostics {
    pub(crate) fn error(&mut self, path: Pointer, kind: ErrorKind) {
        if self.report.errors.len() < MAX_REPORTED {
            self.report.errors.push(ScriptError::new(path, kind));
        } else {
            self.report.errors_omitted += 1;
        }
    }

    pub(crate) fn warn(&mut self, path: Pointer, kind: WarningKind) {
        if self.report.warnings.len() < MAX_REPORTED {
            self.report.warnings.push(ScriptWarning { path, kind });
        } else {
            self.report.warnings_omitted += 1;
        }
    }

    pub(crate) fn error_count(&self) -> usize {
        self.report.errors.len() + self.report.errors_omitted
    }

    pub(crate) fn into_report(self) -> Report {
        self.report
    }
}

/// A reader over one JSON object at a known path.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: Pointer,
    seen: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// A reader for `value`, or an `invalid_type` error if it is not an object.
    pub(crate) fn new(value: &'a Value, path: Pointer, d: &mut Diagnostics) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Fields {
                map,
                path,
                seen: Vec::new(),
            }),
            other => {
                d.error(
                    path,
                    ErrorKind::InvalidType {
                        expected: "an object",
                        found: JsonKind::of(other),
                    },
                );
                None
            }
        }
    }

    /// The path of one of its members.
    pub(crate) fn at(&self, key: &str) -> Pointer {
        self.path.key(key)
    }

    /// True if `key` is present and not null (does not mark it as read).
    pub(crate) fn has(&self, key: &str) -> bool {
        matches!(self.map.get(key), Some(v) if !v.is_null())
    }

    /// The raw value of `key`, marking it as known. `null` counts as absent.
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        match self.map.get(key) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    /// Marks keys as known without reading them (fields documented but without effect).
    pub(crate) fn accept(&mut self, keys: &[&'static str]) {
        self.seen.extend_from_slice(keys);
    }

    /// Records `missing_field` for `key`.
    pub(crate) fn missing(&self, key: &'static str, d: &mut Diagnostics) {
        d.error(self.at(key), ErrorKind::MissingField { field: key });
    }

    /// An optional string (may be empty), at most `MAX_STRING_BYTES`.
    pub(crate) fn string(&mut self, key: &'static str, d: &mut Diagnostics) -> Option<&'a str> {
        let value = self.raw(key)?;
        string_value(value, self.at(key), MAX_STRING_BYTES, d)
    }

    /// A required, non-empty string.
    pub(crate) fn required_string(
        &mut self,
        key: &'static str,
        d: &mut Diagnostics,
    ) -> Option<&'a str> {
        if !self.has(key) {
            self.seen.push(key);
            self.missing(key, d);
            return None;
        }
        let s = self.string(key, d)?;
        if s.is_empty() {
            d.error(
                self.at(key),
                ErrorKind::InvalidValue {
                    expected: "a non-empty string",
                    got: String::new(),
                },
            );
            return None;
        }
        Some(s)
    }

    /// An optional URL whose scheme is one of `schemes` (e.g. `["http", "https"]`).
    pub(crate) fn url(
        &mut self,
        key: &'static str,
        schemes: &[&str],
        expected: &'static str,
        d: &mut Diagnostics,
    ) -> Option<&'a str> {
        let s = self.string(key, d)?;
        if is_url(s, schemes) {
            Some(s)
        } else {
            d.error(
                self.at(key),
                ErrorKind::InvalidUrl {
                    expected,
                    got: quote(s),
                },
            );
            None
        }
    }

    /// A required URL.
    pub(crate) fn required_url(
        &mut self,
        key: &'static str,
        schemes: &[&str],
        expected: &'static str,
        d: &mut Diagnostics,
    ) -> Option<&'a str> {
        if !self.has(key) {
            self.seen.push(key);
            self.missing(key, d);
            return None;
        }
        self.url(key, schemes, expected, d)
    }

    /// An optional whole number in `range` (inclusive), as a JSON number or a digit string.
    pub(crate) fn uint(
        &mut self,
        key: &'static str,
        range: (u64, u64),
        unit: &'static str,
        d: &mut Diagnostics,
    ) -> Option<u64> {
        let value = self.raw(key)?;
        uint_value(value, self.at(key), range, unit, d)
    }

    /// An optional number (fractions allowed) in `min..=max`.
    pub(crate) fn float(
        &mut self,
        key: &'static str,
        min: f64,
        max: f64,
        d: &mut Diagnostics,
    ) -> Option<f64> {
        let value = self.raw(key)?;
        let path = self.at(key);
        let n = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            other => {
                d.error(
                    path,
                    ErrorKind::InvalidType {
                        expected: "a number",
                        found: JsonKind::of(other),
                    },
                );
                return None;
            }
        };
        let Some(n) = n else {
            d.error(
                path,
                ErrorKind::InvalidValue {
                    expected: "a number",
                    got: quote(&text_of(value)),
                },
            );
            return None;
        };
        if n < min || n > max {
            d.error(
                path,
                ErrorKind::OutOfRange {
                    min,
                    max,
                    unit: "",
                    got: text_of(value),
                },
            );
            return None;
        }
        Some(n)
    }

    /// An optional boolean (`true`/`false`, or the strings `"true"`/`"false"`).
    pub(crate) fn boolean(&mut self, key: &'static str, d: &mut Diagnostics) -> Option<bool> {
        let value = self.raw(key)?;
        match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            Value::String(s) => {
                d.error(
                    self.at(key),
                    ErrorKind::InvalidValue {
                        expected: "true or false",
                        got: quote(s),
                    },
                );
                None
            }
            other => {
                d.error(
                    self.at(key),
                    ErrorKind::InvalidType {
                        expected: "a boolean",
                        found: JsonKind::of(other),
                    },
                );
                None
            }
        }
    }

    /// An optional word from a fixed set (exact match). `expected` lists the words for the
    /// message; a value that differs only in letter case gets the same error, since PIOPIY
    /// compares exactly.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        options: &[(&str, T)],
        expected: &'static str,
        d: &mut Diagnostics,
    ) -> Option<T> {
        let value = self.raw(key)?;
        let path = self.at(key);
        let word = match value {
            Value::String(s) => s.clone(),
            // voice_quality is documented as a string ("8000") but numbers are common.
            Value::Number(n) => n.to_string(),
            other => {
                d.error(
                    path,
                    ErrorKind::InvalidType {
                        expected: "a string",
                        found: JsonKind::of(other),
                    },
                );
                return None;
            }
        };
        match options.iter().find(|(name, _)| *name == word) {
            Some((_, v)) => Some(*v),
            None => {
                d.error(
                    path,
                    ErrorKind::InvalidValue {
                        expected,
                        got: quote(&word),
                    },
                );
                None
            }
        }
    }

    /// A value that may be a JSON number (non-negative integer) or a string, as text. Used for
    /// phone numbers, caller ids and SIP user names, which the SDKs send either way.
    pub(crate) fn number_or_string(
        &mut self,
        key: &'static str,
        d: &mut Diagnostics,
    ) -> Option<String> {
        let value = self.raw(key)?;
        number_or_string_value(value, self.at(key), d)
    }

    /// An optional nested object; the caller must [`Fields::finish`] it.
    pub(crate) fn object(&mut self, key: &'static str, d: &mut Diagnostics) -> Option<Fields<'a>> {
        let value = self.raw(key)?;
        Fields::new(value, self.at(key), d)
    }

    /// An optional array.
    pub(crate) fn array(&mut self, key: &'static str, d: &mut Diagnostics) -> Option<&'a [Value]> {
        let value = self.raw(key)?;
        match value {
            Value::Array(items) => Some(items.as_slice()),
            other => {
                d.error(
                    self.at(key),
                    ErrorKind::InvalidType {
                        expected: "an array",
                        found: JsonKind::of(other),
                    },
                );
                None
            }
        }
    }

    /// Warns about every member that no reader asked for. Keys are reported sorted, so the
    /// order does not depend on how serde_json stores maps.
    pub(crate) fn finish(self, d: &mut Diagnostics) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            d.warn(
                self.path.key(key),
                WarningKind::UnknownField { field: quote(key) },
            );
        }
    }
}

/// A string value at `path`, at most `limit` bytes.
pub(crate) fn string_value<'v>(
    value: &'v Value,
    path: Pointer,
    limit: usize,
    d: &mut Diagnostics,
) -> Option<&'v str> {
    match value {
        Value::String(s) if s.len() > limit => {
            d.error(
                path,
                ErrorKind::StringTooLong {
                    len: s.len(),
                    limit,
                },
            );
            None
        }
        Value::String(s) => Some(s.as_str()),
        other => {
            d.error(
                path,
                ErrorKind::InvalidType {
                    expected: "a string",
                    found: JsonKind::of(other),
                },
            );
            None
        }
    }
}

/// A number-or-string value as text (see [`Fields::number_or_string`]).
pub(crate) fn number_or_string_value(
    value: &Value,
    path: Pointer,
    d: &mut Diagnostics,
) -> Option<String> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(u) => Some(u.to_string()),
            None => {
                d.error(
                    path,
                    ErrorKind::InvalidValue {
                        expected: "a whole number or a string",
                        got: n.to_string(),
                    },
                );
                None
            }
        },
        Value::String(_) => string_value(value, path, MAX_STRING_BYTES, d).map(str::to_string),
        other => {
            d.error(
                path,
                ErrorKind::InvalidType {
                    expected: "a number or a string",
                    found: JsonKind::of(other),
                },
            );
            None
        }
    }
}

/// A whole number value in `range`, from a JSON number or a digit string.
pub(crate) fn uint_value(
    value: &Value,
    path: Pointer,
    (min, max): (u64, u64),
    unit: &'static str,
    d: &mut Diagnostics,
) -> Option<u64> {
    let out_of_range = |d: &mut Diagnostics, got: String| {
        d.error(
            path.clone(),
            ErrorKind::OutOfRange {
                min: min as f64,
                max: max as f64,
                unit,
                got,
            },
        );
    };
    let n = match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u
            } else if let Some(i) = n.as_i64() {
                out_of_range(d, i.to_string());
                return None;
            } else {
                // A float: accept 20.0 as 20, refuse 20.5.
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() != 0.0 || !f.is_finite() {
                    d.error(
                        path,
                        ErrorKind::InvalidValue {
                            expected: "a whole number",
                            got: n.to_string(),
                        },
                    );
                    return None;
                }
                if f < 0.0 || f > u64::MAX as f64 {
                    out_of_range(d, n.to_string());
                    return None;
                }
                f as u64
            }
        }
        Value::String(s) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                d.error(
                    path,
                    ErrorKind::InvalidValue {
                        expected: "a whole number",
                        got: quote(s),
                    },
                );
                return None;
            }
            match s.parse::<u64>() {
                Ok(u) => u,
                Err(_) => {
                    out_of_range(d, quote(s));
                    return None;
                }
            }
        }
        other => {
            d.error(
                path,
                ErrorKind::InvalidType {
                    expected: "a whole number",
                    found: JsonKind::of(other),
                },
            );
            return None;
        }
    };
    if n < min || n > max {
        out_of_range(d, n.to_string());
        return None;
    }
    Some(n)
}

/// True if `s` is `scheme://host...` with one of `schemes` and no whitespace or control
/// characters (which would let a script smuggle text into an HTTP request line).
pub(crate) fn is_url(s: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host_present = rest
        .chars()
        .next()
        .is_some_and(|c| c != '/' && c != '?' && c != '#');
    schemes.iter().any(|want| scheme.eq_ignore_ascii_case(want))
        && host_present
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        other => quote(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read<T>(
        value: Value,
        f: impl FnOnce(&mut Fields<'_>, &mut Diagnostics) -> T,
    ) -> (T, Report) {
        let mut d = Diagnostics::default();
        let mut fields = Fields::new(&value, Pointer::root().index(0), &mut d).unwrap();
        let out = f(&mut fields, &mut d);
        fields.finish(&mut d);
        (out, d.into_report())
    }

    #[test]
    fn numbers_may_be_digit_strings() {
        let (n, r) = read(json!({"timeout": "20"}), |f, d| {
            f.uint("timeout", (5, 120), "", d)
        });
        assert_eq!(n, Some(20));
        assert!(r.is_ok());
        let (n, _) = read(json!({"timeout": 20.0}), |f, d| {
            f.uint("timeout", (5, 120), "", d)
        });
        assert_eq!(n, Some(20));
    }

    #[test]
    fn bad_numbers_get_distinct_codes() {
        let cases = [
            (json!({"t": 500}), "out_of_range"),
            (json!({"t": -1}), "out_of_range"),
            (json!({"t": "99999999999999999999999"}), "out_of_range"),
            (json!({"t": "12x"}), "invalid_value"),
            (json!({"t": 7.5}), "invalid_value"),
            (json!({"t": [1]}), "invalid_type"),
        ];
        for (value, code) in cases {
            let (n, r) = read(value.clone(), |f, d| f.uint("t", (5, 120), "", d));
            assert_eq!(n, None, "{value}");
            assert_eq!(r.error_codes(), vec![(code, "/0/t")], "{value}");
        }
    }

    #[test]
    fn null_counts_as_absent() {
        let (s, r) = read(json!({"text": null}), |f, d| {
            f.required_string("text", d).map(str::to_string)
        });
        assert_eq!(s, None);
        assert_eq!(r.error_codes(), vec![("missing_field", "/0/text")]);
    }

    #[test]
    fn unknown_fields_are_warned_sorted() {
        let (_, r) = read(json!({"b": 1, "a": 2, "known": 3}), |f, _| {
            f.accept(&["known"])
        });
        assert!(r.is_ok());
        let paths: Vec<_> = r
            .warnings
            .iter()
            .map(|w| w.path.as_str().to_string())
            .collect();
        assert_eq!(paths, vec!["/0/a", "/0/b"]);
    }

    #[test]
    fn long_strings_are_refused() {
        let long = "a".repeat(MAX_STRING_BYTES + 1);
        let (s, r) = read(json!({ "text": long }), |f, d| {
            f.string("text", d).map(str::to_string)
        });
        assert_eq!(s, None);
        assert_eq!(r.error_codes(), vec![("string_too_long", "/0/text")]);
    }

    #[test]
    fn urls_need_scheme_host_and_no_spaces() {
        assert!(is_url("https://example.com/x?y=1", &["http", "https"]));
        assert!(is_url("HTTP://example.com", &["http"]));
        assert!(!is_url("ftp://example.com", &["http", "https"]));
        assert!(!is_url("https:///path", &["https"]));
        assert!(!is_url("https://exa mple.com", &["https"]));
        assert!(!is_url("https://example.com\r\nX: y", &["https"]));
        assert!(!is_url("example.com", &["https"]));
    }

    #[test]
    fn booleans_accept_strings() {
        let (b, r) = read(json!({"x": "true"}), |f, d| f.boolean("x", d));
        assert_eq!(b, Some(true));
        assert!(r.is_ok());
        let (b, r) = read(json!({"x": "yes"}), |f, d| f.boolean("x", d));
        assert_eq!(b, None);
        assert_eq!(r.error_codes(), vec![("invalid_value", "/0/x")]);
    }
}
