//! The `call_dialog` target's driver: plays the shell around one call core (forks, media,
//! fetches, timers) and keeps what the call owes so fuzzed steps can answer it in any order.

use super::*;

pub(crate) struct Branch {
    pub(crate) ring: RingId,
    pub(crate) invite: Request,
    /// The 2xx the phone sent, once it did: the phone's side of the dialog.
    pub(crate) ok: Option<Response>,
    pub(crate) cancelled: bool,
    /// A final response went to the fork (or the transaction failed).
    pub(crate) done: bool,
}

pub(crate) struct Driver {
    pub(crate) call: Call,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) finished: usize,
    pub(crate) inbound: bool,
    pub(crate) a_invite: Request,
    pub(crate) a_tx: TxId,
    pub(crate) a_ok: Option<Response>,
    pub(crate) forks: HashMap<RingId, Fork>,
    pub(crate) branches: Vec<(LegId, Branch)>,
    pub(crate) pending: Vec<(LegId, Purpose, Request)>,
    pub(crate) timers: Vec<(Instant, pcmo::TimerId)>,
    pub(crate) next_tx: u64,
    /// Final responses per server transaction we created (the A INVITE's included).
    pub(crate) finals: HashMap<TxId, u32>,
    /// The phones' CSeq counters in each dialog.
    pub(crate) cseq: HashMap<LegId, u32>,
    pub(crate) answer_fetch: bool,
    pub(crate) fetches: Vec<pcmo::FetchId>,
    pub(crate) loads: Vec<pcmo::MediaId>,
    pub(crate) plays: Vec<u64>,
    pub(crate) records: Vec<(u64, std::path::PathBuf)>,
    /// Events the media task owes (a stopped prompt's PlayDone, a stopped recording's).
    pub(crate) owed: Vec<Event>,
    pub(crate) media_fails: bool,
    /// Server transactions of re-INVITEs the call relayed to the other leg.
    pub(crate) relayed: Vec<TxId>,
    /// (leg, hangup events, CDRs).
    pub(crate) terminal: HashMap<LegId, (u32, u32)>,
}

pub(crate) fn leg_of(n: u32) -> String {
    format!("198.51.100.{}", n % 250)
}

impl Driver {
    pub(crate) fn wall(&self) -> u64 {
        1_000_000 + (self.now - self.start).as_millis() as u64
    }

    pub(crate) fn feed(&mut self, input: Input) {
        let (now, wall) = (self.now, self.wall());
        self.call.handle(now, wall, input);
        self.drain();
    }

    pub(crate) fn tx(&mut self) -> TxId {
        self.next_tx += 1;
        let tx = TxId(self.next_tx);
        self.finals.insert(tx, 0);
        tx
    }

