//! A thin SIP user agent over UDP for the call tests, built on `engine::sip::message` (parse
//! and build) and `engine::sip::digest` (answering 401/407). Its RTP side is [`super::rtp`].
//!
//! It is deliberately small and blocking: one socket, an inbox of messages received but not
//! yet asked for, and waits that always have a deadline. It does not retransmit: on loopback
//! nothing is lost, and a lost datagram should fail a test loudly rather than be papered
//! over. It does absorb the server's retransmissions: a request seen before is answered
//! again with the response it already got (or dropped while unanswered), and a response seen
//! before is dropped, so counts of INVITEs or BYEs are exact.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::sip::digest::{self, Algorithm, Credentials, Qop};
use engine::sip::message::{
    parse, response_to, HeaderName, HeaderView, Message, NameAddr, Request, Response,
};

/// A fresh token for tags, branches and Call-IDs (unique within the test process).
pub fn token() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{nanos:x}{n:x}", std::process::id())
}

/// An audio offer/answer: PCMU and telephone-event at `rtp`.
pub fn sdp(rtp: SocketAddr) -> String {
    sdp_with(rtp, "sendrecv", "")
}

/// The same with another direction attribute (`sendonly` for hold) and extra lines after
/// the audio stream (another m= line, say).
pub fn sdp_with(rtp: SocketAddr, direction: &str, extra: &str) -> String {
    let ip = rtp.ip();
    format!(
        "v=0\r\no=ua 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n{extra}",
        rtp.port()
    )
}

/// Where an SDP body says its audio goes (`c=` and the `m=audio` port).
pub fn sdp_audio_addr(body: &[u8]) -> Option<SocketAddr> {
    sdp_media_addr(body, "audio")
}

/// Where an SDP body says its `kind` stream goes (the first `c=IN IP4` and the m-line's port;
/// `None` when disabled with port 0).
pub fn sdp_media_addr(body: &[u8], kind: &str) -> Option<SocketAddr> {
    let text = std::str::from_utf8(body).ok()?;
    let ip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim();
    let port = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("m={kind} ")))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}")
        .parse()
        .ok()
        .filter(|a: &SocketAddr| a.port() != 0)
}

/// A request that came in, with the To tag we answer it with.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub req: Request,
    pub src: SocketAddr,
    pub at: Instant,
    pub tag: String,
}

impl Incoming {
    pub fn call_id(&self) -> &str {
        self.req.call_id().unwrap_or("")
    }
}

/// An INVITE we sent (after its 407), and what it got so far.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub invite: Request,
    /// Every status received for it, in order (100 left out).
    pub statuses: Vec<u16>,
}

/// One established dialog, from our side.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    local: String,
    remote: String,
    target: String,
    cseq: u32,
    peer: SocketAddr,
    /// Where the other side wants its RTP (from its SDP).
    pub remote_rtp: Option<SocketAddr>,
    /// Where it wants video, if it took any.
    pub remote_video: Option<SocketAddr>,
    /// The other side's SDP (its `a=crypto`, say).
    pub remote_sdp: Vec<u8>,
}

impl Dialog {
    /// A copy with other tags and the same Call-ID — what a stranger who learnt only the
    /// Call-ID would send: ours (`local`, in From) and theirs (`remote`, in To); `None` keeps
    /// a tag, `Some("")` leaves it out.
    pub fn with_tags(&self, local: Option<&str>, remote: Option<&str>) -> Dialog {
        fn retag(value: &str, tag: Option<&str>) -> String {
            let Some(tag) = tag else {
                return value.to_string();
            };
            let bare = match value.find(";tag=") {
                Some(i) => {
                    let rest = &value[i + 5..];
                    let end = rest.find(';').map_or(value.len(), |j| i + 5 + j);
                    format!("{}{}", &value[..i], &value[end..])
                }
                None => value.to_string(),
            };
            if tag.is_empty() {
                bare
            } else {
                format!("{bare};tag={tag}")
            }
        }
        Dialog {
            local: retag(&self.local, local),
            remote: retag(&self.remote, remote),
            ..self.clone()
        }
    }
}

