//! The transaction layer (RFC 3261 §17) together with the receiving duties of the transport
//! layer (§18.2.1: Via `received`/`rport`, RFC 3581; §18.2.2: where responses go).
//!
//! Run loop contract (sans-IO, str0m/quinn style):
//! * feed bytes with [`TransactionLayer::handle_inbound`], and call
//!   [`TransactionLayer::handle_timeout`] once the instant from
//!   [`TransactionLayer::poll_timeout`] has passed;
//! * act for the TU with [`TransactionLayer::respond`], [`TransactionLayer::send_request`],
//!   [`TransactionLayer::cancel`] and [`TransactionLayer::send_ack`];
//! * after every call, drain [`TransactionLayer::poll_output`] until it returns `None`:
//!   bytes to transmit, and events for the TU.
//!
//! Retransmissions are absorbed here: the TU sees each request once, each client response once
//! per state change, and never a stray response. Malformed requests are answered statelessly
//! (400/505, to the packet's source: the Via of a broken message is not trusted).

mod accepted;
mod client_invite;
#[cfg(test)]
pub(crate) use client_invite::{build_ack, build_cancel};
mod client_non_invite;
mod id_hash;
mod key;
mod receive;
mod server_index;
mod server_invite;
mod server_non_invite;
mod settled;
mod timer;
mod tx;
mod via;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;

pub use key::{AckKey, ClientKey, ServerKey};
pub use timer::Timers;
pub use tx::State;

use self::accepted::Accepted;
use self::id_hash::IdHash;
use self::server_index::ServerIndex;
use self::settled::Settled;
use self::tx::{Cancel, Key, Kind, Slot, Step, Tx};
use super::message::{
    new_token, parse_with_limits, response_from_headers, HeaderName, Host, Limits, Message, Method,
    ParseError, ParseFailure, Request, Response,
};
use super::{ConnId, Inbound, Peer, Transmit, Transport};

/// A transaction's number, unique for the life of the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// What the layer tells the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A new request (never an ACK, never a retransmission). Answer it with
    /// [`TransactionLayer::respond`]. INVITEs have been answered 100 Trying already.
    Request {
        tx: TxId,
        request: Request,
        peer: Peer,
    },
    /// An ACK for a 2xx (or one that matched nothing): for the dialog layer.
    Ack { request: Request, peer: Peer },
    /// A CANCEL matched an INVITE still proceeding; the CANCEL got its 200. The TU should
    /// answer the INVITE (487).
    Cancelled { invite: TxId },
    /// A response on a client transaction.
    Response { tx: TxId, response: Response },
    /// Timer B or F (no final response), Timer H (no ACK for our final response), Timer L
    /// (no ACK for our 2xx), or a CANCELled INVITE that never got its final response.
    Timeout { tx: TxId },
    /// The connection a transaction used failed.
    TransportError { tx: TxId },
    /// A transaction ended (its timers ran out or it failed): forget what was kept for it.
    Terminated { tx: TxId },
    /// A message that did not parse; `answered` is the status sent back, if any.
    Malformed {
        peer: Peer,
        error: ParseError,
        answered: Option<u16>,
    },
    /// A new request was refused with 503 because the transaction table is full.
    Overloaded { peer: Peer },
}

/// One unit of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Transmit(Transmit),
    Event(TxEvent),
}

/// Misuse of the layer by the TU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    #[error("no such transaction")]
    UnknownTransaction,
    #[error("the transaction cannot take this now")]
    WrongState,
    #[error("the request has no usable Via or CSeq")]
    BadRequest,
    #[error("ACK is not sent in a transaction; use send_ack")]
    AckNeedsNoTransaction,
    #[error("the message cannot be sent: {0}")]
    Encode(#[from] super::message::EncodeError),
}

