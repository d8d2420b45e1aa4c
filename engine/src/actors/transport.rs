//! The SIP sockets: one UDP socket and one TCP listener on the same address (RFC 3261 §18).
//!
//! Tasks here only move bytes. Datagrams and framed stream messages go to the SIP actor as
//! [`SipInbound`]; the actor's transmissions come back through [`Sockets::send`], which writes a
//! datagram directly (non-blocking) or hands the bytes to the connection's writer task. Nothing
//! here parses SIP beyond stream framing.
//!
//! The per-source flood limit (`sip::defence::rate`) is applied here, to every datagram, every
//! framed stream message and every accepted connection, before anything reaches the SIP
//! actor's mailbox: a flood costs one bucket lookup per packet.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::sip::defence::{RateConfig, RateDecision, RateLimiter};
use crate::sip::flow::Liveness;
use crate::sip::message::Limits;
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::{ConnId, Inbound, Peer, Transmit, Transport};

/// Bytes that arrived, for the SIP actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SipInbound(pub Inbound);

/// A stream connection closed (transactions using it fail).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnClosed(pub ConnId);

/// A connection that sent no complete message within this time is closed (slowloris); the
/// default of `sip.tcp_incomplete_timeout_secs`.
const INCOMPLETE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection without a flow that delivered no message for this long is closed; the
/// default of `sip.tcp_idle_timeout_secs`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Messages queued per connection before the connection is considered stuck and closed.
const WRITE_QUEUE: usize = 256;

struct Conn {
    addr: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    /// Until when a binding registered over this connection lives (it is then a flow).
    flow_until: Option<Instant>,
}

#[derive(Default)]
struct Conns {
    by_id: HashMap<ConnId, Conn>,
    by_addr: HashMap<SocketAddr, ConnId>,
    /// Open connections per source address (one address may not take them all).
    per_ip: HashMap<std::net::IpAddr, usize>,
    next: u64,
}

/// Handle on the sockets, shared by the SIP actor.
#[derive(Clone)]
pub struct Sockets {
    udp: Arc<UdpSocket>,
    conns: Arc<Mutex<Conns>>,
    sink: Recipient<SipInbound>,
    closed: Recipient<ConnClosed>,
    limits: Limits,
    max_conns: usize,
    local: SocketAddr,
    rate: Arc<Mutex<RateLimiter>>,
    incomplete_ms: Arc<AtomicU64>,
    idle_ms: Arc<AtomicU64>,
    max_conns_per_ip: Arc<AtomicU64>,
}

/// Default of `sip.max_tcp_connections_per_source`.
const MAX_CONNS_PER_IP: u64 = 1000;

/// The bound but not yet serving sockets.
pub struct Bound {
    udp: UdpSocket,
    tcp: TcpListener,
}

impl Bound {
    /// Binds UDP and TCP on `addr` (TCP on the UDP port, even when `addr` asks for port 0).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
        let udp = UdpSocket::from_std(udp_socket(addr)?)?;
        let local = udp.local_addr()?;
        let tcp = TcpListener::bind(local).await?;
        Ok(Bound { udp, tcp })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Receive buffer asked for on the SIP UDP socket. The default (208 KiB) holds ~300 requests:
/// a 20 ms stall of the SIP thread at 15,000 datagrams/s overflowed it and every lost REGISTER
/// cost its sender a 500 ms retransmission (measured in `scripts/bench/register`). The kernel
/// caps the size at `net.core.rmem_max` (raise it for more); the memory is used only when full.
const UDP_RECV_BUFFER: usize = 8 << 20;

fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECV_BUFFER) {
        tracing::debug!(error = %e, "could not enlarge the SIP UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tracing::debug!(
        recv_buffer = socket.recv_buffer_size().unwrap_or(0),
        "SIP UDP socket"
    );
    Ok(socket.into())
}

