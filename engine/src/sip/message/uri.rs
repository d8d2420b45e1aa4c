//! URIs (RFC 3261 §19.1, RFC 5118 for IPv6 references).
//!
//! `sip:` and `sips:` URIs are parsed into parts; any other absolute URI (`tel:`, `http:`,
//! `urn:`...) is kept as an opaque [`Uri::Other`], so the caller can answer 416 where it needs a
//! SIP URI and still carry the value where it does not (RFC 4475 unksm2).
//!
//! The user part is kept in its escaped form as received (so it re-prints byte for byte);
//! [`SipUri::user_unescaped`] gives the value to compare (RFC 4475 esc01, escnull: `%00` is kept,
//! never truncated).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::params::Params;
use super::{ParseError, ParseErrorKind};

/// A host: a name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a host (an IPv6 address must be in brackets). Returns the host and the rest.
    pub fn parse_prefix(s: &str) -> Result<(Host, &str), ParseError> {
        if let Some(inner) = s.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or(ParseError::new(ParseErrorKind::BadHost))?;
            // A strict RFC 4291 parser: `2001:db8:::192.0.2.1` (RFC 5118 §4.6) is refused, as
            // the sip-torture README allows; we never generate it.
            let addr: Ipv6Addr = inner[..end]
                .parse()
                .map_err(|_| ParseError::new(ParseErrorKind::BadHost))?;
            return Ok((Host::V6(addr), &inner[end + 1..]));
        }
        let n = s
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
            .count();
        if n == 0 {
            return Err(ParseError::new(ParseErrorKind::BadHost));
        }
        let text = &s[..n];
        let host = match text.parse::<Ipv4Addr>() {
            Ok(a) => Host::V4(a),
            Err(_) => {
                // A name's last label must not start with a digit; `1.2.3` or `1.2.3.400` is a
                // malformed address, not a name.
                let last = text.trim_end_matches('.').rsplit('.').next().unwrap_or("");
                if last.starts_with(|c: char| c.is_ascii_digit())
                    && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                {
                    return Err(ParseError::new(ParseErrorKind::BadHost));
                }
                Host::Name(text.to_string())
            }
        };
        Ok((host, &s[n..]))
    }

    /// Parses a whole string as a host; brackets optional around IPv6 (for `received=`).
    pub fn parse_lenient(s: &str) -> Option<Host> {
        if let Ok(a) = s.parse::<Ipv6Addr>() {
            return Some(Host::V6(a));
        }
        match Host::parse_prefix(s) {
            Ok((h, "")) => Some(h),
            _ => None,
        }
    }

    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Host::V4(a) => Some((*a).into()),
            Host::V6(a) => Some((*a).into()),
            Host::Name(_) => None,
        }
    }

    /// Case-insensitive comparison for names (RFC 3261 §19.1.4).
    pub fn matches(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(a) => Host::V4(a),
            std::net::IpAddr::V6(a) => Host::V6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// The user part, escaped form as received.
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?hname=hvalue&...` part without the `?`, as received. Never acted upon.
    pub headers: Option<String>,
}

impl SipUri {
    pub fn new(user: Option<String>, host: Host, port: Option<u16>) -> Self {
        SipUri {
            secure: false,
            user,
            password: None,
            host,
            port,
            params: Params::new(),
            headers: None,
        }
    }

    /// The user part with `%XX` escapes decoded (invalid escapes are kept literally).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// The `transport=` parameter, lower-cased.
    pub fn transport_param(&self) -> Option<String> {
        self.params
            .value("transport")
            .map(|t| t.to_ascii_lowercase())
    }

    /// Parses a SIP URI. `in_brackets` says whether it came from inside `<...>` (or is a
    /// Request-URI): only then do `;params` and `?headers` belong to it (RFC 3261 §20.10).
    fn parse_prefix(
        s: &str,
        secure: bool,
        with_params: bool,
    ) -> Result<(SipUri, &str), ParseError> {
        // Userinfo ends at the first `@`: neither host, params nor headers may hold one
        // unescaped. The user part may contain `;` (RFC 4475 semiuri).
        let limit = s
            .find(|c: char| c == '>' || c == ' ' || c == '\t' || (c == ',' && !with_params))
            .unwrap_or(s.len());
        let (user, password, rest) = match s[..limit].find('@') {
            Some(at) => {
                let info = &s[..at];
                let (u, p) = match info.find(':') {
                    Some(c) => (&info[..c], Some(info[c + 1..].to_string())),
                    None => (info, None),
                };
                if u.is_empty() || !u.bytes().all(is_user_char) {
                    return Err(ParseError::new(ParseErrorKind::BadUri));
                }
                (Some(u.to_string()), p, &s[at + 1..])
            }
            None => (None, None, s),
        };
        let (host, mut rest) = Host::parse_prefix(rest)?;
        let mut port = None;
        if let Some(p) = rest.strip_prefix(':') {
            let n = p.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 5 {
                return Err(ParseError::new(ParseErrorKind::BadUri));
            }
            port = Some(
                p[..n]
                    .parse::<u16>()
                    .map_err(|_| ParseError::new(ParseErrorKind::BadUri))?,
            );
            rest = &p[n..];
        }
        let mut uri = SipUri {
            secure,
            user,
            password,
            host,
            port,
            params: Params::new(),
            headers: None,
        };
        if with_params {
            let (params, r) = Params::parse_uri_prefix(rest, b"?>")?;
            uri.params = params;
            rest = r;
            if let Some(h) = rest.strip_prefix('?') {
                let n = h
                    .find(|c: char| c == '>' || c.is_whitespace() || c.is_control())
                    .unwrap_or(h.len());
                uri.headers = Some(h[..n].to_string());
                rest = &h[n..];
            }
        }
        Ok((uri, rest))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// Any URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// Another scheme (`tel`, `http`, `urn`...): scheme lower-cased, the rest verbatim.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    /// Parses a Request-URI or the inside of `<...>`: the whole string must be one URI.
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        match Uri::parse_prefix(s, true)? {
            (uri, "") => Ok(uri),
            _ => Err(ParseError::new(ParseErrorKind::BadUri)),
        }
    }

    /// Parses a URI at the start of `s`; `with_params` as in [`SipUri`].
    pub(crate) fn parse_prefix(s: &str, with_params: bool) -> Result<(Uri, &str), ParseError> {
        let colon = s.find(':').ok_or(ParseError::new(ParseErrorKind::BadUri))?;
        let scheme = &s[..colon];
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(ParseError::new(ParseErrorKind::BadUri));
        }
        let body = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme.eq_ignore_ascii_case("sips");
            let (u, rest) = SipUri::parse_prefix(body, secure, with_params)?;
            return Ok((Uri::Sip(u), rest));
        }
        // Whitespace and control characters end any URI: printed inside `<...>`, they would be
        // trimmed away on the next read.
        let stop: &[char] = if with_params {
            &['>']
        } else {
            &['>', ';', ',', '?']
        };
        let n = body
            .find(|c: char| stop.contains(&c) || c.is_whitespace() || c.is_control())
            .unwrap_or(body.len());
        if n == 0 {
            return Err(ParseError::new(ParseErrorKind::BadUri));
        }
        Ok((
            Uri::Other {
                scheme: scheme.to_ascii_lowercase(),
                rest: body[..n].to_string(),
            },
            &body[n..],
        ))
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => write!(f, "{u}"),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// RFC 3261 `user` characters: unreserved, escaped, user-unreserved.
fn is_user_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b';'
                | b'?'
                | b'/'
        )
}

/// `user` (a decoded value: a caller id, a user name) as an RFC 3261 user part: every byte
/// that is not a user character, `%` included, becomes `%XX`. Whatever the value holds (CR,
/// LF, `>`, `@`), the URI it goes into stays one URI.
pub fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if is_user_char(b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; an invalid escape stays as it is.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::NameAddr;

    #[test]
    fn escaped_users_stay_one_uri_and_decode_back() {
        for user in [
            "1000",
            "+14155550100",
            "a b",
            "1000\r\nX-Evil: yes",
            "x>@evil;y",
            "50%",
        ] {
            let escaped = escape_user(user);
            assert!(!escaped.contains(['\r', '\n', ' ', '>', '@']), "{escaped}");
            let u = sip(&format!("sip:{escaped}@example.com"));
            assert_eq!(u.user_unescaped().as_deref(), Some(user));
        }
        assert_eq!(escape_user("+1-555.x_y"), "+1-555.x_y");
        assert_eq!(escape_user("a\r\nb"), "a%0D%0Ab");
    }

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    #[test]
    fn full_sip_uri() {
        let u = sip("sip:alice:pw@Example.COM:5070;transport=tcp;lr?subject=x");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert!(u.host.matches(&Host::Name("example.com".into())));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport_param().as_deref(), Some("tcp"));
        assert_eq!(u.headers.as_deref(), Some("subject=x"));
        assert_eq!(
            u.to_string(),
            "sip:alice:pw@Example.COM:5070;transport=tcp;lr?subject=x"
        );
    }

    #[test]
    fn ipv6_references() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        // RFC 5118 §4.4: the whole bracket is the address.
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8:::192.0.2.1]").is_err());
        assert!(Uri::parse("sip:[2001:db8::192.0.2.1]").is_ok());
        assert_eq!(
            sip("sip:u@[::ffff:192.0.2.2]").to_string(),
            "sip:u@[::ffff:192.0.2.2]"
        );
    }

    #[test]
    fn semicolon_in_user_part() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn escapes() {
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_unescaped().as_deref(), Some("sips:user@example.com"));
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user_unescaped().as_deref(), Some("null-\0-null"));
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%4"), "%4");
        assert_eq!(unescape("%zz"), "%zz");
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            Uri::parse("tel:+358-555-1234567;postd=pp22").unwrap(),
            Uri::Other {
                scheme: "tel".into(),
                rest: "+358-555-1234567;postd=pp22".into()
            }
        );
        assert_eq!(
            Uri::parse("soap.beep://192.0.2.103:3002").unwrap().scheme(),
            "soap.beep"
        );
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com extra").is_err());
        assert!(Uri::parse("sip:user@host:99999").is_err());
        assert!(Uri::parse("sip:@host").is_err());
        assert!(Uri::parse("sip:1.2.3.400").is_err());
    }

    /// Found by the `sip_header` fuzz target: a header-style quoted parameter value hid a `>`
    /// and an `@` inside a URI; printed without the space before it, the URI parsed as
    /// something else (a user part with a quote in it) and failed. URI parameters now follow
    /// the URI grammar: no quotes, no whitespace, brackets only around an IPv6 address.
    #[test]
    fn uri_parameters_are_not_header_parameters() {
        let crash = "sip:aclap;)er= \";\0a@h;ram>;e.5, sip:b@h;\";:";
        // Same target: a control character ended up inside a non-SIP URI.
        assert!(NameAddr::parse("p:\n;pr").is_err());
        assert!(Uri::parse("tel:+1\u{85}").is_err());
        assert!(Uri::parse(crash).is_err());
        assert!(Uri::parse("sip:h;a=\"x\"").is_err());
        assert!(Uri::parse("sip:h;a= b").is_err());
        assert!(Uri::parse("sip:h;maddr=[@x]").is_err());
        for ok in [
            "sip:h;maddr=[2001:db8::1];lr",
            "sip:alice@h;transport=tcp;x=(a)",
            "sip:user;par=u%40example.net@example.com",
        ] {
            let u = Uri::parse(ok).unwrap();
            assert_eq!(Uri::parse(&u.to_string()).unwrap(), u, "{ok}");
        }
    }
}
