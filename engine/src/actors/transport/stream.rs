//! Byte-stream connections, TCP and TLS (RFC 3261 §18.3 framing, RFC 5626 CRLF keep-alives):
//! one reader task and one writer task per connection, whatever the stream is.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::Sockets;
use crate::metrics::metrics;
use crate::sip::flow::Liveness;
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::transport::tls_server_name;
use crate::sip::Transmit;
use crate::sip::{Peer, Transport};

/// Writes what the connection's queue holds, in order, until the queue closes or a write
/// fails.
pub(super) async fn write_loop<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(b) = rx.recv().await {
        if w.write_all(&b).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

/// Frames messages off the stream and delivers them, until the peer closes, framing fails
/// or a liveness clock runs out (`sip::flow`).
pub(super) async fn read_loop<R: AsyncRead + Unpin>(s: Sockets, mut r: R, peer: Peer) {
    let Some(id) = peer.conn else { return };
    let addr = peer.addr;
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
                    tracing::debug!(%addr, transport = %peer.transport, ?reason, "stream connection closed");
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
                    s.deliver(peer, bytes);
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
                    tracing::info!(%addr, transport = %peer.transport, error = %e, "stream framing error; closing");
                    s.closed(peer);
                    return;
                }
            }
        }
        live.on_buffered(now, framer.buffered());
    }
    s.closed(peer);
}

/// An accepted connection on the SIP-over-TLS port: the handshake (bounded, counted when it
/// fails), then the same framing as TCP.
pub(super) fn adopt_tls(s: &Sockets, stream: TcpStream, addr: SocketAddr) {
    let Some(acceptor) = s.tls.clone() else {
        return;
    };
    let Some((id, rx)) = s.reserve(addr, Transport::Tls) else {
        return;
    };
    let peer = Peer {
        transport: Transport::Tls,
        addr,
        conn: Some(id),
    };
    let s = s.clone();
    actix::spawn(async move {
        let _ = stream.set_nodelay(true);
        let tls = match tokio::time::timeout(s.handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return handshake_failed(&s, peer, &e.to_string()),
            Err(_) => return handshake_failed(&s, peer, "timed out"),
        };
        let (read, write) = tokio::io::split(tls);
        actix::spawn(write_loop(write, rx));
        read_loop(s, read, peer).await;
    });
}

/// A TLS handshake (SIP over TLS or WSS) failed: logged, counted on `/metrics`, closed.
pub(super) fn handshake_failed(s: &Sockets, peer: Peer, why: &str) {
    metrics().tls_handshake_failures.inc();
    tracing::info!(source = %peer.addr, transport = %peer.transport, error = why, "TLS handshake failed; closed");
    s.closed(peer);
}

/// A request for a TLS peer we hold no connection to (a trunk with `transport tls`): connect,
/// prove the Request-URI's host is who answers (the trusted roots, RFC 5922), then send. A
/// failure is logged and counted; the transaction then times out as for a lost datagram.
pub(super) fn connect_tls(s: &Sockets, t: Transmit) {
    let addr = t.peer.addr;
    let Some(connector) = s.tls_client.clone() else {
        tracing::warn!(to = %addr, "no TLS client configuration; message dropped");
        return;
    };
    let name =
        tls_server_name(&t.bytes).and_then(|n| rustls_pki_types::ServerName::try_from(n).ok());
    let Some(name) = name else {
        tracing::debug!(to = %addr, "a message for a TLS peer without a connection names no host to verify; dropped");
        return;
    };
    let s = s.clone();
    actix::spawn(async move {
        let tcp = match tokio::time::timeout(s.handshake_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            _ => {
                tracing::info!(to = %addr, "TLS peer not reachable; message dropped");
                return;
            }
        };
        let Some((id, rx)) = s.reserve(addr, Transport::Tls) else {
            return;
        };
        let peer = Peer {
            transport: Transport::Tls,
            addr,
            conn: Some(id),
        };
        let _ = tcp.set_nodelay(true);
        let handshake = connector.connect(name.to_owned(), tcp);
        let tls = match tokio::time::timeout(s.handshake_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return handshake_failed(&s, peer, &e.to_string()),
            Err(_) => return handshake_failed(&s, peer, "timed out"),
        };
        tracing::debug!(to = %addr, server = ?name, "TLS connection opened");
        if let Some(tx) = s.writer(id) {
            let _ = tx.try_send(t.bytes);
        }
        let (read, write) = tokio::io::split(tls);
        actix::spawn(write_loop(write, rx));
        read_loop(s, read, peer).await;
    });
}