/// Settings of the layer.
#[derive(Debug, Clone)]
pub struct Config {
    pub timers: Timers,
    /// Answer UDP requests at their source address and port, whatever their Via says (as if
    /// every client had asked for `rport`). Devices behind NAT need it; RFC 3261 routing is
    /// used when false.
    pub force_rport: bool,
    /// The sent-by we put in our Vias, per transport.
    pub sent_by: Vec<(Transport, Host, u16)>,
    /// The most live transactions; new requests past it get 503. Answered non-INVITE server
    /// transactions waiting out Timer J do not count (see `max_completed`).
    pub max_transactions: usize,
    /// The most answered non-INVITE server transactions kept to replay their response to a
    /// retransmitted request (RFC 3261 Timer J, 32 s over UDP). Past it the oldest go early:
    /// under a load of 10,000 REGISTER/s they are kept ~10 s instead of 32 s (Kamailio keeps
    /// them 5 s), rather than new requests being refused.
    pub max_completed: usize,
    pub limits: Limits,
    /// Seed of the generator for branches and tags (fixed in tests).
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: Timers::default(),
            force_rport: true,
            sent_by: Vec::new(),
            max_transactions: 200_000,
            max_completed: 200_000,
            limits: Limits::default(),
            seed: 0,
        }
    }
}

/// RFC 3261 transactions for every dialog and registration of one engine.
pub struct TransactionLayer {
    cfg: Config,
    /// Boxed: a table growth moves pointers, not 400-byte records (a growth at ~115,000 live
    /// transactions stalled the SIP thread for ~150 ms before).
    txs: HashMap<TxId, Box<Tx>, IdHash>,
    server_keys: ServerIndex,
    client_keys: HashMap<ClientKey, TxId>,
    ack_keys: HashMap<AckKey, TxId>,
    /// Deadlines; an entry is stale unless the transaction's slot still holds that instant.
    heap: BinaryHeap<Reverse<(Instant, TxId, Slot)>>,
    out: VecDeque<Output>,
    next_id: u64,
    rng: StdRng,
    /// Answered non-INVITE server transactions waiting out Timer J (see [`Tx::settled`]).
    settled: Settled,
    /// INVITE transactions in Accepted with nothing left to send, as small records.
    accepted: Accepted,
    /// Live server transactions per source address, and the most one source may hold.
    per_source: HashMap<IpAddr, usize>,
    max_per_source: usize,
}

/// Default for [`TransactionLayer::set_max_per_source`].
pub const DEFAULT_MAX_PER_SOURCE: usize = 10_000;