impl Sockets {
    /// Starts the receive tasks on the current arbiter.
    pub fn start(
        bound: Bound,
        limits: Limits,
        max_conns: usize,
        sink: Recipient<SipInbound>,
        closed: Recipient<ConnClosed>,
    ) -> std::io::Result<Sockets> {
        let Bound { udp, tcp } = bound;
        let local = udp.local_addr()?;
        let sockets = Sockets {
            udp: Arc::new(udp),
            conns: Arc::new(Mutex::new(Conns::default())),
            sink,
            closed,
            limits,
            max_conns,
            local,
            rate: Arc::new(Mutex::new(RateLimiter::new(RateConfig::default()))),
            incomplete_ms: Arc::new(AtomicU64::new(INCOMPLETE_TIMEOUT.as_millis() as u64)),
            idle_ms: Arc::new(AtomicU64::new(IDLE_TIMEOUT.as_millis() as u64)),
            max_conns_per_ip: Arc::new(AtomicU64::new(MAX_CONNS_PER_IP)),
        };
        actix::spawn(udp_loop(sockets.clone()));
        actix::spawn(accept_loop(sockets.clone(), tcp));
        Ok(sockets)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Replaces the flood limit, the incomplete-message and idle timeouts of new connections
    /// and the cap on one address's open connections.
    pub fn set_defences(
        &self,
        rate: RateConfig,
        incomplete: Duration,
        idle: Duration,
        conns_per_ip: usize,
    ) {
        if let Ok(mut r) = self.rate.lock() {
            *r = RateLimiter::new(rate);
        }
        self.incomplete_ms
            .store(incomplete.as_millis() as u64, Ordering::Relaxed);
        self.idle_ms
            .store(idle.as_millis().max(1) as u64, Ordering::Relaxed);
        self.max_conns_per_ip
            .store(conns_per_ip.max(1) as u64, Ordering::Relaxed);
    }

    /// Messages dropped by the flood limit, and sources it tracks.
    pub fn flood_stats(&self) -> (u64, usize) {
        self.rate
            .lock()
            .map(|r| (r.dropped(), r.sources()))
            .unwrap_or((0, 0))
    }

    /// Takes a token for a message from `from`; false: drop it.
    fn admit(&self, from: SocketAddr) -> bool {
        let Ok(mut r) = self.rate.lock() else {
            return true;
        };
        match r.allow(Instant::now(), from.ip()) {
            RateDecision::Allow => true,
            RateDecision::Drop { first } => {
                if first {
                    tracing::warn!(
                        target: "security",
                        event = "flood",
                        source = %from.ip(),
                        "per-source message rate exceeded; dropping its messages"
                    );
                }
                false
            }
        }
    }

    fn incomplete_timeout(&self) -> Duration {
        Duration::from_millis(self.incomplete_ms.load(Ordering::Relaxed))
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_ms.load(Ordering::Relaxed))
    }

    /// A binding registered over connection `id` lives until `until`: the connection is a
    /// flow till then (never closed for being quiet). A refresh moves `until`; an
    /// unregistration sets it to now.
    pub fn set_flow(&self, id: ConnId, until: Instant) {
        if let Some(c) = self.conns.lock().expect("conns lock").by_id.get_mut(&id) {
            c.flow_until = Some(until);
        }
    }

    /// Whether connection `id` carries a live flow at `now`.
    fn is_flow(&self, id: ConnId, now: Instant) -> bool {
        self.conns
            .lock()
            .expect("conns lock")
            .by_id
            .get(&id)
            .and_then(|c| c.flow_until)
            .is_some_and(|until| until > now)
    }

