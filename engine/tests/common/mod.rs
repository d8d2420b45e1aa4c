//! A virtual network for sans-IO SIP cores: nodes with addresses, an in-memory wire that can
//! drop messages, and a clock the test moves forward. Deterministic: the same test gives the
//! same result every time, and 32 s of RFC 3261 timers run in microseconds.

// Test code: the rigs read the real clock as their starting point (engine/clippy.toml keeps it
// out of the cores only).
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

pub mod call_log;
pub mod call_rig;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engine::sip::message::{parse, response_to, Message, Request};
use engine::sip::transaction::{Config, Output, TransactionLayer, TxEvent, TxId};
use engine::sip::{Inbound, Peer, Transmit, Transport};

pub struct Node {
    pub addr: SocketAddr,
    pub layer: TransactionLayer,
    pub events: Vec<TxEvent>,
    /// Every message this node put on the wire, with the virtual time it left.
    pub sent: Vec<(Duration, Transmit)>,
}

impl Node {
    pub fn new(addr: &str, seed: u64) -> Node {
        Node::with_config(
            addr,
            Config {
                seed,
                ..Config::default()
            },
        )
    }

    pub fn with_config(addr: &str, cfg: Config) -> Node {
        Node {
            addr: addr.parse().unwrap(),
            layer: TransactionLayer::new(cfg),
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Takes the events seen so far.
    pub fn take_events(&mut self) -> Vec<TxEvent> {
        std::mem::take(&mut self.events)
    }

    /// Start lines of what this node sent, e.g. ["INVITE", "ACK", "SIP/2.0 200"].
    pub fn sent_lines(&self) -> Vec<String> {
        self.sent
            .iter()
            .map(|(_, t)| first_word(&t.bytes))
            .collect()
    }
}

/// "INVITE" for requests, "SIP/2.0 180" for responses.
pub fn first_word(b: &Bytes) -> String {
    let s = String::from_utf8_lossy(b);
    let line = s.lines().next().unwrap_or("");
    if line.starts_with("SIP/2.0") {
        line.split(' ').take(2).collect::<Vec<_>>().join(" ")
    } else {
        line.split(' ').next().unwrap_or("").to_string()
    }
}

/// Decides whether the wire loses a message (sender index, message).
pub type DropRule = Box<dyn FnMut(usize, &Transmit) -> bool>;

pub struct Net {
    pub start: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    /// In flight: (destination index, message).
    wire: VecDeque<(usize, Transmit, SocketAddr)>,
    /// Returns true to drop a message (sees the sender index and the bytes).
    pub drop: DropRule,
    pub transport: Transport,
}

impl Net {
    pub fn new(nodes: Vec<Node>) -> Net {
        let now = Instant::now();
        Net {
            start: now,
            now,
            nodes,
            wire: VecDeque::new(),
            drop: Box::new(|_, _| false),
            transport: Transport::Udp,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The peer value for reaching node `i` from elsewhere.
    pub fn peer(&self, i: usize) -> Peer {
        Peer {
            transport: self.transport,
            addr: self.nodes[i].addr,
            conn: None,
        }
    }

    /// Moves every output to the wire or the event lists, and delivers until quiet.
    pub fn run(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(out) = self.nodes[i].layer.poll_output() {
                    moved = true;
                    match out {
                        Output::Event(e) => self.nodes[i].events.push(e),
                        Output::Transmit(t) => {
                            let elapsed = self.now - self.start;
                            self.nodes[i].sent.push((elapsed, t.clone()));
                            if (self.drop)(i, &t) {
                                continue;
                            }
                            if let Some(dest) =
                                self.nodes.iter().position(|n| n.addr == t.peer.addr)
                            {
                                let from = self.nodes[i].addr;
                                self.wire.push_back((dest, t, from));
                            }
                        }
                    }
                }
            }
            while let Some((dest, t, from)) = self.wire.pop_front() {
                moved = true;
                let peer = Peer {
                    transport: t.peer.transport,
                    addr: from,
                    conn: t.peer.conn,
                };
                let now = self.now;
                self.nodes[dest].layer.handle_inbound(
                    now,
                    Inbound {
                        peer,
                        bytes: t.bytes,
                    },
                );
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances the clock by `d`, firing every timer due on the way, in order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.run();
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.layer.poll_timeout())
                .min();
            match next {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    for n in &mut self.nodes {
                        n.layer.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.run();
    }
}

impl Net {
    /// Delivers raw bytes to node `to` as if sent by `from`.
    pub fn inject(&mut self, to: usize, from: Peer, bytes: impl Into<Bytes>) {
        let now = self.now;
        self.nodes[to].layer.handle_inbound(
            now,
            Inbound {
                peer: from,
                bytes: bytes.into(),
            },
        );
    }

    /// The server transaction of the last request node `i` received.
    pub fn last_server_tx(&self, i: usize) -> TxId {
        self.nodes[i]
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                TxEvent::Request { tx, .. } => Some(*tx),
                _ => None,
            })
            .expect("a request reached the node")
    }

    /// Node `i` answers its server transaction `tx` with `status` (To tag "b1"), now.
    pub fn respond(&mut self, i: usize, tx: TxId, status: u16) {
        let req = self.nodes[i]
            .layer
            .request(tx)
            .expect("live transaction")
            .clone();
        let now = self.now;
        self.nodes[i]
            .layer
            .respond(now, tx, response_to(&req, status, Some("b1")))
            .expect("respond");
    }

    /// Node `i` answers the last request it received; returns that transaction.
    pub fn answer(&mut self, i: usize, status: u16) -> TxId {
        let tx = self.last_server_tx(i);
        self.respond(i, tx, status);
        tx
    }
}

/// Parses a request written with `\n` line ends.
pub fn request(text: &str) -> Request {
    let wire = text.replace('\n', "\r\n");
    match parse(Bytes::from(wire)) {
        Ok(Message::Request(r)) => r,
        other => panic!("bad test request: {other:?}"),
    }
}
