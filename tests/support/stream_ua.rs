//! A blocking SIP client over WebSocket (ws, wss), TLS and TCP, for the transport tests: it
//! connects to a test server's listener, sends SIP text as one WebSocket message (RFC 7118) or
//! on the TLS stream, and reads messages back within deadlines. TLS trusts exactly the
//! server's self-signed certificate (made in its data directory), checked for `localhost`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use engine::sip::digest::Challenge;
use engine::sip::message::{parse, HeaderName, HeaderView, Message, Request, Response};
use engine::sip::stream::{Frame, StreamFramer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message as WsMessage, WebSocket};

use super::wire::next;

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Which transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ws,
    Wss,
    Tls,
    /// Plain TCP (RFC 3261 §18), framed by Content-Length like TLS.
    Tcp,
}

impl Kind {
    /// The Via token and `transport=` value.
    pub fn token(self) -> &'static str {
        match self {
            Kind::Ws => "WS",
            Kind::Wss => "WSS",
            Kind::Tls => "TLS",
            Kind::Tcp => "TCP",
        }
    }
}

enum Wire {
    Ws(WebSocket<TcpStream>),
    Wss(WebSocket<TlsStream>),
    Tls(TlsStream, StreamFramer),
    Tcp(TcpStream, StreamFramer),
}

/// A client config trusting only the certificate in `cert` (a PEM file).
pub fn trusting(cert: &Path) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("certificate file") {
        roots.add(c.expect("a PEM certificate")).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The self-signed certificate `serve` makes in `data_dir`.
pub fn self_signed(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("tls").join("self-signed-cert.pem")
}

/// A TLS connection to `addr` checked against `config` for `localhost`.
pub fn tls_connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<TlsStream> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    // Drive the handshake now, so a refused one fails here.
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// The WebSocket upgrade request for `url`, offering `protocol` when given.
pub fn ws_request(url: &str, protocol: Option<&str>) -> tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    req
}

pub struct StreamUa {
    wire: Wire,
    pub kind: Kind,
    /// Our end of the connection (what the server sees as the source).
    pub local: SocketAddr,
    pub user: String,
    pub password: String,
    pending: VecDeque<Message>,
}

impl StreamUa {
    /// Connects over `kind` to `addr` (TLS trusting `cert`) as `user`.
    pub fn connect(
        kind: Kind,
        addr: SocketAddr,
        cert: &Path,
        user: &str,
        password: &str,
    ) -> StreamUa {
        let (wire, local) = match kind {
            Kind::Ws => {
                let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
                let local = tcp.local_addr().unwrap();
                let req = ws_request(&format!("ws://{addr}/"), Some("sip"));
                let (ws, resp) = tungstenite::client::client(req, tcp).expect("ws upgrade");
                assert_eq!(
                    resp.headers()
                        .get("sec-websocket-protocol")
                        .map(|v| v.to_str().unwrap()),
                    Some("sip"),
                    "the server chose the sip subprotocol"
                );
                (Wire::Ws(ws), local)
            }
            Kind::Wss => {
                let tls = tls_connect(addr, trusting(cert)).expect("TLS to the wss port");
                let local = tls.sock.local_addr().unwrap();
                let req = ws_request(&format!("wss://localhost:{}/", addr.port()), Some("sip"));
                let (ws, _) = tungstenite::client::client(req, tls).expect("wss upgrade");
                (Wire::Wss(ws), local)
            }
            Kind::Tls => {
                let tls = tls_connect(addr, trusting(cert)).expect("TLS to the SIP TLS port");
                let local = tls.sock.local_addr().unwrap();
                (Wire::Tls(tls, StreamFramer::new(Default::default())), local)
            }
            Kind::Tcp => {
                let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                    .expect("TCP to the SIP port");
                let local = tcp.local_addr().unwrap();
                (Wire::Tcp(tcp, StreamFramer::new(Default::default())), local)
            }
        };
        StreamUa {
            wire,
            kind,
            local,
            user: user.to_string(),
            password: password.to_string(),
            pending: VecDeque::new(),
        }
    }

