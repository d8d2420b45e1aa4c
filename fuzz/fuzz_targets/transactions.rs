//! The SIP transaction layer, stateful: an arbitrary sequence of requests and responses from a
//! few peers over UDP and TCP (colliding branches, Call-IDs and CSeqs, ACKs and CANCELs, raw
//! garbage), TU answers, requests we send, CANCELs, dropped connections and clock jumps, on a
//! virtual clock. Properties: never a panic; once the TU has answered everything and the
//! clock has run past every RFC 3261 timer, no transaction is left (no leak) and no timer is
//! pending.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engine::sip::message::{parse, response_to, Message, Request};
use engine::sip::transaction::{Config, Output, TransactionLayer, TxEvent, TxId};
use engine::sip::{ConnId, Inbound, Peer, Transport};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Meth {
    Invite,
    Ack,
    Cancel,
    Bye,
    Options,
    Register,
    Info,
}

impl Meth {
    fn name(self) -> &'static str {
        match self {
            Meth::Invite => "INVITE",
            Meth::Ack => "ACK",
            Meth::Cancel => "CANCEL",
            Meth::Bye => "BYE",
            Meth::Options => "OPTIONS",
            Meth::Register => "REGISTER",
            Meth::Info => "INFO",
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Req {
    method: Meth,
    /// CSeq method when it differs (the parser refuses that; still a path to cover).
    cseq_method: Option<Meth>,
    branch: u8,
    /// RFC 2543 style (no magic cookie): the layer falls back to other matching rules.
    legacy: bool,
    call: u8,
    cseq: u8,
    from_tag: u8,
    to_tag: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Request {
        from: u8,
        tcp: bool,
        req: Req,
    },
    /// A response to the n-th request we sent.
    Response {
        pick: u8,
        status: u16,
        to_tag: u8,
    },
    Raw {
        from: u8,
        bytes: Vec<u8>,
    },
    Advance {
        ms: u16,
    },
    Respond {
        pick: u8,
        status: u8,
    },
    Send {
        to: u8,
        tcp: bool,
        method: Meth,
        call: u8,
    },
    Cancel {
        pick: u8,
    },
    ConnClosed {
        conn: u8,
    },
}

const STATUSES: [u16; 8] = [100, 180, 183, 200, 302, 404, 486, 503];

fn peer(from: u8, tcp: bool) -> Peer {
    let addr: SocketAddr = SocketAddr::from(([192, 0, 2, 1 + from % 4], 5060));
    if tcp {
        Peer {
            transport: Transport::Tcp,
            addr,
            conn: Some(ConnId(u64::from(from % 4))),
        }
    } else {
        Peer::udp(addr)
    }
}

fn request_text(r: &Req, tcp: bool) -> String {
    let cookie = if r.legacy { "" } else { "z9hG4bK" };
    let to_tag = r.to_tag.map(|t| format!(";tag=t{t}")).unwrap_or_default();
    format!(
        "{m} sip:b@ringmaster.test SIP/2.0\r\nVia: SIP/2.0/{t} 192.0.2.9:5060;branch={cookie}b{b}\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f{f}\r\nTo: <sip:b@example.com>{to_tag}\r\nCall-ID: c{c}\r\nCSeq: {s} {cm}\r\nContent-Length: 0\r\n\r\n",
        m = r.method.name(),
        t = if tcp { "TCP" } else { "UDP" },
        b = r.branch % 8,
        f = r.from_tag % 4,
        c = r.call % 4,
        s = r.cseq % 4,
        cm = r.cseq_method.unwrap_or(r.method).name(),
    )
}

fn request(text: &str) -> Option<Request> {
    match parse(Bytes::copy_from_slice(text.as_bytes())) {
        Ok(Message::Request(r)) => Some(r),
        _ => None,
    }
}

struct Harness {
    layer: TransactionLayer,
    now: Instant,
    /// Server transactions the TU was told about and has not seen end.
    server: Vec<TxId>,
    /// Client transactions we started.
    client: Vec<TxId>,
    /// Requests we put on the wire, with where they went.
    sent: Vec<(Request, Peer)>,
}

impl Harness {
    fn drain(&mut self) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                Output::Transmit(t) => {
                    if let Ok(Message::Request(r)) = parse(t.bytes.clone()) {
                        if self.sent.len() < 64 {
                            self.sent.push((r, t.peer));
                        }
                    }
                }
                Output::Event(TxEvent::Request { tx, .. }) => self.server.push(tx),
                Output::Event(TxEvent::Terminated { tx }) => {
                    self.server.retain(|t| *t != tx);
                    self.client.retain(|t| *t != tx);
                }
                Output::Event(_) => {}
            }
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Request { from, tcp, req } => {
                let text = request_text(&req, tcp);
                self.layer.handle_inbound(
                    self.now,
                    Inbound {
                        peer: peer(from, tcp),
                        bytes: Bytes::from(text),
                    },
                );
            }
            Op::Response {
                pick,
                status,
                to_tag,
            } => {
                if self.sent.is_empty() {
                    return;
                }
                let (req, to) = &self.sent[usize::from(pick) % self.sent.len()];
                let status = 100 + status % 600;
                let resp = response_to(req, status, Some(&format!("r{}", to_tag % 4)));
                // Our own requests were encoded, so a response echoing them encodes too; were
                // it not, there is nothing to deliver.
                let Ok(bytes) = resp.encode() else {
                    return;
                };
                let inbound = Inbound { peer: *to, bytes };
                self.layer.handle_inbound(self.now, inbound);
            }
            Op::Raw { from, bytes } => {
                let inbound = Inbound {
                    peer: peer(from, false),
                    bytes: Bytes::from(bytes),
                };
                self.layer.handle_inbound(self.now, inbound);
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(ms) * 4);
                self.layer.handle_timeout(self.now);
            }
            Op::Respond { pick, status } => {
                if self.server.is_empty() {
                    return;
                }
                let tx = self.server[usize::from(pick) % self.server.len()];
                let Some(req) = self.layer.request(tx).cloned() else {
                    return;
                };
                let status = STATUSES[usize::from(status) % STATUSES.len()];
                let _ = self
                    .layer
                    .respond(self.now, tx, response_to(&req, status, Some("uas")));
            }
            Op::Send {
                to,
                tcp,
                method,
                call,
            } => {
                let r = Req {
                    method,
                    cseq_method: None,
                    branch: 0,
                    legacy: false,
                    call: call.wrapping_add(100),
                    cseq: 1,
                    from_tag: 0,
                    to_tag: None,
                };
                // Without a Via: the layer adds ours with a fresh branch.
                let text = request_text(&r, tcp);
                let text: String = text
                    .split("\r\n")
                    .filter(|l| !l.starts_with("Via:"))
                    .collect::<Vec<_>>()
                    .join("\r\n");
                if let Some(req) = request(&text) {
                    if let Ok(tx) = self.layer.send_request(self.now, req, peer(to, tcp)) {
                        self.client.push(tx);
                    }
                }
            }
            Op::Cancel { pick } => {
                if let Some(&tx) = self
                    .client
                    .get(usize::from(pick) % self.client.len().max(1))
                {
                    let _ = self.layer.cancel(self.now, tx);
                }
            }
            Op::ConnClosed { conn } => self.layer.transport_error(ConnId(u64::from(conn % 4))),
        }
        self.drain();
    }

    /// The TU answers whatever is still open, then the clock runs until no timer is left.
    fn settle(&mut self) {
        for tx in self.server.clone() {
            if let Some(req) = self.layer.request(tx).cloned() {
                let _ = self
                    .layer
                    .respond(self.now, tx, response_to(&req, 486, Some("uas")));
            }
        }
        self.drain();
        let mut rounds = 0;
        while let Some(at) = self.layer.poll_timeout() {
            rounds += 1;
            assert!(rounds < 100_000, "timers never run out");
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            self.drain();
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut h = Harness {
        layer: TransactionLayer::new(Config {
            max_transactions: 32,
            ..Config::default()
        }),
        now: Instant::now(),
        server: Vec::new(),
        client: Vec::new(),
        sent: Vec::new(),
    };
    for op in ops.into_iter().take(256) {
        h.step(op);
    }
    h.settle();
    assert_eq!(
        h.layer.len(),
        0,
        "transactions left after every timer ran out"
    );
});
