//! Issue "Security", item 9, against the real binary on loopback: a TCP connection that only
//! sends CRLF keep-alives, or that went quiet after a message, is closed (before, one CRLF
//! kept a connection open for good, and ten addresses filled the table); a connection a phone
//! registered over is a flow: it stays open while quiet, its keep-alives are answered, and a
//! call to the phone comes back on it; once the phone unregisters, it closes when quiet.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use engine::sip::digest::Challenge;
use engine::sip::message::{
    parse, response_to, HeaderName, HeaderView, Message, Request, Response,
};
use serde_json::{json, Value};
use support::http::Reply;
use support::rig::{Rig, CONFIG};
use support::rtp::Rtp;
use support::wire::{closed_within, next, options, DOMAIN};

const SEC: Duration = Duration::from_secs(1);

/// A SIP conversation over one TCP connection, message by message.
struct TcpPhone {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl TcpPhone {
    fn connect(to: std::net::SocketAddr) -> TcpPhone {
        let stream = TcpStream::connect_timeout(&to, 2 * SEC).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        TcpPhone {
            stream,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next complete message within `wait` (CRLF keep-alive answers are skipped).
    fn recv(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 16384];
        loop {
            while self.pending.starts_with(b"\r\n") {
                self.pending.drain(..2);
            }
            if let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending[..end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        (k.eq_ignore_ascii_case("content-length") || k == "l")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if self.pending.len() >= end + 4 + len {
                    let msg: Vec<u8> = self.pending.drain(..end + 4 + len).collect();
                    return parse(Bytes::from(msg)).ok();
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }

    fn response(&mut self, wait: Duration) -> Response {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(Message::Response(r)) = self.recv(deadline - Instant::now()) {
                if r.status >= 200 {
                    return r;
                }
            }
        }
        panic!("no final response over TCP");
    }

    fn request(&mut self, wait: Duration) -> Request {
        match self.recv(wait) {
            Some(Message::Request(r)) => r,
            other => panic!("no request over TCP: {other:?}"),
        }
    }

    /// REGISTER `user` with digest over this connection; the final status.
    fn register(&mut self, user: &str, password: &str, expires: u32) -> u16 {
        let local = self.stream.local_addr().unwrap();
        let call = format!("treg-{}", next());
        let msg = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-t{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=t{n}\r\nTo: <sip:{user}@{DOMAIN}>\r\nCall-ID: {call}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local};transport=tcp>\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
                n = next(),
            )
        };
        self.send(msg(1, "").as_bytes());
        let r = self.response(5 * SEC);
        assert_eq!(r.status, 401);
        let ch = Challenge::parse(r.headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let auth = ch.answer(
            user,
            password,
            "REGISTER",
            &format!("sip:{DOMAIN}"),
            "cn",
            1,
        );
        self.send(msg(2, &format!("Authorization: {auth}\r\n")).as_bytes());
        self.response(5 * SEC).status
    }
}

/// Sends a CRLF keep-alive every 500 ms for `span`; false as soon as the connection closed.
fn keep_alive(stream: &mut TcpStream, span: Duration) -> bool {
    let until = Instant::now() + span;
    while Instant::now() < until {
        if stream.write_all(b"\r\n\r\n").is_err()
            || closed_within(stream, 500 * Duration::from_millis(1))
        {
            return false;
        }
    }
    true
}

#[test]
fn only_flows_outlive_quiet_and_keep_alives_and_calls_come_back_on_them() {
    let script = json!([{"action": "connect", "connect": [{"type": "sip", "user": "tcpdesk"}]}]);
    let config =
        format!("{CONFIG}[sip]\ntcp_incomplete_timeout_secs = 2\ntcp_idle_timeout_secs = 2\n");
    let rig = Rig::configured(vec![Reply::Json(script)], None::<Value>, &config);
    rig.endpoint("tcpdesk");
    rig.endpoint("caller");

    // Keep-alives alone, without any SIP message: closed (they used to keep it forever).
    let mut pinger = TcpStream::connect(rig.srv.sip).unwrap();
    pinger
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(
        !keep_alive(&mut pinger, 6 * SEC),
        "a keep-alive-only connection is closed"
    );

    // One message, then keep-alives: closed once quiet for the idle time.
    let mut quiet = TcpStream::connect(rig.srv.sip).unwrap();
    quiet
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let local = quiet.local_addr().unwrap();
    quiet.write_all(&options(local, rig.srv.sip)).unwrap();
    assert!(
        !keep_alive(&mut quiet, 6 * SEC),
        "no flow: keep-alives do not keep it"
    );

    // A phone registers over TCP: the connection is a flow and outlives the idle time.
    let mut desk = TcpPhone::connect(rig.srv.sip);
    assert_eq!(desk.register("tcpdesk", "pw-tcpdesk", 300), 200);
    assert!(keep_alive(&mut desk.stream, 5 * SEC), "a flow stays open");
    // Quiet, without keep-alives: still open.
    assert!(
        !closed_within(&mut desk.stream, 3 * SEC),
        "a quiet flow stays open"
    );
    desk.pending.clear();

    // A call to the phone comes back on its flow.
    let mut caller = rig.phone("caller");
    let mut out = caller.invite("tcpdesk", Rtp::bind().addr);
    let inv = desk.request(5 * SEC);
    assert_eq!(inv.method.as_str(), "INVITE");
    let via = inv.headers.get(&HeaderName::Via).unwrap_or("").to_string();
    assert!(via.contains("SIP/2.0/TCP"), "{via}");
    let busy = response_to(&inv, 486, Some("busy1"));
    desk.send(&busy.encode().expect("encodes"));
    assert_eq!(caller.final_response(&mut out, 5 * SEC).err(), Some(486));
    let ack = desk.request(5 * SEC);
    assert_eq!(ack.method.as_str(), "ACK");
    assert_eq!(ack.call_id(), inv.call_id());

    // Unregistered: no flow any more; quiet for the idle time, it closes.
    assert_eq!(desk.register("tcpdesk", "pw-tcpdesk", 0), 200);
    assert!(
        closed_within(&mut desk.stream, 6 * SEC),
        "no binding, no flow: closed"
    );
    rig.assert_alive();
}
