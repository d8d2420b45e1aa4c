//! The call core (`engine::call::Call`), stateful: an inbound or placed call on a virtual clock
//! gets a bounded sequence of what the shell, the app and the phones can do to it: answer-URL
//! replies (a few real PCMO scripts or arbitrary text), fetch failures, B-leg responses with
//! any status (with good, held or garbage SDP, or none), transaction timeouts, BYE, re-INVITE,
//! INFO and OPTIONS from either side (in or out of CSeq order), ACKs, the caller's CANCEL, media
//! events, digits, loaded or failed prompts, clock jumps, and raw SIP bytes parsed and fed as a
//! request or a response of a leg. The driver plays the shell like `engine/tests/common/
//! call_rig.rs` does (media always allocates, targets resolve from a table, rings run in real
//! fork cores) but keeps everything outstanding for the fuzzer to answer, in any order.
//!
//! Properties besides "no panic": once the input is used up and the phones, the app and the
//! media task behave (CANCELs get 487, requests the call sent get 200, fetches and prompts
//! fail, prompts end, the caller hangs up, silent branches time out) and the clock runs hours
//! ahead, the call reports `Finished` exactly once; every leg that reported anything reported
//! exactly one terminal event and one CDR; every request the call was given (the caller's
//! INVITE included) got exactly one final response (a relayed re-INVITE still waiting for the
//! other leg when the call finishes gets 487).
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engine::call::fork::{Fork, ForkOutput};
use engine::call::media_actions::AudioFailure;
use engine::call::report::{EventStatus, Report};
use engine::call::{
    Call, CallSetup, Contact, FetchFailure, Input, LegId, OutboundCall, Output, Purpose,
    Resolution, RingId,
};
use engine::media::sdp::Anchor;
use engine::media::{Command, Event, Leg};
use engine::sip::message::{
    parse, response_to, HeaderName, HeaderView, Message, Method, Request, Response, Uri,
};
use engine::sip::transaction::TxId;
use engine::sip::Peer;
use libfuzzer_sys::fuzz_target;
use pcmo::action::connect::targets::Destination;

const A_SDP: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Scripts the app can answer with: connect (group, sequential, looping, video), bridge, menus,
/// prompts, a recording, hangups, an unregistered and an unroutable target.
const SCRIPTS: [&str; 10] = [
    r#"[{"action":"connect","ring_type":"group","timeout":20,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]},{"action":"hangup"}]"#,
    r#"[{"action":"connect","timeout":10,"duration":60,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]},{"action":"connect","call":[{"type":"sip","user":"carol"}]}]"#,
    r#"[{"action":"connect","ring_type":"group","timeout":5,"loop":2,"call":[{"type":"sip","user":"bob"}]},{"action":"hangup"}]"#,
    r#"[{"action":"bridge","from":914471000000,"duration":30,"connect":[{"type":"pstn","number":919876543210}]}]"#,
    r#"[{"action":"play_get_input","action_url":"https://app.example.com/menu","file_name":"menu.wav","max_digit":1,"max_retry":2,"timeout":5},{"action":"hangup"}]"#,
    r#"[{"action":"speak","text":"hello"},{"action":"record"},{"action":"connect","call":[{"type":"sip","user":"carol"}]},{"action":"hangup"}]"#,
    r#"[{"action":"input","action_url":"https://app.example.com/dtmf","max_digit":4,"timeout":10},{"action":"play_get_input","prompt":{"type":"say","say":"Press 1"},"input":["dtmf"],"dtmf":{"max_digits":1,"first_digit_timeout":5},"retries":{"max":1},"on_result":{"type":"url","url":"https://example.com/r"}}]"#,
    r#"[{"action":"connect","call_type":"video","call":[{"type":"sip","user":"bob"}]},{"action":"play","file_url":"https://cdn.example.com/x.wav"}]"#,
    r#"[{"action":"connect","timeout":30,"call":[{"type":"sip","user":"nobody"},{"type":"sip","uri":"sip:x@nowhere.invalid"}]},{"action":"hangup"}]"#,
    r#"[{"action":"hangup"}]"#,
];

#[derive(Arbitrary, Debug)]
enum Script {
    Fixed(u8),
    Text(String),
}

