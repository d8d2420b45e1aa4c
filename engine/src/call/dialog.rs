//! Dialog state (RFC 3261 §12) for one side of a B2BUA call, and the in-dialog requests built
//! from it.
//!
//! A dialog is identified by Call-ID, local tag and remote tag (§12), and a request belongs to
//! it only when all three match (§12.2.2): the request's To tag is our tag, its From tag is the
//! peer's ([`DialogId::of_request`]). The Call-ID alone is no secret — it travels in every
//! message and in logs and traces — so matching on it alone let anyone who learnt it end a
//! call or move its media. A request that matches no dialog gets 481.
//!
//! In-dialog requests go to the peer the dialog's INVITE came from or went to, not to the
//! Contact's host: a phone behind NAT advertises a private address in its Contact, and the
//! only address that reaches it is the one its packets come from (the same reason the
//! registrar keeps a binding's source).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::sip::message::{
    HeaderName, HeaderView, Headers, Method, NameAddr, Request, Response, Uri,
};
use crate::sip::Peer;

/// What identifies a dialog (§12): the Call-ID and both tags, as seen from our side. A missing
/// tag (RFC 2543 peers) is the empty tag on both sides of a comparison.
///
/// One shared allocation holding the three, joined by LF (which no Call-ID or tag can hold: the
/// parser splits header lines on it): a live call keeps its ids in the SIP actor's routes, its
/// actor and its core, and clones are a reference count, not three strings each (three
/// separate strings cost 0.9 KiB per held call, measured with `scripts/bench/concurrent`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DialogId(Arc<str>);

impl std::fmt::Debug for DialogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (call_id, local, remote) = self.parts();
        f.debug_struct("DialogId")
            .field("call_id", &call_id)
            .field("local_tag", &local)
            .field("remote_tag", &remote)
            .finish()
    }
}

impl DialogId {
    pub fn new(call_id: &str, local_tag: &str, remote_tag: &str) -> DialogId {
        DialogId(format!("{call_id}\n{local_tag}\n{remote_tag}").into())
    }

    fn parts(&self) -> (&str, &str, &str) {
        let mut it = self.0.splitn(3, '\n');
        (
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
        )
    }

    pub fn call_id(&self) -> &str {
        self.parts().0
    }

    pub fn local_tag(&self) -> &str {
        self.parts().1
    }

    pub fn remote_tag(&self) -> &str {
        self.parts().2
    }

    /// The dialog a request *we received* claims to be in (§12.2.2): its To tag is our local
    /// tag and its From tag the remote one. `None` without a Call-ID or with unreadable
    /// From/To.
    pub fn of_request(req: &Request) -> Option<DialogId> {
        let to = req.hdr_to().ok()?;
        let from = req.hdr_from().ok()?;
        Some(DialogId::new(
            req.call_id()?,
            to.tag().unwrap_or_default(),
            from.tag().unwrap_or_default(),
        ))
    }
}

/// Who owns each live dialog, keyed by the whole [`DialogId`], so a request reaches an owner
/// only when its Call-ID *and* tags match (§12.2.2). A route is never taken over: a second
/// claim on a live id (an INVITE replaying a live call's identifiers) is refused, and a route
/// goes only when its own owner lets it go.
#[derive(Debug)]
pub struct DialogRoutes<T> {
    routes: HashMap<DialogId, T>,
}

impl<T> Default for DialogRoutes<T> {
    fn default() -> Self {
        DialogRoutes {
            routes: HashMap::new(),
        }
    }
}

impl<T: PartialEq> DialogRoutes<T> {
    /// Routes `id` to `owner`; `false` (and no change) when a live route already has it.
    pub fn insert(&mut self, id: DialogId, owner: T) -> bool {
        match self.routes.entry(id) {
            Entry::Vacant(v) => {
                v.insert(owner);
                true
            }
            Entry::Occupied(o) => *o.get() == owner,
        }
    }

    /// Forgets `id` if `owner` holds it.
    pub fn remove(&mut self, id: &DialogId, owner: &T) {
        if self.routes.get(id) == Some(owner) {
            self.routes.remove(id);
        }
    }

