//! Issue 15 item 1 (transports) and the transport rows of item 5: SIP over WebSocket (ws,
//! wss; RFC 7118) and over TLS, through the real binary on loopback ports the tests choose,
//! with a small SIP client of our own (`support::stream_ua`) that can also misbehave.
//!
//! A client registers over each transport and is called back over the connection it
//! registered on (its Contact names a host nobody can resolve, as browsers' do), and calls
//! out; the upgrade needs the `sip` subprotocol; one SIP message per WebSocket message;
//! frames are bounded; a TLS handshake of garbage is closed and counted; connection caps are
//! shared with TCP; a quiet connection is closed unless it is a flow; a contact whose
//! WebSocket closed is not rung, and WS bindings do not survive a restart; SIGHUP swaps the
//! certificate without dropping connections, and a bad certificate on SIGHUP keeps the old
//! one. Real clients (JsSIP, baresip) and TLS trunks are in `e2e_transport_clients`.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use engine::sip::message::{HeaderName, HeaderView};
use serde_json::json;
use support::http::Reply;
use support::rig::{Rig, CONFIG};
use support::rtp::Rtp;
use support::stream_ua::{self, Kind, StreamUa};
use support::transports::{
    client, connect, hung_up, openssl_pair, registrations_of, rig_with, Ports,
};
use support::wire::metric;
use tungstenite::Message as WsMessage;

const SEC: Duration = Duration::from_secs(1);
const DOMAIN: &str = "test.local";

#[test]
fn clients_register_and_are_called_back_over_ws_wss_and_tls() {
    let kinds = [Kind::Ws, Kind::Wss, Kind::Tls];
    let users = ["web", "secureweb", "tlsphone"];
    let ports = Ports::new();
    let rig = rig_with(
        users.iter().map(|u| Reply::Json(connect(u))).collect(),
        &ports,
        &[],
    );
    assert!(
        rig.srv.log().contains("made a self-signed one"),
        "the first start says it made a certificate; log:\n{}",
        rig.srv.log()
    );
    rig.endpoint("alice");
    for u in users {
        rig.endpoint(u);
    }
    let mut alice = rig.phone("alice");
    for (kind, user) in kinds.into_iter().zip(users) {
        let mut b = client(&rig, &ports, kind, user);
        let ok = b.register(DOMAIN, 300).expect("an answer to REGISTER");
        assert_eq!(ok.status, 200, "{kind:?}: REGISTER");
        let regs = registrations_of(&rig, user);
        assert_eq!(regs.len(), 1, "{regs:?}");
        assert_eq!(regs[0]["transport"], kind.token().to_ascii_lowercase());

        // A caller on UDP; the script connects the user; the INVITE comes over the
        // connection the user registered on, with our Via for that transport.
        let mut out = alice.invite("5000", Rtp::bind().addr);
        let inv = b
            .expect_request("INVITE", 10 * SEC)
            .unwrap_or_else(|| panic!("{kind:?}: no INVITE; log:\n{}", rig.srv.log()));
        let via = inv.headers.get(&HeaderName::Via).unwrap().to_string();
        assert!(
            via.starts_with(&format!("SIP/2.0/{} ", kind.token())),
            "{kind:?}: Via {via}"
        );
        assert!(
            inv.uri.to_string().contains(".invalid;transport="),
            "the registered contact is the Request-URI: {}",
            inv.uri
        );
        b.reply(&inv, 180, "b1", None);
        let sdp = support::ua::sdp(Rtp::bind().addr);
        b.reply(&inv, 200, "b1", Some(&sdp));
        let mut dialog = alice
            .final_response(&mut out, 10 * SEC)
            .unwrap_or_else(|s| panic!("{kind:?}: call failed with {s}"));
        assert!(b.expect_request("ACK", 5 * SEC).is_some(), "{kind:?}: ACK");
        // The caller hangs up; the BYE reaches the user over the same connection.
        let bye_status = std::thread::scope(|s| {
            let h = s.spawn(|| alice.bye(&mut dialog));
            let bye = b
                .expect_request("BYE", 10 * SEC)
                .expect("BYE over the connection");
            b.reply(&bye, 200, "b1", None);
            h.join().unwrap()
        });
        assert_eq!(bye_status, 200, "{kind:?}");
    }
    rig.assert_alive();
}

