//! A rig for the call core on a virtual clock: it plays the shell (media always allocates,
//! targets resolve from a table, rings run in real fork cores) and the phones (responses are
//! built from the very requests the call sent), and logs every SIP message and report in
//! order, e.g. `A<-180`, `B2<-INVITE`, `B1<-CANCEL`, `ev B2 out_bridged`, `cdr A in_answered`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engine::call::fork::{Fork, ForkEvent, ForkOutput};
use engine::call::live::{LiveAccepted, LiveCommand, LiveError, LiveEvent, LiveSetup};
use engine::call::media_actions::{AudioFailure, AudioRequest};
use engine::call::report::Report;
use engine::call::{
    Call, CallSetup, Contact, Input, LegId, OutboundCall, Output, Purpose, Resolution, RingId,
};
use engine::media::sdp::Anchor;
use engine::sip::message::{
    parse, response_to, HeaderName, HeaderView, Message, Request, Response, Uri,
};
use engine::sip::transaction::TxId;
use engine::sip::Peer;
use pcmo::{Destination, FetchError};

pub use super::call_log::live_name;
use super::call_log::{describe, leg_name};

pub const A_SDP: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn b_sdp(leg: u32) -> String {
    format!("v=0\r\no=b{leg} 1 1 IN IP4 198.51.100.{leg}\r\ns=-\r\nc=IN IP4 198.51.100.{leg}\r\nt=0 0\r\nm=audio 5000{leg} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
}

pub fn request(text: &str) -> Request {
    match parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Request(r)) => r,
        other => panic!("bad request: {other:?}"),
    }
}

pub struct Rig {
    pub call: Call,
    pub start: Instant,
    pub now: Instant,
    pub log: Vec<String>,
    pub reports: Vec<Report>,
    pub finished: bool,
    forks: HashMap<RingId, Fork>,
    /// Each B leg's INVITE and, once answered, its 2xx.
    invites: HashMap<LegId, Request>,
    answers: HashMap<LegId, Response>,
    /// Requests the call sent in dialogs, waiting for an answer from the rig.
    pending: Vec<(LegId, Purpose, Request)>,
    timers: Vec<(Instant, pcmo::TimerId)>,
    pub directory: HashMap<String, Vec<u32>>,
    /// Legs whose ringing fork belongs to which ring.
    ring_of: HashMap<LegId, RingId>,
    a_tx: TxId,
    a_invite: Request,
    a_ok: Option<Response>,
    next_tx: u64,
    tx_leg: HashMap<TxId, LegId>,
    pub fetches: Vec<(Option<pcmo::FetchId>, String, serde_json::Value)>,
    pub media: Vec<String>,
    /// Every media command, in full.
    pub media_cmds: Vec<engine::media::Command>,
    /// Prompts the call asked the shell to load, in order.
    pub loads: Vec<(pcmo::MediaId, AudioRequest)>,
    /// Commands to the video task.
    pub video_cmds: Vec<engine::media::Command>,
    /// What a live call reported to its app, in order.
    pub live: Vec<LiveEvent>,
    /// `MediaReady` reports (where the B side is).
    pub media_ready: Vec<LiveEvent>,
}

impl Rig {
    /// A call from alice to `to`, with `users` mapping user names to device numbers (device n
    /// is B leg peer 198.51.100.n). The answer URL returns `script` (None: not yet answered).
    pub fn inbound(users: &[(&str, &[u32])], fallback: Option<&str>) -> Rig {
        Rig::inbound_offering(users, fallback, A_SDP)
    }

