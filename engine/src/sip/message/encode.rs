//! Messages → bytes. The encoder is the last line against header injection: whatever built a
//! message (a REST field, a PCMO value, a header copied from another leg), a value with CR or
//! LF would end the header line early and start one the sender chose, so such a message is
//! refused with [`EncodeError`] instead of being written; so is any other control character,
//! except HTAB (RFC 3261 §25.1 LWS) and a control written as a quoted-pair (`\` before it,
//! which RFC 3261 allows inside quoted strings for every control but CR and LF; RFC 4475's
//! `intmeth` carries BEL, NUL and DEL that way). Bytes from 0x80 up are UTF-8 and allowed.

use std::fmt;

use bytes::Bytes;

use super::{HeaderName, Headers, Request, Response};

/// Why a message cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("the {header} header's value holds control character {byte:#04x}")]
    HeaderValue { header: String, byte: u8 },
    #[error("header name {0:?} is not a token")]
    HeaderName(String),
    #[error("the start line holds character {0:#04x} (a control character or a space)")]
    StartLine(u8),
}

/// The first byte of `value` that may not appear in a header value: CR, LF, or another
/// control character (but HTAB) that is not a quoted-pair.
pub fn forbidden_in_value(value: &str) -> Option<u8> {
    let mut escaped = false;
    for b in value.bytes() {
        let control = (b < 0x20 && b != b'\t') || b == 0x7f;
        if b == b'\r' || b == b'\n' || (control && !escaped) {
            return Some(b);
        }
        escaped = b == b'\\' && !escaped;
    }
    None
}

/// RFC 3261 `token` characters (header names, methods).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

fn check_headers(headers: &Headers) -> Result<(), EncodeError> {
    for h in headers.iter() {
        let name = h.name.as_str();
        if !is_token(name) {
            return Err(EncodeError::HeaderName(name.to_string()));
        }
        if let Some(byte) = forbidden_in_value(&h.value) {
            return Err(EncodeError::HeaderValue {
                header: name.to_string(),
                byte,
            });
        }
    }
    Ok(())
}

impl Request {
    /// The wire form. Content-Length is always written, last, from the body's real length.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let uri = self.uri.to_string();
        let method = self.method.as_str();
        if !is_token(method) {
            return Err(EncodeError::StartLine(
                method
                    .bytes()
                    .find(|b| !b.is_ascii_graphic())
                    .unwrap_or(b' '),
            ));
        }
        if let Some(b) = uri.bytes().find(|&b| b <= b' ' || b == 0x7f) {
            return Err(EncodeError::StartLine(b));
        }
        check_headers(&self.headers)?;
        let start = method.len() + 1 + uri.len() + b" SIP/2.0\r\n".len();
        let mut out = Vec::with_capacity(start + tail_len(&self.headers, &self.body));
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        encode_tail(&mut out, &self.headers, &self.body);
        Ok(out.into())
    }
}

impl Response {
    /// The wire form, as [`Request::encode`].
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        if let Some(b) = forbidden_in_value(&self.reason) {
            return Err(EncodeError::StartLine(b));
        }
        check_headers(&self.headers)?;
        let start = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        let mut out = Vec::with_capacity(start.len() + tail_len(&self.headers, &self.body));
        out.extend_from_slice(start.as_bytes());
        encode_tail(&mut out, &self.headers, &self.body);
        Ok(out.into())
    }
}

/// The exact length [`encode_tail`] writes. Encoded messages are kept for retransmission (a
/// transaction's last message, up to 32 s), so they are allocated at their size, not at an
/// estimate.
fn tail_len(headers: &Headers, body: &Bytes) -> usize {
    let fields: usize = headers
        .iter()
        .filter(|h| h.name != HeaderName::ContentLength)
        .map(|h| h.name.as_str().len() + 2 + h.value.len() + 2)
        .sum();
    let digits = body.len().checked_ilog10().unwrap_or(0) as usize + 1;
    fields + "Content-Length: ".len() + digits + 4 + body.len()
}

fn encode_tail(out: &mut Vec<u8>, headers: &Headers, body: &Bytes) {
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}

