//! Bytes → [`Message`]: line lexing (folding, compact names), framing of the body by
//! Content-Length, and validation of the headers every transaction relies on.

use bytes::Bytes;

use super::headers::{HeaderName, Headers};
use super::via::{is_token, Via};
use super::{
    parse_delta_seconds, split_list, CSeq, ContactList, Message, Method, NameAddr, ParseError,
    ParseErrorKind, Request, Response, Uri,
};

/// Explicit bounds on what the parser accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whole message, headers and body.
    pub max_message: usize,
    /// One header line, after unfolding.
    pub max_line: usize,
    /// Number of header values (each Via hop counts).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 * 1024,
            max_line: 8 * 1024,
            max_headers: 256,
        }
    }
}

/// Why a message was not parsed, and what may be done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseFailure {
    /// Nothing can or should be answered: not SIP, only keep-alive CRLFs, a malformed response
    /// (responses are never answered), or a request line too broken to recognise.
    Drop(ParseError),
    /// A request whose header lines could be read but which is invalid: answer statelessly
    /// with `error.status()` (400 or 505), echoing these headers.
    Reject { error: ParseError, headers: Headers },
}

impl ParseFailure {
    pub fn error(&self) -> &ParseError {
        match self {
            ParseFailure::Drop(e) | ParseFailure::Reject { error: e, .. } => e,
        }
    }
}

fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(kind)
}

/// Parses one message from a datagram (or one message already framed from a stream) with the
/// default limits. A missing Content-Length means "the rest of the buffer" (legal over UDP,
/// RFC 3261 §18.3); a Content-Length larger than what is there is an error (RFC 4475 clerr);
/// bytes after the body are ignored (RFC 4475 dblreq).
pub fn parse(buf: Bytes) -> Result<Message, ParseFailure> {
    parse_with_limits(buf, &Limits::default())
}

pub fn parse_with_limits(buf: Bytes, limits: &Limits) -> Result<Message, ParseFailure> {
    if buf.len() > limits.max_message {
        return Err(ParseFailure::Drop(err(ParseErrorKind::TooLarge)));
    }
    // Leading CRLFs are keep-alives or stream padding (RFC 3261 §7.5, RFC 5626 §3.5.1).
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if skip == buf.len() {
        return Err(ParseFailure::Drop(err(ParseErrorKind::BadStartLine)));
    }
    let (head_end, body_start) = find_head_end(&buf[skip..]);
    let head = &buf[skip..skip + head_end];
    let body_avail = buf.slice((skip + body_start).min(buf.len())..);

    let mut lines = Lines::new(head);
    let start = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .ok_or(ParseFailure::Drop(err(ParseErrorKind::BadStartLine)))?;
    let start = StartLine::lex(start).map_err(ParseFailure::Drop)?;

    let is_request = matches!(start, StartLine::Request { .. });
    let (headers, header_error) = lex_headers(&mut lines, limits);
    let fail = |e: ParseError, headers: Headers| {
        if is_request {
            ParseFailure::Reject { error: e, headers }
        } else {
            ParseFailure::Drop(e)
        }
    };
    if let Some(e) = header_error {
        return Err(fail(e, headers));
    }
    let body = match frame_body(&headers, body_avail) {
        Ok(b) => b,
        Err(e) => return Err(fail(e, headers)),
    };
    // The version first: a SIP/7.0 request has SIP/7.0 Vias too, and deserves 505, not 400.
    if let StartLine::Request { version, .. } = &start {
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(fail(err(ParseErrorKind::BadVersion), headers));
        }
    }
    if let Err(e) = validate(&headers, start.method()) {
        return Err(fail(e, headers));
    }
    match start {
        StartLine::Request { method, uri, .. } => {
            let uri = match parse_request_uri(uri) {
                Ok(u) => u,
                Err(e) => return Err(fail(e, headers)),
            };
            Ok(Message::Request(Request {
                method,
                uri,
                headers,
                body,
            }))
        }
        StartLine::Response { status, reason } => Ok(Message::Response(Response {
            status,
            reason: reason.to_string(),
            headers,
            body,
        })),
    }
}