    pub(crate) fn drain(&mut self) {
        while let Some(o) = self.call.poll() {
            if trace() {
                eprintln!("  out: {}", short(&o));
            }
            match o {
                Output::Respond { tx, response } => {
                    if tx == self.a_tx && (200..300).contains(&response.status) {
                        self.a_ok = Some(response.clone());
                    }
                    if response.status >= 200 {
                        *self.finals.entry(tx).or_insert(0) += 1;
                    }
                }
                Output::Send {
                    leg,
                    purpose,
                    request,
                    ..
                } => {
                    if let Purpose::Reinvite { tx, .. } = purpose {
                        self.relayed.push(tx);
                    }
                    self.pending.push((leg, purpose, request))
                }
                Output::SendAck { .. } => {}
                Output::AllocateMedia => {
                    let at = |port| Anchor {
                        addr: "203.0.113.1".parse().unwrap(),
                        rtp_port: port,
                        rtcp_port: port + 1,
                    };
                    let input = if self.media_fails {
                        Input::MediaFailed
                    } else {
                        Input::MediaReady {
                            a: at(30000),
                            b: at(30002),
                            webrtc: None,
                        }
                    };
                    let (now, wall) = (self.now, self.wall());
                    self.call.handle(now, wall, input);
                }
                Output::AllocateVideo => {
                    let at = |port| Anchor {
                        addr: "203.0.113.1".parse().unwrap(),
                        rtp_port: port,
                        rtcp_port: port + 1,
                    };
                    let input = if self.media_fails {
                        Input::VideoFailed
                    } else {
                        Input::VideoReady {
                            a: at(30004),
                            b: at(30006),
                        }
                    };
                    let (now, wall) = (self.now, self.wall());
                    self.call.handle(now, wall, input);
                }
                Output::Media(c) => self.media_command(c),
                Output::VideoMedia(_) => {}
                Output::LoadAudio { media_id, .. } => self.loads.push(media_id),
                Output::Fetch { fetch_id, .. } => match fetch_id {
                    None => self.answer_fetch = true,
                    Some(id) => self.fetches.push(id),
                },
                Output::Resolve { ring, targets } => {
                    let results = targets
                        .into_iter()
                        .map(|(id, d)| (id, resolve(&d)))
                        .collect();
                    let (now, wall) = (self.now, self.wall());
                    self.call
                        .handle(now, wall, Input::Resolved { ring, results });
                }
                Output::StartFork { ring, branches } => {
                    for b in &branches {
                        self.branches.push((
                            b.leg,
                            Branch {
                                ring,
                                invite: b.invite.clone(),
                                ok: None,
                                cancelled: false,
                                done: false,
                            },
                        ));
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
                    let (leg, hangup, cdr) = match &r {
                        Report::Event(e) => (e.leg, e.status == EventStatus::Hangup, false),
                        Report::Cdr(c) => (c.leg, false, true),
                        _ => continue,
                    };
                    let t = self.terminal.entry(leg).or_insert((0, 0));
                    t.0 += u32::from(hangup);
                    t.1 += u32::from(cdr);
                }
                Output::Finished => self.finished += 1,
                Output::Live(_) => {}
            }
        }
    }

    /// The media task's side: which prompts play and which recordings run.
    pub(crate) fn media_command(&mut self, c: Command) {
        match c {
            Command::Play { id, .. } => self.plays.push(id),
            Command::StopPlay { id } => {
                if let Some(i) = self.plays.iter().position(|p| *p == id) {
                    self.plays.remove(i);
                    self.owed.push(Event::PlayDone {
                        id,
                        completed: false,
                    });
                }
            }
            Command::Record { id, path, .. } => self.records.push((id, path)),
            Command::StopRecord { id } => {
                if let Some(i) = self.records.iter().position(|r| r.0 == id) {
                    let (id, path) = self.records.remove(i);
                    self.owed.push(record_done(id, path, true));
                }
            }
            Command::Stop => {
                for id in std::mem::take(&mut self.plays) {
                    self.owed.push(Event::PlayDone {
                        id,
                        completed: false,
                    });
                }
                for (id, path) in std::mem::take(&mut self.records) {
                    self.owed.push(record_done(id, path, true));
                }
            }
            _ => {}
        }
    }

    pub(crate) fn run_fork(&mut self, ring: RingId) {
        let Some(fork) = self.forks.get_mut(&ring) else {
            return;
        };
        for o in fork.drain() {
            match o {
                ForkOutput::SendInvite { leg, request, .. } => {
                    // A retry with credentials: the phone answers this one now.
                    if let Some(b) = self.branch(leg) {
                        b.invite = request;
                    }
                }
                ForkOutput::Cancel { leg } => {
                    if let Some(b) = self.branch(leg) {
                        b.cancelled = true;
                    }
                }
                ForkOutput::SendAck { .. } => {}
                ForkOutput::SendBye { leg, .. } => {
                    if let Some(f) = self.forks.get_mut(&ring) {
                        f.on_bye_done(leg);
                    }
                    self.run_fork(ring);
                }
                ForkOutput::Event(event) => self.feed(Input::Fork { ring, event }),
            }
        }
    }

    pub(crate) fn branch(&mut self, leg: LegId) -> Option<&mut Branch> {
        self.branches
            .iter_mut()
            .rev()
            .find(|(l, _)| *l == leg)
            .map(|(_, b)| b)
    }

    pub(crate) fn pick_branch(&self, pick: u8) -> Option<LegId> {
        if self.branches.is_empty() {
            return None;
        }
        Some(self.branches[usize::from(pick) % self.branches.len()].0)
    }

    /// The phone of branch `leg` responds to its INVITE.
    pub(crate) fn b_respond(&mut self, leg: LegId, resp: Response) {
        let Some(b) = self.branch(leg) else { return };
        let ring = b.ring;
        if (200..300).contains(&resp.status) && b.ok.is_none() {
            b.ok = Some(resp.clone());
        }
        if resp.status >= 200 {
            b.done = true;
        }
        if let Some(f) = self.forks.get_mut(&ring) {
            f.on_response(leg, resp);
        }
        self.run_fork(ring);
    }

    pub(crate) fn b_response(&mut self, leg: LegId, status: u16, sdp: &Sdp) {
        let Some(b) = self.branch(leg) else { return };
        let mut r = response_to(&b.invite, status, Some(&format!("bt{}", leg.0)));
        r.headers.push(
            HeaderName::Contact,
            format!("<sip:b@{}:5060>", leg_of(leg.0)),
        );
        if let Some(body) = sdp.body(leg.0) {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = Bytes::from(body);
        }
        self.b_respond(leg, r);
    }

    pub(crate) fn b_timeout(&mut self, leg: LegId) {
        let Some(b) = self.branch(leg) else { return };
        b.done = true;
        let ring = b.ring;
        if let Some(f) = self.forks.get_mut(&ring) {
            f.on_timeout(leg);
        }
        self.run_fork(ring);
    }

    /// The phone on `leg` sends a request in its dialog (leg 0 of an inbound call: the
    /// caller; otherwise a branch that answered). None when that phone has no dialog.
    pub(crate) fn in_dialog(&mut self, leg: LegId, method: InDialog, sdp: &Sdp, stale: bool) {
        let (from, to, call_id, peer) = if self.inbound && leg == LegId::A {
            let Some(ok) = &self.a_ok else { return };
            (
                self.a_invite
                    .headers
                    .get(&HeaderName::From)
                    .unwrap_or("")
                    .to_string(),
                ok.headers.get(&HeaderName::To).unwrap_or("").to_string(),
                "a-call".to_string(),
                "192.0.2.10:5062".to_string(),
            )
        } else {
            let Some(b) = self.branch(leg) else { return };
            let Some(ok) = &b.ok else { return };
            (
                ok.headers.get(&HeaderName::To).unwrap_or("").to_string(),
                b.invite
                    .headers
                    .get(&HeaderName::From)
                    .unwrap_or("")
                    .to_string(),
                b.invite.call_id().unwrap_or("").to_string(),
                format!("{}:5060", leg_of(leg.0)),
            )
        };
        let seq = self.cseq.entry(leg).or_insert(1);
        if !stale {
            *seq += 1;
        }
        let seq = *seq;
        let (name, ctype, body) = match method {
            InDialog::Bye => ("BYE", None, None),
            InDialog::Options => ("OPTIONS", None, None),
            InDialog::Reinvite => ("INVITE", Some("application/sdp"), sdp.body(leg.0 + 7)),
            InDialog::Info => match sdp {
                Sdp::Garbage(g) => ("INFO", Some("application/dtmf-relay"), Some(g.clone())),
                Sdp::None => ("INFO", None, None),
                _ => (
                    "INFO",
                    Some("application/dtmf-relay"),
                    Some("Signal=5\r\nDuration=160\r\n".to_string()),
                ),
            },
        };
        let mut text = format!(
            "{name} sip:ringmaster@203.0.113.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bKf{}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {seq} {name}\r\nMax-Forwards: 70\r\nContact: <sip:p@{peer}>\r\n",
            self.next_tx
        );
        if let (Some(ct), Some(_)) = (ctype, &body) {
            text.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body.as_deref().unwrap_or(""));
        if let Ok(Message::Request(request)) = parse(Bytes::from(text)) {
            self.deliver_request(leg, request);
        }
    }

    pub(crate) fn deliver_request(&mut self, leg: LegId, request: Request) {
        match request.method {
            // The transaction layer handles these; the call only hears of an ACK.
            Method::Ack => self.feed(Input::Ack { leg }),
            Method::Cancel => {}
            _ => {
                let tx = self.tx();
                if self.finished > 0 {
                    // The call is gone: the shell answers 481 itself, not the call.
                    self.finals.remove(&tx);
                }
                self.feed(Input::Request { leg, tx, request });
            }
        }
    }

    pub(crate) fn answer_sent(&mut self, i: usize, status: u16) {
        let (leg, purpose, req) = if status >= 200 {
            self.pending.remove(i)
        } else {
            self.pending[i].clone()
        };
        let mut r = response_to(&req, status, Some(&format!("rt{}", leg.0)));
        if (200..300).contains(&status) && req.method == Method::Invite {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = Bytes::from(Sdp::Good.body(leg.0 + 3).unwrap_or_default());
        }
        self.feed(Input::Response {
            leg,
            purpose,
            response: r,
        });
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        let mut fired = 0u32;
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            match self.timers.first().copied() {
                Some((at, id)) if at <= end => {
                    fired += 1;
                    assert!(fired < 100_000, "timers keep re-arming");
                    self.timers.remove(0);
                    self.now = self.now.max(at);
                    self.feed(Input::Timer(id));
                }
                _ => break,
            }
        }
        self.now = end;
    }