    /// The owner of the dialog a received request is in, if any.
    pub fn owner_of(&self, req: &Request) -> Option<&T> {
        self.routes.get(&DialogId::of_request(req)?)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

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
    pub fn id(&self) -> DialogId {
        DialogId::new(&self.call_id, &self.local_tag, &self.remote_tag)
    }

    /// Whether `req` (received) is in this dialog: Call-ID and both tags (§12.2.2).
    pub fn matches(&self, req: &Request) -> bool {
        let (Ok(to), Ok(from)) = (req.hdr_to(), req.hdr_from()) else {
            return false;
        };
        req.call_id() == Some(self.call_id.as_str())
            && to.tag().unwrap_or_default() == self.local_tag
            && from.tag().unwrap_or_default() == self.remote_tag
    }

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

    #[test]
    fn requests_match_on_call_id_and_both_tags() {
        let peer = Peer::udp("192.0.2.1:5062".parse().unwrap());
        let d = Dialog::uas(&invite(), "b9", peer, "<sip:rm@192.0.2.9>").unwrap();
        let bye = |call_id: &str, from_tag: &str, to_tag: Option<&str>| {
            let to = to_tag.map_or(String::new(), |t| format!(";tag={t}"));
            req(&format!("BYE sip:rm@192.0.2.9 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\nFrom: \"A\" <sip:alice@example.com>;tag={from_tag}\nTo: <sip:bob@example.com>{to}\nCall-ID: {call_id}\nCSeq: 8 BYE\nMax-Forwards: 70\n\n"))
        };
        let good = bye("c1", "a1", Some("b9"));
        assert!(d.matches(&good));
        assert_eq!(DialogId::of_request(&good), Some(d.id()));
        // Right Call-ID, any other tag: not this dialog.
        for wrong in [
            bye("c1", "a1", Some("b8")),
            bye("c1", "x1", Some("b9")),
            bye("c1", "a1", None),
            bye("c2", "a1", Some("b9")),
        ] {
            assert!(!d.matches(&wrong), "{wrong:?}");
            assert_ne!(DialogId::of_request(&wrong), Some(d.id()));
        }
    }

    #[test]
    fn the_callees_requests_match_our_uac_dialog() {
        let inv = invite();
        let ok = response_to(&inv, 200, Some("bt"));
        let peer = Peer::udp("192.0.2.2:5060".parse().unwrap());
        let d = Dialog::uac(&inv, &ok, peer, "<sip:rm@192.0.2.9>").unwrap();
        // The callee's BYE: From is the callee (its tag), To is us (our INVITE's From tag).
        let bye = req("BYE sip:alice@192.0.2.1:5062 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK3\nFrom: <sip:bob@example.com>;tag=bt\nTo: \"A\" <sip:alice@example.com>;tag=a1\nCall-ID: c1\nCSeq: 1 BYE\nMax-Forwards: 70\n\n");
        assert!(d.matches(&bye));
        assert_eq!(DialogId::of_request(&bye), Some(d.id()));
        // A sibling fork's tag is another dialog.
        let mut sibling = bye.clone();
        sibling
            .headers
            .set(HeaderName::From, "<sip:bob@example.com>;tag=other-fork");
        assert!(!d.matches(&sibling));
    }

    #[test]
    fn routes_need_the_tags_and_are_never_taken_over() {
        let peer = Peer::udp("192.0.2.1:5062".parse().unwrap());
        let live = Dialog::uas(&invite(), "b9", peer, "<sip:rm@192.0.2.9>").unwrap();
        let mut routes = DialogRoutes::default();
        assert!(routes.insert(live.id(), "call-1"));
        // The same call routing its dialog again is fine.
        assert!(routes.insert(live.id(), "call-1"));
        // Another call claiming the same identifiers gets nothing.
        assert!(!routes.insert(live.id(), "call-2"));
        let mut bye = invite();
        bye.method = Method::Bye;
        bye.headers
            .set(HeaderName::To, "<sip:bob@example.com>;tag=b9");
        assert_eq!(routes.owner_of(&bye), Some(&"call-1"));
        // Right Call-ID, wrong or missing To tag, wrong From tag: no owner.
        let mut spoof = bye.clone();
        spoof
            .headers
            .set(HeaderName::To, "<sip:bob@example.com>;tag=guess");
        assert_eq!(routes.owner_of(&spoof), None);
        spoof.headers.set(HeaderName::To, "<sip:bob@example.com>");
        assert_eq!(routes.owner_of(&spoof), None);
        let mut spoof = bye.clone();
        spoof
            .headers
            .set(HeaderName::From, "<sip:alice@example.com>;tag=zz");
        assert_eq!(routes.owner_of(&spoof), None);
        // A new call with the live Call-ID (its own tag) routes beside it, not over it, and
        // its end does not take the live call's route with it.
        let twin = Dialog::uas(&invite(), "c7", peer, "<sip:rm@192.0.2.9>").unwrap();
        assert!(routes.insert(twin.id(), "call-2"));
        routes.remove(&live.id(), &"call-2");
        routes.remove(&twin.id(), &"call-2");
        assert_eq!(routes.owner_of(&bye), Some(&"call-1"));
        assert_eq!(routes.len(), 1);
        routes.remove(&live.id(), &"call-1");
        assert!(routes.is_empty());
    }
}
