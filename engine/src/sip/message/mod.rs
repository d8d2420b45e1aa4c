//! SIP messages (RFC 3261 §7, §20, §25): parsing, typed header views, printing.
//!
//! Our own parser rather than rsip's: rsip 0.4 refuses 22 of the 62 RFC 4475/5118 torture
//! messages, among them every valid IPv6 one, escaped URIs, folded headers and extension
//! methods, and it bounds neither the body by Content-Length nor the sizes of its inputs. This
//! module is a strict-where-RFC-4475-asks, liberal-where-it-allows parser with explicit limits.
//!
//! Shape: a message is its start line, an ordered list of raw (unfolded) header strings and a
//! body. Typed views (Via, From/To, CSeq, Contact...) are parsed on demand; the headers that
//! every transaction needs are validated once, at parse time, so later accessors only fail on
//! headers the caller changed.

mod build;
mod encode;
mod headers;
mod name_addr;
mod params;
mod parse;
mod uri;
mod via;

use std::fmt;

use bytes::Bytes;

pub use build::{new_branch, new_token, response_from_headers, response_to};
pub use encode::EncodeError;
pub use headers::{Header, HeaderName, Headers};
pub use name_addr::{ContactList, NameAddr};
pub use params::Params;
pub use parse::{parse, parse_with_limits, Limits, ParseFailure};
pub use uri::{escape_user, unescape, Host, SipUri, Uri};
pub use via::{Via, MAGIC_COOKIE};

/// What is wrong with a message. Each kind has a stable reason phrase, used in the 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    #[error("Malformed start line")]
    BadStartLine,
    #[error("Version Not Supported")]
    BadVersion,
    #[error("Malformed Request-URI")]
    BadUri,
    #[error("Malformed host")]
    BadHost,
    #[error("Malformed header line")]
    BadHeaderLine,
    #[error("Header section is not UTF-8")]
    NotUtf8,
    #[error("Empty parameter")]
    EmptyParam,
    #[error("Malformed parameter")]
    BadParam,
    #[error("Unterminated quoted string")]
    UnterminatedQuote,
    #[error("Malformed Via header")]
    BadVia,
    #[error("Malformed address")]
    BadNameAddr,
    #[error("Malformed display name")]
    BadDisplayName,
    #[error("Malformed Contact header")]
    BadContact,
    #[error("Malformed CSeq header")]
    BadCSeq,
    #[error("Malformed Max-Forwards header")]
    BadMaxForwards,
    #[error("Malformed Content-Length header")]
    BadContentLength,
    #[error("Malformed Expires value")]
    BadExpires,
    #[error("Missing {0} header")]
    MissingHeader(&'static str),
    #[error("Duplicate {0} header")]
    DuplicateHeader(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    #[error("Content-Length larger than the body")]
    BodyTruncated,
    #[error("Message too large")]
    TooLarge,
    #[error("Header line too long")]
    LineTooLong,
    #[error("Too many headers")]
    TooManyHeaders,
    #[error("Malformed status code")]
    BadStatusCode,
}

/// A parse error (see [`ParseErrorKind`] for the reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
}

impl ParseError {
    pub fn new(kind: ParseErrorKind) -> Self {
        ParseError { kind }
    }

    /// The status a UAS answers a request with this defect: 505 for the version, else 400.
    pub fn status(&self) -> u16 {
        match self.kind {
            ParseErrorKind::BadVersion => 505,
            ParseErrorKind::TooLarge => 513,
            _ => 400,
        }
    }
}

/// A request method. Method names are case-sensitive (RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Ack,
    Bye,
    Cancel,
    Info,
    Invite,
    Message,
    Notify,
    Options,
    Prack,
    Publish,
    Refer,
    Register,
    Subscribe,
    Update,
    /// A method this stack does not implement (answered 501).
    Extension(Box<str>),
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "INFO" => Method::Info,
            "INVITE" => Method::Invite,
            "MESSAGE" => Method::Message,
            "NOTIFY" => Method::Notify,
            "OPTIONS" => Method::Options,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            "REFER" => Method::Refer,
            "REGISTER" => Method::Register,
            "SUBSCRIBE" => Method::Subscribe,
            "UPDATE" => Method::Update,
            other => Method::Extension(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Info => "INFO",
            Method::Invite => "INVITE",
            Method::Message => "MESSAGE",
            Method::Notify => "NOTIFY",
            Method::Options => "OPTIONS",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Refer => "REFER",
            Method::Register => "REGISTER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Update => "UPDATE",
            Method::Extension(m) => m,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CSeq header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        let bad = || ParseError::new(ParseErrorKind::BadCSeq);
        let s = s.trim();
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 10 {
            return Err(bad());
        }
        let seq: u64 = s[..n].parse().map_err(|_| bad())?;
        // RFC 3261 §8.1.1.5: the sequence number must be less than 2^31.
        if seq >= 1 << 31 {
            return Err(bad());
        }
        let method = s[n..].trim();
        if method.is_empty() || !method.bytes().all(via::is_token) {
            return Err(bad());
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::parse(method),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Parses a delta-seconds value (Expires, Min-Expires, contact `expires`): at most 2^32-1
/// (RFC 4475 scalar02: never wrap or saturate silently).
pub fn parse_delta_seconds(s: &str) -> Result<u32, ParseError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(ParseErrorKind::BadExpires));
    }
    s.parse::<u32>()
        .map_err(|_| ParseError::new(ParseErrorKind::BadExpires))
}

