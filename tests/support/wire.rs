//! Raw SIP over loopback for end-to-end tests: send bytes over UDP or TCP from a chosen
//! 127.0.0.0/8 address, read what comes back within a deadline, and scrape `/metrics`. Every
//! read is bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use engine::sip::digest::Challenge;
use engine::sip::message::{parse, HeaderName, HeaderView, Message, Response};

/// A UDP socket on `ip` (any free port).
pub fn udp_on(ip: [u8; 4]) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::from((ip, 0))).expect("bind udp");
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    s
}

/// The status code of a response's start line.
pub fn status_of(msg: &[u8]) -> Option<u16> {
    let rest = msg.strip_prefix(b"SIP/2.0 ")?;
    std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()
}

/// Every response status found at the start of a line in `bytes` (a stream's worth).
pub fn statuses_in(bytes: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    for (i, _) in bytes.iter().enumerate() {
        if (i == 0 || bytes[i - 1] == b'\n') && bytes[i..].starts_with(b"SIP/2.0 ") {
            if let Some(s) = status_of(&bytes[i..]) {
                out.push(s);
            }
        }
    }
    out
}

/// Sends one datagram and returns the first final (≥ 200) status that comes back before
/// `wait`, or None for silence. Provisional responses are skipped.
pub fn udp_exchange(sock: &UdpSocket, to: SocketAddr, msg: &[u8], wait: Duration) -> Option<u16> {
    sock.send_to(msg, to).expect("send");
    udp_final(sock, wait)
}

/// Reads datagrams until a final response or `wait` elapses.
pub fn udp_final(sock: &UdpSocket, wait: Duration) -> Option<u16> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            match status_of(&buf[..n]) {
                Some(s) if s >= 200 => return Some(s),
                _ => {}
            }
        }
    }
    None
}

/// Drains whatever is queued on the socket (retransmissions of earlier answers).
pub fn udp_drain(sock: &UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    while sock.recv_from(&mut buf).is_ok() {}
}

