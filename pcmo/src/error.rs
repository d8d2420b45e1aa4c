//! What can be wrong with a script, in a stable machine-readable form.
//!
//! Every problem has a **code** (a snake_case string that never changes once released; clients
//! may match on it), a **path** (a JSON Pointer into the script) and a human **message**. The
//! message is generated from typed data ([`ErrorKind`], [`WarningKind`]); there is no free-text
//! catch-all variant, so every message a user can see is listed here.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::pointer::Pointer;

/// The kind of a JSON value, for "expected X, got Y" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// a number
    Number,
    /// a string
    String,
    /// an array
    Array,
    /// an object
    Object,
}

impl JsonKind {
    /// The kind of `value`.
    pub fn of(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => JsonKind::Null,
            Value::Bool(_) => JsonKind::Bool,
            Value::Number(_) => JsonKind::Number,
            Value::String(_) => JsonKind::String,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "a boolean",
            JsonKind::Number => "a number",
            JsonKind::String => "a string",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        })
    }
}

/// The stable code of an error. [`ErrorCode::as_str`] gives the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_json`: the text is not JSON.
    InvalidJson,
    /// `too_large`: the script is over [`crate::limits::MAX_SCRIPT_BYTES`].
    TooLarge,
    /// `not_an_array`: the top level is not an array of actions.
    NotAnArray,
    /// `empty_script`: the array has no actions.
    EmptyScript,
    /// `too_many_actions`: more than [`crate::limits::MAX_ACTIONS`] actions.
    TooManyActions,
    /// `missing_field`: a required field is absent or `null`.
    MissingField,
    /// `invalid_type`: a field has the wrong JSON type.
    InvalidType,
    /// `invalid_value`: a field has the right type but a value that is not allowed.
    InvalidValue,
    /// `out_of_range`: a number is outside its documented range.
    OutOfRange,
    /// `unknown_action`: the `action` name is not one of the PCMO actions.
    UnknownAction,
    /// `string_too_long`: a string is over [`crate::limits::MAX_STRING_BYTES`] (or a tighter
    /// per-field limit).
    StringTooLong,
    /// `conflicting_fields`: two fields that exclude each other are both present.
    ConflictingFields,
    /// `empty_list`: a list that needs at least one item is empty.
    EmptyList,
    /// `too_many_targets`: a connect lists more than [`crate::limits::MAX_TARGETS`] targets.
    TooManyTargets,
    /// `too_many_keys`: an object (param data, headers, metadata) has too many members.
    TooManyKeys,
    /// `too_many_agents`: a v3 connect lists more than two `agent` endpoints.
    TooManyAgents,
    /// `agent_not_last`: a v3 `agent` endpoint comes before a `pstn` or `sip` endpoint.
    AgentNotLast,
    /// `agent_unsupported`: a v3 `agent` endpoint; ringmaster has no agent directory, so it
    /// refuses the script up front rather than failing the ring at run time.
    AgentUnsupported,
    /// `speech_input_unsupported`: `input` asks for `speech`, which ringmaster does not do.
    SpeechInputUnsupported,
    /// `invalid_url`: a URL field is not an absolute URL of the expected scheme.
    InvalidUrl,
    /// `invalid_header`: a SIP header a script asks to add is malformed or reserved.
    InvalidHeader,
}