#[test]
fn a_websocket_client_calls_a_phone_through_the_answer_url() {
    let ports = Ports::new();
    let rig = rig_with(vec![Reply::Json(connect("alice"))], &ports, &[]);
    rig.endpoint("alice");
    rig.endpoint("web");
    let mut alice = rig.phone("alice");
    let mut web = client(&rig, &ports, Kind::Wss, "web");
    assert_eq!(web.register(DOMAIN, 300).map(|r| r.status), Some(200));
    let sdp = support::ua::sdp(Rtp::bind().addr);
    let (placed, ()) = std::thread::scope(|s| {
        let h = s.spawn(|| web.invite(DOMAIN, "5000", &sdp));
        let inv = alice.expect_request("INVITE", None, 10 * SEC);
        let _ = alice.answer(&inv, Rtp::bind().addr);
        (h.join().unwrap(), ())
    });
    let mut call = placed.unwrap_or_else(|s| panic!("the browser's call failed with {s}"));
    let hits = rig.web.hits("/answer");
    assert_eq!(hits.len(), 1, "the app was asked once");
    // The browser hangs up over its connection; the phone gets the BYE.
    let bye = std::thread::scope(|s| {
        let h = s.spawn(|| web.bye(&mut call));
        let b = alice.expect_request("BYE", None, 10 * SEC);
        alice.reply(&b, 200, None);
        h.join().unwrap()
    });
    assert_eq!(bye, Some(200));
    rig.assert_alive();
}

