//! Whom a `connect`/`bridge` rings: SIP users, SIP URIs, phone numbers and v3 agents.
//!
//! Accepted shapes (both dialects accept all of them):
//! ```json
//! {"type": "sip", "user": "alice"}                 // legacy SIP user (docs; the Node SDK may send a number)
//! {"type": "sip", "uri": "sip:bob@example.com"}    // v3 SIP URI
//! {"type": "pstn", "number": 919876543210}         // phone number, JSON number or string
//! {"type": "agent", "id": "bdd32bcb-767c-40a5-be4a-5f45eeb348a6"}   // v3 agent
//! ```
//! Any target may carry `headers`: extra SIP headers for its INVITE, at most 10, never one of
//! the headers the B2BUA owns (Via, From, To, Call-ID, CSeq, Contact, ...), never with a line
//! break in the value.
//!
//! v3 rules kept for every dialect: at most 2 `agent` targets, and they come last. A target
//! listed twice is rung once (the repeat is dropped with a `duplicate_target` warning).

use std::fmt;

use serde_json::Value;

use crate::action::Dialect;
use crate::error::{quote, ErrorKind, HeaderProblem, JsonKind, WarningKind};
use crate::fields::{number_or_string_value, Diagnostics, Fields};
use crate::limits::{MAX_AGENTS, MAX_HEADERS, MAX_STRING_BYTES, MAX_TARGETS};
use crate::pointer::Pointer;

/// Who is rung.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A SIP user of this app (`{"type":"sip","user":..}`): every live registration of the
    /// endpoint rings; a user with none is reported `NotRegistered` at once.
    SipUser(String),
    /// A SIP URI (`{"type":"sip","uri":..}`), dialled as given.
    SipUri(String),
    /// A phone number (`{"type":"pstn","number":..}`), dialled through the trunk. Kept as
    /// written (with a leading `+` if there was one).
    Pstn(String),
    /// A v3 agent (`{"type":"agent","id":..}`); the engine resolves agents.
    Agent(String),
}

impl fmt::Display for Destination {
    /// `user:alice`, `sip:bob@example.com`, `tel:919876543210`, `agent:<id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::SipUser(user) => write!(f, "user:{user}"),
            Destination::SipUri(uri) => f.write_str(uri),
            Destination::Pstn(number) => write!(f, "tel:{number}"),
            Destination::Agent(id) => write!(f, "agent:{id}"),
        }
    }
}

/// An extra SIP header for a target's INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipHeader {
    /// The header name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// One target of a connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Who.
    pub destination: Destination,
    /// Extra headers (v3 `headers`), in name order.
    pub headers: Vec<SipHeader>,
}

impl Target {
    /// A target without extra headers.
    pub fn new(destination: Destination) -> Self {
        Target {
            destination,
            headers: Vec::new(),
        }
    }

    /// Plain words for `explain`.
    pub(crate) fn describe(&self) -> String {
        match &self.destination {
            Destination::SipUser(user) => format!("SIP user {user}"),
            Destination::SipUri(uri) => uri.clone(),
            Destination::Pstn(number) => format!("number {number}"),
            Destination::Agent(id) => format!("agent {id}"),
        }
    }
}

/// RFC 3261 `user` characters (unreserved, user-unreserved and `%` escapes).
pub(crate) fn is_sip_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c))
}

/// `sip:` or `sips:` followed by `[user@]host[...]`, without spaces, quotes or angle brackets.
pub(crate) fn is_sip_uri(s: &str) -> bool {
    let bytes = s.as_bytes();
    let starts = |prefix: &[u8]| {
        bytes
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    // The prefixes are ASCII, so the byte offsets below are char boundaries.
    let rest = if starts(b"sip:") {
        s.get(4..)
    } else if starts(b"sips:") {
        s.get(5..)
    } else {
        None
    };
    let Some(rest) = rest else { return false };
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    !host.is_empty()
        && !host.starts_with([';', '?', ':'])
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
}

/// Legacy numbers: `+`? and 3–20 digits (short codes and national formats allowed).
/// v3 numbers: the documented `^[1-9][0-9]{6,15}$`, with an optional leading `+`.
pub(crate) fn is_phone_number(s: &str, dialect: Dialect) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    let all_digits = digits.bytes().all(|b| b.is_ascii_digit());
    match dialect {
        Dialect::Legacy => all_digits && (3..=20).contains(&digits.len()),
        Dialect::V3 => all_digits && (7..=16).contains(&digits.len()) && !digits.starts_with('0'),
    }
}

