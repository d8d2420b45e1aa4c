//! Issue 15 item 1 with real clients and carriers: JsSIP (npm, in Node 20 with `ws`)
//! registers over ws and wss and is called over its socket; Debian's baresip registers over
//! SIP/TLS and answers a call that reaches it over its connection; a trunk with `transport
//! tls` gets a verified TLS connection, and a carrier whose certificate nobody vouches for
//! gets no SIP at all. Everything on 127.0.0.0/8; every process is stopped by PID.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::free_port;
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;
use support::stream_ua;
use support::transports::{connect, openssl_pair, registrations_of, rig_with, Ports};
use support::wire::metric;

const SEC: Duration = Duration::from_secs(1);
const DOMAIN: &str = "test.local";

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