    fn tcp(&self) -> &TcpStream {
        match &self.wire {
            Wire::Ws(ws) => ws.get_ref(),
            Wire::Wss(ws) => &ws.get_ref().sock,
            Wire::Tls(t, _) => &t.sock,
            Wire::Tcp(t, _) => t,
        }
    }

    /// Sends one SIP message (one WebSocket message).
    pub fn send(&mut self, text: &str) {
        match &mut self.wire {
            Wire::Ws(ws) => ws.send(WsMessage::text(text)).unwrap(),
            Wire::Wss(ws) => ws.send(WsMessage::text(text)).unwrap(),
            Wire::Tls(t, _) => {
                t.write_all(text.as_bytes()).unwrap();
                t.flush().unwrap();
            }
            Wire::Tcp(t, _) => {
                t.write_all(text.as_bytes()).unwrap();
                t.flush().unwrap();
            }
        }
    }

    /// Sends a raw WebSocket message (for the framing tests).
    pub fn send_ws(&mut self, m: WsMessage) -> tungstenite::Result<()> {
        match &mut self.wire {
            Wire::Ws(ws) => ws.send(m),
            Wire::Wss(ws) => ws.send(m),
            Wire::Tls(..) | Wire::Tcp(..) => panic!("not a WebSocket"),
        }
    }

    /// The next WebSocket message of any kind within `wait` (pongs, closes...); Err when the
    /// connection failed or closed.
    pub fn read_ws(&mut self, wait: Duration) -> Result<Option<WsMessage>, tungstenite::Error> {
        self.tcp().set_read_timeout(Some(wait)).unwrap();
        let r = match &mut self.wire {
            Wire::Ws(ws) => ws.read(),
            Wire::Wss(ws) => ws.read(),
            Wire::Tls(..) | Wire::Tcp(..) => panic!("not a WebSocket"),
        };
        match r {
            Ok(m) => Ok(Some(m)),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The next SIP message within `wait`; None on timeout or a closed connection.
    pub fn recv(&mut self, wait: Duration) -> Option<Message> {
        if let Some(m) = self.pending.pop_front() {
            return Some(m);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10));
            let slice = left.min(Duration::from_millis(200));
            match &mut self.wire {
                Wire::Tls(t, framer) => {
                    t.sock.set_read_timeout(Some(slice)).unwrap();
                    match read_framed(t, framer) {
                        Framed::Message(b) => return parse(b).ok(),
                        Framed::Closed => return None,
                        Framed::More => {}
                    }
                }
                Wire::Tcp(t, framer) => {
                    t.set_read_timeout(Some(slice)).unwrap();
                    match read_framed(t, framer) {
                        Framed::Message(b) => return parse(b).ok(),
                        Framed::Closed => return None,
                        Framed::More => {}
                    }
                }
                _ => match self.read_ws(slice) {
                    Ok(Some(WsMessage::Text(t))) => {
                        return parse(Bytes::copy_from_slice(t.as_bytes())).ok()
                    }
                    Ok(Some(WsMessage::Binary(b))) => return parse(b).ok(),
                    Ok(_) => {}
                    Err(_) => return None,
                },
            }
        }
        None
    }

    /// The next final response to a `method` request within `wait` (requests that come in
    /// meanwhile are kept for [`StreamUa::expect_request`]).
    pub fn final_response(&mut self, method: &str, wait: Duration) -> Option<Response> {
        let deadline = Instant::now() + wait;
        let mut kept = Vec::new();
        let mut found = None;
        while Instant::now() < deadline {
            match self.recv(deadline.saturating_duration_since(Instant::now())) {
                Some(Message::Response(r))
                    if r.status >= 200 && r.cseq().is_ok_and(|c| c.method.as_str() == method) =>
                {
                    found = Some(r);
                    break;
                }
                Some(Message::Request(r)) => kept.push(Message::Request(r)),
                Some(_) => {}
                None => break,
            }
        }
        self.pending.extend(kept);
        found
    }