    pub(crate) fn step(&mut self, op: Op) {
        if trace() {
            eprintln!("op: {op:?}");
        }
        match op {
            Op::AnswerUrl(s) => {
                if std::mem::take(&mut self.answer_fetch) {
                    self.feed(Input::AnswerScript(Ok(s.text())));
                }
            }
            Op::AnswerUrlFails(k) => {
                if std::mem::take(&mut self.answer_fetch) {
                    self.feed(Input::AnswerScript(Err(fetch_failure(k))));
                }
            }
            Op::ActionUrl { pick, reply } => {
                if self.fetches.is_empty() {
                    return;
                }
                let fetch_id = self.fetches.remove(usize::from(pick) % self.fetches.len());
                let result = reply.map(|s| s.text()).ok_or(pcmo::FetchError::Timeout);
                self.feed(Input::ScriptFetched { fetch_id, result });
            }
            Op::BResponse { pick, status, sdp } => {
                if let Some(leg) = self.pick_branch(pick) {
                    self.b_response(leg, 100 + status % 600, &sdp);
                }
            }
            Op::BTimeout { pick } => {
                if let Some(leg) = self.pick_branch(pick) {
                    self.b_timeout(leg);
                }
            }
            Op::Request {
                pick,
                method,
                sdp,
                stale,
            } => {
                let leg = self.pick_leg(pick);
                self.in_dialog(leg, method, &sdp, stale);
            }
            Op::Ack { pick } => {
                let leg = self.pick_leg(pick);
                self.feed(Input::Ack { leg });
            }
            Op::CallerCancels => {
                // The transaction layer matches a CANCEL only before the final response.
                if self.inbound && self.finals.get(&self.a_tx) == Some(&0) {
                    self.feed(Input::CallerCancelled);
                }
            }
            Op::AckTimeout => {
                if self.a_ok.is_some() {
                    self.feed(Input::AckTimeout);
                }
            }
            Op::AnswerSent { pick, status } => {
                if !self.pending.is_empty() {
                    let i = usize::from(pick) % self.pending.len();
                    self.answer_sent(i, 100 + status % 600);
                }
            }
            Op::SentFails { pick } => {
                if !self.pending.is_empty() {
                    let i = usize::from(pick) % self.pending.len();
                    let (leg, purpose, _) = self.pending.remove(i);
                    self.feed(Input::RequestFailed { leg, purpose });
                }
            }
            Op::Digit { b_side, digit } => {
                let digits = b"0123456789*#ABCD";
                let digit = char::from(digits[usize::from(digit) % digits.len()]);
                let leg = if b_side { Leg::B } else { Leg::A };
                self.feed(Input::Media(Event::Dtmf { leg, digit }));
            }
            Op::RtpTimeout { b_side } => {
                let leg = if b_side { Leg::B } else { Leg::A };
                self.feed(Input::Media(Event::RtpTimeout { leg }));
            }
            Op::PlayDone { pick, completed } => {
                if !self.plays.is_empty() {
                    let id = self.plays.remove(usize::from(pick) % self.plays.len());
                    self.feed(Input::Media(Event::PlayDone { id, completed }));
                }
            }
            Op::RecordDone { pick, ok } => {
                if !self.records.is_empty() {
                    let (id, path) = self.records.remove(usize::from(pick) % self.records.len());
                    self.feed(Input::Media(record_done(id, path, ok)));
                }
            }
            Op::AudioLoaded { pick, samples } => {
                if !self.loads.is_empty() {
                    let media_id = self.loads.remove(usize::from(pick) % self.loads.len());
                    let result = match samples {
                        Some(n) => Ok(std::sync::Arc::from(vec![0i16; usize::from(n)])),
                        None => Err(AudioFailure {
                            code: "play_failed",
                            message: "no such file".into(),
                        }),
                    };
                    self.feed(Input::AudioLoaded { media_id, result });
                }
            }
            Op::MediaCatchesUp => {
                for ev in std::mem::take(&mut self.owed) {
                    self.feed(Input::Media(ev));
                }
            }
            Op::Advance { ms } => self.advance(Duration::from_millis(u64::from(ms) * 8)),
            Op::Live { command, arg } => {
                let cmd = live_command(command, arg);
                let (now, wall) = (self.now, self.wall());
                // Refusals are fine; the properties checked at the end must hold either way.
                let _ = self.call.command(now, wall, cmd);
                self.drain();
            }
            Op::Raw {
                pick,
                to_sent,
                bytes,
            } => match parse(Bytes::from(bytes)) {
                Ok(Message::Request(r)) => {
                    let leg = self.pick_leg(pick);
                    self.deliver_request(leg, r);
                }
                Ok(Message::Response(r)) => {
                    if to_sent && !self.pending.is_empty() {
                        let i = usize::from(pick) % self.pending.len();
                        let (leg, purpose, _) = if r.status >= 200 {
                            self.pending.remove(i)
                        } else {
                            self.pending[i].clone()
                        };
                        self.feed(Input::Response {
                            leg,
                            purpose,
                            response: r,
                        });
                    } else if let Some(leg) = self.pick_branch(pick) {
                        self.b_respond(leg, r);
                    }
                }
                Err(_) => {}
            },
        }
    }

