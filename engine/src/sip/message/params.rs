//! Generic `;name=value` parameters (RFC 3261 §25.1 `generic-param`), used by URIs, Via,
//! From/To/Contact and other headers.
//!
//! Values are kept exactly as received (quoted strings keep their quotes), so a message that is
//! re-printed says what the peer said. Names compare case-insensitively.

use std::fmt;

use super::{ParseError, ParseErrorKind};

/// An ordered list of parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// The value of `name`: `Some(Some(v))` for `name=v`, `Some(None)` for a bare `name`.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of `name=value`, if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing an existing one in place, else appending).
    pub fn set(&mut self, name: &str, value: Option<String>) {
        if let Some(slot) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            slot.1 = value;
        } else {
            self.0.push((name.to_string(), value));
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses `;a=b;c` (the leading `;` of each parameter included) from the start of `s`,
    /// stopping at the first character that cannot continue a parameter list and returning the
    /// rest. `stop` lists the bytes that end the list in this context (for example `?` and `>`
    /// in a URI, `,` in a header).
    pub(crate) fn parse_prefix<'a>(
        s: &'a str,
        stop: &[u8],
    ) -> Result<(Params, &'a str), ParseError> {
        Params::parse_with(s, stop, false)
    }

    /// Parses the parameters of a URI (RFC 3261 §19.1.1 `uri-parameters`), which are stricter
    /// than header parameters: no whitespace, no quoted-string values, and a bracketed value
    /// only as an IPv6 reference. A header's leniency would let a quoted `>` or `@` hide
    /// inside a URI, and the URI would then print as something that parses differently.
    pub(crate) fn parse_uri_prefix<'a>(
        s: &'a str,
        stop: &[u8],
    ) -> Result<(Params, &'a str), ParseError> {
        Params::parse_with(s, stop, true)
    }

    fn parse_with<'a>(
        mut s: &'a str,
        stop: &[u8],
        uri: bool,
    ) -> Result<(Params, &'a str), ParseError> {
        let lws: &[char] = if uri { &[] } else { &[' ', '\t'] };
        let mut params = Params::new();
        loop {
            let t = s.trim_start_matches(lws);
            let Some(after) = t.strip_prefix(';') else {
                return Ok((params, s));
            };
            let after = after.trim_start_matches(lws);
            let name_len = after
                .bytes()
                .take_while(|b| is_param_char(*b) && !stop.contains(b))
                .count();
            if name_len == 0 {
                // `;;` or a trailing `;` (RFC 4475 badinv01): an empty parameter is invalid.
                return Err(ParseError::new(ParseErrorKind::EmptyParam));
            }
            let name = &after[..name_len];
            let rest = after[name_len..].trim_start_matches(lws);
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start_matches(lws);
                let (value, rest) = if v.starts_with('"') && !uri {
                    let end = quoted_end(v)?;
                    (&v[..end], &v[end..])
                } else if v.starts_with('[') {
                    // An IPv6 reference, e.g. `received=[2001:db8::9:1]` (RFC 5118 §4.5).
                    let end = v
                        .find(']')
                        .ok_or(ParseError::new(ParseErrorKind::BadParam))?;
                    let inner = &v[1..end];
                    if uri
                        && !inner
                            .bytes()
                            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                    {
                        return Err(ParseError::new(ParseErrorKind::BadParam));
                    }
                    (&v[..=end], &v[end + 1..])
                } else {
                    let n = v
                        .bytes()
                        .take_while(|b| is_param_value_char(*b) && !stop.contains(b))
                        .count();
                    if n == 0 {
                        return Err(ParseError::new(ParseErrorKind::BadParam));
                    }
                    (&v[..n], &v[n..])
                };
                params.0.push((name.to_string(), Some(value.to_string())));
                s = rest;
            } else {
                params.0.push((name.to_string(), None));
                s = rest;
            }
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

/// The index just past the closing quote of the quoted string that starts `s`.
pub(crate) fn quoted_end(s: &str) -> Result<usize, ParseError> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(ParseError::new(ParseErrorKind::UnterminatedQuote))
}

/// `token` characters plus what URI `paramchar`s allow (RFC 3261 §25.1), minus separators.
fn is_param_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'!'
                | b'%'
                | b'*'
                | b'_'
                | b'+'
                | b'`'
                | b'\''
                | b'~'
                | b'['
                | b']'
                | b'/'
                | b':'
                | b'&'
                | b'$'
                | b'('
                | b')'
        )
}

fn is_param_value_char(b: u8) -> bool {
    is_param_char(b) || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_values_and_quotes() {
        let (p, rest) = Params::parse_prefix(";lr;transport=tcp;x=\"a;b\">", b">?").unwrap();
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.value("TRANSPORT"), Some("tcp"));
        assert_eq!(p.value("x"), Some("\"a;b\""));
        assert_eq!(rest, ">");
        assert_eq!(p.to_string(), ";lr;transport=tcp;x=\"a;b\"");
    }

    #[test]
    fn rejects_empty_params() {
        assert!(Params::parse_prefix(";;a", b"").is_err());
        assert!(Params::parse_prefix(";", b"").is_err());
        assert!(Params::parse_prefix(";a=", b"").is_err());
    }

    #[test]
    fn ipv6_values() {
        let (p, _) = Params::parse_prefix(";received=[2001:db8::9:1];rport=5060", b",").unwrap();
        assert_eq!(p.value("received"), Some("[2001:db8::9:1]"));
        assert_eq!(p.value("rport"), Some("5060"));
    }

    #[test]
    fn set_and_remove() {
        let mut p = Params::new();
        p.set("rport", None);
        p.set("rport", Some("5062".into()));
        assert_eq!(p.to_string(), ";rport=5062");
        p.remove("RPORT");
        assert!(p.is_empty());
    }
}