    /// The next request `method` within `wait`.
    pub fn expect_request(&mut self, method: &str, wait: Duration) -> Option<Request> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(Message::Request(r)) =
                self.recv(deadline.saturating_duration_since(Instant::now()))
            {
                if r.method.as_str() == method {
                    return Some(r);
                }
            } else if Instant::now() >= deadline {
                break;
            }
        }
        None
    }

    /// The Contact a browser-style client registers: a made-up host and the transport, as
    /// RFC 7118 §5 and JsSIP do (`sip:user@x.invalid;transport=ws`).
    pub fn contact(&self) -> String {
        format!(
            "<sip:{}@{}.invalid;transport={}>",
            self.user,
            self.local.port(),
            self.kind.token().to_ascii_lowercase()
        )
    }

    fn via(&self, n: u64) -> String {
        format!(
            "Via: SIP/2.0/{} {}.invalid;branch=z9hG4bK-s{n}\r\n",
            self.kind.token(),
            self.local.port()
        )
    }

    /// REGISTER in `domain`, answering the challenge with this client's password; the final
    /// response.
    pub fn register(&mut self, domain: &str, expires: u32) -> Option<Response> {
        let call = format!("reg-{}-{}", self.user, next());
        let tag = next();
        let build = |me: &StreamUa, cseq: u32, auth: &str| {
            let n = next();
            format!(
                "REGISTER sip:{domain} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: <sip:{u}@{domain}>;tag=r{tag}\r\nTo: <sip:{u}@{domain}>\r\nCall-ID: {call}\r\nCSeq: {cseq} REGISTER\r\nContact: {c}\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
                via = me.via(n),
                u = me.user,
                c = me.contact(),
            )
        };
        let first = build(self, 1, "");
        self.send(&first);
        let r = self.final_response("REGISTER", Duration::from_secs(5))?;
        if r.status != 401 {
            return Some(r);
        }
        let ch = Challenge::parse(r.headers.get(&HeaderName::WwwAuthenticate)?).ok()?;
        let auth = ch.answer(
            &self.user,
            &self.password,
            "REGISTER",
            &format!("sip:{domain}"),
            "c1",
            1,
        );
        let second = build(self, 2, &format!("Authorization: {auth}\r\n"));
        self.send(&second);
        self.final_response("REGISTER", Duration::from_secs(5))
    }

    /// An OPTIONS to the server; its final response.
    pub fn options(&mut self, domain: &str) -> Option<Response> {
        let n = next();
        let text = format!(
            "OPTIONS sip:{domain} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: <sip:{u}@{domain}>;tag=o{n}\r\nTo: <sip:{domain}>\r\nCall-ID: opt-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            via = self.via(n),
            u = self.user,
        );
        self.send(&text);
        self.final_response("OPTIONS", Duration::from_secs(5))
    }

    /// Answers `req` with `status` (and this body as SDP), our Contact on a 2xx to an INVITE.
    pub fn reply(&mut self, req: &Request, status: u16, tag: &str, sdp: Option<&str>) {
        let mut r = engine::sip::message::response_to(req, status, Some(tag));
        if req.method.as_str() == "INVITE" && status < 300 {
            r.headers.push(HeaderName::Contact, self.contact());
            // RFC 3261 §12.1.1: the Record-Route comes back, so the caller routes through
            // the same proxies.
            for rr in req.headers.get_all(&HeaderName::RecordRoute) {
                r.headers.push(HeaderName::RecordRoute, rr);
            }
        }
        if let Some(body) = sdp {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = Bytes::copy_from_slice(body.as_bytes());
        }
        let text = String::from_utf8(r.encode().unwrap().to_vec()).unwrap();
        self.send(&text);
    }
}