#[test]
fn websocket_and_tls_connections_share_the_per_source_cap_with_tcp() {
    let ports = Ports::new();
    let config = format!("{CONFIG}[sip]\nmax_tcp_connections_per_source = 2\n");
    let flags = ports.flags();
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let rig = Rig::configured_with(
        vec![Reply::Json(json!([{"action": "hangup"}]))],
        None,
        &config,
        &args,
    );
    // One TCP connection (kept open by a message) and one WebSocket: the cap of two is full.
    let (_, _tcp) = support::wire::tcp_exchange(
        rig.srv.sip,
        &support::wire::options("127.0.0.1:5999".parse().unwrap(), rig.srv.sip),
        5 * SEC,
    );
    let mut ws = client(&rig, &ports, Kind::Ws, "probe");
    assert_eq!(ws.options(DOMAIN).map(|r| r.status), Some(200));
    // A third connection of any kind is hung up on before any upgrade or handshake.
    for port in [ports.ws, ports.tls] {
        let mut s = TcpStream::connect(port).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
        assert!(
            hung_up(&mut s, 10 * SEC),
            "{port}: a connection over the cap was served"
        );
    }
    // Closing one frees a slot.
    drop(ws);
    let deadline = Instant::now() + 5 * SEC;
    let mut served = false;
    while !served && Instant::now() < deadline {
        let tcp = TcpStream::connect(ports.ws).unwrap();
        let req = stream_ua::ws_request(&format!("ws://{}/", ports.ws), Some("sip"));
        served = tungstenite::client::client(req, tcp).is_ok();
        if !served {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(served, "a slot freed by a closed WebSocket is usable again");
}

#[test]
fn a_quiet_websocket_is_closed_unless_a_binding_rides_on_it() {
    let ports = Ports::new();
    let config = format!("{CONFIG}[sip]\ntcp_idle_timeout_secs = 1\n");
    let flags = ports.flags();
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let rig = Rig::configured_with(
        vec![Reply::Json(json!([{"action": "hangup"}]))],
        None,
        &config,
        &args,
    );
    rig.endpoint("web");
    let mut flow = client(&rig, &ports, Kind::Wss, "web");
    assert_eq!(flow.register(DOMAIN, 300).map(|r| r.status), Some(200));
    let mut quiet = client(&rig, &ports, Kind::Ws, "probe");
    assert_eq!(quiet.options(DOMAIN).map(|r| r.status), Some(200));
    // The connection without a binding is closed once quiet for the idle time (bounded wait)...
    let deadline = Instant::now() + 10 * SEC;
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        closed = matches!(
            quiet.read_ws(Duration::from_millis(200)),
            Err(_) | Ok(Some(WsMessage::Close(_)))
        );
    }
    assert!(closed, "a quiet WebSocket without a binding stayed open");
    // ...while the one a binding rides on, quiet for twice the idle time, is still served.
    std::thread::sleep(2 * SEC);
    assert_eq!(flow.options(DOMAIN).map(|r| r.status), Some(200));
    assert_eq!(registrations_of(&rig, "web").len(), 1);
}

#[test]
fn the_upgrade_needs_the_sip_subprotocol_and_frames_are_one_bounded_message() {
    let ports = Ports::new();
    let rig = rig_with(
        vec![Reply::Json(json!([{"action": "hangup"}]))],
        &ports,
        &[],
    );
    // Another subprotocol, or none: refused with an HTTP error that says why.
    for offered in [Some("chat"), None] {
        let tcp = TcpStream::connect(ports.ws).unwrap();
        let req = stream_ua::ws_request(&format!("ws://{}/", ports.ws), offered);
        match tungstenite::client::client(req, tcp) {
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                assert_eq!(resp.status(), 400, "{offered:?}");
                let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
                    .into_owned();
                assert!(body.contains("Sec-WebSocket-Protocol: sip"), "{body}");
            }
            other => panic!("{offered:?}: upgrade not refused: {:?}", other.map(|r| r.1)),
        }
    }
    assert!(
        metric(rig.srv.http, "ringmaster_sip_ws_upgrades_refused_total") >= Some(2.0),
        "refusals are counted"
    );

    let mut c = client(&rig, &ports, Kind::Ws, "probe");
    let r = c.options(DOMAIN).expect("OPTIONS over ws");
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .get(&HeaderName::Via)
        .unwrap()
        .starts_with("SIP/2.0/WS "));

    // A ping is answered with its payload.
    c.send_ws(WsMessage::Ping(b"keep"[..].into())).unwrap();
    let deadline = Instant::now() + 5 * SEC;
    let mut ponged = false;
    while Instant::now() < deadline && !ponged {
        if let Ok(Some(WsMessage::Pong(p))) = c.read_ws(Duration::from_millis(200)) {
            ponged = &p[..] == b"keep";
        }
    }
    assert!(ponged, "no pong");

    // Two SIP messages in one WebSocket message: it is one message (the first; what follows
    // its Content-Length is not a second request), so exactly one answer comes back.
    let two = |n: u32| {
        format!(
            "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK-two{n}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{DOMAIN}>;tag=t{n}\r\nTo: <sip:{DOMAIN}>\r\nCall-ID: two-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    c.send(&format!("{}{}", two(1), two(2)));
    let first = c.final_response("OPTIONS", 5 * SEC).expect("an answer");
    assert_eq!(first.call_id().unwrap(), "two-1");
    assert!(
        c.final_response("OPTIONS", SEC).is_none(),
        "a second answer"
    );

    // A message over 64 KiB closes the connection with 1009 (message too big).
    let big = format!("{}{}", two(3), "x".repeat(70 * 1024));
    let _ = c.send_ws(WsMessage::text(big));
    let deadline = Instant::now() + 10 * SEC;
    let mut closed = None;
    while Instant::now() < deadline {
        match c.read_ws(Duration::from_millis(200)) {
            Ok(Some(WsMessage::Close(frame))) => {
                closed = Some(frame.map(|f| u16::from(f.code)));
                break;
            }
            Ok(_) => {}
            Err(_) => {
                closed = Some(None);
                break;
            }
        }
    }
    assert_eq!(
        closed,
        Some(Some(1009)),
        "an oversize message closes with 1009"
    );
    // The server goes on: a new connection works.
    let mut again = client(&rig, &ports, Kind::Ws, "probe");
    assert_eq!(again.options(DOMAIN).map(|r| r.status), Some(200));
    rig.assert_alive();
}

#[test]
fn tls_handshake_garbage_is_closed_and_counted() {
    let ports = Ports::new();
    let rig = rig_with(
        vec![Reply::Json(json!([{"action": "hangup"}]))],
        &ports,
        &[],
    );
    for port in [ports.tls, ports.wss] {
        let mut s = TcpStream::connect(port).unwrap();
        s.write_all(b"OPTIONS sip:test.local SIP/2.0\r\n\r\n\x16\x03\x01garbage")
            .unwrap();
        assert!(
            hung_up(&mut s, 10 * SEC),
            "{port}: garbage was not hung up on"
        );
    }
    let deadline = Instant::now() + 5 * SEC;
    while metric(rig.srv.http, "ringmaster_sip_tls_handshake_failures_total") < Some(2.0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        metric(rig.srv.http, "ringmaster_sip_tls_handshake_failures_total"),
        Some(2.0)
    );
    // Real TLS still works, with a TLS Via in the answer.
    let mut c = client(&rig, &ports, Kind::Tls, "probe");
    let r = c.options(DOMAIN).expect("OPTIONS over TLS");
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .get(&HeaderName::Via)
        .unwrap()
        .starts_with("SIP/2.0/TLS "));
    rig.assert_alive();
}