    /// [`Rig::inbound`] with this SDP offer from the caller.
    pub fn inbound_offering(users: &[(&str, &[u32])], fallback: Option<&str>, sdp: &str) -> Rig {
        let now = Instant::now();
        let invite = request(&format!(
            "INVITE sip:5000@test.local SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKa1\nFrom: <sip:alice@test.local>;tag=at\nTo: <sip:5000@test.local>\nCall-ID: a-call\nCSeq: 1 INVITE\nContact: <sip:alice@192.0.2.10:5062>\nMax-Forwards: 70\nContent-Type: application/sdp\n\n{}",
            sdp.replace("\r\n", "\n")
        ));
        let setup = CallSetup {
            cmiuuid: "call-1".into(),
            appid: 1234567,
            answer_url: "http://127.0.0.1:9/answer".into(),
            fallback: fallback.map(str::to_string),
            from: "alice".into(),
            to: "5000".into(),
            contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
            domain: "test.local".into(),
            local_ip: "203.0.113.1".parse().unwrap(),
            max_forwards: 70,
            recordings_dir: "/var/lib/ringmaster/recordings/1234567".into(),
            seed: 7,
            contacts: Default::default(),
            srtp: test_srtp(),
        };
        let a_tx = TxId(1);
        let peer = Peer::udp("192.0.2.10:5062".parse().unwrap());
        let call = Call::new(setup, a_tx, invite.clone(), peer, now, 1_000_000);
        let mut rig = Rig::with(call, now, invite, users);
        rig.drain();
        rig
    }

    /// An inbound call from alice driven by the app's live commands.
    pub fn inbound_live(users: &[(&str, &[u32])], auto_answer: bool) -> Rig {
        Rig::inbound_live_with(
            users,
            LiveSetup {
                auto_answer,
                ..LiveSetup::default()
            },
        )
    }

    /// An inbound live call set up as `live` says (a Cloud UA device's, say).
    pub fn inbound_live_with(users: &[(&str, &[u32])], live: LiveSetup) -> Rig {
        let now = Instant::now();
        let invite = request(&format!(
            "INVITE sip:5000@test.local SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKa1\nFrom: <sip:alice@test.local>;tag=at\nTo: <sip:5000@test.local>\nCall-ID: a-call\nCSeq: 1 INVITE\nContact: <sip:alice@192.0.2.10:5062>\nMax-Forwards: 70\nContent-Type: application/sdp\n\n{}",
            A_SDP.replace("\r\n", "\n")
        ));
        let setup = Rig::setup("call-1", "alice", "5000", 7);
        let peer = Peer::udp("192.0.2.10:5062".parse().unwrap());
        let call = Call::new_live(setup, TxId(1), invite.clone(), peer, now, 1_000_000, live);
        let mut rig = Rig::with(call, now, invite, users);
        rig.drain();
        rig
    }

    /// A live call the app places to SIP user `to`, given up after 30 s of ringing.
    pub fn outbound_live(users: &[(&str, &[u32])], to: &str, cmiuuid: &str) -> Rig {
        let now = Instant::now();
        let setup = Rig::setup(cmiuuid, "914471000000", to, 9);
        let out = OutboundCall {
            to: Destination::SipUser(to.into()),
            script: None,
            max_duration: None,
            extra_params: None,
            request_id: cmiuuid.into(),
            headers: Vec::new(),
        };
        let live = LiveSetup {
            auto_answer: true,
            call_timeout: Duration::from_secs(30),
            ..LiveSetup::default()
        };
        let call = Call::outbound_live(setup, out, now, 1_000_000, live);
        let invite = request("OPTIONS sip:x@test.local SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\nFrom: <sip:x@test.local>;tag=1\nTo: <sip:x@test.local>\nCall-ID: none\nCSeq: 1 OPTIONS\n\n");
        let mut rig = Rig::with(call, now, invite, users);
        rig.drain();
        rig
    }

    fn setup(cmiuuid: &str, from: &str, to: &str, seed: u64) -> CallSetup {
        CallSetup {
            cmiuuid: cmiuuid.into(),
            appid: 1234567,
            answer_url: "http://127.0.0.1:9/answer".into(),
            fallback: None,
            from: from.into(),
            to: to.into(),
            contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
            domain: "test.local".into(),
            local_ip: "203.0.113.1".parse().unwrap(),
            max_forwards: 70,
            recordings_dir: "/var/lib/ringmaster/recordings/1234567".into(),
            seed,
            contacts: Default::default(),
            srtp: test_srtp(),
        }
    }