fn is_agent_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

/// Headers the B2BUA builds itself; a script setting them would break the dialog or its auth.
const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "max-forwards",
    "content-length",
    "l",
    "content-type",
    "c",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "require",
    "proxy-require",
    "supported",
    "k",
    "allow",
    "rseq",
    "rack",
    "session-expires",
    "x",
    "min-se",
];

fn read_headers(value: &Value, path: Pointer, d: &mut Diagnostics) -> Vec<SipHeader> {
    let Value::Object(map) = value else {
        d.error(
            path,
            ErrorKind::InvalidType {
                expected: "an object",
                found: JsonKind::of(value),
            },
        );
        return Vec::new();
    };
    if map.len() > MAX_HEADERS {
        d.error(
            path.clone(),
            ErrorKind::TooManyKeys {
                count: map.len(),
                limit: MAX_HEADERS,
            },
        );
    }
    let mut headers = Vec::new();
    for (name, raw) in map {
        let at = path.key(name);
        let problem = if !is_token(name) {
            Some(HeaderProblem::BadName)
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            Some(HeaderProblem::Reserved)
        } else {
            None
        };
        if let Some(problem) = problem {
            d.error(
                at,
                ErrorKind::InvalidHeader {
                    name: quote(name),
                    problem,
                },
            );
            continue;
        }
        let value = match raw {
            Value::String(s) if s.len() > MAX_STRING_BYTES => {
                d.error(
                    at,
                    ErrorKind::StringTooLong {
                        len: s.len(),
                        limit: MAX_STRING_BYTES,
                    },
                );
                continue;
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                d.error(
                    at,
                    ErrorKind::InvalidType {
                        expected: "a string",
                        found: JsonKind::of(other),
                    },
                );
                continue;
            }
        };
        if value.chars().any(|c| c.is_control() && c != '\t') {
            d.error(
                at,
                ErrorKind::InvalidHeader {
                    name: quote(name),
                    problem: HeaderProblem::BadValue,
                },
            );
            continue;
        }
        headers.push(SipHeader {
            name: name.clone(),
            value,
        });
    }
    headers
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sip,
    Pstn,
    Agent,
}

fn parse_target(
    value: &Value,
    path: Pointer,
    dialect: Dialect,
    d: &mut Diagnostics,
) -> Option<Target> {
    let mut f = Fields::new(value, path, d)?;
    let kind = if f.has("type") {
        f.choice(
            "type",
            &[
                ("sip", Kind::Sip),
                ("pstn", Kind::Pstn),
                ("agent", Kind::Agent),
            ],
            "\"sip\", \"pstn\" or \"agent\"",
            d,
        )
    } else {
        f.accept(&["type"]);
        f.missing("type", d);
        None
    };
    let destination = match kind {
        Some(Kind::Sip) => read_sip(&mut f, d),
        Some(Kind::Pstn) => {
            let number = read_required(&mut f, "number", d);
            number.and_then(|n| {
                let expected = match dialect {
                    Dialect::Legacy => "a phone number of 3 to 20 digits",
                    Dialect::V3 => "a phone number matching ^[1-9][0-9]{6,15}$",
                };
                let ok = is_phone_number(&n, dialect);
                valid(n, ok, expected, f.at("number"), d).map(Destination::Pstn)
            })
        }
        Some(Kind::Agent) => {
            let id = f.required_string("id", d);
            id.and_then(|id| {
                valid(
                    id.to_string(),
                    is_agent_id(id),
                    "an agent id (letters, digits, - _ .)",
                    f.at("id"),
                    d,
                )
                .map(Destination::Agent)
            })
            .inspect(|_| {
                // Refused here, not at ring time: a script `pcmo check` calls valid must not
                // fail with a 404 once a caller is on the line.
                d.error(f.at("type"), ErrorKind::AgentUnsupported);
            })
        }
        None => {
            f.accept(&["user", "uri", "number", "id"]);
            None
        }
    };
    let headers = match f.raw("headers") {
        Some(v) => read_headers(v, f.at("headers"), d),
        None => Vec::new(),
    };
    f.finish(d);
    Some(Target {
        destination: destination?,
        headers,
    })
}