/// One SIP user agent: a user of the test domain on its own UDP port.
pub struct Ua {
    pub user: String,
    password: String,
    domain: String,
    server: SocketAddr,
    sock: UdpSocket,
    pub addr: SocketAddr,
    inbox: VecDeque<(Message, SocketAddr, Instant)>,
    /// Requests seen (by Call-ID, CSeq, branch), with our last answer if any.
    requests: HashMap<String, Option<Response>>,
    responses: HashSet<String>,
}

impl Ua {
    pub fn new(server: SocketAddr, domain: &str, user: &str, password: &str) -> Ua {
        Ua::bind_at("127.0.0.1", server, domain, user, password)
    }

    /// A UA on another loopback address (a carrier on 127.0.0.2, say).
    pub fn bind_at(ip: &str, server: SocketAddr, domain: &str, user: &str, password: &str) -> Ua {
        let sock = UdpSocket::bind((ip, 0)).expect("bind ua");
        let addr = sock.local_addr().unwrap();
        Ua {
            user: user.into(),
            password: password.into(),
            domain: domain.into(),
            server,
            sock,
            addr,
            inbox: VecDeque::new(),
            requests: HashMap::new(),
            responses: HashSet::new(),
        }
    }

    fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.sock.send_to(bytes, to).expect("udp send");
    }

    fn send_request(&self, wire: String) -> Request {
        let Ok(Message::Request(r)) = parse(wire.into_bytes().into()) else {
            panic!("the test UA built an invalid request")
        };
        self.send(&r.encode().unwrap(), self.server);
        r
    }

    fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.user, self.addr)
    }

    /// A request from us to the server; `to` and `extra` are whole header values / lines.
    fn build(&self, method: &str, uri: &str, head: &Head, extra: &str, body: &str) -> String {
        self.build_typed(method, uri, head, extra, "application/sdp", body)
    }

    /// [`Ua::build`] with a body of another type.
    fn build_typed(
        &self,
        method: &str,
        uri: &str,
        head: &Head,
        extra: &str,
        content_type: &str,
        body: &str,
    ) -> String {
        let ctype = if body.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {content_type}\r\n")
        };
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\nMax-Forwards: 70\r\nContact: {}\r\n{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
            self.addr, head.branch, head.from, head.to, head.call_id, head.cseq, self.contact(), body.len()
        )
    }

    /// The next message that `want` accepts: from the inbox first, then the socket.
    fn next(
        &mut self,
        timeout: Duration,
        want: impl Fn(&Message) -> bool,
    ) -> Option<(Message, SocketAddr, Instant)> {
        if let Some(i) = self.inbox.iter().position(|(m, _, _)| want(m)) {
            return self.inbox.remove(i);
        }
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            // Past the deadline, still take what is already queued (a zero timeout means
            // "has anything come?"), then give up on the first empty read.
            let left = deadline.saturating_duration_since(Instant::now());
            let wait = left.max(Duration::from_millis(1));
            self.sock.set_read_timeout(Some(wait)).unwrap();
            let Ok((n, src)) = self.sock.recv_from(&mut buf) else {
                if left.is_zero() {
                    return None;
                }
                continue;
            };
            let Ok(msg) = parse(buf[..n].to_vec().into()) else {
                continue;
            };
            if !self.first_time(&msg, src) {
                continue;
            }
            let at = Instant::now();
            if want(&msg) {
                return Some((msg, src, at));
            }
            self.inbox.push_back((msg, src, at));
        }
    }

    /// False for a retransmission (answered again here if we had answered it).
    fn first_time(&mut self, msg: &Message, src: SocketAddr) -> bool {
        match msg {
            Message::Request(r) => {
                let key = request_key(r);
                match self.requests.get(&key) {
                    None => {
                        self.requests.insert(key, None);
                        true
                    }
                    Some(answer) => {
                        if let Some(resp) = answer {
                            self.send(&resp.encode().unwrap(), src);
                        }
                        false
                    }
                }
            }
            Message::Response(r) => {
                let to = r.headers.get(&HeaderName::To).unwrap_or("");
                let key = format!("{:?} {:?} {} {to}", r.call_id(), r.cseq().ok(), r.status);
                self.responses.insert(key)
            }
        }
    }

    /// The next response to `req` (same Call-ID and CSeq) other than 100.
    fn response_to(&mut self, req: &Request, timeout: Duration) -> Response {
        let (call_id, cseq) = (req.call_id().unwrap().to_string(), req.cseq().unwrap());
        let got = self.next(timeout, |m| {
            matches!(m, Message::Response(r) if r.status != 100
                && r.call_id() == Some(call_id.as_str()) && r.cseq().ok().as_ref() == Some(&cseq))
        });
        match got {
            Some((Message::Response(r), _, _)) => r,
            _ => panic!(
                "{}: no response to {} {cseq} within {timeout:?}",
                self.user, req.method
            ),
        }
    }

    /// Digest credentials for a 401/407 `challenge` (qop=auth when offered, else RFC 2069).
    fn authorization(&self, challenge: &str, method: &str, uri: &str) -> String {
        let p = challenge_params(challenge);
        let get = |k: &str| p.get(k).cloned();
        let algorithm = get("algorithm")
            .and_then(|a| Algorithm::from_name(&a))
            .unwrap_or(Algorithm::Md5);
        let qop = get("qop").filter(|q| q.split(',').any(|q| q.trim() == "auth"));
        let creds = Credentials {
            username: self.user.clone(),
            realm: get("realm").expect("realm in challenge"),
            nonce: get("nonce").expect("nonce in challenge"),
            uri: uri.to_string(),
            response: String::new(),
            algorithm,
            qop: qop.as_ref().map(|_| Qop::Auth),
            cnonce: Some(token()),
            nc: Some(1),
            nc_text: Some("00000001".into()),
            opaque: get("opaque"),
        };
        let ha1 = digest::ha1(algorithm, &self.user, &creds.realm, &self.password);
        let response = digest::expected_response(&creds, method, &ha1);
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={}",
            self.user, creds.realm, creds.nonce, algorithm.name()
        );
        if qop.is_some() {
            v += &format!(
                ", qop=auth, nc=00000001, cnonce=\"{}\"",
                creds.cnonce.unwrap()
            );
        }
        if let Some(o) = creds.opaque {
            v += &format!(", opaque=\"{o}\"");
        }
        v
    }

    /// REGISTER with digest; panics unless it ends in 200.
    pub fn register(&mut self, expires: u32) {
        let r = self.register_response(expires);
        assert_eq!(r.status, 200, "{}: REGISTER with credentials", self.user);
    }

    /// REGISTER, and again with digest after a 401: the final response (a 503 while the store
    /// is away, say; the first one when it is not a 401).
    pub fn register_response(&mut self, expires: u32) -> Response {
        let uri = format!("sip:{}", self.domain);
        let mut head = Head::new(
            &self.user,
            &self.domain,
            &format!("<sip:{}@{}>", self.user, self.domain),
        );
        let extra = format!("Expires: {expires}\r\n");
        let req = self.send_request(self.build("REGISTER", &uri, &head, &extra, ""));
        let r = self.response_to(&req, Duration::from_secs(10));
        if r.status != 401 {
            return r;
        }
        let challenge = r
            .headers
            .get(&HeaderName::WwwAuthenticate)
            .expect("challenge")
            .to_string();
        head.next();
        let auth = self.authorization(&challenge, "REGISTER", &uri);
        let extra = format!("{extra}Authorization: {auth}\r\n");
        let req = self.send_request(self.build("REGISTER", &uri, &head, &extra, ""));
        self.response_to(&req, Duration::from_secs(10))
    }

    /// Calls `target` (a user or number of our domain) offering RTP at `rtp`: INVITE, 407,
    /// ACK, INVITE with credentials. Returns once the authenticated INVITE is out.
    pub fn invite(&mut self, target: &str, rtp: SocketAddr) -> Outgoing {
        self.invite_sdp(target, &sdp(rtp))
    }

    /// [`Ua::invite`] with this SDP offer.
    pub fn invite_sdp(&mut self, target: &str, body: &str) -> Outgoing {
        self.invite_in(target, body, None)
    }

    /// An INVITE (after its 407) that reuses `call_id` — another call's, say — with our own
    /// From tag and no To tag.
    pub fn invite_reusing(&mut self, target: &str, call_id: &str, rtp: SocketAddr) -> Outgoing {
        self.invite_in(target, &sdp(rtp), Some(call_id))
    }

    fn invite_in(&mut self, target: &str, body: &str, call_id: Option<&str>) -> Outgoing {
        let uri = format!("sip:{target}@{}", self.domain);
        let mut head = Head::new(&self.user, &self.domain, &format!("<{uri}>"));
        if let Some(c) = call_id {
            head.call_id = c.to_string();
        }
        let first = self.send_request(self.build("INVITE", &uri, &head, "", body));
        let r = self.response_to(&first, Duration::from_secs(5));
        assert_eq!(r.status, 407, "{}: INVITE without credentials", self.user);
        self.ack_failure(&first, &r);
        let challenge = r
            .headers
            .get(&HeaderName::ProxyAuthenticate)
            .expect("challenge")
            .to_string();
        head.next();
        let extra = format!(
            "Proxy-Authorization: {}\r\n",
            self.authorization(&challenge, "INVITE", &uri)
        );
        let invite = self.send_request(self.build("INVITE", &uri, &head, &extra, body));
        Outgoing {
            invite,
            statuses: Vec::new(),
        }
    }

    /// An INVITE to `uri` without credentials, as a trunk sends it (no 407 expected).
    pub fn invite_plain(&mut self, uri: &str, rtp: SocketAddr) -> Outgoing {
        let head = Head::new(&self.user, &self.domain, &format!("<{uri}>"));
        let invite = self.send_request(self.build("INVITE", uri, &head, "", &sdp(rtp)));
        Outgoing {
            invite,
            statuses: Vec::new(),
        }
    }

    /// The next response to our INVITE (100 skipped); a final one is ACKed here.
    pub fn next_response(&mut self, out: &mut Outgoing, timeout: Duration) -> Response {
        let r = self.response_to(&out.invite.clone(), timeout);
        out.statuses.push(r.status);
        if r.status >= 300 {
            self.ack_failure(&out.invite, &r);
        }
        r
    }

    /// Waits for the final response; a 2xx is ACKed and becomes the dialog.
    pub fn final_response(&mut self, out: &mut Outgoing, timeout: Duration) -> Result<Dialog, u16> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.next_response(out, deadline.saturating_duration_since(Instant::now()));
            if r.status >= 300 {
                return Err(r.status);
            }
            if r.status < 200 {
                continue;
            }
            let target = contact_uri(&r.headers).expect("Contact in 2xx");
            let to = r.headers.get(&HeaderName::To).unwrap().to_string();
            let from = out
                .invite
                .headers
                .get(&HeaderName::From)
                .unwrap()
                .to_string();
            let seq = out.invite.cseq().unwrap().seq;
            let d = Dialog {
                call_id: out.invite.call_id().unwrap().to_string(),
                local: from,
                remote: to,
                target,
                cseq: seq,
                peer: self.server,
                remote_rtp: sdp_audio_addr(&r.body),
                remote_video: sdp_media_addr(&r.body, "video"),
                remote_sdp: r.body.to_vec(),
            };
            let head = Head {
                branch: format!("z9hG4bK{}", token()),
                from: d.local.clone(),
                to: d.remote.clone(),
                call_id: d.call_id.clone(),
                cseq: seq,
            };
            self.send_request(self.build("ACK", &d.target, &head, "", ""));
            return Ok(d);
        }
    }

    /// ACK of a final non-2xx: same branch as the INVITE (RFC 3261 §17.1.1.3).
    fn ack_failure(&self, invite: &Request, resp: &Response) {
        let via = invite.headers.get(&HeaderName::Via).unwrap();
        let wire = format!(
            "ACK {} SIP/2.0\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            invite.uri, invite.headers.get(&HeaderName::From).unwrap(), resp.headers.get(&HeaderName::To).unwrap(),
            invite.call_id().unwrap(), invite.cseq().unwrap().seq
        );
        self.send(wire.as_bytes(), self.server);
    }

    /// CANCELs our ringing INVITE; returns the CANCEL's status and the INVITE's final one.
    pub fn cancel(&mut self, out: &mut Outgoing) -> (u16, u16) {
        let inv = &out.invite;
        let wire = format!(
            "CANCEL {} SIP/2.0\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            inv.uri, inv.headers.get(&HeaderName::Via).unwrap(), inv.headers.get(&HeaderName::From).unwrap(),
            inv.headers.get(&HeaderName::To).unwrap(), inv.call_id().unwrap(), inv.cseq().unwrap().seq
        );
        let cancel = self.send_request(wire);
        let c = self.response_to(&cancel, Duration::from_secs(5)).status;
        let f = loop {
            let r = self.next_response(out, Duration::from_secs(5));
            if r.status >= 200 {
                break r.status;
            }
        };
        (c, f)
    }

    /// The headers of a new in-dialog transaction with CSeq `cseq`.
    fn dialog_head(d: &Dialog, cseq: u32) -> Head {
        Head {
            branch: format!("z9hG4bK{}", token()),
            from: d.local.clone(),
            to: d.remote.clone(),
            call_id: d.call_id.clone(),
            cseq,
        }
    }

    /// Sends a new in-dialog request in `d` (next CSeq) and returns it.
    fn in_dialog(&mut self, d: &mut Dialog, method: &str, body: &str) -> Request {
        d.cseq += 1;
        let wire = self.build(method, &d.target, &Ua::dialog_head(d, d.cseq), "", body);
        let Ok(Message::Request(req)) = parse(wire.into_bytes().into()) else {
            unreachable!("the test UA built an invalid {method}")
        };
        self.send(&req.encode().unwrap(), d.peer);
        req
    }

    /// Sends an in-dialog request `method` with a body of `content_type` (an INFO with
    /// `application/dtmf-relay`, say); returns its final status.
    pub fn request_typed(
        &mut self,
        d: &mut Dialog,
        method: &str,
        content_type: &str,
        body: &str,
    ) -> u16 {
        d.cseq += 1;
        let head = Ua::dialog_head(d, d.cseq);
        let wire = self.build_typed(method, &d.target, &head, "", content_type, body);
        let Ok(Message::Request(req)) = parse(wire.into_bytes().into()) else {
            unreachable!("the test UA built an invalid {method}")
        };
        self.send(&req.encode().unwrap(), d.peer);
        self.response_to(&req, Duration::from_secs(5)).status
    }

    /// Sends BYE in `d`; returns its final status.
    pub fn bye(&mut self, d: &mut Dialog) -> u16 {
        let bye = self.in_dialog(d, "BYE", "");
        self.response_to(&bye, Duration::from_secs(5)).status
    }

    /// Sends a re-INVITE with `body` in `d`; returns its final response (ACKed).
    pub fn reinvite(&mut self, d: &mut Dialog, body: &str) -> Response {
        let inv = self.in_dialog(d, "INVITE", body);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.response_to(&inv, deadline.saturating_duration_since(Instant::now()));
            if r.status < 200 {
                continue;
            }
            if r.status < 300 {
                let ack = self.build("ACK", &d.target, &Ua::dialog_head(d, d.cseq), "", "");
                self.send(ack.as_bytes(), d.peer);
            } else {
                self.ack_failure(&inv, &r);
            }
            return r;
        }
    }

    /// The next new request with `method` (optionally in call `call_id`), if one comes.
    pub fn try_request(
        &mut self,
        method: &str,
        call_id: Option<&str>,
        timeout: Duration,
    ) -> Option<Incoming> {
        let (m, src, at) = self.next(timeout, |m| {
            matches!(m, Message::Request(r) if r.method.as_str() == method
                && call_id.is_none_or(|c| r.call_id() == Some(c)))
        })?;
        let Message::Request(req) = m else {
            unreachable!()
        };
        Some(Incoming {
            req,
            src,
            at,
            tag: token(),
        })
    }

    pub fn expect_request(
        &mut self,
        method: &str,
        call_id: Option<&str>,
        timeout: Duration,
    ) -> Incoming {
        self.try_request(method, call_id, timeout)
            .unwrap_or_else(|| panic!("{}: no {method} within {timeout:?}", self.user))
    }

    /// Answers `inc` with `status` (SDP for `rtp` when given); remembered for retransmissions.
    pub fn reply(&mut self, inc: &Incoming, status: u16, rtp: Option<SocketAddr>) {
        self.reply_with(inc, status, rtp.map(sdp));
    }

    /// Answers `inc` with `status` and this SDP body, if any.
    pub fn reply_with(&mut self, inc: &Incoming, status: u16, body: Option<String>) {
        let mut r = response_to(&inc.req, status, Some(&inc.tag));
        if inc.req.method.as_str() == "INVITE" && status < 300 {
            r.headers.push(HeaderName::Contact, self.contact());
            // RFC 3261 §12.1.1: the Record-Route comes back (a node proxying for this phone).
            for rr in inc.req.headers.get_all(&HeaderName::RecordRoute) {
                r.headers.push(HeaderName::RecordRoute, rr);
            }
        }
        if let Some(body) = body {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = body.into_bytes().into();
        }
        self.send(&r.encode().unwrap(), inc.src);
        self.requests.insert(request_key(&inc.req), Some(r));
    }

    /// 200 with SDP to a ringing INVITE, then its ACK: the dialog.
    pub fn answer(&mut self, inc: &Incoming, rtp: SocketAddr) -> Dialog {
        self.reply(inc, 200, Some(rtp));
        let call_id = inc.req.call_id().unwrap();
        self.expect_request("ACK", Some(call_id), Duration::from_secs(5));
        Dialog {
            call_id: call_id.to_string(),
            local: format!(
                "{};tag={}",
                inc.req.headers.get(&HeaderName::To).unwrap(),
                inc.tag
            ),
            remote: inc.req.headers.get(&HeaderName::From).unwrap().to_string(),
            target: contact_uri(&inc.req.headers).expect("Contact in INVITE"),
            cseq: 0,
            peer: inc.src,
            remote_rtp: sdp_audio_addr(&inc.req.body),
            remote_video: sdp_media_addr(&inc.req.body, "video"),
            remote_sdp: inc.req.body.to_vec(),
        }
    }

    /// Our ringing INVITE `inc` is CANCELled: 200 to the CANCEL, 487 to the INVITE, its ACK.
    /// Returns when the CANCEL came.
    pub fn expect_cancel(&mut self, inc: &Incoming, timeout: Duration) -> Instant {
        let call_id = inc.req.call_id().unwrap();
        let cancel = self.expect_request("CANCEL", Some(call_id), timeout);
        self.reply(&cancel, 200, None);
        self.reply(inc, 487, None);
        self.expect_request("ACK", Some(call_id), Duration::from_secs(5));
        cancel.at
    }

    /// A BYE in `d` arrives (answered 200); returns when it came.
    pub fn expect_bye(&mut self, d: &Dialog, timeout: Duration) -> Instant {
        let bye = self.expect_request("BYE", Some(&d.call_id), timeout);
        self.reply(&bye, 200, None);
        bye.at
    }
}