    /// The app's live command, at the rig's current time.
    pub fn command(&mut self, cmd: LiveCommand) -> Result<LiveAccepted, LiveError> {
        let (now, wall) = (self.now, self.wall());
        let verdict = self.call.command(now, wall, cmd);
        self.drain();
        verdict
    }

    /// A call ringmaster places to `to` (a SIP user in `users`), running `script` when answered.
    pub fn outbound(users: &[(&str, &[u32])], to: &str, script: &str) -> Rig {
        let now = Instant::now();
        let setup = CallSetup {
            cmiuuid: "call-2".into(),
            appid: 1234567,
            answer_url: "http://127.0.0.1:9/answer".into(),
            fallback: None,
            from: "914471000000".into(),
            to: to.into(),
            contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
            domain: "test.local".into(),
            local_ip: "203.0.113.1".parse().unwrap(),
            max_forwards: 70,
            recordings_dir: "/var/lib/ringmaster/recordings/1234567".into(),
            seed: 9,
            contacts: Default::default(),
            srtp: test_srtp(),
        };
        let out = OutboundCall {
            to: Destination::SipUser(to.into()),
            script: Some(pcmo::Script::parse(script).expect("valid script")),
            max_duration: Some(Duration::from_secs(60)),
            extra_params: Some("{\"crm\":42}".into()),
            request_id: "req-1".into(),
            headers: Vec::new(),
        };
        let call = Call::outbound(setup, out, now, 1_000_000);
        let invite = request("OPTIONS sip:x@test.local SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\nFrom: <sip:x@test.local>;tag=1\nTo: <sip:x@test.local>\nCall-ID: none\nCSeq: 1 OPTIONS\n\n");
        let mut rig = Rig::with(call, now, invite, users);
        rig.drain();
        rig
    }

    fn with(call: Call, now: Instant, a_invite: Request, users: &[(&str, &[u32])]) -> Rig {
        Rig {
            call,
            start: now,
            now,
            log: Vec::new(),
            reports: Vec::new(),
            finished: false,
            forks: HashMap::new(),
            invites: HashMap::new(),
            answers: HashMap::new(),
            pending: Vec::new(),
            timers: Vec::new(),
            directory: users
                .iter()
                .map(|(u, d)| (u.to_string(), d.to_vec()))
                .collect(),
            ring_of: HashMap::new(),
            a_tx: TxId(1),
            a_invite,
            a_ok: None,
            next_tx: 100,
            tx_leg: HashMap::new(),
            fetches: Vec::new(),
            media: Vec::new(),
            media_cmds: Vec::new(),
            loads: Vec::new(),
            video_cmds: Vec::new(),
            live: Vec::new(),
            media_ready: Vec::new(),
        }
    }

    fn wall(&self) -> u64 {
        1_000_000 + (self.now - self.start).as_millis() as u64
    }

    pub fn feed(&mut self, input: Input) {
        let (now, wall) = (self.now, self.wall());
        self.call.handle(now, wall, input);
        self.drain();
    }

    pub fn answer_url(&mut self, script: &str) {
        self.feed(Input::AnswerScript(Ok(script.to_string())));
    }

    pub fn answer_url_fails(&mut self, f: FetchError) {
        self.feed(Input::AnswerScript(Err(f)));
    }

