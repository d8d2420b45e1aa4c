//! Dialog state (RFC 3261 §12) for one side of a B2BUA call, and the in-dialog requests built
//! from it.
//!
//! In-dialog requests go to the peer the dialog's INVITE came from or went to, not to the
//! Contact's host: a phone behind NAT advertises a private address in its Contact, and the
//! only address that reaches it is the one its packets come from (the same reason the
//! registrar keeps a binding's source).

use bytes::Bytes;

use crate::sip::message::{
    HeaderName, HeaderView, Headers, Method, NameAddr, Request, Response, Uri,
};
use crate::sip::Peer;

/// One dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our From/To value (with our tag).
    pub local: String,
    /// Their From/To value (with their tag).
    pub remote: String,
    pub local_seq: u32,
    pub remote_seq: Option<u32>,
    /// Their Contact URI: the Request-URI of our in-dialog requests.
    pub remote_target: Uri,
    /// Route headers for our in-dialog requests.
    pub route_set: Vec<String>,
    pub peer: Peer,
    /// Our Contact.
    pub contact: String,
}

fn contact_uri(headers: &Headers) -> Option<Uri> {
    let v = headers.get(&HeaderName::Contact)?;
    let first = crate::sip::message::split_list(v)
        .ok()?
        .into_iter()
        .next()?;
    NameAddr::parse(first).ok().map(|a| a.uri)
}

impl Dialog {
    /// The caller's side of a dialog we established by sending `invite` and receiving the 2xx
    /// `resp` (UAC, §12.1.2): the route set is the Record-Route reversed.
    pub fn uac(invite: &Request, resp: &Response, peer: Peer, contact: &str) -> Option<Dialog> {
        let from = invite.hdr_from().ok()?;
        let to_value = resp.headers.get(&HeaderName::To)?.to_string();
        let to = NameAddr::parse(&to_value).ok()?;
        let mut route_set: Vec<String> = resp
            .headers
            .get_all(&HeaderName::RecordRoute)
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Some(Dialog {
            call_id: invite.call_id()?.to_string(),
            local_tag: from.tag()?.to_string(),
            remote_tag: to.tag().unwrap_or_default().to_string(),
            local: invite.headers.get(&HeaderName::From)?.to_string(),
            remote: to_value,
            local_seq: invite.cseq().ok()?.seq,
            remote_seq: None,
            remote_target: contact_uri(&resp.headers).unwrap_or_else(|| invite.uri.clone()),
            route_set,
            peer,
            contact: contact.to_string(),
        })
    }

    /// The callee's side of a dialog created by `invite`, answered with `local_tag` (UAS,
    /// §12.1.1): the route set is the Record-Route in order.
    pub fn uas(invite: &Request, local_tag: &str, peer: Peer, contact: &str) -> Option<Dialog> {
        let from_value = invite.headers.get(&HeaderName::From)?.to_string();
        let from = NameAddr::parse(&from_value).ok()?;
        let mut local = invite.headers.get(&HeaderName::To)?.to_string();
        if NameAddr::parse(&local).ok()?.tag().is_none() {
            local.push_str(";tag=");
            local.push_str(local_tag);
        }
        Some(Dialog {
            call_id: invite.call_id()?.to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: from.tag().unwrap_or_default().to_string(),
            local,
            remote: from_value,
            local_seq: 0,
            remote_seq: Some(invite.cseq().ok()?.seq),
            remote_target: contact_uri(&invite.headers).unwrap_or_else(|| from.uri.clone()),
            route_set: invite
                .headers
                .get_all(&HeaderName::RecordRoute)
                .map(str::to_string)
                .collect(),
            peer,
            contact: contact.to_string(),
        })
    }

    /// A new in-dialog request (BYE, re-INVITE, INFO...) with the next local CSeq. The
    /// transaction layer adds the Via.
    pub fn request(&mut self, method: Method, body: Option<(&str, Bytes)>) -> Request {
        self.local_seq += 1;
        let mut r = self.base(method.clone(), self.local_seq);
        if let Some((ctype, b)) = body {
            r.headers.push(HeaderName::ContentType, ctype);
            r.body = b;
        }
        r
    }