/// Opens a TCP connection (from 127.0.0.1: std cannot choose the source), sends `msg`, and
/// returns the first final status read before `wait` (None: silence), with the connection
/// for further checks.
pub fn tcp_exchange(to: SocketAddr, msg: &[u8], wait: Duration) -> (Option<u16>, TcpStream) {
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(2)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    stream.write_all(msg).expect("write");
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if let Some(s) = statuses_in(&got).into_iter().find(|s| *s >= 200) {
                    return (Some(s), stream);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (None, stream)
}

/// True when the peer closed `stream` within `wait` (a read returns 0 or an error).
pub fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A fresh OPTIONS from `from` to `to` over UDP.
pub fn options(from: SocketAddr, to: SocketAddr) -> Vec<u8> {
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "OPTIONS sip:ping@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-opt-{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@example.com>;tag=p{n}\r\nTo: <sip:ping@{to}>\r\nCall-ID: opt-{n}@example.com\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Whether the server answers an OPTIONS from `ip` with 200 within `wait`. The request is
/// retransmitted every 500 ms (RFC 3261 Timer E), as a real client does: under a flood the
/// kernel may drop a datagram before the server reads it.
pub fn answers_options(server: SocketAddr, ip: [u8; 4], wait: Duration) -> bool {
    let sock = udp_on(ip);
    let from = sock.local_addr().expect("addr");
    let msg = options(from, server);
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if udp_exchange(&sock, server, &msg, left.min(Duration::from_millis(500))) == Some(200) {
            return true;
        }
    }
    false
}

/// One value of the server's `/metrics` (Prometheus text).
pub fn metric(http: SocketAddr, name: &str) -> Option<f64> {
    let body = ureq::get(&format!("http://{http}/metrics"))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits (at most `wait`) until the metric equals `want`; returns the last value seen.
pub fn metric_settles(http: SocketAddr, name: &str, want: f64, wait: Duration) -> Option<f64> {
    let deadline = Instant::now() + wait;
    loop {
        let v = metric(http, name);
        if v == Some(want) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A phone: one UDP socket on a loopback address, driven message by message with the
/// engine's own parser and digest client.
pub struct Phone {
    pub user: String,
    pub password: String,
    pub sock: UdpSocket,
    pub addr: SocketAddr,
    pub server: SocketAddr,
}

/// A number unique within the test process (branches, tags, Call-IDs).
pub fn next() -> u64 {
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The SIP domain `Server::start` gives the server.
pub const DOMAIN: &str = "test.local";

/// A minimal audio offer.
pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

impl Phone {
    pub fn new(user: &str, password: &str, ip: [u8; 4], server: SocketAddr) -> Phone {
        let sock = udp_on(ip);
        let addr = sock.local_addr().expect("addr");
        Phone {
            user: user.to_string(),
            password: password.to_string(),
            sock,
            addr,
            server,
        }
    }

    pub fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .expect("send");
    }

    /// The next message (request or response) within `wait`.
    pub fn recv(&self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                if let Ok(m) = parse(Bytes::copy_from_slice(&buf[..n])) {
                    return Some(m);
                }
            }
        }
        None
    }

    /// The next final response with CSeq method `method`, skipping everything else.
    pub fn final_response(&self, method: &str, wait: Duration) -> Option<Response> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(Message::Response(r)) = self.recv(Duration::from_millis(100)) {
                let m = r.cseq().map(|c| c.method.to_string()).unwrap_or_default();
                if r.status >= 200 && m == method {
                    return Some(r);
                }
            }
        }
        None
    }

    /// Sends a request and waits for its final response (CSeq method `method`), sending it
    /// again every 500 ms (RFC 3261 Timer E) for up to 4 s, as a real phone does over UDP.
    pub fn request(&self, text: &str, method: &str) -> Option<Response> {
        // Match the CSeq number too: a late copy of an earlier answer is not this one's.
        let seq = text
            .lines()
            .find_map(|l| l.strip_prefix("CSeq: "))
            .and_then(|v| v.split(' ').next())
            .and_then(|n| n.parse::<u32>().ok());
        for _ in 0..8 {
            self.send(text);
            let deadline = Instant::now() + Duration::from_millis(500);
            while let Some(r) =
                self.final_response(method, deadline.saturating_duration_since(Instant::now()))
            {
                if seq.is_none() || r.cseq().ok().map(|c| c.seq) == seq {
                    return Some(r);
                }
            }
        }
        None
    }

    /// REGISTER, and when challenged, REGISTER again with this phone's password. Returns the
    /// last final response (a 401 answered with a wrong password comes back as 401; a
    /// refusal before any challenge, e.g. 403 for a banned source, as itself).
    pub fn register(&self) -> Response {
        self.try_register().expect("an answer to REGISTER")
    }

    /// [`Phone::register`], None when a request got no answer at all.
    pub fn try_register(&self) -> Option<Response> {
        let call = format!("reg-{}-{}", self.user, next());
        let base = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-r{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{DOMAIN}>;tag=r{n}\r\nTo: <sip:{u}@{DOMAIN}>\r\nCall-ID: {call}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{u}@{a}>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n",
                a = self.addr,
                n = next(),
                u = self.user,
            )
        };
        let r = self.request(&base(1, ""), "REGISTER")?;
        if r.status != 401 {
            return Some(r);
        }
        let auth = self.answer(
            &r,
            HeaderName::WwwAuthenticate,
            "REGISTER",
            &format!("sip:{DOMAIN}"),
        );
        self.request(&base(2, &format!("Authorization: {auth}\r\n")), "REGISTER")
    }

    pub fn answer(&self, r: &Response, header: HeaderName, method: &str, uri: &str) -> String {
        let ch = Challenge::parse(r.headers.get(&header).expect("challenge")).unwrap();
        ch.answer(&self.user, &self.password, method, uri, "cnonce1", 1)
    }
}
