//! Issue 15 item 1 (transports) and the transport rows of item 5: SIP over WebSocket (ws,
//! wss; RFC 7118) and over TLS, through the real binary on loopback ports the tests choose.
//!
//! A client registers over each transport and is called back over the connection it
//! registered on (its Contact names a host nobody can resolve, as browsers' do); the upgrade
//! needs the `sip` subprotocol; one SIP message per WebSocket message; frames are bounded; a
//! TLS handshake of garbage is closed and counted; a contact whose WebSocket closed is not
//! rung, and WS bindings do not survive a restart; SIGHUP swaps the certificate without
//! dropping connections, and a bad certificate on SIGHUP keeps the old one.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use engine::sip::message::{HeaderName, HeaderView};
use serde_json::{json, Value};
use support::free_port;
use support::http::Reply;
use support::rig::{admin_get, Rig, CONFIG};
use support::rtp::Rtp;
use support::stream_ua::{self, Kind, StreamUa};
use support::wire::metric;
use tungstenite::Message as WsMessage;

const SEC: Duration = Duration::from_secs(1);
const DOMAIN: &str = "test.local";

/// The three listeners on ports of our choosing.
struct Ports {
    ws: SocketAddr,
    wss: SocketAddr,
    tls: SocketAddr,
}

impl Ports {
    fn new() -> Ports {
        let p = || SocketAddr::from(([127, 0, 0, 1], free_port()));
        Ports {
            ws: p(),
            wss: p(),
            tls: p(),
        }
    }

    fn of(&self, k: Kind) -> SocketAddr {
        match k {
            Kind::Ws => self.ws,
            Kind::Wss => self.wss,
            Kind::Tls => self.tls,
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--ws-listen".into(),
            self.ws.to_string(),
            "--wss-listen".into(),
            self.wss.to_string(),
            "--sip-tls-listen".into(),
            self.tls.to_string(),
        ]
    }
}

fn rig_with(replies: Vec<Reply>, ports: &Ports, more: &[&str]) -> Rig {
    let flags = ports.flags();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend_from_slice(more);
    Rig::configured_with(replies, None, CONFIG, &args)
}

fn connect(user: &str) -> Value {
    json!([{"action": "connect", "timeout": 20, "call": [{"type": "sip", "user": user}]}])
}

fn client(rig: &Rig, ports: &Ports, kind: Kind, user: &str) -> StreamUa {
    StreamUa::connect(
        kind,
        ports.of(kind),
        &stream_ua::self_signed(&rig.srv.dir),
        user,
        &format!("pw-{user}"),
    )
}