impl Script {
    fn text(&self) -> String {
        match self {
            Script::Fixed(i) => SCRIPTS[usize::from(*i) % SCRIPTS.len()].to_string(),
            Script::Text(t) => t.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Sdp {
    None,
    Good,
    /// `a=sendonly` on 0.0.0.0, as phones put a call on hold.
    Hold,
    Garbage(String),
}

impl Sdp {
    fn body(&self, n: u32) -> Option<String> {
        let n = n % 250;
        match self {
            Sdp::None => None,
            Sdp::Good => Some(format!("v=0\r\no=b{n} 1 1 IN IP4 198.51.100.{n}\r\ns=-\r\nc=IN IP4 198.51.100.{n}\r\nt=0 0\r\nm=audio 5000{n} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")),
            Sdp::Hold => Some(format!("v=0\r\no=b{n} 1 2 IN IP4 198.51.100.{n}\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5000{n} RTP/AVP 0\r\na=sendonly\r\n")),
            Sdp::Garbage(g) => Some(g.clone()),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum InDialog {
    Bye,
    Reinvite,
    Info,
    Options,
}

#[derive(Arbitrary, Debug)]
enum Op {
    AnswerUrl(Script),
    AnswerUrlFails(u16),
    /// An action URL's reply, to the n-th outstanding fetch.
    ActionUrl {
        pick: u8,
        reply: Option<Script>,
    },
    /// A branch answers its INVITE.
    BResponse {
        pick: u8,
        status: u16,
        sdp: Sdp,
    },
    /// A branch's INVITE transaction failed (timeout, broken connection).
    BTimeout {
        pick: u8,
    },
    /// A request in a leg's dialog, from the phone (`pick` 0 is A).
    Request {
        pick: u8,
        method: InDialog,
        sdp: Sdp,
        /// Reuse the last CSeq (a retransmission or out of order).
        stale: bool,
    },
    Ack {
        pick: u8,
    },
    CallerCancels,
    AckTimeout,
    /// The n-th request the call sent gets this status (100..=699).
    AnswerSent {
        pick: u8,
        status: u16,
    },
    SentFails {
        pick: u8,
    },
    Digit {
        b_side: bool,
        digit: u8,
    },
    RtpTimeout {
        b_side: bool,
    },
    /// The n-th prompt playing ends.
    PlayDone {
        pick: u8,
        completed: bool,
    },
    RecordDone {
        pick: u8,
        ok: bool,
    },
    /// The n-th prompt loading is loaded (this many samples) or fails.
    AudioLoaded {
        pick: u8,
        samples: Option<u16>,
    },
    /// The media task delivers what it owes (PlayDone after StopPlay, RecordDone after Stop).
    MediaCatchesUp,
    Advance {
        ms: u16,
    },
    /// Raw bytes, parsed: a request in leg `pick`'s dialog, or a response for branch `pick`
    /// (or for the `pick`-th request the call sent).
    Raw {
        pick: u8,
        to_sent: bool,
        bytes: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Setup {
    /// A call ringmaster places (to bob) with this script, instead of an inbound one.
    outbound: Option<Option<u8>>,
    fallback: Option<u8>,
    a_sdp: Sdp,
    media_fails: bool,
}

struct Branch {
    ring: RingId,
    invite: Request,
    /// The 2xx the phone sent, once it did: the phone's side of the dialog.
    ok: Option<Response>,
    cancelled: bool,
    /// A final response went to the fork (or the transaction failed).
    done: bool,
}

struct Driver {
    call: Call,
    start: Instant,
    now: Instant,
    finished: usize,
    inbound: bool,
    a_invite: Request,
    a_tx: TxId,
    a_ok: Option<Response>,
    forks: HashMap<RingId, Fork>,
    branches: Vec<(LegId, Branch)>,
    pending: Vec<(LegId, Purpose, Request)>,
    timers: Vec<(Instant, pcmo::TimerId)>,
    next_tx: u64,
    /// Final responses per server transaction we created (the A INVITE's included).
    finals: HashMap<TxId, u32>,
    /// The phones' CSeq counters in each dialog.
    cseq: HashMap<LegId, u32>,
    answer_fetch: bool,
    fetches: Vec<pcmo::FetchId>,
    loads: Vec<pcmo::MediaId>,
    plays: Vec<u64>,
    records: Vec<(u64, std::path::PathBuf)>,
    /// Events the media task owes (a stopped prompt's PlayDone, a stopped recording's).
    owed: Vec<Event>,
    media_fails: bool,
    /// Server transactions of re-INVITEs the call relayed to the other leg.
    relayed: Vec<TxId>,
    /// (leg, hangup events, CDRs).
    terminal: HashMap<LegId, (u32, u32)>,
}

fn leg_of(n: u32) -> String {
    format!("198.51.100.{}", n % 250)
}

impl Driver {
    fn wall(&self) -> u64 {
        1_000_000 + (self.now - self.start).as_millis() as u64
    }

    fn feed(&mut self, input: Input) {
        let (now, wall) = (self.now, self.wall());
        self.call.handle(now, wall, input);
        self.drain();
    }

    fn tx(&mut self) -> TxId {
        self.next_tx += 1;
        let tx = TxId(self.next_tx);
        self.finals.insert(tx, 0);
        tx
    }

    fn drain(&mut self) {
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
            }
        }
    }

    /// The media task's side: which prompts play and which recordings run.
    fn media_command(&mut self, c: Command) {
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
            Command::Record { id, path } => self.records.push((id, path)),
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

    fn run_fork(&mut self, ring: RingId) {
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

    fn branch(&mut self, leg: LegId) -> Option<&mut Branch> {
        self.branches
            .iter_mut()
            .rev()
            .find(|(l, _)| *l == leg)
            .map(|(_, b)| b)
    }

    fn pick_branch(&self, pick: u8) -> Option<LegId> {
        if self.branches.is_empty() {
            return None;
        }
        Some(self.branches[usize::from(pick) % self.branches.len()].0)
    }

    /// The phone of branch `leg` responds to its INVITE.
    fn b_respond(&mut self, leg: LegId, resp: Response) {
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

    fn b_response(&mut self, leg: LegId, status: u16, sdp: &Sdp) {
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

    fn b_timeout(&mut self, leg: LegId) {
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
    fn in_dialog(&mut self, leg: LegId, method: InDialog, sdp: &Sdp, stale: bool) {
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

    fn deliver_request(&mut self, leg: LegId, request: Request) {
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

    fn answer_sent(&mut self, i: usize, status: u16) {
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

    fn advance(&mut self, by: Duration) {
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

    fn step(&mut self, op: Op) {
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
    fn pick_leg(&self, pick: u8) -> LegId {
        let n = self.branches.len() + 1;
        match usize::from(pick) % n {
            0 => LegId::A,
            i => self.branches[i - 1].0,
        }
    }

    /// Everyone does what they owe; the caller hangs up after a while; silent branches time
    /// out at last. The call must end.
    fn settle(&mut self) {
        for round in 0..40 {
            if self.finished > 0 {
                break;
            }
            if self.answer_fetch {
                self.answer_fetch = false;
                self.feed(Input::AnswerScript(Err(FetchFailure::Timeout)));
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

    fn caller_hangs_up(&mut self) {
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

fn record_done(id: u64, path: std::path::PathBuf, ok: bool) -> Event {
    Event::RecordDone {
        id,
        path,
        duration_ms: 1000,
        ok,
    }
}

fn fetch_failure(k: u16) -> FetchFailure {
    match k % 4 {
        0 => FetchFailure::Timeout,
        1 => FetchFailure::Unreachable,
        2 => FetchFailure::TooLarge,
        _ => FetchFailure::Status(k),
    }
}

/// bob has two phones (1, 2), carol one (3), numbers go to the trunk; nobody else exists.
fn resolve(d: &Destination) -> Resolution {
    let contact = |uri: String, to: String, peer: &str| Contact {
        uri: Uri::parse(&uri).unwrap(),
        to,
        peer: Peer::udp(peer.parse().unwrap()),
        auth: None,
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

#[derive(Arbitrary, Debug)]
struct Case {
    setup: Setup,
    ops: Vec<Op>,
}

/// `CALL_DIALOG_TRACE=1` prints every step and output (to read a crash).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("CALL_DIALOG_TRACE").is_some())
}

fn short(o: &Output) -> String {
    match o {
        Output::Respond { tx, response } => format!("respond {tx:?} {}", response.status),
        Output::Send { leg, request, .. } => format!("send {leg:?} {}", request.method),
        Output::Report(Report::Event(e)) => format!("event {:?} {:?}", e.leg, e.status),
        Output::Report(Report::Cdr(c)) => format!("cdr {:?} {}", c.leg, c.cause),
        other => {
            let s = format!("{other:?}");
            s.chars().take(100).collect()
        }
    }
}

static SCRIPTS_PARSE: std::sync::Once = std::sync::Once::new();

fuzz_target!(|case: Case| {
    SCRIPTS_PARSE.call_once(|| {
        for s in SCRIPTS {
            assert!(pcmo::Script::parse(s).is_ok(), "fixed script invalid: {s}");
        }
    });
    let Case { setup, ops } = case;
    if trace() {
        eprintln!("setup: {setup:?}");
    }
    let now = Instant::now();
    let call_setup = CallSetup {
        cmiuuid: "call-1".into(),
        appid: 1234567,
        answer_url: "http://127.0.0.1:9/answer".into(),
        fallback: setup.fallback.map(|i| Script::Fixed(i).text()),
        from: "alice".into(),
        to: "5000".into(),
        contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
        domain: "test.local".into(),
        local_ip: "203.0.113.1".parse().unwrap(),
        max_forwards: 70,
        recordings_dir: "/var/lib/ringmaster/recordings/1234567".into(),
        seed: 7,
    };
    let sdp = setup.a_sdp.body(10).unwrap_or_default();
    let sdp = if matches!(setup.a_sdp, Sdp::Good) {
        A_SDP.to_string()
    } else {
        sdp
    };
    let mut invite_text = format!(
        "INVITE sip:5000@test.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKa1\r\nFrom: <sip:alice@test.local>;tag=at\r\nTo: <sip:5000@test.local>\r\nCall-ID: a-call\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10:5062>\r\nMax-Forwards: 70\r\n"
    );
    if !sdp.is_empty() {
        invite_text.push_str("Content-Type: application/sdp\r\n");
    }
    invite_text.push_str("\r\n");
    invite_text.push_str(&sdp);
    let Ok(Message::Request(a_invite)) = parse(Bytes::from(invite_text)) else {
        return;
    };
    let a_tx = TxId(1);
    let inbound = setup.outbound.is_none();
    let call = match setup.outbound {
        None => {
            let peer = Peer::udp("192.0.2.10:5062".parse().unwrap());
            Call::new(call_setup, a_tx, a_invite.clone(), peer, now, 1_000_000)
        }
        Some(script) => {
            let out = OutboundCall {
                to: Destination::SipUser("bob".into()),
                script: script.and_then(|i| pcmo::Script::parse(&Script::Fixed(i).text()).ok()),
                max_duration: Some(Duration::from_secs(60)),
                extra_params: Some("{\"crm\":42}".into()),
                request_id: "req-1".into(),
            };
            Call::outbound(call_setup, out, now, 1_000_000)
        }
    };
    let mut d = Driver {
        call,
        start: now,
        now,
        finished: 0,
        inbound,
        a_invite,
        a_tx,
        a_ok: None,
        forks: HashMap::new(),
        branches: Vec::new(),
        pending: Vec::new(),
        timers: Vec::new(),
        next_tx: 100,
        finals: if inbound {
            HashMap::from([(a_tx, 0)])
        } else {
            HashMap::new()
        },
        cseq: HashMap::new(),
        answer_fetch: false,
        fetches: Vec::new(),
        loads: Vec::new(),
        plays: Vec::new(),
        records: Vec::new(),
        owed: Vec::new(),
        media_fails: setup.media_fails,
        relayed: Vec::new(),
        terminal: HashMap::new(),
    };
    d.drain();
    for op in ops.into_iter().take(64) {
        d.step(op);
    }
    if trace() {
        eprintln!("settle");
    }
    d.settle();
    assert_eq!(d.finished, 1, "the call reports Finished exactly once");
    for (leg, (hangups, cdrs)) in &d.terminal {
        assert_eq!(
            (*hangups, *cdrs),
            (1, 1),
            "leg {leg:?}: exactly one terminal event and one CDR"
        );
    }
    for (tx, n) in &d.finals {
        assert_eq!(*n, 1, "request on {tx:?}: exactly one final response");
    }
});
