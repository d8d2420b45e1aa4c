//! Issue 13, items 3 (SSRF) and 5 (SIP header injection), against the real binary. The
//! egress policy allows one loopback address (127.0.0.5, "the app's server") and refuses the
//! rest of 127.0.0.0/8; listeners on 127.0.0.9 (and 127.0.0.1 reached by the name
//! `localhost`) play the internal services an app must not reach. They count connections and
//! datagrams: zero means nothing was sent. The operator's answer URL (127.0.0.1, set with the
//! admin token) stays trusted.

mod support;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::sip::message::{HeaderName, HeaderView};
use serde_json::json;
use support::audio::{decode, tone_frames, tone_wav_bytes, Capture, Law};
use support::http::{HttpStub, Reply};
use support::rig::Rig;
use support::rtp::Rtp;
use support::ua::Ua;

const SEC: Duration = Duration::from_secs(1);

/// Only 127.0.0.5 is allowed; `[calls]` as the other call tests have it.
const CONFIG: &str = "[policy]\nallow_networks = [\"127.0.0.5/32\"]\n[calls]\nanswer_timeout_ms = 1500\nanswer_connect_timeout_ms = 1000\n";

/// A TCP listener that counts the connections made to it (and answers none).
struct TcpCounter {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl TcpCounter {
    fn on(ip: &str) -> TcpCounter {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (count, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (c, s) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok(_) => {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TcpCounter { addr, count, stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for TcpCounter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Datagrams that reached a UDP socket within `wait`.
fn datagrams(sock: &UdpSocket, wait: Duration) -> usize {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let until = std::time::Instant::now() + wait;
    let mut n = 0;
    let mut buf = [0u8; 2048];
    while std::time::Instant::now() < until {
        if sock.recv_from(&mut buf).is_ok() {
            n += 1;
        }
    }
    n
}

/// `file_url` and `action_url` pointing at a refused address — as an IP literal, as the name
/// `localhost`, or through a redirect from the allowed server — are never fetched: the
/// listeners see no connection, the app gets one generic reason, and the script goes on to
/// the allowed action URL, whose script plays the allowed prompt. The operator's loopback
/// answer URL served the first script.
#[test]
fn app_urls_to_refused_addresses_are_never_fetched_and_the_call_goes_on() {
    let internal = TcpCounter::on("127.0.0.9");
    let app = HttpStub::start_on("127.0.0.5", vec![Reply::Status(500)]);
    app.route("/hop.wav", Reply::Redirect(internal.url("/hopped.wav")));
    app.route("/hop-menu", Reply::Redirect(internal.url("/hopped-menu")));
    app.route(
        "/ok.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(1200.0, 0.6)),
    );
    app.route(
        "/menu",
        Reply::Json(json!([{"action": "play", "file_url": app.url("/ok.wav")}])),
    );
    let rig = Rig::configured(vec![Reply::Status(500)], None, CONFIG);
    // `localhost` is 127.0.0.1: the operator's own web server, by a name the app chose.
    let by_name = format!("http://localhost:{}/byname.wav", rig.web.addr.port());
    rig.web.set_replies(vec![Reply::Json(json!([
        {"action": "play", "file_url": internal.url("/direct.wav")},
        {"action": "play", "file_url": by_name},
        {"action": "play", "file_url": app.url("/hop.wav")},
        {"action": "input", "max_digit": 1, "timeout": 1, "action_url": internal.url("/menu")},
        {"action": "input", "max_digit": 1, "timeout": 1, "action_url": app.url("/hop-menu")},
        {"action": "input", "max_digit": 1, "timeout": 1, "action_url": app.url("/menu")}
    ]))]);
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let cap = Capture::bind();
    let mut out = alice.invite("5000", cap.addr);
    let d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by the operator's answer URL's script");
    alice.expect_bye(&d, 20 * SEC);

    assert_eq!(internal.connections(), 0, "nothing reached 127.0.0.9");
    assert!(
        rig.web.hits("/byname.wav").is_empty(),
        "localhost was not fetched"
    );
    assert_eq!(
        rig.web.hits("/answer").len(),
        1,
        "the operator's answer URL works"
    );
    assert_eq!(app.hits("/hop.wav").len(), 1);
    assert_eq!(app.hits("/hop-menu").len(), 1);
    assert_eq!(
        app.hits("/menu").len(),
        1,
        "the script went on to the allowed URL"
    );
    assert_eq!(app.hits("/ok.wav").len(), 1);
    let heard = tone_frames(&decode(&cap.audio(Law::Mu), Law::Mu), 1200.0);
    assert!(heard > 20, "the allowed prompt was heard ({heard} frames)");

    // Three refused prompts, each told alike, none saying why.
    let errors = rig.error_events();
    assert_eq!(errors.len(), 3, "{errors:?}");
    for e in &errors {
        assert_eq!(e["code"], "play_failed", "{e}");
        let m = e["message"].as_str().unwrap_or("");
        assert!(m.ends_with(": the URL could not be fetched"), "{m}");
        for leak in [
            "refused",
            "policy",
            "timed out",
            "reach",
            "HTTP",
            "loopback",
        ] {
            assert!(!m.contains(leak), "{m}");
        }
    }
    let log = rig.srv.log();
    assert!(
        log.contains("app URL refused"),
        "the operator's log says why"
    );
}

/// `pcmo_make_call`: CR/LF in `from` (raw or %-encoded) and an `answer_url` on a refused
/// address are clear 400s and dial nobody; an `answer_url` whose name resolves to a refused
/// address is taken, but never fetched: the callee answers and hears the call end.
#[test]
fn make_call_refuses_injected_headers_and_refused_answer_urls() {
    let internal = TcpCounter::on("127.0.0.9");
    let rig = Rig::configured(vec![Reply::Status(500)], None, CONFIG);
    rig.endpoint("bob");
    let mut bob = rig.phone("bob");
    let call = |from: &str, answer_url: Option<String>| {
        let mut body = json!({"appid": rig.appid, "secret": rig.secret, "from": from, "to": "bob"});
        if let Some(u) = answer_url {
            body["answer_url"] = json!(u);
        }
        rig.srv.post("/v1/pcmo_make_call", body)
    };
    for from in [
        "1000\r\nX-Evil: yes",
        "1000\nX-Evil: yes",
        "1000%0D%0AX-Evil:%20yes",
    ] {
        let (status, body) = call(from, None);
        assert_eq!(status, 400, "{from:?}: {body}");
        assert_eq!(body["error"], "invalid_property", "{body}");
        assert!(body.to_string().contains("from"), "{body}");
    }
    let (status, body) = call("1000", Some(internal.url("/answer")));
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("answer_url"), "{body}");
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(500))
            .is_none(),
        "a refused call dials nobody"
    );

    // By name: accepted, resolved at fetch time to 127.0.0.1, refused there.
    let by_name = format!("http://localhost:{}/app-answer", rig.web.addr.port());
    let (status, body) = call("1000", Some(by_name));
    assert_eq!(status, 200, "{body}");
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d = bob.answer(&inv, Rtp::bind().addr);
    bob.expect_bye(&d, 10 * SEC);
    assert!(rig.web.hits("/app-answer").is_empty());
    assert_eq!(internal.connections(), 0);
    // The event goes out through the outbox, not necessarily before the BYE: waited for.
    rig.web.wait_hits("/events", 5 * SEC, |h| {
        h.iter().any(|h| h.json()["status"] == "error")
    });
    let errors = rig.error_events();
    assert!(
        errors
            .iter()
            .any(|e| e["message"] == "the answer URL could not be fetched"),
        "{errors:?}"
    );
}

/// A trunk call whose caller id arrives %-encoded with CR LF (`%0D%0A`) is connected to bob:
/// the INVITE bob receives has no injected header, and the caller id stays escaped inside
/// its From URI.
#[test]
fn a_decoded_caller_id_never_becomes_a_header() {
    const OWNED: &str = "14155550123";
    let script =
        json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::configured(vec![Reply::Json(script)], None, CONFIG);
    let evil = "1000%0D%0AX-Evil%3A%20yes";
    let mut pstn = Ua::bind_at("127.0.0.2", rig.srv.sip, "carrier.example", evil, "");
    let trunk = rig.srv.cli(&[
        "trunk",
        "add",
        "--name",
        "carrier",
        "--address",
        &pstn.addr.to_string(),
        "--allow-ip",
        "127.0.0.2",
    ]);
    assert!(
        trunk.status.success(),
        "{}",
        String::from_utf8_lossy(&trunk.stderr)
    );
    let number = rig
        .srv
        .cli(&["number", "add", OWNED, "--app", &rig.appid.to_string()]);
    assert!(number.status.success());
    rig.endpoint("bob");
    let mut bob = rig.phone("bob");

    let mut out = pstn.invite_plain(&format!("sip:{OWNED}@{}", rig.srv.sip), Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    assert!(
        inv.req.headers.get_other("X-Evil").is_none(),
        "{:?}",
        inv.req
    );
    let from = inv.req.headers.get(&HeaderName::From).unwrap_or("");
    assert!(from.contains("1000%0D%0AX-Evil"), "{from}");
    let shown = inv.req.hdr_from().unwrap();
    assert_eq!(
        shown
            .uri
            .as_sip()
            .and_then(|u| u.user_unescaped())
            .as_deref(),
        Some("1000\r\nX-Evil: yes"),
        "the caller id itself is kept"
    );
    let d_b = bob.answer(&inv, Rtp::bind().addr);
    let mut d_a = pstn.final_response(&mut out, 5 * SEC).expect("answered");
    assert_eq!(pstn.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
}

/// `connect` to SIP URIs: one on a refused address literal and one whose name (`localhost`)
/// resolves to one get no packet; the allowed one rings and answers, so the call goes on.
#[test]
fn connect_to_a_refused_sip_target_sends_nothing_and_rings_the_next() {
    let internal = UdpSocket::bind("127.0.0.9:0").unwrap();
    let named = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut carol = Ua::bind_at(
        "127.0.0.5",
        "127.0.0.1:9".parse().unwrap(),
        "x",
        "carol",
        "",
    );
    let uris = [
        format!("sip:ops@{}", internal.local_addr().unwrap()),
        format!("sip:ops@localhost:{}", named.local_addr().unwrap().port()),
        format!("sip:carol@{}", carol.addr),
    ];
    let endpoints: Vec<_> = uris
        .iter()
        .map(|u| json!({"type": "sip", "uri": u}))
        .collect();
    let script = json!([{"action": "connect",
        "params": {"caller_id": "14155550100", "strategy": "sequential",
                   "options": {"ring_timeout_sec": 10}},
        "endpoints": endpoints}]);
    let rig = Rig::configured(vec![Reply::Json(script)], None, CONFIG);
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = carol.expect_request("INVITE", None, 5 * SEC);
    let d_c = carol.answer(&inv, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by carol");
    assert_eq!(alice.bye(&mut d_a), 200);
    carol.expect_bye(&d_c, 5 * SEC);
    assert_eq!(datagrams(&internal, Duration::from_millis(200)), 0);
    assert_eq!(datagrams(&named, Duration::from_millis(200)), 0);
    let errors = rig.error_events();
    let refused: Vec<_> = errors
        .iter()
        .filter(|e| e["code"] == "target_unroutable")
        .collect();
    assert_eq!(refused.len(), 2, "{errors:?}");
    assert!(refused
        .iter()
        .all(|e| e["message"].as_str().unwrap_or("").contains("403")));
}