impl ErrorCode {
    /// Every code, in a stable order (for documentation and tests).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::TooLarge,
        ErrorCode::NotAnArray,
        ErrorCode::EmptyScript,
        ErrorCode::TooManyActions,
        ErrorCode::MissingField,
        ErrorCode::InvalidType,
        ErrorCode::InvalidValue,
        ErrorCode::OutOfRange,
        ErrorCode::UnknownAction,
        ErrorCode::StringTooLong,
        ErrorCode::ConflictingFields,
        ErrorCode::EmptyList,
        ErrorCode::TooManyTargets,
        ErrorCode::TooManyKeys,
        ErrorCode::TooManyAgents,
        ErrorCode::AgentNotLast,
        ErrorCode::AgentUnsupported,
        ErrorCode::SpeechInputUnsupported,
        ErrorCode::InvalidUrl,
        ErrorCode::InvalidHeader,
    ];

    /// The wire form, e.g. `"missing_field"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotAnArray => "not_an_array",
            ErrorCode::EmptyScript => "empty_script",
            ErrorCode::TooManyActions => "too_many_actions",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidType => "invalid_type",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::StringTooLong => "string_too_long",
            ErrorCode::ConflictingFields => "conflicting_fields",
            ErrorCode::EmptyList => "empty_list",
            ErrorCode::TooManyTargets => "too_many_targets",
            ErrorCode::TooManyKeys => "too_many_keys",
            ErrorCode::TooManyAgents => "too_many_agents",
            ErrorCode::AgentNotLast => "agent_not_last",
            ErrorCode::AgentUnsupported => "agent_unsupported",
            ErrorCode::SpeechInputUnsupported => "speech_input_unsupported",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::InvalidHeader => "invalid_header",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a SIP header in a target's `headers` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The name is not a SIP token (RFC 3261 §25.1).
    BadName,
    /// The header is one the B2BUA must own (Via, From, To, Call-ID, ...).
    Reserved,
    /// The value contains a line break or another control character (header injection).
    BadValue,
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderProblem::BadName => "is not a valid SIP header name",
            HeaderProblem::Reserved => "is set by ringmaster and cannot be set by a script",
            HeaderProblem::BadValue => "has a value with a line break or control character",
        })
    }
}