    /// Leg 0 is the caller; the others are the branches so far.
    pub(crate) fn pick_leg(&self, pick: u8) -> LegId {
        let n = self.branches.len() + 1;
        match usize::from(pick) % n {
            0 => LegId::A,
            i => self.branches[i - 1].0,
        }
    }

    /// Everyone does what they owe; the caller hangs up after a while; silent branches time
    /// out at last. The call must end.
    pub(crate) fn settle(&mut self) {
        for round in 0..40 {
            if self.finished > 0 {
                break;
            }
            if self.answer_fetch {
                self.answer_fetch = false;
                self.feed(Input::AnswerScript(Err(FetchError::Timeout)));
            }
            for fetch_id in std::mem::take(&mut self.fetches) {
                let result = Err(pcmo::FetchError::Timeout);
                self.feed(Input::ScriptFetched { fetch_id, result });
            }
            for media_id in std::mem::take(&mut self.loads) {
                let result = Err(AudioFailure {
                    code: "play_failed",
                    message: "no such file".into(),
                });
                self.feed(Input::AudioLoaded { media_id, result });
            }
            for id in std::mem::take(&mut self.plays) {
                self.feed(Input::Media(Event::PlayDone {
                    id,
                    completed: true,
                }));
            }
            for ev in std::mem::take(&mut self.owed) {
                self.feed(Input::Media(ev));
            }
            while !self.pending.is_empty() {
                self.answer_sent(0, 200);
            }
            let cancelled: Vec<LegId> = self
                .branches
                .iter()
                .filter(|(_, b)| b.cancelled && !b.done)
                .map(|(l, _)| *l)
                .collect();
            for leg in cancelled {
                self.b_response(leg, 487, &Sdp::None);
            }
            if round == 3 {
                self.caller_hangs_up();
            }
            if round >= 6 {
                let silent: Vec<LegId> = self
                    .branches
                    .iter()
                    .filter(|(_, b)| !b.done)
                    .map(|(l, _)| *l)
                    .collect();
                for leg in silent {
                    self.b_timeout(leg);
                }
            }
            self.advance(Duration::from_secs(600));
        }
    }