    fn drain(&mut self) {
        while let Some(o) = self.call.poll() {
            match o {
                Output::Respond { tx, response } => {
                    let who = if tx == self.a_tx {
                        "A".to_string()
                    } else {
                        leg_name(self.tx_leg[&tx])
                    };
                    if tx == self.a_tx && response.status == 200 {
                        self.a_ok = Some(response.clone());
                    }
                    self.log.push(format!("{who}<-{}", response.status));
                }
                Output::Send {
                    leg,
                    purpose,
                    request,
                    ..
                } => {
                    self.log
                        .push(format!("{}<-{}", leg_name(leg), request.method));
                    self.pending.push((leg, purpose, request));
                }
                Output::SendAck { request, .. } => {
                    let leg = self.leg_of_call_id(request.call_id().unwrap());
                    self.log.push(format!("{}<-ACK", leg_name(leg)));
                }
                Output::AllocateMedia => {
                    let a = Anchor {
                        addr: "203.0.113.1".parse().unwrap(),
                        rtp_port: 30000,
                        rtcp_port: 30001,
                    };
                    let b = Anchor {
                        addr: "203.0.113.1".parse().unwrap(),
                        rtp_port: 30002,
                        rtcp_port: 30003,
                    };
                    let (now, wall) = (self.now, self.wall());
                    self.call
                        .handle(now, wall, Input::MediaReady { a, b, webrtc: None });
                }
                Output::Media(c) => {
                    let name = format!("{c:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if matches!(name.as_str(), "Play" | "StopPlay" | "Record" | "StopRecord") {
                        self.log.push(format!("media {name}"));
                    }
                    self.media.push(name);
                    self.media_cmds.push(c);
                }
                Output::AllocateVideo => {
                    let at = |port| Anchor {
                        addr: "203.0.113.1".parse().unwrap(),
                        rtp_port: port,
                        rtcp_port: port + 1,
                    };
                    let (now, wall) = (self.now, self.wall());
                    let ready = Input::VideoReady {
                        a: at(30004),
                        b: at(30006),
                    };
                    self.call.handle(now, wall, ready);
                }
                Output::VideoMedia(c) => self.video_cmds.push(c),
                Output::LoadAudio { media_id, request } => {
                    self.log.push(format!("load {media_id}"));
                    self.loads.push((media_id, request));
                }
                Output::Fetch {
                    fetch_id,
                    url,
                    body,
                } => self.fetches.push((fetch_id, url, body)),
                Output::Resolve { ring, targets } => {
                    let results = targets
                        .into_iter()
                        .map(|(id, d)| (id, self.resolve(&d)))
                        .collect();
                    let (now, wall) = (self.now, self.wall());
                    self.call
                        .handle(now, wall, Input::Resolved { ring, results });
                }
                Output::StartFork { ring, branches } => {
                    for b in &branches {
                        self.invites.insert(b.leg, b.invite.clone());
                        self.ring_of.insert(b.leg, ring);
                    }
                    let mut fork = Fork::new(branches, "<sip:ringmaster@203.0.113.1:5060>");
                    fork.start();
                    self.forks.insert(ring, fork);
                    self.run_fork(ring);
                }
                Output::CancelFork { ring, targets } => {
                    if let Some(f) = self.forks.get_mut(&ring) {
                        f.cancel_targets(&targets);
                    }
                    self.run_fork(ring);
                }
                Output::Timer { id, at } => self.timers.push((at, id)),
                Output::Report(r) => {
                    self.log.push(describe(&r));
                    self.reports.push(r);
                }
                Output::Live(ev) => {
                    self.log.push(format!("live {}", live_name(&ev)));
                    // The ports' report is plumbing for the shell (the Cloud UA callbacks'
                    // addresses), not an event an app hears: kept apart.
                    match ev {
                        LiveEvent::MediaReady { .. } => self.media_ready.push(ev),
                        ev => self.live.push(ev),
                    }
                }
                Output::Finished => {
                    self.finished = true;
                    self.log.push("finished".into());
                }
            }
        }
    }

    fn resolve(&self, d: &Destination) -> Resolution {
        match d {
            Destination::SipUser(u) => match self.directory.get(u) {
                Some(devices) if !devices.is_empty() => Resolution::Contacts(
                    devices
                        .iter()
                        .map(|n| Contact {
                            uri: Uri::parse(&format!("sip:{u}@198.51.100.{n}:5060")).unwrap(),
                            to: format!("<sip:{u}@test.local>"),
                            peer: Peer::udp(format!("198.51.100.{n}:5060").parse().unwrap()),
                            auth: None,
                            via: None,
                        })
                        .collect(),
                ),
                _ => Resolution::NotRegistered,
            },
            Destination::Pstn(n) => Resolution::Contacts(vec![Contact {
                uri: Uri::parse(&format!("sip:{n}@192.0.2.200:5060")).unwrap(),
                to: format!("<sip:{n}@192.0.2.200>"),
                peer: Peer::udp("192.0.2.200:5060".parse().unwrap()),
                auth: None,
                via: None,
            }]),
            _ => Resolution::Unroutable(404),
        }
    }

