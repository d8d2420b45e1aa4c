//! The SIP sockets: one UDP socket and one TCP listener on the same address (RFC 3261 §18),
//! and on their own ports SIP over TLS ([`stream`]) and over WebSocket, plain and secure
//! ([`ws`], RFC 7118), with the certificate they share ([`certs`]).
//!
//! Every stream connection — TCP, TLS, WS, WSS — is one entry of the same table: the same
//! caps (`max_tcp_connections`, and per source address), the same idle and incomplete-message
//! clocks (`sip::flow`), and the same flows: a binding registered over a connection is reached
//! back over it (a message for a WS peer without its connection is dropped, since a browser
//! accepts no connection).
//!
//! Tasks here only move bytes. Datagrams and framed stream messages go to the SIP actor as
//! [`SipInbound`]; the actor's transmissions come back through [`Sockets::send`], which writes a
//! datagram directly (non-blocking) or hands the bytes to the connection's writer task. Nothing
//! here parses SIP beyond stream framing, and the Request-URI's host when a TLS connection
//! must be opened (the name its certificate must prove, `sip::transport::tls_server_name`).
//!
//! The per-source flood limit (`sip::defence::rate`) is applied here, to every datagram, every
//! framed stream message and every accepted connection, before anything reaches the SIP
//! actor's mailbox: a flood costs one bucket lookup per packet.

mod certs;
mod stream;
mod ws;

pub use certs::{client_config, reload_on_hangup, CertError, CertStore};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::sip::defence::{RateConfig, RateDecision, RateLimiter};
use crate::sip::message::Limits;
use crate::sip::{ConnId, Inbound, Peer, Transmit, Transport};

/// Bytes that arrived, for the SIP actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SipInbound(pub Inbound);

/// A stream connection closed (transactions using it fail; bindings that need it go).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnClosed {
    pub conn: ConnId,
    /// Its transport and far end.
    pub peer: Peer,
}

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
    transport: Transport,
    tx: mpsc::Sender<Bytes>,
    /// Until when a binding registered over this connection lives (it is then a flow).
    flow_until: Option<Instant>,
}

#[derive(Default)]
struct Conns {
    by_id: HashMap<ConnId, Conn>,
    /// Keyed by transport too: one client address may hold a TCP and a WS connection.
    by_addr: HashMap<(Transport, SocketAddr), ConnId>,
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
    /// The certificate of TLS and WSS (None when neither listens).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// For the TLS connections we open (towards trunks).
    tls_client: Option<tokio_rustls::TlsConnector>,
    handshake_timeout: Duration,
}

/// What TLS needs: the certificate we serve (when TLS or WSS listens), the trust for
/// connections we open, and how long a handshake may take.
pub struct TlsSetup {
    pub certs: Option<Arc<CertStore>>,
    pub client: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    pub handshake_timeout: Duration,
}

/// Default of `sip.max_tcp_connections_per_source`.
const MAX_CONNS_PER_IP: u64 = 1000;

/// Where the stream transports beyond TCP listen (None: off).
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamListen {
    pub tls: Option<SocketAddr>,
    pub ws: Option<SocketAddr>,
    pub wss: Option<SocketAddr>,
}

/// The bound but not yet serving sockets.
pub struct Bound {
    udp: UdpSocket,
    tcp: TcpListener,
    tls: Option<TcpListener>,
    ws: Option<TcpListener>,
    wss: Option<TcpListener>,
}

/// A listener that could not be bound.
#[derive(Debug)]
pub struct BindError {
    pub addr: SocketAddr,
    pub transport: Transport,
    pub source: std::io::Error,
}