    /// Sends without blocking. A full UDP buffer drops the datagram (retransmission covers
    /// it); a stream without a live connection gets one.
    pub fn send(&self, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&t.bytes, t.peer.addr) {
                    tracing::debug!(to = %t.peer.addr, error = %e, "udp send failed");
                }
            }
            Transport::Tcp => self.send_stream(t),
        }
    }

    fn send_stream(&self, t: Transmit) {
        let existing = {
            let conns = self.conns.lock().expect("conns lock");
            t.peer
                .conn
                .filter(|id| conns.by_id.contains_key(id))
                .or_else(|| conns.by_addr.get(&t.peer.addr).copied())
                .and_then(|id| conns.by_id.get(&id).map(|c| (id, c.tx.clone())))
        };
        match existing {
            Some((id, tx)) => {
                if tx.try_send(t.bytes).is_err() {
                    tracing::warn!(conn = id.0, "tcp write queue full; closing");
                    self.forget(id);
                }
            }
            None => {
                let me = self.clone();
                actix::spawn(async move {
                    match tokio::time::timeout(
                        Duration::from_secs(5),
                        TcpStream::connect(t.peer.addr),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => {
                            if let Some(tx) =
                                me.adopt(stream, t.peer.addr).and_then(|id| me.writer(id))
                            {
                                let _ = tx.try_send(t.bytes);
                            }
                        }
                        _ => tracing::debug!(to = %t.peer.addr, "tcp connect failed"),
                    }
                });
            }
        }
    }

    /// Registers a connection and starts its reader and writer. None when over the limit.
    fn adopt(&self, stream: TcpStream, addr: SocketAddr) -> Option<ConnId> {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let id = {
            let mut conns = self.conns.lock().expect("conns lock");
            if conns.by_id.len() >= self.max_conns {
                tracing::warn!(%addr, "tcp connection limit reached; refusing");
                return None;
            }
            let mine = conns.per_ip.get(&addr.ip()).copied().unwrap_or(0);
            if mine as u64 >= self.max_conns_per_ip.load(Ordering::Relaxed) {
                tracing::warn!(
                    target: "security",
                    event = "tcp_per_source_limit",
                    source = %addr.ip(),
                    open = mine,
                    "tcp connections per source limit reached; refusing"
                );
                return None;
            }
            *conns.per_ip.entry(addr.ip()).or_default() += 1;
            conns.next += 1;
            let id = ConnId(conns.next);
            conns.by_id.insert(
                id,
                Conn {
                    addr,
                    tx,
                    flow_until: None,
                },
            );
            conns.by_addr.insert(addr, id);
            id
        };
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        actix::spawn(write_loop(write, rx));
        actix::spawn(read_loop(self.clone(), read, id, addr));
        Some(id)
    }

    /// The writer queue of a live connection.
    fn writer(&self, id: ConnId) -> Option<mpsc::Sender<Bytes>> {
        self.conns
            .lock()
            .expect("conns lock")
            .by_id
            .get(&id)
            .map(|c| c.tx.clone())
    }

    fn forget(&self, id: ConnId) {
        let mut conns = self.conns.lock().expect("conns lock");
        if let Some(c) = conns.by_id.remove(&id) {
            if conns.by_addr.get(&c.addr) == Some(&id) {
                conns.by_addr.remove(&c.addr);
            }
            let ip = c.addr.ip();
            if let Some(n) = conns.per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    conns.per_ip.remove(&ip);
                }
            }
        }
    }

    /// Open stream connections.
    pub fn connections(&self) -> usize {
        self.conns.lock().expect("conns lock").by_id.len()
    }
}

async fn udp_loop(s: Sockets) {
    let mut buf = vec![0u8; 65_535];
    loop {
        match s.udp.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if n > s.limits.max_message || !s.admit(from) {
                    continue;
                }
                s.sink.do_send(SipInbound(Inbound {
                    peer: Peer::udp(from),
                    bytes: Bytes::copy_from_slice(&buf[..n]),
                }));
            }
            // ICMP port-unreachable surfaces as an error on some platforms: keep serving.
            Err(e) => tracing::debug!(error = %e, "udp recv error"),
        }
    }
}

async fn accept_loop(s: Sockets, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                // A connection is a message's worth of work: a source over its rate is hung
                // up on at once.
                if s.admit(addr) {
                    s.adopt(stream, addr);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn write_loop(mut w: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(b) = rx.recv().await {
        if w.write_all(&b).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

async fn read_loop(
    s: Sockets,
    mut r: tokio::net::tcp::OwnedReadHalf,
    id: ConnId,
    addr: SocketAddr,
) {
    let mut framer = StreamFramer::new(s.limits);
    let mut buf = vec![0u8; 16 * 1024];
    let mut live = Liveness::new(Instant::now(), s.incomplete_timeout(), s.idle_timeout());
    loop {
        let deadline = tokio::time::Instant::from_std(live.deadline());
        let read = tokio::time::timeout_at(deadline, r.read(&mut buf)).await;
        let now = Instant::now();
        let n = match read {
            Err(_) => match live.expired(now, s.is_flow(id, now)) {
                Some(reason) => {
                    tracing::debug!(%addr, ?reason, "tcp connection closed");
                    break;
                }
                None => continue,
            },
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(bytes))) => {
                    live.on_message(now);
                    if !s.admit(addr) {
                        continue;
                    }
                    s.sink.do_send(SipInbound(Inbound {
                        peer: Peer {
                            transport: Transport::Tcp,
                            addr,
                            conn: Some(id),
                        },
                        bytes,
                    }));
                }
                // RFC 5626 §4.4.1: a double CRLF is answered with one CRLF. It keeps a flow's
                // NAT mapping alive but is no activity of its own (see `sip::flow`).
                Ok(Some(Frame::Ping)) => {
                    if let Some(tx) = s.writer(id) {
                        let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%addr, error = %e, "tcp framing error; closing");
                    s.forget(id);
                    s.closed.do_send(ConnClosed(id));
                    return;
                }
            }
        }
        live.on_buffered(now, framer.buffered());
    }
    s.forget(id);
    s.closed.do_send(ConnClosed(id));
}