#[test]
fn a_contact_on_a_closed_websocket_is_not_rung_and_ws_bindings_do_not_survive_a_restart() {
    let ports = Ports::new();
    let mut rig = rig_with(vec![Reply::Json(connect("web"))], &ports, &[]);
    rig.endpoint("alice");
    rig.endpoint("web");
    let mut alice = rig.phone("alice");
    let mut web = client(&rig, &ports, Kind::Ws, "web");
    assert_eq!(web.register(DOMAIN, 300).map(|r| r.status), Some(200));
    assert_eq!(registrations_of(&rig, "web").len(), 1);
    // The browser goes away without unregistering.
    drop(web);
    let deadline = Instant::now() + 5 * SEC;
    while !registrations_of(&rig, "web").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        registrations_of(&rig, "web").is_empty(),
        "the binding of a closed connection is dropped"
    );
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let status = alice.final_response(&mut out, 10 * SEC).err();
    assert_eq!(
        status,
        Some(480),
        "the unregistered answer, not a ring into the void"
    );

    // A fresh WS registration, then a restart: WS bindings are gone, UDP ones stay.
    let mut web = client(&rig, &ports, Kind::Ws, "web");
    assert_eq!(web.register(DOMAIN, 300).map(|r| r.status), Some(200));
    assert_eq!(registrations_of(&rig, "web").len(), 1);
    rig.srv.restart();
    assert!(
        registrations_of(&rig, "web").is_empty(),
        "a WS binding survived a restart"
    );
    assert_eq!(
        registrations_of(&rig, "alice").len(),
        1,
        "the UDP binding stays"
    );
    drop(web);
}

fn wait_log(rig: &Rig, needle: &str, count: usize) {
    let deadline = Instant::now() + 10 * SEC;
    while rig.srv.log().matches(needle).count() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        rig.srv.log().matches(needle).count() >= count,
        "log lacks `{needle}` x{count}:\n{}",
        rig.srv.log()
    );
}

#[test]
fn sighup_swaps_the_certificate_and_keeps_connections_and_a_bad_one_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (a_cert, a_key) = openssl_pair(certs.path(), "a");
    let (b_cert, b_key) = openssl_pair(certs.path(), "b");
    let live_cert = certs.path().join("live-cert.pem");
    let live_key = certs.path().join("live-key.pem");
    std::fs::copy(&a_cert, &live_cert).unwrap();
    std::fs::copy(&a_key, &live_key).unwrap();
    let ports = Ports::new();
    let rig = rig_with(
        vec![Reply::Json(json!([{"action": "hangup"}]))],
        &ports,
        &[
            "--tls-cert",
            live_cert.to_str().unwrap(),
            "--tls-key",
            live_key.to_str().unwrap(),
        ],
    );
    assert!(!rig.srv.log().contains("made a self-signed one"));
    rig.endpoint("tlsphone");
    let mut held = StreamUa::connect(Kind::Tls, ports.tls, &a_cert, "tlsphone", "pw-tlsphone");
    assert_eq!(held.register(DOMAIN, 300).map(|r| r.status), Some(200));

    // Certificate B in place, SIGHUP: new handshakes get B, the held connection goes on.
    std::fs::copy(&b_cert, &live_cert).unwrap();
    std::fs::copy(&b_key, &live_key).unwrap();
    rig.srv.signal("HUP");
    wait_log(&rig, "SIGHUP: TLS certificate reloaded", 1);
    assert!(
        stream_ua::tls_connect(ports.tls, stream_ua::trusting(&a_cert)).is_err(),
        "the old certificate is still served"
    );
    stream_ua::tls_connect(ports.tls, stream_ua::trusting(&b_cert)).expect("B is served");
    assert_eq!(
        held.options(DOMAIN).map(|r| r.status),
        Some(200),
        "held connection"
    );
    assert_eq!(registrations_of(&rig, "tlsphone").len(), 1);

    // A broken file and SIGHUP: the reload fails, says why, and B stays.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    rig.srv.signal("HUP");
    wait_log(&rig, "TLS certificate not reloaded", 1);
    stream_ua::tls_connect(ports.tls, stream_ua::trusting(&b_cert)).expect("B is still served");
    let mut wss = StreamUa::connect(Kind::Wss, ports.wss, &b_cert, "tlsphone", "pw-tlsphone");
    assert_eq!(wss.options(DOMAIN).map(|r| r.status), Some(200));
    assert_eq!(held.options(DOMAIN).map(|r| r.status), Some(200));
    rig.assert_alive();
}