/// A call this client placed and that was answered.
pub struct StreamCall {
    pub call_id: String,
    /// The answer's body (its SDP).
    pub answer: Bytes,
    from: String,
    to: String,
    target: String,
    cseq: u32,
}

impl StreamUa {
    /// Calls `target` (a user or number of `domain`) with this SDP offer: INVITE, 407, ACK,
    /// INVITE with credentials, then the 2xx is ACKed. The failing status otherwise.
    pub fn invite(&mut self, domain: &str, target: &str, sdp: &str) -> Result<StreamCall, u16> {
        let uri = format!("sip:{target}@{domain}");
        let call_id = format!("inv-{}-{}", self.user, next());
        let from = format!("<sip:{}@{domain}>;tag=f{}", self.user, next());
        let to = format!("<{uri}>");
        let mut auth = String::new();
        for cseq in 1..=2u32 {
            let via = self.via(next());
            let invite = format!(
                "INVITE {uri} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: {c}\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
                c = self.contact(),
                len = sdp.len(),
            );
            self.send(&invite);
            let r = self
                .final_response("INVITE", Duration::from_secs(15))
                .ok_or(0u16)?;
            let to_tagged = r
                .headers
                .get(&HeaderName::To)
                .unwrap_or_default()
                .to_string();
            if r.status >= 300 {
                // ACK of a non-2xx: the INVITE's Via and branch (RFC 3261 §17.1.1.3).
                self.send(&format!(
                    "ACK {uri} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to_tagged}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
                ));
                if r.status == 407 && cseq == 1 {
                    let ch = Challenge::parse(
                        r.headers
                            .get(&HeaderName::ProxyAuthenticate)
                            .ok_or(407u16)?,
                    )
                    .map_err(|_| 407u16)?;
                    let answer = ch.answer(&self.user, &self.password, "INVITE", &uri, "c2", 1);
                    auth = format!("Proxy-Authorization: {answer}\r\n");
                    continue;
                }
                return Err(r.status);
            }
            let target = r
                .headers
                .get(&HeaderName::Contact)
                .and_then(|c| engine::sip::message::NameAddr::parse(c).ok())
                .map(|a| a.uri.to_string())
                .unwrap_or_else(|| uri.clone());
            let call = StreamCall {
                answer: r.body.clone(),
                call_id: call_id.clone(),
                from: from.clone(),
                to: to_tagged,
                target,
                cseq,
            };
            let via = self.via(next());
            self.send(&format!(
                "ACK {} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
                call.target, call.from, call.to, call.call_id
            ));
            return Ok(call);
        }
        Err(407)
    }

    /// Hangs `call` up; the BYE's final status.
    pub fn bye(&mut self, call: &mut StreamCall) -> Option<u16> {
        call.cseq += 1;
        let via = self.via(next());
        self.send(&format!(
            "BYE {} SIP/2.0\r\n{via}Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nContent-Length: 0\r\n\r\n",
            call.target, call.from, call.to, call.call_id, call.cseq
        ));
        self.final_response("BYE", Duration::from_secs(10))
            .map(|r| r.status)
    }
}

/// What one read of a framed stream gave.
enum Framed {
    Message(Bytes),
    Closed,
    More,
}

/// A message already framed, else one read (under the stream's read timeout) into the framer.
fn read_framed(stream: &mut impl Read, framer: &mut StreamFramer) -> Framed {
    if let Ok(Some(Frame::Message(b))) = framer.next_frame() {
        return Framed::Message(b);
    }
    let mut buf = [0u8; 16384];
    match stream.read(&mut buf) {
        Ok(0) => Framed::Closed,
        Ok(n) => {
            framer.push(&buf[..n]);
            Framed::More
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Framed::More
        }
        Err(_) => Framed::Closed,
    }
}