    pub(crate) fn caller_hangs_up(&mut self) {
        if self.inbound {
            if self.finals.get(&self.a_tx) == Some(&0) {
                self.feed(Input::CallerCancelled);
            } else {
                self.in_dialog(LegId::A, InDialog::Bye, &Sdp::None, false);
            }
        } else {
            self.in_dialog(LegId::A, InDialog::Bye, &Sdp::None, false);
        }
    }
}

pub(crate) fn record_done(id: u64, path: std::path::PathBuf, ok: bool) -> Event {
    Event::RecordDone {
        id,
        path,
        duration_ms: 1000,
        ok,
    }
}

pub(crate) fn fetch_failure(k: u16) -> FetchError {
    match k % 4 {
        0 => FetchError::Timeout,
        1 => FetchError::Unreachable,
        2 => FetchError::TooLarge,
        _ => FetchError::Status(k),
    }
}

/// bob has two phones (1, 2), carol one (3), numbers go to the trunk; nobody else exists.
pub(crate) fn resolve(d: &Destination) -> Resolution {
    let contact = |uri: String, to: String, peer: &str| Contact {
        uri: Uri::parse(&uri).unwrap(),
        to,
        peer: Peer::udp(peer.parse().unwrap()),
        auth: None,
        via: None,
    };
    match d {
        Destination::SipUser(u) => {
            let devices: &[u32] = match u.as_str() {
                "bob" => &[1, 2],
                "carol" => &[3],
                _ => return Resolution::NotRegistered,
            };
            Resolution::Contacts(
                devices
                    .iter()
                    .map(|n| {
                        contact(
                            format!("sip:{u}@198.51.100.{n}:5060"),
                            format!("<sip:{u}@test.local>"),
                            &format!("198.51.100.{n}:5060"),
                        )
                    })
                    .collect(),
            )
        }
        Destination::Pstn(_) => Resolution::Contacts(vec![contact(
            "sip:919876543210@192.0.2.200:5060".into(),
            "<sip:919876543210@192.0.2.200>".into(),
            "192.0.2.200:5060",
        )]),
        _ => Resolution::Unroutable(404),
    }
}

