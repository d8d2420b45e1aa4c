//! `stream` on the wire, message by message, with an agent written here on blocking
//! tungstenite (the Python agents and Pipecat are `e2e_stream.rs`): the signed upgrade, the
//! `connected`/`start`/`media` shapes and sizes, the agent's audio reaching the caller intact,
//! a `mark` coming back once its audio has played, and the script's next action once the
//! agent closes.

mod support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::Message;

const SEC: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Seen {
    signature: Option<String>,
    path: String,
    texts: Vec<Value>,
}

/// One agent connection: it answers `frames` μ-law frames of 0xD5 (what the test caller
/// counts as intact) and a mark, keeps reading for `hold`, then closes.
#[allow(clippy::result_large_err)]
fn agent(frames: usize, hold: Duration) -> (u16, Arc<Mutex<Seen>>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let thread = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let s2 = s.clone();
        let mut ws = tungstenite::accept_hdr(tcp, move |req: &Request, resp: Response| {
            let mut g = s2.lock().unwrap();
            g.signature = req
                .headers()
                .get("x-ringmaster-signature")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            g.path = req.uri().to_string();
            Ok(resp)
        })
        .unwrap();
        let until = Instant::now() + hold;
        let mut answered = false;
        while Instant::now() < until {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    let is_start = v["event"] == "start";
                    s.lock().unwrap().texts.push(v);
                    if is_start && !answered {
                        answered = true;
                        let payload = STANDARD.encode([0xD5u8; 160]);
                        for _ in 0..frames {
                            let m = json!({"event": "media", "streamSid": "x", "media": {"payload": payload}});
                            ws.send(Message::text(m.to_string())).unwrap();
                        }
                        ws.send(Message::text(
                            json!({"event": "mark", "mark": {"name": "done"}}).to_string(),
                        ))
                        .unwrap();
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = ws.close(None);
        let _ = ws.flush();
    });
    (port, seen, thread)
}

#[test]
fn a_caller_streams_to_an_agent_and_hears_it_then_the_script_goes_on() {
    let (port, seen, agent) = agent(75, 4 * SEC);
    let url = format!("ws://127.0.0.1:{port}/agent?call=1");
    let rig = Rig::start(vec![Reply::Json(json!([
        {"action": "stream", "ws_url": url, "listen_mode": "caller", "voice_quality": "8000"},
        {"action": "hangup"}
    ]))]);
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let rtp = Rtp::bind();
    let mut out = alice.invite("5000", rtp.addr);
    let d = alice.final_response(&mut out, 5 * SEC).expect("answered");
    let sender = rtp.send(d.remote_rtp.expect("our SDP"), 150);
    // The agent's 75 frames (1.5 s) reach the caller intact, paced.
    assert!(
        rtp.wait_received(70, 5 * SEC) >= 70,
        "heard {}",
        rtp.received()
    );
    sender.join().unwrap();
    agent.join().unwrap();
    // The agent closed: the script's next action (hangup) runs.
    alice.expect_bye(&d, 5 * SEC);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.path, "/agent?call=1");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    engine::webhook::verify(
        &rig.secret,
        seen.signature.as_deref().expect("signed"),
        b"/agent?call=1",
        now,
        300,
    )
    .expect("the upgrade's signature verifies over path and query");
    let events: Vec<&str> = seen
        .texts
        .iter()
        .filter_map(|v| v["event"].as_str())
        .collect();
    assert_eq!(&events[..2], ["connected", "start"]);
    let start = &seen.texts[1]["start"];
    assert_eq!(
        start["mediaFormat"],
        json!({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1})
    );
    assert_eq!(start["tracks"], json!(["inbound"]));
    assert_eq!(start["from"], "alice");
    let media: Vec<&Value> = seen
        .texts
        .iter()
        .filter(|v| v["event"] == "media")
        .collect();
    assert!(media.len() >= 100, "{} media frames over ~3 s", media.len());
    assert!(media.iter().all(|m| {
        m["media"]["track"] == "inbound"
            && STANDARD
                .decode(m["media"]["payload"].as_str().unwrap())
                .unwrap()
                .len()
                == 160
    }));
    let marks: Vec<&Value> = seen.texts.iter().filter(|v| v["event"] == "mark").collect();
    assert_eq!(
        marks.len(),
        1,
        "the mark comes back once its audio has played"
    );
    assert_eq!(marks[0]["mark"]["name"], "done");
}
