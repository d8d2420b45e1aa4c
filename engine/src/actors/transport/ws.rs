//! SIP over WebSocket (RFC 7118), plain (`ws://`) and over TLS (`wss://`).
//!
//! The WebSocket layer is `tokio-tungstenite`: it does the RFC 6455 handshake and framing on
//! any tokio stream (so WSS is the same code over a `tokio-rustls` stream), bounds frames and
//! messages (`WebSocketConfig`), answers pings by itself while the stream is read, and lets a
//! callback refuse the upgrade with an HTTP response of our choosing. `actix-ws` was also tried
//! here; it rides on actix-web's HTTP server, which would put SIP connections outside this
//! module's connection table (no shared per-source caps, no flows) and its own TLS set-up
//! outside the certificate reload, so it was not taken.
//!
//! RFC 7118 rules kept here: the upgrade must offer the `sip` subprotocol (anything else is
//! refused with 400 and counted); each text or binary message is exactly one SIP message,
//! delivered like a datagram (no Content-Length framing); every message we send is one text
//! message (binary if it is not UTF-8). Messages and frames are bounded by
//! `sip.max_message_bytes` (64 KiB by default, as TCP); a bigger one closes the connection
//! with 1009. Liveness is TCP's (`sip::flow`): a WebSocket ping is answered but is no message.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::stream::handshake_failed;
use super::Sockets;
use crate::metrics::metrics;
use crate::sip::flow::Liveness;
use crate::sip::{Peer, Transport};

/// The subprotocol RFC 7118 §4 registers.
const SUBPROTOCOL: &str = "sip";

/// A send that a peer leaves unread this long closes the connection: the task that owns the
/// socket also reads it, so it must not wait on a peer that stopped reading.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether the `Sec-WebSocket-Protocol` values a client offered include `sip` (a
/// comma-separated token list, case-insensitive as RFC 7118 registers it lower case).
pub fn offers_sip<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// The frame and message bounds for `max_message` bytes.
pub fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// The upgrade check: `sip` offered, then chosen in the answer; otherwise a 400 that says why.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn choose_sip(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok());
    if offers_sip(offered) {
        resp.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        return Ok(resp);
    }
    let body = "SIP over WebSocket needs `Sec-WebSocket-Protocol: sip` (RFC 7118)\n";
    let mut refused = ErrorResponse::new(Some(body.to_string()));
    *refused.status_mut() = StatusCode::BAD_REQUEST;
    let h = refused.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/plain"));
    h.insert("content-length", HeaderValue::from(body.len()));
    h.insert("connection", HeaderValue::from_static("close"));
    Err(refused)
}

/// An accepted connection on the ws or wss port: (TLS,) the upgrade, then SIP messages, all
/// within the handshake time.
pub(super) fn adopt(s: &Sockets, stream: TcpStream, addr: SocketAddr, transport: Transport) {
    let acceptor = match transport {
        Transport::Wss => match s.tls.clone() {
            Some(a) => Some(a),
            None => return,
        },
        _ => None,
    };
    let Some((id, rx)) = s.reserve(addr, transport) else {
        return;
    };
    let peer = Peer {
        transport,
        addr,
        conn: Some(id),
    };
    let s = s.clone();
    actix::spawn(async move {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor else {
            return upgrade(s, stream, peer, rx).await;
        };
        match tokio::time::timeout(s.handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => upgrade(s, tls, peer, rx).await,
            Ok(Err(e)) => handshake_failed(&s, peer, &e.to_string()),
            Err(_) => handshake_failed(&s, peer, "timed out"),
        }
    });
}

async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    s: Sockets,
    stream: S,
    peer: Peer,
    rx: mpsc::Receiver<Bytes>,
) {
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        choose_sip,
        Some(config(s.limits.max_message)),
    );
    match tokio::time::timeout(s.handshake_timeout, accept).await {
        Ok(Ok(ws)) => serve(s, ws, peer, rx).await,
        Ok(Err(e)) => {
            metrics().ws_upgrades_refused.inc();
            let why = match &e {
                WsError::Http(r) => format!("refused with {}", r.status()),
                other => other.to_string(),
            };
            tracing::info!(source = %peer.addr, transport = %peer.transport, error = %why, "WebSocket upgrade failed; closed");
            s.closed(peer);
        }
        Err(_) => {
            metrics().ws_upgrades_refused.inc();
            tracing::info!(source = %peer.addr, transport = %peer.transport, "WebSocket upgrade timed out; closed");
            s.closed(peer);
        }
    }
}

/// What one WebSocket message is to SIP.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// One SIP message.
    Sip(Bytes),
    /// Nothing to deliver (control frames, which tungstenite answers; blank keep-alives).
    Nothing,
}

