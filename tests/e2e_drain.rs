//! Graceful drain through the real binary: a call is up (alice → ringmaster → answer URL →
//! connect to bob), then SIGTERM. A new INVITE gets 503 with Retry-After, REGISTER is still
//! served, `/health` says draining, the existing call goes on and ends normally with BYE, and
//! the process exits 0. With a short drain timeout the process exits 0 with the call still up;
//! a second SIGTERM exits at once.
//!
//! The phones are raw UDP sockets on 127.0.0.1 driven by this file (the engine's own parser and
//! digest client build and read the messages); the answer URL is a small HTTP thread.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use engine::sip::message::{HeaderName, HeaderView, Message};
use serde_json::json;
use support::wire::{next, Phone, DOMAIN, SDP};
use support::Server;

/// Serves the answer URL: every POST gets `script` (until dropped).
struct AnswerUrl {
    url: String,
    stop: Arc<AtomicBool>,
}

impl AnswerUrl {
    fn start(script: serde_json::Value) -> AnswerUrl {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/answer", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = script.to_string();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        AnswerUrl { url, stop }
    }
}

impl Drop for AnswerUrl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An established call from alice's side: what she needs to send the BYE.
struct Dialog {
    call_id: String,
    from_tag: String,
    to: String,
    target: String,
}

/// alice calls `dialled`; bob (registered) answers when ringmaster rings him.
fn establish(alice: &Phone, bob: &Phone, dialled: &str) -> Dialog {
    let call_id = format!("call-{}", next());
    let from_tag = format!("a{}", next());
    let uri = format!("sip:{dialled}@{DOMAIN}");
    let invite = |cseq: u32, branch: u64, auth: &str| {
        format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-i{branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag={from_tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:alice@{a}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{SDP}",
            a = alice.addr,
            len = SDP.len(),
        )
    };
    let b1 = next();
    alice.send(&invite(1, b1, ""));
    let r = alice
        .final_response("INVITE", Duration::from_secs(3))
        .expect("407");
    assert_eq!(r.status, 407);
    let to = r.headers.get(&HeaderName::To).unwrap().to_string();
    alice.send(&format!(
        "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-i{b1};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        a = alice.addr
    ));
    let auth = alice.answer(&r, HeaderName::ProxyAuthenticate, "INVITE", &uri);
    alice.send(&invite(
        2,
        next(),
        &format!("Proxy-Authorization: {auth}\r\n"),
    ));

    // bob is rung: 200 with SDP, then the ACK.
    let deadline = Instant::now() + Duration::from_secs(10);
    let inv = loop {
        assert!(Instant::now() < deadline, "bob was never rung");
        if let Some(Message::Request(r)) = bob.recv(Duration::from_millis(100)) {
            if r.method.as_str() == "INVITE" {
                break r;
            }
        }
    };
    let mut ok = engine::sip::message::response_to(&inv, 200, Some("bobtag"));
    ok.headers
        .push(HeaderName::Contact, format!("<sip:bob@{}>", bob.addr));
    ok.headers.push(HeaderName::ContentType, "application/sdp");
    ok.body = Bytes::from_static(SDP.as_bytes());
    bob.sock
        .send_to(&ok.encode().unwrap(), bob.server)
        .expect("send 200");

    let r = alice
        .final_response("INVITE", Duration::from_secs(10))
        .expect("alice's call answered");
    assert_eq!(r.status, 200, "alice's INVITE");
    let to = r.headers.get(&HeaderName::To).unwrap().to_string();
    let contact = r.contacts().expect("contact");
    let target = match contact {
        engine::sip::message::ContactList::Addrs(c) => c[0].uri.to_string(),
        other => panic!("{other:?}"),
    };
    alice.send(&format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-ack{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n",
        a = alice.addr,
        n = next()
    ));
    Dialog {
        call_id,
        from_tag,
        to,
        target,
    }
}

/// Starts a server with an app whose answer URL connects the dialled call to bob, and both
/// phones with endpoints; bob registered.
fn setup(dir: &std::path::Path, drain_secs: u64) -> (Server, AnswerUrl, Phone, Phone) {
    let answer = AnswerUrl::start(json!([
        {"action": "connect", "timeout": 20, "duration": 600,
         "call": [{"type": "sip", "user": "bob"}]}
    ]));
    let cfg = dir.join("ringmaster.toml");
    std::fs::write(
        &cfg,
        format!("[calls]\ndrain_timeout_secs = {drain_secs}\nrtp_timeout_secs = 0\n"),
    )
    .unwrap();
    let srv = Server::start(dir, &["--config", cfg.to_str().unwrap()]);
    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "drain",
        "--answer-url",
        &answer.url,
        "--json",
    ]);
    let appid = app["appid"].as_u64().unwrap();
    let secret = app["secret"].as_str().unwrap().to_string();
    for u in ["alice", "bob"] {
        let (status, body) = srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid, "secret": secret, "username": u,
                   "password": format!("pw-{u}-secret")}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let alice = Phone::new("alice", "pw-alice-secret", [127, 0, 0, 1], srv.sip);
    let bob = Phone::new("bob", "pw-bob-secret", [127, 0, 0, 1], srv.sip);
    assert_eq!(bob.register().status, 200, "bob registers");
    (srv, answer, alice, bob)
}