/// What is wrong, with the data the message needs. [`ErrorKind::code`] maps it to its code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not JSON (or not UTF-8).
    #[error("not valid JSON at line {line}, column {column}: {reason}")]
    InvalidJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser said, without its position suffix.
        reason: String,
    },
    /// The script is too big to be read at all.
    #[error("the script is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Size of the script in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The top level is not an array.
    #[error("a script must be a JSON array of actions, got {found}")]
    NotAnArray {
        /// What was found instead.
        found: JsonKind,
    },
    /// The array is empty.
    #[error("the script has no actions")]
    EmptyScript,
    /// Too many actions.
    #[error("the script has {count} actions; the limit is {limit}")]
    TooManyActions {
        /// Number of actions in the script.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A required field is absent or `null`.
    #[error("required field `{field}` is missing")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// None of several alternative fields is present.
    #[error("one of {fields} is required")]
    MissingOneOf {
        /// The alternatives, already formatted (e.g. "`file_name` or `file_url`").
        fields: &'static str,
    },
    /// Wrong JSON type.
    #[error("expected {expected}, got {found}")]
    InvalidType {
        /// What the field must be.
        expected: &'static str,
        /// What it is.
        found: JsonKind,
    },
    /// A value that is not allowed.
    #[error("expected {expected}, got {got:?}")]
    InvalidValue {
        /// What the field must be.
        expected: &'static str,
        /// The value found (shortened to 64 characters).
        got: String,
    },
    /// A number outside its range.
    #[error("must be between {min} and {max}{unit}, got {got}")]
    OutOfRange {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// The unit, with a leading space (" seconds") or empty.
        unit: &'static str,
        /// The value found, as written.
        got: String,
    },
    /// A lower bound above its upper bound (`min_digits` > `max_digits`).
    #[error("`{min_field}` ({min}) is greater than `{max_field}` ({max})")]
    MinAboveMax {
        /// Name of the lower bound.
        min_field: &'static str,
        /// Its value.
        min: u64,
        /// Name of the upper bound.
        max_field: &'static str,
        /// Its value.
        max: u64,
    },
    /// Not a PCMO action.
    #[error(
        "unknown action {name:?}; the actions are connect, bridge, play, speak, input, \
         play_get_input, record, hangup, param and stream{}",
        hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default()
    )]
    UnknownAction {
        /// The name found (shortened to 64 characters).
        name: String,
        /// The action it differs from only in letter case, if any.
        hint: Option<&'static str>,
    },
    /// A string over its length limit.
    #[error("the string is {len} bytes long; the limit is {limit}")]
    StringTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Two fields that exclude each other.
    #[error("`{first}` and `{second}` cannot be used together")]
    ConflictingFields {
        /// One field.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// An empty list that needs items.
    #[error("`{field}` must list at least one item")]
    EmptyList {
        /// The list's field name.
        field: &'static str,
    },
    /// Too many targets in a connect.
    #[error("{count} targets; a connect may ring at most {limit}")]
    TooManyTargets {
        /// Targets listed.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many members in an object.
    #[error("{count} entries; at most {limit} are allowed here")]
    TooManyKeys {
        /// Members found.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More than two agent endpoints.
    #[error("{count} agent endpoints; at most {limit} are allowed")]
    TooManyAgents {
        /// Agent endpoints listed.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An agent endpoint before a pstn/sip one.
    #[error("agent endpoints must come after every pstn and sip endpoint")]
    AgentNotLast,
    /// An agent endpoint: ringmaster cannot ring agents.
    #[error("agent endpoints are not supported: ring a \"sip\" user or uri, or a \"pstn\" number")]
    AgentUnsupported,
    /// `input` asks for speech recognition.
    #[error("speech input is not supported; use \"input\": [\"dtmf\"]")]
    SpeechInputUnsupported,
    /// A URL of the wrong shape.
    #[error("expected {expected}, got {got:?}")]
    InvalidUrl {
        /// What the URL must look like.
        expected: &'static str,
        /// The value found (shortened to 64 characters).
        got: String,
    },
    /// A header the script may not send.
    #[error("header {name:?} {problem}")]
    InvalidHeader {
        /// The header name (shortened to 64 characters).
        name: String,
        /// What is wrong with it.
        problem: HeaderProblem,
    },
}

impl ErrorKind {
    /// The stable code of this kind of error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ErrorKind::InvalidJson { .. } => ErrorCode::InvalidJson,
            ErrorKind::TooLarge { .. } => ErrorCode::TooLarge,
            ErrorKind::NotAnArray { .. } => ErrorCode::NotAnArray,
            ErrorKind::EmptyScript => ErrorCode::EmptyScript,
            ErrorKind::TooManyActions { .. } => ErrorCode::TooManyActions,
            ErrorKind::MissingField { .. } | ErrorKind::MissingOneOf { .. } => {
                ErrorCode::MissingField
            }
            ErrorKind::InvalidType { .. } => ErrorCode::InvalidType,
            ErrorKind::InvalidValue { .. } | ErrorKind::MinAboveMax { .. } => {
                ErrorCode::InvalidValue
            }
            ErrorKind::OutOfRange { .. } => ErrorCode::OutOfRange,
            ErrorKind::UnknownAction { .. } => ErrorCode::UnknownAction,
            ErrorKind::StringTooLong { .. } => ErrorCode::StringTooLong,
            ErrorKind::ConflictingFields { .. } => ErrorCode::ConflictingFields,
            ErrorKind::EmptyList { .. } => ErrorCode::EmptyList,
            ErrorKind::TooManyTargets { .. } => ErrorCode::TooManyTargets,
            ErrorKind::TooManyKeys { .. } => ErrorCode::TooManyKeys,
            ErrorKind::TooManyAgents { .. } => ErrorCode::TooManyAgents,
            ErrorKind::AgentNotLast => ErrorCode::AgentNotLast,
            ErrorKind::AgentUnsupported => ErrorCode::AgentUnsupported,
            ErrorKind::SpeechInputUnsupported => ErrorCode::SpeechInputUnsupported,
            ErrorKind::InvalidUrl { .. } => ErrorCode::InvalidUrl,
            ErrorKind::InvalidHeader { .. } => ErrorCode::InvalidHeader,
        }
    }
}

/// One thing wrong with a script: where, and what.
///
/// Displays as `code at /path: message` (or `code: message` for the whole document), which is
/// what `ringmaster pcmo check` prints. Serializes as `{"code","path","message"}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScriptError {
    /// Where in the script.
    pub path: Pointer,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl ScriptError {
    /// A new error at `path`.
    pub fn new(path: Pointer, kind: ErrorKind) -> Self {
        ScriptError { path, kind }
    }

    /// The stable code, e.g. [`ErrorCode::MissingField`].
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// The human message (without code and path).
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problem(f, self.code().as_str(), &self.path, &self.kind)
    }
}