impl TransactionLayer {
    pub fn new(cfg: Config) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        TransactionLayer {
            cfg,
            txs: HashMap::default(),
            server_keys: ServerIndex::default(),
            client_keys: HashMap::new(),
            ack_keys: HashMap::new(),
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
            next_id: 1,
            settled: Settled::default(),
            accepted: Accepted::default(),
            rng,
            per_source: HashMap::new(),
            max_per_source: DEFAULT_MAX_PER_SOURCE,
        }
    }

    /// Caps the live server transactions of one source address (at least 1): past it, that
    /// source's new requests get a stateless 503, so no single source can fill the table.
    pub fn set_max_per_source(&mut self, max: usize) {
        self.max_per_source = max.max(1);
    }

    /// Live server transactions of `source`.
    pub fn source_load(&self, source: IpAddr) -> usize {
        self.per_source.get(&source).copied().unwrap_or(0)
    }

    /// True when a new server transaction for `peer` would exceed a cap.
    fn full_for(&self, peer: &Peer) -> bool {
        self.txs.len() - self.settled.live() >= self.cfg.max_transactions
            || self.source_load(peer.addr.ip()) >= self.max_per_source
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest instant at which [`Self::handle_timeout`] has work (possibly a little
    /// early: stale deadlines are skipped then).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Live transactions (for metrics and leak checks), accepted INVITEs waiting out Timer L
    /// or M included.
    pub fn len(&self) -> usize {
        self.txs.len() + self.accepted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state of a transaction, if it is alive.
    pub fn state(&self, tx: TxId) -> Option<State> {
        match self.txs.get(&tx) {
            Some(t) => Some(t.state),
            None => self.accepted.contains(tx).then_some(State::Accepted),
        }
    }

    /// The request that created a transaction.
    pub fn request(&self, tx: TxId) -> Option<&Request> {
        self.txs.get(&tx).and_then(|t| t.request.as_ref())
    }

    /// A fresh random token (tags, Call-IDs) from the layer's generator.
    pub fn token(&mut self, len: usize) -> String {
        new_token(&mut self.rng, len)
    }

    pub fn handle_inbound(&mut self, now: Instant, inbound: Inbound) {
        let peer = inbound.peer;
        match parse_with_limits(inbound.bytes, &self.cfg.limits) {
            Ok(Message::Request(req)) => self.on_request(now, req, peer),
            Ok(Message::Response(resp)) => self.on_response(now, resp),
            Err(ParseFailure::Drop(error)) => {
                self.out.push_back(Output::Event(TxEvent::Malformed {
                    peer,
                    error,
                    answered: None,
                }))
            }
            Err(ParseFailure::Reject { error, headers }) => {
                let tag = self.token(10);
                let mut resp = response_from_headers(&headers, error.status(), Some(&tag));
                if error.status() == 400 {
                    resp.reason = format!("Bad Request ({error})");
                }
                let status = resp.status;
                // Echoed headers were parsed (unfolded), so they encode; if not, stay silent.
                if let Ok(bytes) = resp.encode() {
                    self.transmit(peer, bytes);
                }
                self.out.push_back(Output::Event(TxEvent::Malformed {
                    peer,
                    error,
                    answered: Some(status),
                }));
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id, slot))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(tx) = self.txs.get_mut(&id) else {
                // Timer L or M of an accepted record: it ends quietly (its 2xx was ACKed, or it
                // is a client INVITE), as the full machines do.
                if slot == Slot::Timeout && self.accepted.expire(id, at).is_some() {
                    self.out
                        .push_back(Output::Event(TxEvent::Terminated { tx: id }));
                }
                continue;
            };
            let current = match slot {
                Slot::Retransmit => tx.retransmit_at,
                Slot::Timeout => tx.timeout_at,
            };
            if current != Some(at) {
                continue;
            }
            match slot {
                Slot::Retransmit => tx.retransmit_at = None,
                Slot::Timeout => tx.timeout_at = None,
            }
            let t = &self.cfg.timers;
            let step = match tx.kind {
                Kind::ClientInvite => client_invite::on_timer(tx, t, now, slot),
                Kind::ClientNonInvite => client_non_invite::on_timer(tx, t, now, slot),
                Kind::ServerInvite => server_invite::on_timer(tx, t, now, slot),
                Kind::ServerNonInvite => server_non_invite::on_timer(tx, slot),
            };
            self.apply(id, step);
        }
    }

    /// Sends the TU's response on a server transaction.
    pub fn respond(&mut self, now: Instant, id: TxId, response: Response) -> Result<(), TxError> {
        let tx = self.txs.get_mut(&id).ok_or(TxError::UnknownTransaction)?;
        let bytes = response.encode()?;
        let t = &self.cfg.timers;
        let step = match tx.kind {
            Kind::ServerInvite => {
                let step = server_invite::on_respond(tx, t, now, bytes, response.status)
                    .ok_or(TxError::WrongState)?;
                if (200..300).contains(&response.status) && tx.ack_key.is_none() {
                    tx.ack_key = tx.request.as_ref().and_then(AckKey::of);
                    if let Some(k) = tx.ack_key.clone() {
                        self.ack_keys.insert(k, id);
                    }
                }
                step
            }
            Kind::ServerNonInvite => {
                server_non_invite::on_respond(tx, t, now, bytes, response.is_provisional())
                    .ok_or(TxError::WrongState)?
            }
            _ => return Err(TxError::WrongState),
        };
        if !matches!(tx.state, State::Trying | State::Proceeding) {
            tx.request = None;
        }
        let settles =
            tx.kind == Kind::ServerNonInvite && tx.state == State::Completed && !step.terminate;
        self.apply(id, step);
        if settles {
            self.settle(id);
        }
        Ok(())
    }

    /// An answered non-INVITE server transaction stops counting as its source's live load and
    /// joins the settled queue; past `max_completed`, the oldest settled ones end early.
    fn settle(&mut self, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        tx.settled = true;
        let ip = tx.peer.addr.ip();
        self.release_source(ip);
        self.settled.push(id);
        let cap = self.cfg.max_completed;
        while let Some(oldest) = self
            .settled
            .over_cap(cap, |t| self.txs.get(&t).is_some_and(|x| x.settled))
        {
            self.remove(oldest);
        }
    }

    fn release_source(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_source.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&ip);
            }
        }
    }

    /// Starts a client transaction for `request` towards `peer`. A missing top Via is added
    /// (our sent-by, a new branch, `rport`); a Via without a branch gets one.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Request,
        peer: Peer,
    ) -> Result<TxId, TxError> {
        if request.method == Method::Ack {
            return Err(TxError::AckNeedsNoTransaction);
        }
        self.ensure_via(&mut request, peer.transport)?;
        let key = ClientKey::of_request(&request).ok_or(TxError::BadRequest)?;
        let kind = if request.method == Method::Invite {
            Kind::ClientInvite
        } else {
            Kind::ClientNonInvite
        };
        self.start_client(now, request, peer, key, kind, false)
    }

    /// CANCELs a client INVITE (§9.1): at once if a provisional response arrived, else as soon
    /// as one does. Too late (a final response came) is not an error: nothing is sent.
    pub fn cancel(&mut self, now: Instant, invite: TxId) -> Result<(), TxError> {
        if self.accepted.contains(invite) {
            // Answered already: too late, nothing to send.
            return Ok(());
        }
        let tx = self
            .txs
            .get_mut(&invite)
            .ok_or(TxError::UnknownTransaction)?;
        if tx.kind != Kind::ClientInvite {
            return Err(TxError::WrongState);
        }
        match (tx.state, tx.cancel) {
            (State::Calling, Cancel::None) => tx.cancel = Cancel::Pending,
            (State::Proceeding, Cancel::None) => self.send_cancel(now, invite),
            _ => {}
        }
        Ok(())
    }

    /// Sends an ACK for a 2xx (its own branch, no transaction, §13.2.2.4).
    pub fn send_ack(&mut self, mut ack: Request, peer: Peer) -> Result<(), TxError> {
        self.ensure_via(&mut ack, peer.transport)?;
        let bytes = ack.encode()?;
        self.transmit(peer, bytes);
        Ok(())
    }

    /// A connection closed or failed: transactions that depended on it end.
    pub fn transport_error(&mut self, conn: ConnId) {
        let ids: Vec<TxId> = self
            .txs
            .values()
            .filter(|t| t.peer.conn == Some(conn) && t.peer.transport.is_reliable())
            .map(|t| t.id)
            .collect();
        for id in ids {
            let client = self
                .txs
                .get(&id)
                .is_some_and(|t| matches!(t.kind, Kind::ClientInvite | Kind::ClientNonInvite));
            let mut step = Step::terminate();
            if client {
                step.event = Some(TxEvent::TransportError { tx: id });
            }
            self.apply(id, step);
        }
    }

    // ---- internals ----

    fn send_cancel(&mut self, now: Instant, invite: TxId) {
        let Some(tx) = self.txs.get_mut(&invite) else {
            return;
        };
        tx.cancel = Cancel::Sent;
        // If the INVITE never gets its final response, give up 64*T1 after the CANCEL.
        if tx.timeout_at.is_none() {
            tx.timeout_at = Some(now + self.cfg.timers.transaction_timeout());
        }
        let Some(cancel) = tx.request.as_ref().map(client_invite::build_cancel) else {
            return;
        };
        let peer = tx.peer;
        self.apply(invite, Step::none());
        if let Some(key) = ClientKey::of_request(&cancel) {
            // Built from an INVITE that was encoded, so it encodes too.
            let _ = self.start_client(now, cancel, peer, key, Kind::ClientNonInvite, true);
        }
    }

    fn start_client(
        &mut self,
        now: Instant,
        request: Request,
        peer: Peer,
        key: ClientKey,
        kind: Kind,
        internal: bool,
    ) -> Result<TxId, TxError> {
        // Refused before the transaction exists: nothing to clean up, nothing sent.
        let bytes = request.encode()?;
        let id = self.insert(kind, Key::Client(key.clone()), peer, request, internal);
        self.client_keys.insert(key, id);
        let tx = self.txs.get_mut(&id).expect("just inserted");
        tx.last = Some(bytes.clone());
        match kind {
            Kind::ClientInvite => client_invite::start(tx, &self.cfg.timers, now),
            _ => client_non_invite::start(tx, &self.cfg.timers, now),
        }
        self.apply(id, Step::send(bytes));
        Ok(id)
    }

    fn insert(
        &mut self,
        kind: Kind,
        key: Key,
        peer: Peer,
        request: Request,
        internal: bool,
    ) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        if matches!(key, Key::Server(_)) {
            *self.per_source.entry(peer.addr.ip()).or_default() += 1;
        }
        self.txs.insert(
            id,
            Box::new(Tx {
                id,
                kind,
                state: State::Trying,
                key,
                peer,
                request: Some(request),
                last: None,
                ack: None,
                interval: self.cfg.timers.t1,
                retransmit_at: None,
                timeout_at: None,
                cancel: Cancel::None,
                ack_key: None,
                acked: false,
                internal,
                settled: false,
            }),
        );
        id
    }

    /// Carries out a step: transmit, report, and either terminate or (re)arm timers.
    fn apply(&mut self, id: TxId, step: Step) {
        let Some(tx) = self.txs.get(&id) else {
            return;
        };
        let peer = tx.peer;
        let internal = tx.internal;
        if let Some(bytes) = step.send {
            self.transmit(peer, bytes);
        }
        if let Some(ev) = step.event {
            if !internal {
                self.out.push_back(Output::Event(ev));
            }
        }
        if step.terminate {
            self.remove(id);
            return;
        }
        let tx = &self.txs[&id];
        for (slot, at) in [
            (Slot::Retransmit, tx.retransmit_at),
            (Slot::Timeout, tx.timeout_at),
        ] {
            if let Some(at) = at {
                // Duplicates are harmless: the second pop finds the slot already cleared.
                self.heap.push(Reverse((at, id, slot)));
            }
        }
    }

    /// An INVITE transaction in Accepted with nothing left to send (a server one whose 2xx was
    /// ACKed, a client one) becomes a small record until Timer L or M; see [`accepted`].
    fn keep_as_accepted(&mut self, id: TxId) {
        let Some(tx) = self.txs.get(&id) else {
            return;
        };
        let quiet = tx.state == State::Accepted && (tx.kind == Kind::ClientInvite || tx.acked);
        let Some(ends) = tx.timeout_at.filter(|_| quiet) else {
            return;
        };
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        match &tx.key {
            Key::Server(k) => {
                self.server_keys.remove(k, id);
                // Like a settled non-INVITE: no longer its source's live load.
                self.release_source(tx.peer.addr.ip());
                self.accepted.add_server(id, k, ends);
            }
            Key::Client(k) => {
                self.client_keys.remove(k);
                self.accepted.add_client(id, k, ends);
            }
        }
        if let Some(k) = &tx.ack_key {
            self.ack_keys.remove(k);
        }
    }

    fn remove(&mut self, id: TxId) {
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        if !tx.internal {
            self.out
                .push_back(Output::Event(TxEvent::Terminated { tx: id }));
        }
        match tx.key {
            Key::Server(k) => {
                self.server_keys.remove(&k, id);
                if tx.settled {
                    self.settled.ended();
                } else {
                    self.release_source(tx.peer.addr.ip());
                }
            }
            Key::Client(k) => {
                self.client_keys.remove(&k);
            }
        }
        if let Some(k) = tx.ack_key {
            self.ack_keys.remove(&k);
        }
    }

    fn transmit(&mut self, peer: Peer, bytes: bytes::Bytes) {
        self.out
            .push_back(Output::Transmit(Transmit { peer, bytes }));
    }

    fn reject_stateless(&mut self, req: &Request, peer: Peer, status: u16) {
        let tag = self.token(10);
        let mut resp = super::message::response_to(req, status, Some(&tag));
        if status == 503 {
            resp.headers.push(HeaderName::RetryAfter, "5");
        }
        if let Ok(bytes) = resp.encode() {
            self.transmit(peer, bytes);
        }
    }
}