fn read_required(f: &mut Fields<'_>, key: &'static str, d: &mut Diagnostics) -> Option<String> {
    if !f.has(key) {
        f.accept(&[key]);
        f.missing(key, d);
        return None;
    }
    f.number_or_string(key, d)
}

fn valid(
    value: String,
    ok: bool,
    expected: &'static str,
    path: Pointer,
    d: &mut Diagnostics,
) -> Option<String> {
    if ok {
        Some(value)
    } else {
        d.error(
            path,
            ErrorKind::InvalidValue {
                expected,
                got: quote(&value),
            },
        );
        None
    }
}

fn read_sip(f: &mut Fields<'_>, d: &mut Diagnostics) -> Option<Destination> {
    match (f.has("user"), f.has("uri")) {
        (true, true) => {
            f.accept(&["user", "uri"]);
            d.error(
                f.at("uri"),
                ErrorKind::ConflictingFields {
                    first: "user",
                    second: "uri",
                },
            );
            None
        }
        (false, false) => {
            f.accept(&["user", "uri"]);
            d.error(
                f.at("user"),
                ErrorKind::MissingOneOf {
                    fields: "`user` or `uri`",
                },
            );
            None
        }
        (true, false) => {
            let path = f.at("user");
            let user = f
                .raw("user")
                .and_then(|v| number_or_string_value(v, path.clone(), d))?;
            valid(
                user.clone(),
                is_sip_user(&user),
                "a SIP user name (letters, digits, - _ . and the like)",
                path,
                d,
            )
            .map(Destination::SipUser)
        }
        (false, true) => {
            let uri = f.required_string("uri", d)?;
            valid(
                uri.to_string(),
                is_sip_uri(uri),
                "a sip: or sips: URI",
                f.at("uri"),
                d,
            )
            .map(Destination::SipUri)
        }
    }
}