impl Serialize for ScriptError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ScriptError", 3)?;
        s.serialize_field("code", self.code().as_str())?;
        s.serialize_field("path", self.path.as_str())?;
        s.serialize_field("message", &self.message())?;
        s.end()
    }
}

/// The stable code of a warning. [`WarningCode::as_str`] gives the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum WarningCode {
    /// `unknown_field`: a field ringmaster does not know; it is ignored.
    UnknownField,
    /// `unsupported_option`: a documented option ringmaster accepts but does not act on yet.
    UnsupportedOption,
    /// `duplicate_target`: the same target is listed twice in one connect.
    DuplicateTarget,
    /// `duplicate_value`: the same value is listed twice where once is enough.
    DuplicateValue,
}

impl WarningCode {
    /// The wire form, e.g. `"unknown_field"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WarningCode::UnknownField => "unknown_field",
            WarningCode::UnsupportedOption => "unsupported_option",
            WarningCode::DuplicateTarget => "duplicate_target",
            WarningCode::DuplicateValue => "duplicate_value",
        }
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something in a valid script that is probably not what its author meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WarningKind {
    /// A field that is not part of the action.
    #[error("unknown field `{field}` is ignored")]
    UnknownField {
        /// The field name (shortened to 64 characters).
        field: String,
    },
    /// A documented option that has no effect in ringmaster yet.
    #[error("`{field}` is not supported yet and is ignored")]
    UnsupportedOption {
        /// The option's name.
        field: &'static str,
    },
    /// The same target twice.
    #[error("the same target is already listed at index {first}; this repeat is ignored")]
    DuplicateTarget {
        /// Index of the first listing.
        first: usize,
    },
    /// The same value twice in a list.
    #[error("{value:?} is listed more than once")]
    DuplicateValue {
        /// The repeated value.
        value: String,
    },
}

impl WarningKind {
    /// The stable code of this kind of warning.
    pub fn code(&self) -> WarningCode {
        match self {
            WarningKind::UnknownField { .. } => WarningCode::UnknownField,
            WarningKind::UnsupportedOption { .. } => WarningCode::UnsupportedOption,
            WarningKind::DuplicateTarget { .. } => WarningCode::DuplicateTarget,
            WarningKind::DuplicateValue { .. } => WarningCode::DuplicateValue,
        }
    }
}

/// A warning with its place in the script. Displays and serializes like [`ScriptError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptWarning {
    /// Where in the script.
    pub path: Pointer,
    /// What is odd.
    pub kind: WarningKind,
}

impl ScriptWarning {
    /// The stable code.
    pub fn code(&self) -> WarningCode {
        self.kind.code()
    }

    /// The human message (without code and path).
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for ScriptWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problem(f, self.code().as_str(), &self.path, &self.kind)
    }
}

impl Serialize for ScriptWarning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ScriptWarning", 3)?;
        s.serialize_field("code", self.code().as_str())?;
        s.serialize_field("path", self.path.as_str())?;
        s.serialize_field("message", &self.message())?;
        s.end()
    }
}

fn write_problem(
    f: &mut fmt::Formatter<'_>,
    code: &str,
    path: &Pointer,
    message: &dyn fmt::Display,
) -> fmt::Result {
    if path.is_root() {
        write!(f, "{code}: {message}")
    } else {
        write!(f, "{code} at {path}: {message}")
    }
}