    fn leg_of_call_id(&self, call_id: &str) -> LegId {
        self.invites
            .iter()
            .find(|(_, r)| r.call_id() == Some(call_id))
            .map(|(l, _)| *l)
            .unwrap_or(LegId::A)
    }

    fn run_fork(&mut self, ring: RingId) {
        let Some(fork) = self.forks.get_mut(&ring) else {
            return;
        };
        let outs = fork.drain();
        for o in outs {
            match o {
                ForkOutput::SendInvite { leg, .. } => {
                    self.log.push(format!("{}<-INVITE", leg_name(leg)))
                }
                ForkOutput::Cancel { leg } => self.log.push(format!("{}<-CANCEL", leg_name(leg))),
                ForkOutput::SendAck { request, .. } => {
                    let leg = self.leg_of_call_id(request.call_id().unwrap());
                    self.log.push(format!("{}<-ACK", leg_name(leg)));
                }
                ForkOutput::SendBye { leg, .. } => {
                    self.log.push(format!("{}<-BYE", leg_name(leg)));
                    if let Some(f) = self.forks.get_mut(&ring) {
                        f.on_bye_done(leg);
                    }
                    self.run_fork(ring);
                }
                ForkOutput::Event(ev) => {
                    let done = matches!(ev, ForkEvent::Done);
                    self.feed(Input::Fork { ring, event: ev });
                    if done {
                        continue;
                    }
                }
            }
        }
    }

    /// B leg `n` answers its INVITE with `status` (180, 200 with SDP, 486...).
    pub fn b(&mut self, n: u32, status: u16) {
        self.b_answering(n, status, &b_sdp(n));
    }

    /// [`Rig::b`] with this SDP in a 183 or 200.
    pub fn b_answering(&mut self, n: u32, status: u16, sdp: &str) {
        let leg = LegId(n);
        let invite = self.invites[&leg].clone();
        let mut r = response_to(&invite, status, Some(&format!("bt{n}")));
        r.headers
            .push(HeaderName::Contact, format!("<sip:b@198.51.100.{n}:5060>"));
        if status == 200 || status == 183 {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = Bytes::from(sdp.to_string());
        }
        if status == 200 {
            self.answers.insert(leg, r.clone());
        }
        let ring = self.ring_of[&leg];
        if let Some(f) = self.forks.get_mut(&ring) {
            f.on_response(leg, r);
        }
        self.run_fork(ring);
    }

    /// B legs that received a CANCEL answer 487 (as phones do).
    pub fn cancelled_ones_answer_487(&mut self) {
        let cancelled: Vec<u32> = self
            .log
            .iter()
            .filter_map(|l| {
                l.strip_suffix("<-CANCEL")
                    .and_then(|b| b.strip_prefix('B'))
                    .and_then(|n| n.parse().ok())
            })
            .collect();
        for n in cancelled {
            if !self.answers.contains_key(&LegId(n)) {
                self.b(n, 487);
            }
        }
    }

    /// Every request the call sent in a dialog gets `status`.
    pub fn answer_pending(&mut self, status: u16) {
        for (leg, purpose, req) in std::mem::take(&mut self.pending) {
            let r = response_to(&req, status, None);
            self.feed(Input::Response {
                leg,
                purpose,
                response: r,
            });
        }
    }