/// The wire form as text, or why there is none (for logs and tests).
fn show(f: &mut fmt::Formatter<'_>, encoded: Result<Bytes, EncodeError>) -> fmt::Result {
    match encoded {
        Ok(b) => f.write_str(&String::from_utf8_lossy(&b)),
        Err(e) => write!(f, "<not encodable: {e}>"),
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(f, self.encode())
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(f, self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, response_to, Message, Method, Uri};

    fn request(extra: (&str, &str)) -> Request {
        let mut headers = Headers::new();
        headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
        headers.push(HeaderName::MaxForwards, "70");
        headers.push(HeaderName::From, "<sip:alice@example.com>;tag=1");
        headers.push(HeaderName::To, "<sip:bob@example.com>");
        headers.push(HeaderName::CallId, "c1@example.com");
        headers.push(HeaderName::CSeq, "1 INVITE");
        headers.push(HeaderName::parse(extra.0), extra.1);
        Request {
            method: Method::Invite,
            uri: Uri::parse("sip:bob@example.com").unwrap(),
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn encoded_messages_are_allocated_at_their_exact_size() {
        let mut headers = Headers::default();
        headers.push(HeaderName::CallId, "abc@example.com");
        headers.push(HeaderName::ContentLength, "999");
        for n in [0usize, 1, 9, 10, 99, 100, 1234] {
            let body = Bytes::from(vec![b'x'; n]);
            let mut out = Vec::new();
            encode_tail(&mut out, &headers, &body);
            assert_eq!(tail_len(&headers, &body), out.len(), "body of {n} bytes");
        }
    }

    #[test]
    fn control_characters_in_a_value_are_refused() {
        for (value, byte) in [
            ("1000\r\nX-Evil: yes", b'\r'),
            ("1000\nX-Evil: yes", b'\n'),
            ("1000\rX-Evil: yes", b'\r'),
            ("a\0b", 0),
            ("a\x0bb", 0x0b),
            ("a\x7fb", 0x7f),
            ("\"a\\\r\nX-Evil: yes\"", b'\r'),
            ("\"a\\\\\x07\"", 0x07),
        ] {
            let err = request(("Subject", value)).encode().unwrap_err();
            assert_eq!(
                err,
                EncodeError::HeaderValue {
                    header: "Subject".into(),
                    byte
                },
                "{value:?}"
            );
        }
        // The same guard, whoever built the header: a From built from a REST field.
        let mut r = request(("Subject", "ok"));
        r.headers.set(
            HeaderName::From,
            "<sip:1000\r\nX-Evil: yes@example.com>;tag=1",
        );
        assert!(matches!(
            r.encode(),
            Err(EncodeError::HeaderValue { header, byte: b'\r' }) if header == "From"
        ));
        assert!(r.to_string().starts_with("<not encodable"));
    }

    #[test]
    fn tabs_and_utf8_pass_and_the_message_round_trips() {
        let r = request(("Subject", "caf\u{e9}\tau lait"));
        let bytes = r.encode().unwrap();
        let Ok(Message::Request(back)) = parse(bytes) else {
            panic!("parses back")
        };
        assert_eq!(
            back.headers.get(&HeaderName::Subject),
            Some("caf\u{e9}\tau lait")
        );
        // A control character as a quoted-pair is RFC 3261 text (RFC 4475 intmeth).
        assert!(request(("Subject", "\"BEL:\\\x07 NUL:\\\0\""))
            .encode()
            .is_ok());
    }

    #[test]
    fn bad_names_reasons_and_uris_are_refused() {
        let err = request(("X-Evil\r\nY", "v")).encode().unwrap_err();
        assert!(matches!(err, EncodeError::HeaderName(_)), "{err}");
        let err = request(("X Evil", "v")).encode().unwrap_err();
        assert!(matches!(err, EncodeError::HeaderName(_)), "{err}");
        let mut resp = response_to(&request(("Subject", "x")), 486, Some("t"));
        assert!(resp.encode().is_ok());
        resp.reason = "Busy\r\nX-Evil: yes".into();
        assert_eq!(resp.encode(), Err(EncodeError::StartLine(b'\r')));
    }
}