/// The outcome of checking a script: every error and every warning found.
///
/// `Display` prints one line per problem (`error: code at /path: message`, then
/// `warning: ...`) and a summary line; that is the output of `ringmaster pcmo check`.
/// Serializes as `{"ok": bool, "errors": [...], "warnings": [...]}` for machine readers.
#[derive(Debug, Clone, Default, PartialEq, thiserror::Error)]
pub struct Report {
    /// Errors, in document order. A script with any error is not run.
    pub errors: Vec<ScriptError>,
    /// Warnings, in document order. They do not stop a script.
    pub warnings: Vec<ScriptWarning>,
    /// Errors found beyond [`crate::limits::MAX_REPORTED`] and left out of `errors`.
    pub errors_omitted: usize,
    /// Warnings found beyond [`crate::limits::MAX_REPORTED`] and left out of `warnings`.
    pub warnings_omitted: usize,
}

impl Report {
    /// True when there is no error (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The codes and paths of the errors, e.g. for tests: `[("missing_field", "/0/text")]`.
    pub fn error_codes(&self) -> Vec<(&'static str, &str)> {
        self.errors
            .iter()
            .map(|e| (e.code().as_str(), e.path.as_str()))
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        if self.errors_omitted > 0 {
            writeln!(f, "error: ... and {} more errors", self.errors_omitted)?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if self.warnings_omitted > 0 {
            writeln!(
                f,
                "warning: ... and {} more warnings",
                self.warnings_omitted
            )?;
        }
        let errors = self.errors.len() + self.errors_omitted;
        let warnings = self.warnings.len() + self.warnings_omitted;
        write!(
            f,
            "{} {}, {} {}",
            errors,
            plural(errors, "error"),
            warnings,
            plural(warnings, "warning")
        )
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Report", 5)?;
        s.serialize_field("ok", &self.is_ok())?;
        s.serialize_field("errors", &self.errors)?;
        s.serialize_field("warnings", &self.warnings)?;
        s.serialize_field("errors_omitted", &self.errors_omitted)?;
        s.serialize_field("warnings_omitted", &self.warnings_omitted)?;
        s.end()
    }
}

/// Shortens user text quoted back in a message, so a 4 KiB value does not flood a log line.
pub(crate) fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    if text.chars().count() <= MAX_CHARS {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(MAX_CHARS).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(seen.insert(s), "duplicate code {s}");
        }
    }

    #[test]
    fn displays_code_path_and_message() {
        let e = ScriptError::new(
            Pointer::root().index(2).key("call").index(0).key("user"),
            ErrorKind::MissingField { field: "user" },
        );
        assert_eq!(
            e.to_string(),
            "missing_field at /2/call/0/user: required field `user` is missing"
        );
        let root = ScriptError::new(Pointer::root(), ErrorKind::EmptyScript);
        assert_eq!(root.to_string(), "empty_script: the script has no actions");
    }

    #[test]
    fn out_of_range_prints_whole_numbers_plainly() {
        let k = ErrorKind::OutOfRange {
            min: 5.0,
            max: 120.0,
            unit: " seconds",
            got: "300".into(),
        };
        assert_eq!(k.to_string(), "must be between 5 and 120 seconds, got 300");
        let k = ErrorKind::OutOfRange {
            min: 0.5,
            max: 2.0,
            unit: "",
            got: "3".into(),
        };
        assert_eq!(k.to_string(), "must be between 0.5 and 2, got 3");
    }

    #[test]
    fn unknown_action_mentions_case_hint() {
        let k = ErrorKind::UnknownAction {
            name: "Play".into(),
            hint: Some("play"),
        };
        assert!(k.to_string().ends_with("(did you mean \"play\"?)"), "{k}");
    }

    #[test]
    fn report_serializes_code_path_message() {
        let report = Report {
            errors: vec![ScriptError::new(
                Pointer::root().index(0),
                ErrorKind::AgentNotLast,
            )],
            ..Report::default()
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["errors"][0]["code"], "agent_not_last");
        assert_eq!(json["errors"][0]["path"], "/0");
        assert!(report.to_string().ends_with("1 error, 0 warnings"));
    }

    #[test]
    fn quote_shortens_long_text() {
        let long = "x".repeat(100);
        assert_eq!(quote(&long).chars().count(), 65);
        assert_eq!(quote("short"), "short");
    }
}