impl Bound {
    /// Binds UDP and TCP on `addr` (TCP on the UDP port, even when `addr` asks for port 0),
    /// and the listeners of `more`.
    pub async fn bind(addr: SocketAddr, more: StreamListen) -> Result<Bound, BindError> {
        let err = |addr, transport| {
            move |source| BindError {
                addr,
                transport,
                source,
            }
        };
        let udp = udp_socket(addr)
            .and_then(UdpSocket::from_std)
            .map_err(err(addr, Transport::Udp))?;
        let local = udp.local_addr().map_err(err(addr, Transport::Udp))?;
        let tcp = TcpListener::bind(local)
            .await
            .map_err(err(local, Transport::Tcp))?;
        let listen = async |a: Option<SocketAddr>, t| match a {
            Some(a) => TcpListener::bind(a).await.map(Some).map_err(err(a, t)),
            None => Ok(None),
        };
        let tls = listen(more.tls, Transport::Tls).await?;
        let ws = listen(more.ws, Transport::Ws).await?;
        let wss = listen(more.wss, Transport::Wss).await?;
        Ok(Bound {
            udp,
            tcp,
            tls,
            ws,
            wss,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// The bound addresses of the stream listeners beyond TCP (their real ports when port 0
    /// was asked for).
    pub fn stream_addrs(&self) -> StreamListen {
        let a = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        StreamListen {
            tls: a(&self.tls),
            ws: a(&self.ws),
            wss: a(&self.wss),
        }
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
    /// Starts the receive tasks on the current arbiter. `tls.certs` is needed when TLS or
    /// WSS listens (those listeners stay unused without it).
    pub fn start(
        bound: Bound,
        limits: Limits,
        max_conns: usize,
        sink: Recipient<SipInbound>,
        closed: Recipient<ConnClosed>,
        tls_setup: TlsSetup,
    ) -> std::io::Result<Sockets> {
        let Bound {
            udp,
            tcp,
            tls,
            ws,
            wss,
        } = bound;
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
            tls: tls_setup
                .certs
                .map(|c| tokio_rustls::TlsAcceptor::from(c.server_config())),
            tls_client: tls_setup.client.map(tokio_rustls::TlsConnector::from),
            handshake_timeout: tls_setup.handshake_timeout,
        };
        actix::spawn(udp_loop(sockets.clone()));
        actix::spawn(accept_loop(sockets.clone(), tcp, Transport::Tcp));
        for (listener, transport) in [
            (tls, Transport::Tls),
            (ws, Transport::Ws),
            (wss, Transport::Wss),
        ] {
            if let Some(l) = listener {
                if transport != Transport::Ws && sockets.tls.is_none() {
                    tracing::error!(%transport, "no certificate: listener not served");
                    continue;
                }
                actix::spawn(accept_loop(sockets.clone(), l, transport));
            }
        }
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
    /// it); a TCP or TLS peer without a live connection gets one; a WS peer without its
    /// connection gets nothing.
    pub fn send(&self, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&t.bytes, t.peer.addr) {
                    tracing::debug!(to = %t.peer.addr, error = %e, "udp send failed");
                }
            }
            _ => self.send_stream(t),
        }
    }

    fn send_stream(&self, t: Transmit) {
        let existing = {
            let conns = self.conns.lock().expect("conns lock");
            t.peer
                .conn
                .filter(|id| {
                    conns
                        .by_id
                        .get(id)
                        .is_some_and(|c| c.transport == t.peer.transport)
                })
                .or_else(|| conns.by_addr.get(&(t.peer.transport, t.peer.addr)).copied())
                .and_then(|id| conns.by_id.get(&id).map(|c| (id, c.tx.clone())))
        };
        match existing {
            Some((id, tx)) => {
                if tx.try_send(t.bytes).is_err() {
                    tracing::warn!(conn = id.0, "stream write queue full; closing");
                    self.forget(id);
                }
            }
            // A WebSocket client accepts no connection: its own is gone, and so is the way
            // to it (the binding that named it went with it, see `SipActor`).
            None if t.peer.transport.is_inbound_only() => {
                tracing::debug!(to = %t.peer.addr, transport = %t.peer.transport, "no connection to this peer; message dropped");
            }
            None if t.peer.transport == Transport::Tls => stream::connect_tls(self, t),
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
                            if let Some(tx) = me
                                .adopt_tcp(stream, t.peer.addr)
                                .and_then(|id| me.writer(id))
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

    /// Enters a connection in the table (before any handshake, so the caps bound the work a
    /// source can cause): its id and the queue its writer drains. None when over a limit.
    fn reserve(
        &self,
        addr: SocketAddr,
        transport: Transport,
    ) -> Option<(ConnId, mpsc::Receiver<Bytes>)> {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let mut conns = self.conns.lock().expect("conns lock");
        if conns.by_id.len() >= self.max_conns {
            tracing::warn!(%addr, %transport, "stream connection limit reached; refusing");
            return None;
        }
        let mine = conns.per_ip.get(&addr.ip()).copied().unwrap_or(0);
        if mine as u64 >= self.max_conns_per_ip.load(Ordering::Relaxed) {
            tracing::warn!(
                target: "security",
                event = "tcp_per_source_limit",
                source = %addr.ip(),
                open = mine,
                %transport,
                "stream connections per source limit reached (TCP, TLS and WebSocket together); refusing"
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
                transport,
                tx,
                flow_until: None,
            },
        );
        conns.by_addr.insert((transport, addr), id);
        Some((id, rx))
    }

    /// Registers a TCP connection and starts its reader and writer. None when over the limit.
    fn adopt_tcp(&self, stream: TcpStream, addr: SocketAddr) -> Option<ConnId> {
        let (id, rx) = self.reserve(addr, Transport::Tcp)?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        actix::spawn(stream::write_loop(write, rx));
        actix::spawn(stream::read_loop(
            self.clone(),
            read,
            Peer {
                transport: Transport::Tcp,
                addr,
                conn: Some(id),
            },
        ));
        Some(id)
    }

    /// Delivers one framed message from a stream connection to the SIP actor, after the
    /// flood limit.
    fn deliver(&self, peer: Peer, bytes: Bytes) {
        if self.admit(peer.addr) {
            self.sink.do_send(SipInbound(Inbound { peer, bytes }));
        }
    }

    /// A connection ended: out of the table, and the SIP actor is told.
    fn closed(&self, peer: Peer) {
        if let Some(id) = peer.conn {
            self.forget(id);
            self.closed.do_send(ConnClosed { conn: id, peer });
        }
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
            if conns.by_addr.get(&(c.transport, c.addr)) == Some(&id) {
                conns.by_addr.remove(&(c.transport, c.addr));
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

async fn accept_loop(s: Sockets, listener: TcpListener, transport: Transport) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                // A connection is a message's worth of work: a source over its rate is hung
                // up on at once.
                if !s.admit(addr) {
                    continue;
                }
                match transport {
                    Transport::Tcp => {
                        s.adopt_tcp(stream, addr);
                    }
                    Transport::Tls => stream::adopt_tls(&s, stream, addr),
                    _ => ws::adopt(&s, stream, addr, transport),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %transport, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