fn health(srv: &Server) -> (u16, String) {
    let url = format!("http://{}/health", srv.http);
    match ureq::get(&url).timeout(Duration::from_secs(3)).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

#[test]
fn sigterm_refuses_new_calls_lets_the_live_one_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, _answer, alice, bob) = setup(dir.path(), 30);
    let dialog = establish(&alice, &bob, "5000");

    srv.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        srv.wait_exit(Duration::ZERO).is_none(),
        "still running: a call is up"
    );

    // A new call: 503 with Retry-After.
    let call_id = format!("late-{}", next());
    alice.send(&format!(
        "INVITE sip:5001@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-late{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag=late\r\nTo: <sip:5001@{DOMAIN}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{a}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{SDP}",
        a = alice.addr,
        n = next(),
        len = SDP.len()
    ));
    let r = alice
        .final_response("INVITE", Duration::from_secs(3))
        .expect("an answer to the new INVITE");
    assert_eq!(r.status, 503, "new INVITE during the drain");
    assert_eq!(r.headers.get(&HeaderName::RetryAfter), Some("30"));

    // Registration is still served, and health tells load balancers to go elsewhere.
    assert_eq!(bob.register().status, 200, "REGISTER during the drain");
    let (status, body) = health(&srv);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("draining"), "{body}");

    // The live call ends normally: alice hangs up, bob gets the BYE.
    alice.send(&format!(
        "BYE {t} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-bye{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag={f}\r\nTo: {to}\r\nCall-ID: {c}\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
        t = dialog.target,
        a = alice.addr,
        n = next(),
        f = dialog.from_tag,
        to = dialog.to,
        c = dialog.call_id
    ));
    let r = alice
        .final_response("BYE", Duration::from_secs(3))
        .expect("BYE answered");
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "bob never got the BYE");
        if let Some(Message::Request(req)) = bob.recv(Duration::from_millis(100)) {
            if req.method.as_str() == "BYE" {
                let ok = engine::sip::message::response_to(&req, 200, None);
                bob.sock.send_to(&ok.encode().unwrap(), bob.server).unwrap();
                break;
            }
        }
    }
    let status = srv
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("did not exit after the last call; log:\n{}", srv.log()));
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        srv.log()
    );
    let log = srv.log();
    assert!(log.contains("drained: no live calls"), "{log}");
}

#[test]
fn the_drain_timeout_ends_a_call_that_goes_on_and_a_second_sigterm_exits_at_once() {
    // Drain timeout: 2 s, the call never ends by itself; exit 0 after the timeout.
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, _answer, alice, bob) = setup(dir.path(), 2);
    establish(&alice, &bob, "5000");
    let t0 = Instant::now();
    srv.signal("TERM");
    let status = srv
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("did not exit; log:\n{}", srv.log()));
    assert!(status.success(), "{status:?}");
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "waited for the drain timeout"
    );
    assert!(srv.log().contains("drain timeout: stopping with calls up"));

    // A long drain timeout, but a second SIGTERM: out at once.
    let dir = tempfile::tempdir().unwrap();
    let (mut srv, _answer, alice, bob) = setup(dir.path(), 600);
    establish(&alice, &bob, "5000");
    srv.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        srv.wait_exit(Duration::ZERO).is_none(),
        "draining, not gone"
    );
    let t0 = Instant::now();
    srv.signal("TERM");
    let status = srv
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("second SIGTERM ignored; log:\n{}", srv.log()));
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(
        status.code(),
        Some(1),
        "an interrupted drain is not a clean exit"
    );
}