/// The header values of an outgoing request; `next()` moves to a new transaction.
struct Head {
    branch: String,
    from: String,
    to: String,
    call_id: String,
    cseq: u32,
}

impl Head {
    fn new(user: &str, domain: &str, to: &str) -> Head {
        Head {
            branch: format!("z9hG4bK{}", token()),
            from: format!("<sip:{user}@{domain}>;tag={}", token()),
            to: to.to_string(),
            call_id: format!("{}@test", token()),
            cseq: 1,
        }
    }

    fn next(&mut self) {
        self.cseq += 1;
        self.branch = format!("z9hG4bK{}", token());
    }
}

fn contact_uri(h: &engine::sip::message::Headers) -> Option<String> {
    let v = h.get(&HeaderName::Contact)?;
    NameAddr::parse(v).ok().map(|a| a.uri.to_string())
}

/// A request's transaction as a retransmission shows it: Call-ID, CSeq and top branch.
fn request_key(r: &Request) -> String {
    let branch = r
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::to_string));
    format!("{:?} {:?} {branch:?}", r.call_id(), r.cseq().ok())
}

/// `realm`, `nonce`, `qop`... of a challenge, quotes removed.
fn challenge_params(v: &str) -> HashMap<String, String> {
    let rest = v.trim().strip_prefix("Digest").expect("a Digest challenge");
    let (mut out, mut cur, mut quoted) = (HashMap::new(), String::new(), false);
    for c in rest.chars().chain(std::iter::once(',')) {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                if let Some((k, v)) = cur.split_once('=') {
                    out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    out
}