/// A live command from two fuzzer bytes.
fn live_command(command: u8, arg: u8) -> engine::call::live::LiveCommand {
    use engine::call::live::{GatherSpec, LiveCommand, LivePrompt, LiveSource};
    let prompt = || LivePrompt {
        source: LiveSource::Speak {
            text: "hello".into(),
            voice: pcmo::Voice::default(),
        },
        looped: arg % 2 == 0,
        tag: None,
    };
    match command % 17 {
        0 => LiveCommand::TakeControl,
        1 => LiveCommand::Answer,
        2 => LiveCommand::Reject(if arg % 2 == 0 { 603 } else { 486 }),
        3 => LiveCommand::Hangup,
        4 => LiveCommand::Play(prompt()),
        5 => LiveCommand::StopAudio,
        6 => LiveCommand::SendDtmf(["1", "#", "x", ""][usize::from(arg) % 4].into()),
        7 => LiveCommand::Gather(GatherSpec {
            max_digits: usize::from(arg % 4) + 1,
            inter_digit_timeout: Duration::from_secs(u64::from(arg % 3) + 1),
            terminating_digits: "#".into(),
            prompt: (arg % 3 == 0).then(prompt),
            bargeable: arg % 2 == 1,
            tag: None,
        }),
        8 => LiveCommand::StopGather(u32::from(arg % 3)),
        9 => LiveCommand::Record(arg % 2 == 0),
        10 => LiveCommand::Hold([None, Some(true), Some(false)][usize::from(arg) % 3]),
        11 => LiveCommand::Join {
            peer: Anchor {
                addr: "203.0.113.1".parse().unwrap(),
                rtp_port: 31000,
                rtcp_port: 31001,
            },
        },
        12 => LiveCommand::Leave,
        13 => LiveCommand::FetchScript("https://app.example.com/next".into()),
        // A Cloud SIP UA device's commands.
        15 => LiveCommand::Ringback,
        16 => LiveCommand::Device(engine::call::live::DeviceMedia {
            rtp: "203.0.113.7:40000".parse().unwrap(),
            codec: if arg % 2 == 0 {
                engine::media::codec::AudioCodec::Pcmu
            } else {
                engine::media::codec::AudioCodec::Pcma
            },
            event_pt: 96 + arg % 32,
            srtp: None,
        }),
        _ => {
            let text = super::SCRIPTS[usize::from(arg) % super::SCRIPTS.len()];
            LiveCommand::RunScript(Box::new(pcmo::Script::parse(text).expect("a fixed script")))
        }
    }
}
