//! UAS request screening (RFC 3261 §8.2.1–8.2.3), before a request reaches the registrar or
//! the call core: method, URI scheme, required extensions, body type, hop count. Each check
//! answers with the status the RFC names, carrying the header that tells the client what would
//! have worked (Allow, Unsupported, Accept).

use super::message::{reason_phrase, response_to, HeaderName, Method, Request, Response};

/// What this element implements.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Methods answered here; other known methods get 405, unknown ones 501.
    pub allowed: Vec<Method>,
    /// Option tags we support (Require checks, the Supported header).
    pub supported: Vec<&'static str>,
    /// Body types accepted.
    pub accept: Vec<&'static str>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            allowed: vec![
                Method::Invite,
                Method::Ack,
                Method::Cancel,
                Method::Bye,
                Method::Options,
                Method::Register,
                Method::Info,
            ],
            supported: vec!["path", "outbound", "gruu"],
            accept: vec!["application/sdp", "application/dtmf-relay"],
        }
    }
}

impl Capabilities {
    pub fn allow_header(&self) -> String {
        self.allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Screens a new request. `Err` carries the response to send.
pub fn screen(req: &Request, caps: &Capabilities, to_tag: &str) -> Result<(), Box<Response>> {
    let reject = |status: u16| Box::new(response_to(req, status, Some(to_tag)));
    // §8.2.1 method inspection.
    if let Method::Extension(_) = req.method {
        let mut r = reject(501);
        r.headers.push(HeaderName::Allow, caps.allow_header());
        return Err(r);
    }
    if !caps.allowed.contains(&req.method) {
        let mut r = reject(405);
        r.headers.push(HeaderName::Allow, caps.allow_header());
        return Err(r);
    }
    // §8.2.2.1: a Request-URI scheme we do not understand (RFC 4475 unkscm, novelsc).
    if !matches!(req.uri.scheme(), "sip" | "sips") {
        return Err(reject(416));
    }
    // §8.2.2.3: extensions the client requires (RFC 4475 bext01). Never for ACK or CANCEL.
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let unknown: Vec<&str> = req
            .headers
            .get_all(&HeaderName::Require)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty() && !caps.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unknown.is_empty() {
            let mut r = reject(420);
            r.headers.push(HeaderName::Unsupported, unknown.join(", "));
            return Err(r);
        }
    }
    // §8.2.3: a body we cannot read (RFC 4475 invut).
    if !req.body.is_empty() && req.method != Method::Cancel {
        let ctype = req.headers.get(&HeaderName::ContentType).map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let known = ctype
            .as_deref()
            .is_some_and(|c| caps.accept.contains(&c) || c == "multipart/mixed");
        let encoded = req
            .headers
            .get(&HeaderName::ContentEncoding)
            .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        if !known || encoded {
            let mut r = reject(415);
            r.headers.push(HeaderName::Accept, caps.accept.join(", "));
            if encoded {
                r.headers
                    .push(HeaderName::Other("Accept-Encoding".into()), "identity");
            }
            return Err(r);
        }
    }
    Ok(())
}

/// The answer to an OPTIONS addressed to us (§11.2).
pub fn options_response(req: &Request, caps: &Capabilities, to_tag: &str) -> Response {
    let mut r = response_to(req, 200, Some(to_tag));
    r.headers.push(HeaderName::Allow, caps.allow_header());
    r.headers.push(HeaderName::Accept, caps.accept.join(", "));
    r.headers
        .push(HeaderName::Supported, caps.supported.join(", "));
    r
}

/// A bare response with a custom reason phrase appended to the standard one.
pub fn reject_with(req: &Request, status: u16, to_tag: &str, detail: &str) -> Response {
    let mut r = response_to(req, status, Some(to_tag));
    r.reason = format!("{} ({detail})", reason_phrase(status));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, Message};
    use bytes::Bytes;

    fn req(text: &str) -> Request {
        match parse(Bytes::from(text.replace('\n', "\r\n"))) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const HEAD: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nMax-Forwards: 70\n";

    fn status(r: &Request) -> Option<u16> {
        screen(r, &Capabilities::default(), "t")
            .err()
            .map(|r| r.status)
    }

    #[test]
    fn methods() {
        let r = req(&format!("FOO sip:b@h SIP/2.0\n{HEAD}CSeq: 1 FOO\n\n"));
        let resp = screen(&r, &Capabilities::default(), "t").unwrap_err();
        assert_eq!(resp.status, 501);
        assert!(resp
            .headers
            .get(&HeaderName::Allow)
            .unwrap()
            .contains("REGISTER"));
        let r = req(&format!(
            "SUBSCRIBE sip:b@h SIP/2.0\n{HEAD}CSeq: 1 SUBSCRIBE\n\n"
        ));
        assert_eq!(status(&r), Some(405));
        let r = req(&format!(
            "OPTIONS sip:b@h SIP/2.0\n{HEAD}CSeq: 1 OPTIONS\n\n"
        ));
        assert_eq!(status(&r), None);
    }

    #[test]
    fn schemes_extensions_and_bodies() {
        let r = req(&format!(
            "OPTIONS tel:+15551234 SIP/2.0\n{HEAD}CSeq: 1 OPTIONS\n\n"
        ));
        assert_eq!(status(&r), Some(416));
        let r = req(&format!(
            "OPTIONS sip:b@h SIP/2.0\n{HEAD}CSeq: 1 OPTIONS\nRequire: path, nothingSupportsThis\n\n"
        ));
        let resp = screen(&r, &Capabilities::default(), "t").unwrap_err();
        assert_eq!(resp.status, 420);
        assert_eq!(
            resp.headers.get(&HeaderName::Unsupported),
            Some("nothingSupportsThis")
        );
        let r = req(&format!(
            "INVITE sip:b@h SIP/2.0\n{HEAD}CSeq: 1 INVITE\nContent-Type: application/unknownformat\n\nabc"
        ));
        let resp = screen(&r, &Capabilities::default(), "t").unwrap_err();
        assert_eq!(resp.status, 415);
        assert!(resp
            .headers
            .get(&HeaderName::Accept)
            .unwrap()
            .contains("application/sdp"));
        let r = req(&format!(
            "INVITE sip:b@h SIP/2.0\n{HEAD}CSeq: 1 INVITE\nContent-Type: application/SDP\n\nv=0\n"
        ));
        assert_eq!(status(&r), None);
    }
}