    /// The ACK of the 2xx to our INVITE with CSeq `invite_seq` (§13.2.2.4).
    pub fn ack(&self, invite_seq: u32, body: Option<(&str, Bytes)>) -> Request {
        let mut r = self.base(Method::Ack, invite_seq);
        if let Some((ctype, b)) = body {
            r.headers.push(HeaderName::ContentType, ctype);
            r.body = b;
        }
        r
    }

    fn base(&self, method: Method, seq: u32) -> Request {
        let mut h = Headers::with_capacity(10);
        // The layer adds our Via in front; keep Via first for readers of traces.
        h.push(HeaderName::From, self.local.clone());
        h.push(HeaderName::To, self.remote.clone());
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{seq} {method}"));
        h.push(HeaderName::MaxForwards, "70");
        for r in &self.route_set {
            h.push(HeaderName::Route, r.clone());
        }
        if matches!(method, Method::Invite | Method::Update) {
            h.push(HeaderName::Contact, self.contact.clone());
        }
        Request {
            method,
            uri: self.remote_target.clone(),
            headers: h,
            body: Bytes::new(),
        }
    }

    /// §12.2.2: a request whose CSeq is lower than the last one seen is out of order (500).
    /// Records the CSeq of an acceptable request.
    pub fn accept_remote_cseq(&mut self, req: &Request) -> bool {
        let Ok(c) = req.cseq() else {
            return false;
        };
        if req.method == Method::Ack || req.method == Method::Cancel {
            return true;
        }
        match self.remote_seq {
            Some(last) if c.seq <= last => false,
            _ => {
                self.remote_seq = Some(c.seq);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, response_to, Message};

    fn req(text: &str) -> Request {
        match parse(Bytes::from(text.replace('\n', "\r\n"))) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn invite() -> Request {
        req("INVITE sip:bob@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: \"A\" <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: c1\nCSeq: 7 INVITE\nContact: <sip:alice@192.0.2.1:5062>\nRecord-Route: <sip:p1.example.com;lr>\nRecord-Route: <sip:p2.example.com;lr>\nMax-Forwards: 70\n\n")
    }

    #[test]
    fn uas_dialog_builds_byes_to_the_caller() {
        let peer = Peer::udp("192.0.2.1:5062".parse().unwrap());
        let mut d = Dialog::uas(&invite(), "b9", peer, "<sip:rm@192.0.2.9>").unwrap();
        let bye = d.request(Method::Bye, None);
        assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5062");
        assert_eq!(
            bye.headers.get(&HeaderName::From),
            Some("<sip:bob@example.com>;tag=b9")
        );
        assert_eq!(
            bye.headers.get(&HeaderName::To),
            Some("\"A\" <sip:alice@example.com>;tag=a1")
        );
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("1 BYE"));
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        // The caller's own requests must grow their CSeq.
        let mut again = invite();
        again.method = Method::Bye;
        again.headers.set(HeaderName::CSeq, "7 BYE");
        assert!(!d.accept_remote_cseq(&again));
        again.headers.set(HeaderName::CSeq, "8 BYE");
        assert!(d.accept_remote_cseq(&again));
    }

    #[test]
    fn uac_dialog_from_a_2xx() {
        let inv = invite();
        let mut ok = response_to(&inv, 200, Some("bt"));
        ok.headers.push(
            HeaderName::Contact,
            "<sip:bob@198.51.100.7:5070;transport=udp>",
        );
        ok.headers
            .push(HeaderName::RecordRoute, "<sip:p1.example.com;lr>");
        ok.headers
            .push(HeaderName::RecordRoute, "<sip:p2.example.com;lr>");
        let peer = Peer::udp("192.0.2.2:5060".parse().unwrap());
        let mut d = Dialog::uac(&inv, &ok, peer, "<sip:rm@192.0.2.9>").unwrap();
        assert_eq!(d.remote_tag, "bt");
        let ack = d.ack(7, None);
        assert_eq!(ack.headers.get(&HeaderName::CSeq), Some("7 ACK"));
        assert_eq!(
            ack.uri.to_string(),
            "sip:bob@198.51.100.7:5070;transport=udp"
        );
        let bye = d.request(Method::Bye, None);
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("8 BYE"));
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
        );
    }
}