/// Parses a target list at `path` (the `call`, `connect` or `endpoints` array).
pub(crate) fn parse_targets(
    items: &[Value],
    path: Pointer,
    field: &'static str,
    dialect: Dialect,
    d: &mut Diagnostics,
) -> Vec<Target> {
    if items.is_empty() {
        d.error(path, ErrorKind::EmptyList { field });
        return Vec::new();
    }
    if items.len() > MAX_TARGETS {
        d.error(
            path.clone(),
            ErrorKind::TooManyTargets {
                count: items.len(),
                limit: MAX_TARGETS,
            },
        );
    }
    let mut targets: Vec<Target> = Vec::new();
    let mut first_index: Vec<usize> = Vec::new();
    let total_agents = items
        .iter()
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("agent"))
        .count();
    let mut agents = 0usize;
    let mut agent_seen = false;
    for (i, item) in items.iter().enumerate() {
        let at = path.index(i);
        let Some(target) = parse_target(item, at.clone(), dialect, d) else {
            continue;
        };
        // Ringing the same target twice in one attempt would fork its devices twice.
        if let Some(pos) = targets
            .iter()
            .position(|t| t.destination == target.destination)
        {
            let first = first_index.get(pos).copied().unwrap_or(pos);
            d.warn(at, WarningKind::DuplicateTarget { first });
            continue;
        }
        if matches!(target.destination, Destination::Agent(_)) {
            agents += 1;
            agent_seen = true;
            if agents == MAX_AGENTS + 1 {
                d.error(
                    at.clone(),
                    ErrorKind::TooManyAgents {
                        count: total_agents,
                        limit: MAX_AGENTS,
                    },
                );
            }
        } else if agent_seen {
            d.error(at.clone(), ErrorKind::AgentNotLast);
        }
        targets.push(target);
        first_index.push(i);
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(
        json: Value,
        dialect: Dialect,
    ) -> (Vec<Target>, Vec<(&'static str, String)>, Vec<String>) {
        let mut d = Diagnostics::default();
        let Value::Array(items) = json else { panic!() };
        let targets = parse_targets(
            &items,
            Pointer::root().index(0).key("call"),
            "call",
            dialect,
            &mut d,
        );
        let r = d.into_report();
        let errors = r
            .errors
            .iter()
            .map(|e| (e.code().as_str(), e.path.to_string()))
            .collect();
        let warnings = r
            .warnings
            .iter()
            .map(|w| format!("{} {}", w.code(), w.path))
            .collect();
        (targets, errors, warnings)
    }

    #[test]
    fn documented_sip_user_form_and_number_users() {
        let (t, e, _) = parse(
            json!([{"type": "sip", "user": "YOUR_USERNAME"}, {"type": "sip", "user": 1001}]),
            Dialect::Legacy,
        );
        assert!(e.is_empty());
        assert_eq!(
            t[0].destination,
            Destination::SipUser("YOUR_USERNAME".into())
        );
        assert_eq!(t[1].destination, Destination::SipUser("1001".into()));
    }

    #[test]
    fn missing_user_points_at_user() {
        let (_, e, _) = parse(json!([{"type": "sip"}]), Dialect::Legacy);
        assert_eq!(e, vec![("missing_field", "/0/call/0/user".to_string())]);
    }

    #[test]
    fn numbers_by_dialect() {
        assert!(is_phone_number("100", Dialect::Legacy));
        assert!(is_phone_number("+919876543210", Dialect::Legacy));
        assert!(!is_phone_number("100", Dialect::V3));
        assert!(is_phone_number("918888888887", Dialect::V3));
        assert!(!is_phone_number("0918888888887", Dialect::V3));
        assert!(!is_phone_number("91-888", Dialect::Legacy));
    }

    #[test]
    fn sip_uris() {
        assert!(is_sip_uri("sip:bob@example.com"));
        assert!(is_sip_uri("SIPS:example.com;transport=tls"));
        assert!(!is_sip_uri("sip:"));
        assert!(!is_sip_uri("sip:bob@"));
        assert!(!is_sip_uri("tel:123"));
        assert!(!is_sip_uri("sip:bob@example.com>\r\nVia: x"));
    }

    #[test]
    fn every_agent_target_is_refused_at_its_type() {
        let (t, e, _) = parse(
            json!([{"type": "pstn", "number": "918888888887"}, {"type": "agent", "id": "a1"}]),
            Dialect::V3,
        );
        assert_eq!(t.len(), 2);
        assert_eq!(e, vec![("agent_unsupported", "/0/call/1/type".to_string())]);
    }

    #[test]
    fn agents_last_and_at_most_two() {
        let (_, e, _) = parse(
            json!([
                {"type": "agent", "id": "a1"}, {"type": "pstn", "number": "918888888887"},
                {"type": "agent", "id": "a2"}, {"type": "agent", "id": "a3"}
            ]),
            Dialect::V3,
        );
        assert_eq!(
            e,
            vec![
                ("agent_unsupported", "/0/call/0/type".to_string()),
                ("agent_not_last", "/0/call/1".to_string()),
                ("agent_unsupported", "/0/call/2/type".to_string()),
                ("agent_unsupported", "/0/call/3/type".to_string()),
                ("too_many_agents", "/0/call/3".to_string())
            ]
        );
    }

    #[test]
    fn headers_are_checked() {
        let (t, e, _) = parse(
            json!([{"type": "sip", "uri": "sip:a@example.com", "headers": {"X-Team": "sales", "Via": "x", "X-Bad": "a\r\nb", "bad name": "x"}}]),
            Dialect::V3,
        );
        assert_eq!(
            t[0].headers,
            vec![SipHeader {
                name: "X-Team".into(),
                value: "sales".into()
            }]
        );
        assert_eq!(
            e,
            vec![
                ("invalid_header", "/0/call/0/headers/Via".to_string()),
                ("invalid_header", "/0/call/0/headers/X-Bad".to_string()),
                ("invalid_header", "/0/call/0/headers/bad name".to_string()),
            ]
        );
    }

    #[test]
    fn duplicates_are_warned_empty_and_oversized_lists_are_errors() {
        let (t, e, w) = parse(
            json!([{"type": "sip", "user": "a"}, {"type": "sip", "user": "a"}]),
            Dialect::Legacy,
        );
        assert_eq!(t.len(), 1, "the repeat is dropped");
        assert!(e.is_empty());
        assert_eq!(w, vec!["duplicate_target /0/call/1".to_string()]);
        let (_, e, _) = parse(json!([]), Dialect::Legacy);
        assert_eq!(e, vec![("empty_list", "/0/call".to_string())]);
        let many: Vec<Value> = (0..11)
            .map(|i| json!({"type": "sip", "user": format!("u{i}")}))
            .collect();
        let (_, e, _) = parse(Value::Array(many), Dialect::Legacy);
        assert_eq!(e, vec![("too_many_targets", "/0/call".to_string())]);
    }
}