/// Classifies a message read from the socket.
pub fn classify(m: Message) -> Received {
    let bytes = match m {
        Message::Text(t) => Bytes::from(t),
        Message::Binary(b) => b,
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
            return Received::Nothing
        }
    };
    // Some clients send RFC 5626 CRLF keep-alives inside messages: no SIP there.
    if bytes.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')) {
        return Received::Nothing;
    }
    Received::Sip(bytes)
}

/// One SIP message as one WebSocket message: text when it is UTF-8 (what browsers' SIP
/// stacks expect), binary otherwise.
pub fn to_message(b: Bytes) -> Message {
    match Utf8Bytes::try_from(b.clone()) {
        Ok(t) => Message::Text(t),
        Err(_) => Message::Binary(b),
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    s: Sockets,
    mut ws: WebSocketStream<S>,
    peer: Peer,
    mut rx: mpsc::Receiver<Bytes>,
) {
    let Some(id) = peer.conn else { return };
    let mut live = Liveness::new(Instant::now(), s.incomplete_timeout(), s.idle_timeout());
    loop {
        let deadline = tokio::time::Instant::from_std(live.deadline());
        tokio::select! {
            out = rx.recv() => {
                let Some(b) = out else { break };
                if !matches!(tokio::time::timeout(SEND_TIMEOUT, ws.send(to_message(b))).await, Ok(Ok(()))) {
                    tracing::debug!(source = %peer.addr, transport = %peer.transport, "WebSocket send failed or stalled; closing");
                    break;
                }
            }
            read = tokio::time::timeout_at(deadline, ws.next()) => {
                let now = Instant::now();
                match read {
                    Err(_) => {
                        if let Some(reason) = live.expired(now, s.is_flow(id, now)) {
                            tracing::debug!(source = %peer.addr, transport = %peer.transport, ?reason, "WebSocket connection closed");
                            let _ = ws.close(None).await;
                            break;
                        }
                    }
                    Ok(None) => break,
                    Ok(Some(Err(WsError::Capacity(e)))) => {
                        tracing::info!(source = %peer.addr, transport = %peer.transport, error = %e, "WebSocket message too large; closing");
                        let _ = ws
                            .close(Some(CloseFrame {
                                code: CloseCode::Size,
                                reason: "SIP message too large".into(),
                            }))
                            .await;
                        break;
                    }
                    Ok(Some(Err(e))) => {
                        tracing::debug!(source = %peer.addr, transport = %peer.transport, error = %e, "WebSocket error; closing");
                        break;
                    }
                    Ok(Some(Ok(m))) => {
                        if let Received::Sip(bytes) = classify(m) {
                            live.on_message(now);
                            s.deliver(peer, bytes);
                        }
                    }
                }
            }
        }
    }
    s.closed(peer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sip_subprotocol_is_accepted() {
        assert!(offers_sip(["sip"]));
        assert!(offers_sip(["chat, SIP"]));
        assert!(offers_sip(["chat", " sip "]));
        assert!(!offers_sip([]));
        assert!(!offers_sip(["sips", "chat"]));
        assert!(!offers_sip(["sip.example"]));
    }

    #[test]
    fn one_message_per_frame_and_keep_alives_are_nothing() {
        let msg = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";
        assert_eq!(
            classify(Message::text(msg)),
            Received::Sip(Bytes::from_static(msg.as_bytes()))
        );
        assert_eq!(
            classify(Message::Binary(Bytes::from_static(b"\xffSIP"))),
            Received::Sip(Bytes::from_static(b"\xffSIP"))
        );
        assert_eq!(classify(Message::text("\r\n\r\n")), Received::Nothing);
        assert_eq!(classify(Message::Ping(Bytes::new())), Received::Nothing);
        assert_eq!(classify(Message::Close(None)), Received::Nothing);
        assert!(matches!(
            to_message(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")),
            Message::Text(_)
        ));
        assert!(matches!(
            to_message(Bytes::from_static(b"\xff")),
            Message::Binary(_)
        ));
    }

    /// The bounds on a wire without sockets: a message of the limit passes, one byte more
    /// closes the connection with 1009, and a ping is answered with a pong.
    #[tokio::test]
    async fn frames_are_bounded_and_pings_answered() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        const MAX: usize = 1024;
        let (a, b) = tokio::io::duplex(64 * 1024);
        let mut server = WebSocketStream::from_raw_socket(a, Role::Server, Some(config(MAX))).await;
        let mut client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        client.send(Message::text("x".repeat(MAX))).await.unwrap();
        let got = server.next().await.unwrap().unwrap();
        assert_eq!(got.len(), MAX);
        client
            .send(Message::Ping(Bytes::from_static(b"hi")))
            .await
            .unwrap();
        client.send(Message::text("y")).await.unwrap();
        assert!(matches!(server.next().await, Some(Ok(Message::Ping(_)))));
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("y"));
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"hi"))
        );
        client
            .send(Message::text("z".repeat(MAX + 1)))
            .await
            .unwrap();
        assert!(matches!(
            server.next().await,
            Some(Err(WsError::Capacity(_)))
        ));
    }
}