    /// Answers only the pending requests of this method, leaving the others waiting.
    pub fn answer_pending_method(&mut self, method: &str, status: u16) {
        let (these, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, _, req)| req.method.to_string() == method);
        self.pending = rest;
        for (leg, purpose, req) in these {
            let r = response_to(&req, status, None);
            self.feed(Input::Response {
                leg,
                purpose,
                response: r,
            });
        }
    }

    /// The caller hangs up (BYE in its dialog; CSeq above any request the rig sends before).
    pub fn a_bye(&mut self) {
        let ok = self.a_ok.clone().expect("A was answered");
        let to = ok.headers.get(&HeaderName::To).unwrap();
        let bye = request(&format!(
            "BYE sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKbye\nFrom: <sip:alice@test.local>;tag=at\nTo: {to}\nCall-ID: a-call\nCSeq: 1000 BYE\nMax-Forwards: 70\n\n"
        ));
        let tx = self.tx(LegId::A);
        self.feed(Input::Request {
            leg: LegId::A,
            tx,
            request: bye,
        });
    }

    /// B leg `n` hangs up.
    pub fn b_bye(&mut self, n: u32) {
        let leg = LegId(n);
        let inv = self.invites[&leg].clone();
        let ok = self.answers[&leg].clone();
        let bye = request(&format!(
            "BYE sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.{n}:5060;branch=z9hG4bKbb{n}\nFrom: {}\nTo: {}\nCall-ID: {}\nCSeq: 5 BYE\nMax-Forwards: 70\n\n",
            ok.headers.get(&HeaderName::To).unwrap(),
            inv.headers.get(&HeaderName::From).unwrap(),
            inv.call_id().unwrap()
        ));
        let tx = self.tx(leg);
        self.feed(Input::Request {
            leg,
            tx,
            request: bye,
        });
    }

    /// Someone sends `method` in the caller's dialog with these From and To tags (the right
    /// Call-ID; the caller's own tags are `at` and our 200's To tag).
    pub fn a_request_tagged(&mut self, method: &str, from_tag: &str, to_tag: Option<&str>) {
        let to = to_tag.map_or(String::new(), |t| format!(";tag={t}"));
        let sdp = "v=0\no=- 1 2 IN IP4 192.0.2.66\ns=-\nc=IN IP4 192.0.2.66\nt=0 0\nm=audio 6666 RTP/AVP 0\n";
        let body = if method == "INVITE" {
            format!("Contact: <sip:x@192.0.2.66>\nContent-Type: application/sdp\n\n{sdp}")
        } else {
            "\n".to_string()
        };
        let req = request(&format!(
            "{method} sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.66:5062;branch=z9hG4bKsp{n}\nFrom: <sip:alice@test.local>;tag={from_tag}\nTo: <sip:5000@test.local>{to}\nCall-ID: a-call\nCSeq: {n} {method}\nMax-Forwards: 70\n{body}",
            n = 900 + self.next_tx
        ));
        let tx = self.tx(LegId::A);
        self.feed(Input::Request {
            leg: LegId::A,
            tx,
            request: req,
        });
    }

    /// Our tag in the caller's dialog (the To tag of our 200).
    pub fn a_local_tag(&self) -> String {
        let ok = self.a_ok.as_ref().expect("A was answered");
        ok.hdr_to().unwrap().tag().unwrap().to_string()
    }

    /// Someone sends BYE in B leg `n`'s dialog with this From tag (B's own is in its 2xx).
    pub fn b_bye_tagged(&mut self, n: u32, from_tag: &str) {
        let leg = LegId(n);
        let inv = self.invites[&leg].clone();
        let bye = request(&format!(
            "BYE sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.66:5060;branch=z9hG4bKbs{n}\nFrom: <sip:bob@test.local>;tag={from_tag}\nTo: {}\nCall-ID: {}\nCSeq: 5 BYE\nMax-Forwards: 70\n\n",
            inv.headers.get(&HeaderName::From).unwrap(),
            inv.call_id().unwrap()
        ));
        let tx = self.tx(leg);
        self.feed(Input::Request {
            leg,
            tx,
            request: bye,
        });
    }

    pub fn caller_cancels(&mut self) {
        self.feed(Input::CallerCancelled);
    }

    fn tx(&mut self, leg: LegId) -> TxId {
        self.next_tx += 1;
        let tx = TxId(self.next_tx);
        self.tx_leg.insert(tx, leg);
        tx
    }

    /// The shell loaded prompt `media_id`: `samples` of audio, or a failure.
    pub fn audio_loaded(&mut self, media_id: pcmo::MediaId, samples: Option<usize>) {
        let result = match samples {
            Some(n) => Ok(std::sync::Arc::from(vec![0i16; n])),
            None => Err(AudioFailure {
                code: "play_failed",
                message: "no such file".into(),
            }),
        };
        self.feed(Input::AudioLoaded { media_id, result });
    }

    /// The media task reports `ev`.
    pub fn media_event(&mut self, ev: engine::media::Event) {
        self.feed(Input::Media(ev));
    }

    /// The caller presses `digits` (RFC 4733, one event per key).
    pub fn press(&mut self, digits: &str) {
        for digit in digits.chars() {
            self.media_event(engine::media::Event::Dtmf {
                leg: engine::media::Leg::A,
                digit,
            });
        }
    }

    /// The caller sends a SIP INFO with this body (`application/dtmf-relay`).
    pub fn a_info(&mut self, content_type: &str, body: &str) {
        let ok = self.a_ok.clone().expect("A was answered");
        let to = ok.headers.get(&HeaderName::To).unwrap();
        let info = request(&format!(
            "INFO sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinfo{}\nFrom: <sip:alice@test.local>;tag=at\nTo: {to}\nCall-ID: a-call\nCSeq: {} INFO\nMax-Forwards: 70\nContent-Type: {content_type}\n\n{body}",
            self.next_tx, self.next_tx
        ));
        let tx = self.tx(LegId::A);
        self.feed(Input::Request {
            leg: LegId::A,
            tx,
            request: info,
        });
    }

    /// The caller sends a re-INVITE (hold) in its dialog.
    pub fn a_reinvite(&mut self) {
        let ok = self.a_ok.clone().expect("A was answered");
        let to = ok.headers.get(&HeaderName::To).unwrap();
        let sdp = "v=0\no=- 1 2 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendonly\n";
        let reinvite = request(&format!(
            "INVITE sip:ringmaster@203.0.113.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKre{}\nFrom: <sip:alice@test.local>;tag=at\nTo: {to}\nCall-ID: a-call\nCSeq: 500 INVITE\nMax-Forwards: 70\nContact: <sip:alice@192.0.2.10:5062>\nContent-Type: application/sdp\n\n{sdp}",
            self.next_tx
        ));
        let tx = self.tx(LegId::A);
        self.feed(Input::Request {
            leg: LegId::A,
            tx,
            request: reinvite,
        });
    }

    /// Moves the clock, firing the call's timers in order.
    pub fn advance(&mut self, secs: f64) {
        let end = self.now + Duration::from_secs_f64(secs);
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            match self.timers.first().copied() {
                Some((at, id)) if at <= end => {
                    self.timers.remove(0);
                    self.now = self.now.max(at);
                    self.feed(Input::Timer(id));
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Log lines that are SIP messages only.
    pub fn sip(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter(|l| l.contains("<-"))
            .map(String::as_str)
            .collect()
    }

    /// Terminal events and CDRs per leg: (leg, hangups, cdrs).
    pub fn terminal_counts(&self) -> Vec<(String, usize, usize)> {
        let mut legs: Vec<String> = self
            .log
            .iter()
            .filter_map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .filter(|_| l.starts_with("ev ") || l.starts_with("cdr "))
                    .map(str::to_string)
            })
            .collect();
        legs.sort();
        legs.dedup();
        legs.into_iter()
            .map(|leg| {
                let hangups = self
                    .log
                    .iter()
                    .filter(|l| l.starts_with(&format!("ev {leg} hangup")))
                    .count();
                let cdrs = self
                    .log
                    .iter()
                    .filter(|l| l.starts_with(&format!("cdr {leg} ")))
                    .count();
                (leg, hangups, cdrs)
            })
            .collect()
    }

    pub fn a_invite(&self) -> &Request {
        &self.a_invite
    }

    pub fn invite_of(&self, n: u32) -> &Request {
        &self.invites[&LegId(n)]
    }

    pub fn a_ok(&self) -> Option<&Response> {
        self.a_ok.as_ref()
    }
}

/// The SRTP side of a test call: the default policy and fixed keys (never random in tests).
fn test_srtp() -> engine::call::sdes::SrtpSetup {
    use engine::media::srtp::MasterKey;
    engine::call::sdes::SrtpSetup {
        policy: Default::default(),
        keys: [MasterKey::new([1; 30]), MasterKey::new([2; 30])],
    }
}