/// Splits a header value into its comma-separated elements, honouring quoted strings and
/// `<...>`. An empty element (`a,,b`) is invalid (RFC 4475 badinv01).
pub fn split_list(v: &str) -> Result<Vec<&str>, ParseError> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let (mut start, mut i, mut in_angle) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += params::quoted_end(&v[i..])?;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                let item = v[start..i].trim();
                if item.is_empty() {
                    return Err(ParseError::new(ParseErrorKind::EmptyParam));
                }
                out.push(item);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let item = v[start..].trim();
    if item.is_empty() {
        return Err(ParseError::new(ParseErrorKind::EmptyParam));
    }
    out.push(item);
    Ok(out)
}

/// Typed views shared by requests and responses.
pub trait HeaderView {
    fn headers(&self) -> &Headers;

    fn call_id(&self) -> Option<&str> {
        self.headers().get(&HeaderName::CallId)
    }

    fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(
            self.headers()
                .get(&HeaderName::CSeq)
                .ok_or(ParseError::new(ParseErrorKind::MissingHeader("CSeq")))?,
        )
    }

    fn hdr_from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            self.headers()
                .get(&HeaderName::From)
                .ok_or(ParseError::new(ParseErrorKind::MissingHeader("From")))?,
        )
    }

    fn hdr_to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            self.headers()
                .get(&HeaderName::To)
                .ok_or(ParseError::new(ParseErrorKind::MissingHeader("To")))?,
        )
    }

    /// The topmost Via (the parser keeps one Via value per header line).
    fn top_via(&self) -> Result<Via, ParseError> {
        Via::parse(
            self.headers()
                .get(&HeaderName::Via)
                .ok_or(ParseError::new(ParseErrorKind::MissingHeader("Via")))?,
        )
    }

    fn contacts(&self) -> Result<ContactList, ParseError> {
        ContactList::parse(self.headers().get_all(&HeaderName::Contact))
    }

    /// The Expires header, if present.
    fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.headers()
            .get(&HeaderName::Expires)
            .map(parse_delta_seconds)
            .transpose()
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl HeaderView for Request {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl HeaderView for Response {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl Response {
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

/// The standard reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("0009 INVITE").unwrap().seq, 9);
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert_eq!(
            CSeq::parse("1 NEWMETHOD").unwrap().method,
            Method::Extension("NEWMETHOD".into())
        );
    }

    #[test]
    fn delta_seconds_bounds() {
        assert_eq!(parse_delta_seconds("4294967295"), Ok(u32::MAX));
        assert!(parse_delta_seconds("4294967296").is_err());
        assert!(parse_delta_seconds("-1").is_err());
        assert!(parse_delta_seconds("").is_err());
    }

    #[test]
    fn list_splitting() {
        assert_eq!(
            split_list("\"a,b\" <sip:x>, <sip:y;p=1,2>").unwrap(),
            ["\"a,b\" <sip:x>", "<sip:y;p=1,2>"]
        );
        assert!(split_list("a,,b").is_err());
        assert!(split_list(",").is_err());
    }

    /// Found by the `sip_message` fuzz target: a message at the header cap without
    /// Content-Length prints with one header more (we always write Content-Length), so it
    /// re-parses only with one header of room; it must never print anything else extra.
    #[test]
    fn a_message_at_the_header_cap_prints_with_content_length_only_added() {
        let limits = Limits::default();
        let mut text = String::from(
            "MESSAGE sip:a@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\
             To: <sip:a@example.org>\r\nFrom: <sip:b@example.org>;tag=1\r\nCall-ID: c\r\n\
             CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n",
        );
        for i in 0..limits.max_headers - 6 {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        let Ok(Message::Request(r)) = parse_with_limits(Bytes::from(text), &limits) else {
            panic!("a message at the cap parses");
        };
        let printed = r.encode().unwrap();
        assert!(matches!(
            parse_with_limits(printed.clone(), &limits),
            Err(ParseFailure::Reject { .. })
        ));
        let room = Limits {
            max_headers: limits.max_headers + 1,
            ..limits
        };
        let Ok(Message::Request(again)) = parse_with_limits(printed, &room) else {
            panic!("the printed form parses with one header of room");
        };
        assert_eq!(again.headers.len(), limits.max_headers + 1);
    }
}