/// The live registrations of `user` as the admin API lists them.
fn registrations_of(rig: &Rig, user: &str) -> Vec<Value> {
    let (status, body) = admin_get(&rig.srv, "/admin/v1/registrations");
    assert_eq!(status, 200, "{body}");
    body["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["username"] == user)
        .cloned()
        .collect()
}

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

/// Whether the server hangs up on `s` within `wait` (reads until EOF or a reset).
fn hung_up(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
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

/// A self-signed certificate for `localhost` made by openssl, in `dir` as `name`-cert.pem and
/// `name`-key.pem.
fn openssl_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        // An end-entity certificate (openssl makes a CA by default, which rustls refuses).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    (cert, key)
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

/// A baresip process (killed by PID on drop).
struct Baresip(std::process::Child);

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's baresip registered over SIP/TLS (trusting the server's self-signed certificate
/// with `sip_cafile`), answering calls by itself with a sine tone.
fn baresip_tls(rig: &Rig, tls: SocketAddr, user: &str) -> Baresip {
    assert!(
        Command::new("baresip").arg("-h").output().is_ok(),
        "baresip is not installed; run scripts/setup (installs Debian's baresip-core)"
    );
    let conf = rig.dir.path().join(format!("baresip-{user}"));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config"),
        format!(
            "sip_listen 127.0.0.1:{}\nsip_cafile {}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\nmodule aubridge.so\naudio_source ausine,440\naudio_player aubridge,x\nausrc_srate 48000\nausrc_channels 2\nmodule_app account.so\n",
            free_port(),
            stream_ua::self_signed(&rig.srv.dir).display(),
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("accounts"),
        format!(
            "<sip:{user}@{DOMAIN}>;auth_pass=pw-{user};outbound=\"sip:{tls};transport=tls\";regint=600;answermode=auto\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(conf.join("baresip.log")).unwrap();
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&conf)
        .arg("-t")
        .arg("60")
        .arg("-s")
        // Loopback only: its SDP must not name the machine's other addresses.
        .args(["-n", "127.0.0.1"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start baresip");
    Baresip(child)
}

#[test]
fn baresip_registers_over_tls_and_answers_a_call_over_its_connection() {
    let ports = Ports::new();
    let rig = rig_with(vec![Reply::Json(connect("carol"))], &ports, &[]);
    rig.endpoint("alice");
    rig.endpoint("carol");
    let _phone = baresip_tls(&rig, ports.tls, "carol");
    let deadline = Instant::now() + 10 * SEC;
    while registrations_of(&rig, "carol").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let regs = registrations_of(&rig, "carol");
    assert_eq!(
        regs.len(),
        1,
        "baresip did not register over TLS; its log:\n{}",
        std::fs::read_to_string(rig.dir.path().join("baresip-carol/baresip.log"))
            .unwrap_or_default()
    );
    assert_eq!(regs[0]["transport"], "tls");
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let dialog = alice.final_response(&mut out, 15 * SEC);
    let mut dialog = dialog.unwrap_or_else(|s| {
        panic!(
            "the call to baresip over TLS failed with {s}; baresip log:\n{}",
            std::fs::read_to_string(rig.dir.path().join("baresip-carol/baresip.log"))
                .unwrap_or_default()
        )
    });
    assert_eq!(alice.bye(&mut dialog), 200);
}

/// JsSIP (npm, pinned by scripts/setup into target/tools/jssip) in Node 20, driven by
/// tests/jssip/client.js; the JSON lines it printed, once it exited (killed by PID after
/// `seconds` if it did not).
fn jssip(
    logs: &Path,
    url: &str,
    user: &str,
    password: &str,
    mode: &str,
    ca: &Path,
    seconds: u32,
) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("target/tools/jssip/node_modules");
    assert!(
        modules.join("jssip").is_dir() && modules.join("ws").is_dir(),
        "JsSIP is not installed; run scripts/setup (npm jssip and ws into target/tools/jssip)"
    );
    let mut child = Command::new("node")
        .arg(root.join("tests/jssip/client.js"))
        .env("NODE_PATH", &modules)
        .env("NODE_EXTRA_CA_CERTS", ca)
        .env("RM_WS_URL", url)
        .env("RM_URI", format!("sip:{user}@{DOMAIN}"))
        .env("RM_PASSWORD", password)
        .env("RM_MODE", mode)
        .env("RM_SECONDS", seconds.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .env("DEBUG", "JsSIP:*")
        // Its own debug log beside the server's (kept with RINGMASTER_E2E_KEEP=1).
        .stderr(std::fs::File::create(logs.join(format!("jssip-{user}-{mode}.log"))).unwrap())
        .spawn()
        .expect("node");
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 5);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn has(events: &[Value], name: &str) -> bool {
    events.iter().any(|e| e["event"] == name)
}

#[test]
fn jssip_registers_over_ws_and_wss_is_refused_a_wrong_password_and_is_called_over_its_socket() {
    let ports = Ports::new();
    let rig = rig_with(vec![Reply::Json(connect("webby"))], &ports, &[]);
    rig.endpoint("alice");
    rig.endpoint("webby");
    let ca = stream_ua::self_signed(&rig.srv.dir);
    let ws = format!("ws://{}", ports.ws);
    let wss = format!("wss://{}", ports.wss);
    for url in [&ws, &wss] {
        let ev = jssip(&rig.srv.dir, url, "webby", "pw-webby", "register", &ca, 10);
        assert!(has(&ev, "registered"), "{url}: {ev:?}\n{}", rig.srv.log());
        let ev = jssip(&rig.srv.dir, url, "webby", "wrong", "register", &ca, 10);
        assert!(
            has(&ev, "registrationFailed") && !has(&ev, "registered"),
            "{url}: {ev:?}"
        );
    }
    // JsSIP registered over wss stays connected; a caller's INVITE reaches it over that
    // socket (it declines: Node has no WebRTC to answer with).
    std::thread::scope(|s| {
        let ua = s.spawn(|| jssip(&rig.srv.dir, &wss, "webby", "pw-webby", "busy", &ca, 20));
        let deadline = Instant::now() + 10 * SEC;
        while registrations_of(&rig, "webby")
            .iter()
            .all(|r| r["transport"] != "wss")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut alice = rig.phone("alice");
        let mut out = alice.invite("5000", Rtp::bind().addr);
        let status = alice.final_response(&mut out, 15 * SEC).err();
        let ev = ua.join().unwrap();
        let incoming = ev.iter().find(|e| e["event"] == "incoming");
        let incoming = incoming.unwrap_or_else(|| panic!("JsSIP got no INVITE: {ev:?}"));
        assert!(
            incoming["via"]
                .as_str()
                .unwrap()
                .starts_with("SIP/2.0/WSS "),
            "{incoming}"
        );
        assert!(
            incoming["ruri"].as_str().unwrap().contains(".invalid"),
            "{incoming}"
        );
        assert_eq!(
            status,
            Some(486),
            "the browser's refusal reaches the caller"
        );
    });
}

/// A carrier on `listener` speaking SIP over TLS with this certificate: it takes one
/// connection, answers the first INVITE 486 and its ACK, and returns the INVITE's text (None
/// when the handshake or the wait failed).
fn tls_carrier(
    listener: std::net::TcpListener,
    cert: &Path,
    key: &Path,
) -> std::thread::JoinHandle<Option<String>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    std::thread::spawn(move || {
        // Bounded: a server that never connects ends the wait after 15 s.
        listener.set_nonblocking(true).ok()?;
        let deadline = Instant::now() + 15 * SEC;
        let tcp = loop {
            match listener.accept() {
                Ok((tcp, _)) => break tcp,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return None,
            }
        };
        tcp.set_nonblocking(false).ok()?;
        tcp.set_read_timeout(Some(10 * SEC)).ok()?;
        let conn = rustls::ServerConnection::new(config).ok()?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut framer = engine::sip::stream::StreamFramer::new(Default::default());
        let mut buf = [0u8; 16384];
        let deadline = Instant::now() + 10 * SEC;
        while Instant::now() < deadline {
            let n = tls.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            framer.push(&buf[..n]);
            while let Ok(Some(engine::sip::stream::Frame::Message(b))) = framer.next_frame() {
                let text = String::from_utf8_lossy(&b).into_owned();
                if let Ok(engine::sip::message::Message::Request(req)) =
                    engine::sip::message::parse(b)
                {
                    if req.method.as_str() == "INVITE" {
                        let r = engine::sip::message::response_to(&req, 486, Some("carrier1"));
                        tls.write_all(&r.encode().unwrap()).ok()?;
                        tls.flush().ok()?;
                        return Some(text);
                    }
                }
            }
        }
        None
    })
}

#[test]
fn trunks_over_tls_verify_the_carrier_and_an_impostor_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_pair(certs.path(), "carrier");
    let (bad_cert, bad_key) = openssl_pair(certs.path(), "impostor");
    let ports = Ports::new();
    let script = json!([{"action": "connect", "timeout": 5,
                         "call": [{"type": "pstn", "number": "14155550199"}]}]);
    let rig = rig_with(
        vec![Reply::Json(script)],
        &ports,
        &["--tls-trust", cert.to_str().unwrap()],
    );
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let add_trunk = |name: &str, port: u16| {
        let out = rig.srv.cli(&[
            "trunk",
            "add",
            "--name",
            name,
            "--address",
            &format!("localhost:{port}"),
            "--transport",
            "tls",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // The trusted carrier: the INVITE arrives over TLS for it, and its answer comes back.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let carrier = tls_carrier(listener, &cert, &key);
    add_trunk("carrier", port);
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let status = alice.final_response(&mut out, 15 * SEC).err();
    let invite = carrier.join().unwrap().unwrap_or_else(|| {
        panic!(
            "the carrier got no INVITE over TLS; log:\n{}",
            rig.srv.log()
        )
    });
    assert!(
        invite.starts_with("INVITE sip:14155550199@localhost:"),
        "{invite}"
    );
    assert!(
        invite.lines().next().unwrap().contains(";transport=tls"),
        "{invite}"
    );
    assert!(invite.contains("Via: SIP/2.0/TLS "), "{invite}");
    assert_eq!(status, Some(486), "the carrier's answer reaches the caller");

    // A carrier whose certificate nobody vouches for (first by name now): no SIP reaches it,
    // the handshake failure is counted, and the caller gets a failure.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let impostor = tls_carrier(listener, &bad_cert, &bad_key);
    add_trunk("a-impostor", port);
    let before = metric(rig.srv.http, "ringmaster_sip_tls_handshake_failures_total").unwrap_or(0.0);
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let status = alice.final_response(&mut out, 20 * SEC).err();
    assert!(
        impostor.join().unwrap().is_none(),
        "SIP reached an unverified carrier"
    );
    assert!(status.is_some_and(|s| s >= 400), "{status:?}");
    assert!(
        metric(rig.srv.http, "ringmaster_sip_tls_handshake_failures_total").unwrap_or(0.0) > before,
        "the refused handshake is counted"
    );
}