/// Where the header section ends and the body starts (CRLF CRLF, or bare LF LF from lax
/// peers). Without a blank line the whole buffer is the header section (RFC 4475 baddn).
fn find_head_end(b: &[u8]) -> (usize, usize) {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            if b.get(i + 1) == Some(&b'\n') {
                return (i, i + 2);
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                let end = if i > 0 && b[i - 1] == b'\r' { i - 1 } else { i };
                return (end, i + 3);
            }
        }
        i += 1;
    }
    (b.len(), b.len())
}

/// Lines of the header section, CRLF or LF terminated.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn new(b: &'a [u8]) -> Self {
        Lines { rest: b }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

enum StartLine<'a> {
    Request {
        method: Method,
        uri: &'a str,
        version: &'a str,
    },
    Response {
        status: u16,
        reason: &'a str,
    },
}

impl<'a> StartLine<'a> {
    fn lex(line: &'a str) -> Result<StartLine<'a>, ParseError> {
        if let Some(rest) = line.strip_prefix("SIP/") {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the phrase may be
            // empty (RFC 4475 noreason) and UTF-8 (unreason).
            let rest = rest
                .strip_prefix("2.0 ")
                .ok_or(err(ParseErrorKind::BadVersion))?;
            let code = rest.get(..3).ok_or(err(ParseErrorKind::BadStatusCode))?;
            let after = &rest[3..];
            if !code.bytes().all(|b| b.is_ascii_digit())
                || !(after.is_empty() || after.starts_with(' '))
            {
                // Also catches RFC 4475 bigcode (4294967301).
                return Err(err(ParseErrorKind::BadStatusCode));
            }
            let status: u16 = code
                .parse()
                .map_err(|_| err(ParseErrorKind::BadStatusCode))?;
            if !(100..=699).contains(&status) {
                return Err(err(ParseErrorKind::BadStatusCode));
            }
            return Ok(StartLine::Response {
                status,
                reason: after.trim_start_matches(' '),
            });
        }
        // Request-Line. Runs of SP between elements and trailing SP are tolerated and
        // normalised (RFC 4475 lwsstart, trws); any other extra element is an error (lwsruri),
        // reported as a Reject by the caller once the headers are known.
        let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
        let looks_like_request = parts.len() >= 3
            && parts[0].bytes().all(is_token)
            && parts[parts.len() - 1]
                .get(..4)
                .is_some_and(|v| v.eq_ignore_ascii_case("SIP/"));
        if !looks_like_request {
            return Err(err(ParseErrorKind::BadStartLine));
        }
        if parts.len() != 3 {
            return Ok(StartLine::Request {
                method: Method::parse(parts[0]),
                uri: "",
                version: parts[parts.len() - 1],
            });
        }
        Ok(StartLine::Request {
            method: Method::parse(parts[0]),
            uri: parts[1],
            version: parts[2],
        })
    }

    fn method(&self) -> Option<&Method> {
        match self {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }
}

fn parse_request_uri(s: &str) -> Result<Uri, ParseError> {
    if s.is_empty() {
        return Err(err(ParseErrorKind::BadStartLine));
    }
    Uri::parse(s).map_err(|_| err(ParseErrorKind::BadUri))
}

/// Reads header lines into `Headers`, unfolding continuation lines and splitting Via lists into
/// one value per hop. Returns what could be read and the first error, so a Reject can still
/// echo Via, From, To, Call-ID and CSeq.
fn lex_headers(lines: &mut Lines<'_>, limits: &Limits) -> (Headers, Option<ParseError>) {
    let mut raw: Vec<(HeaderName, String)> = Vec::with_capacity(16);
    let mut first_error = None;
    for line in lines {
        if line.len() > limits.max_line {
            first_error.get_or_insert(err(ParseErrorKind::LineTooLong));
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            first_error.get_or_insert(err(ParseErrorKind::NotUtf8));
            continue;
        };
        if line.starts_with([' ', '\t']) {
            match raw.last_mut() {
                Some((_, v)) if v.len() + line.len() <= limits.max_line => {
                    let cont = line.trim();
                    if !cont.is_empty() {
                        if !v.is_empty() {
                            v.push(' ');
                        }
                        v.push_str(cont);
                    }
                }
                Some(_) => {
                    first_error.get_or_insert(err(ParseErrorKind::LineTooLong));
                }
                None => {
                    first_error.get_or_insert(err(ParseErrorKind::BadHeaderLine));
                }
            }
            continue;
        }
        let Some(colon) = line.find(':') else {
            first_error.get_or_insert(err(ParseErrorKind::BadHeaderLine));
            continue;
        };
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token) {
            first_error.get_or_insert(err(ParseErrorKind::BadHeaderLine));
            continue;
        }
        raw.push((
            HeaderName::parse(name),
            line[colon + 1..].trim().to_string(),
        ));
        if raw.len() > limits.max_headers {
            first_error.get_or_insert(err(ParseErrorKind::TooManyHeaders));
            break;
        }
    }
    let mut headers = Headers::with_capacity(raw.len() + 4);
    for (name, value) in raw {
        if name == HeaderName::Via {
            match split_list(&value) {
                Ok(hops) => {
                    for hop in hops {
                        headers.push(HeaderName::Via, hop);
                    }
                    continue;
                }
                Err(_) => {
                    first_error.get_or_insert(err(ParseErrorKind::BadVia));
                }
            }
        }
        headers.push(name, value);
    }
    if headers.len() > limits.max_headers {
        first_error.get_or_insert(err(ParseErrorKind::TooManyHeaders));
    }
    (headers, first_error)
}

fn frame_body(headers: &Headers, avail: Bytes) -> Result<Bytes, ParseError> {
    let Some(cl) = headers.get(&HeaderName::ContentLength) else {
        return Ok(avail);
    };
    let cl = cl.trim();
    if cl.is_empty() || cl.len() > 10 || !cl.bytes().all(|b| b.is_ascii_digit()) {
        // Also RFC 4475 ncl (a negative length).
        return Err(err(ParseErrorKind::BadContentLength));
    }
    let n: usize = cl
        .parse()
        .map_err(|_| err(ParseErrorKind::BadContentLength))?;
    if n > avail.len() {
        return Err(err(ParseErrorKind::BodyTruncated));
    }
    Ok(avail.slice(..n))
}

/// The checks every message must pass before a transaction may look at it.
fn validate(headers: &Headers, method: Option<&Method>) -> Result<(), ParseError> {
    const SINGLE: [(HeaderName, &str); 7] = [
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::MaxForwards, "Max-Forwards"),
        (HeaderName::ContentLength, "Content-Length"),
        (HeaderName::Expires, "Expires"),
    ];
    for (name, label) in &SINGLE {
        if headers.count(name) > 1 {
            return Err(err(ParseErrorKind::DuplicateHeader(label)));
        }
    }
    for (name, label) in [
        (HeaderName::Via, "Via"),
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
    ] {
        if headers.get(&name).is_none() {
            return Err(err(ParseErrorKind::MissingHeader(label)));
        }
    }
    for v in headers.get_all(&HeaderName::Via) {
        Via::parse(v)?;
    }
    let cseq = CSeq::parse(headers.get(&HeaderName::CSeq).unwrap_or_default())?;
    if let Some(m) = method {
        if &cseq.method != m {
            return Err(err(ParseErrorKind::CSeqMethodMismatch));
        }
    }
    NameAddr::parse(headers.get(&HeaderName::From).unwrap_or_default())?;
    NameAddr::parse(headers.get(&HeaderName::To).unwrap_or_default())?;
    if headers
        .get(&HeaderName::CallId)
        .is_some_and(|c| c.is_empty() || c.contains([' ', '\t']))
    {
        return Err(err(ParseErrorKind::BadHeaderLine));
    }
    if let Some(mf) = headers.get(&HeaderName::MaxForwards) {
        let ok = !mf.is_empty()
            && mf.len() <= 10
            && mf.bytes().all(|b| b.is_ascii_digit())
            && mf.parse::<u32>().is_ok_and(|v| v <= 255);
        if !ok {
            return Err(err(ParseErrorKind::BadMaxForwards));
        }
    }
    if let Some(e) = headers.get(&HeaderName::Expires) {
        parse_delta_seconds(e)?;
    }
    if method.is_some() && headers.get(&HeaderName::Contact).is_some() {
        if let ContactList::Addrs(addrs) =
            ContactList::parse(headers.get_all(&HeaderName::Contact))?
        {
            for a in &addrs {
                if let Some(e) = a.params.value("expires") {
                    parse_delta_seconds(e)?;
                }
            }
        }
    }
    Ok(())
}
