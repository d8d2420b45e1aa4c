//! Issue 15: browsers call and are called. Headless Chromium runs JsSIP, SIP.js and piopiyjs
//! (npm, unchanged) over wss against the real binary; a real SIP phone (Debian's baresip)
//! is on the other side where a phone belongs. Every side sends its own sine tone and each
//! checks it hears the *other's* frequency: the browser with a WebAudio analyser on its remote
//! track (FFT peak within a bin, 5.4 Hz), the phone in the audio it dumped (Goertzel purity).
//!
//! They need WebRTC legs (issue 15 item 2: ICE-lite, DTLS-SRTP, G.711 over
//! `UDP/TLS/RTP/SAVPF`, bundled video between browsers). Everything on 127.0.0.0/8; every
//! process stopped by PID.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::audio::tone_frames;
use support::baresip::{Baresip, PhoneSpec};
use support::browser::{Browsers, Sdk};
use support::http::Reply;
use support::rig::Rig;
use support::transports::{registrations_of, rig_with, Ports};

const SEC: Duration = Duration::from_secs(1);

/// A server with wss on, whose app answers every call with `script`.
fn rig(script: Value) -> (Rig, Ports) {
    let ports = Ports::new();
    let rig = rig_with(vec![Reply::Json(script)], &ports, &[]);
    (rig, ports)
}

/// `add_sip` for `user` (password `pw-<user>`), as the app calls it; its response.
fn add_sip(rig: &Rig, user: &str) -> Value {
    let (status, body) = rig.srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": rig.appid, "secret": rig.secret, "username": user, "password": format!("pw-{user}")}),
    );
    assert_eq!(status, 200, "add_sip {user}: {body}");
    body
}

/// Opens a JsSIP or SIP.js page for a new endpoint `user` with the `add_sip` fields, sending
/// `tone` Hz, and waits until it is registered over wss.
fn browser_user(rig: &Rig, b: &mut Browsers, sdk: Sdk, user: &str, tone: u32) {
    let ep = add_sip(rig, user);
    b.open(
        user,
        sdk,
        tone,
        json!({"wss": ep["wss_URL"], "uri": ep["sip_uri"], "user": user, "password": format!("pw-{user}")}),
    );
    // Generous: JsSIP retries a failed WebSocket connection after 2 s, then backs off.
    b.wait(user, "registered", 30 * SEC);
    assert!(
        registrations_of(rig, user)
            .iter()
            .any(|r| r["transport"] == "wss"),
        "{user} is not registered over wss"
    );
}

/// baresip registered as a new endpoint `user`, sending `tone` Hz, dialling `dial` if given.
fn phone(rig: &Rig, user: &str, tone: u32, dial: Option<&str>) -> Baresip {
    add_sip(rig, user);
    let aor = format!("{user}@test.local");
    let password = format!("pw-{user}");
    let p = Baresip::start(
        rig.dir.path(),
        &PhoneSpec {
            aor: &aor,
            password: &password,
            server: rig.srv.sip,
            tone,
            dial,
            seconds: 60,
        },
    );
    assert!(
        p.wait_log("200 OK", 10 * SEC),
        "baresip did not register:\n{}",
        p.log()
    );
    p
}

/// Page `id` hears `hz`: the FFT peak of its remote audio is within a bin of it (measured
/// up to 8 times, a second each, while the media settles). Returns the last measure.
fn browser_hears(b: &mut Browsers, id: &str, hz: u32) -> f64 {
    let mut last = (0.0, 0.0);
    for _ in 0..8 {
        last = b.heard_hz(id);
        if (last.0 - f64::from(hz)).abs() <= last.1 {
            return last.0;
        }
    }
    panic!(
        "{id} heard {} Hz (bin {} Hz), not {hz} Hz\n{}",
        last.0,
        last.1,
        b.report()
    );
}

/// baresip heard at least a second (50 frames of 20 ms) of a pure `hz` tone (bounded wait)
/// from page `id` (whose RTP counters a failure reports).
fn phone_hears(p: &Baresip, hz: u32, b: &mut Browsers, id: &str) {
    let deadline = Instant::now() + 10 * SEC;
    loop {
        let got = tone_frames(&p.heard(), f64::from(hz));
        if got >= 50 {
            return;
        }
        if Instant::now() > deadline {
            let rtp = b.run(id, "rtpStats", json!([]));
            panic!(
                "the phone heard {got} frames of {hz} Hz; {id}'s RTP: {rtp}\n{}\n{}",
                b.report(),
                p.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn connect_to(user: &str) -> Value {
    json!([{"action": "connect", "timeout": 20, "call": [{"type": "sip", "user": user}]}])
}

#[test]
fn a_jssip_browser_calls_a_sip_phone_and_each_hears_the_others_tone() {
    let (rig, _ports) = rig(connect_to("desk"));
    let desk = phone(&rig, "desk", 1100, None);
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::JsSip, "web", 600);
    b.run("web", "call", json!(["sip:5000@test.local"]));
    b.wait("web", "confirmed", 20 * SEC);
    browser_hears(&mut b, "web", 1100);
    phone_hears(&desk, 600, &mut b, "web");
    b.run("web", "hangup", json!([]));
    b.wait("web", "ended", 10 * SEC);
    assert!(desk.wait_log("terminated", 10 * SEC), "{}", desk.log());
}

#[test]
fn a_sip_phone_calls_a_sipjs_browser_through_the_answer_url_and_each_hears_the_other() {
    let (rig, _ports) = rig(connect_to("web"));
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::SipJs, "web", 750);
    let caller = phone(&rig, "caller", 1300, Some("5000"));
    b.wait("web", "incoming", 20 * SEC);
    b.run("web", "answer", json!([]));
    b.wait("web", "confirmed", 20 * SEC);
    browser_hears(&mut b, "web", 1300);
    phone_hears(&caller, 750, &mut b, "web");
    b.run("web", "hangup", json!([]));
    b.wait("web", "ended", 10 * SEC);
    assert!(caller.wait_log("terminated", 10 * SEC), "{}", caller.log());
}

/// Two browsers (two chromiums, two tones), JsSIP calling SIP.js through a `connect`: each
/// hears the other's tone.
#[test]
fn browser_to_browser_audio() {
    let (rig, _ports) = rig(connect_to("sipjsb"));
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::JsSip, "jssipa", 500);
    browser_user(&rig, &mut b, Sdk::SipJs, "sipjsb", 900);
    b.run("jssipa", "call", json!(["sip:5000@test.local"]));
    b.wait("sipjsb", "incoming", 20 * SEC);
    b.run("sipjsb", "answer", json!([]));
    b.wait("jssipa", "confirmed", 20 * SEC);
    browser_hears(&mut b, "jssipa", 900);
    browser_hears(&mut b, "sipjsb", 500);
    b.run("jssipa", "hangup", json!([]));
    b.wait("sipjsb", "ended", 10 * SEC);
}

/// The same with `call_type: video` and cameras: audio both ways, and each one's remote video
/// track plays (a second of frames decoded, per `getStats`). The caller's video rides its
/// audio transport (BUNDLE) to the callee, undecoded.
#[test]
fn browser_to_browser_audio_and_video() {
    let script = json!([{"action": "connect", "timeout": 20, "call_type": "video",
                         "call": [{"type": "sip", "user": "vidb"}]}]);
    let (rig, _ports) = rig(script);
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::JsSip, "vida", 500);
    browser_user(&rig, &mut b, Sdk::SipJs, "vidb", 900);
    b.run("vida", "call", json!(["sip:5000@test.local", true]));
    b.wait("vidb", "incoming", 20 * SEC);
    b.run("vidb", "answer", json!([true]));
    b.wait("vida", "confirmed", 20 * SEC);
    browser_hears(&mut b, "vida", 900);
    browser_hears(&mut b, "vidb", 500);
    for id in ["vida", "vidb"] {
        let deadline = Instant::now() + 10 * SEC;
        loop {
            // A second of video at least (the fake camera sends 30 frames a second).
            let v = b.run(id, "videoStats", json!([]));
            if v["framesDecoded"].as_u64().unwrap_or(0) >= 30 && v["frameWidth"].as_u64() > Some(0)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: too little video decoded: {v}\n{}",
                b.report()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    b.run("vida", "hangup", json!([]));
    b.wait("vidb", "ended", 10 * SEC);
}

/// A JsSIP caller keys 1 2 3 # (RFC 4733 in its RTP) during `play_get_input`: the action URL
/// gets the digits.
#[test]
fn a_browser_callers_dtmf_reaches_play_get_input() {
    let (rig, _ports) = rig(json!([]));
    rig.web.set_replies(vec![Reply::Json(json!([{
        "action": "play_get_input",
        "prompt": {"type": "say", "say": "Key in your code, then the pound key."},
        "dtmf": {"max_digits": 8, "finish_on_key": "#",
                 "first_digit_timeout": 15, "inter_digit_timeout": 5},
        "on_result": {"type": "url", "url": rig.web.url("/digits")}
    }]))]);
    rig.web
        .route("/digits", Reply::Json(json!([{"action": "hangup"}])));
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::JsSip, "keys", 650);
    b.run("keys", "call", json!(["sip:5000@test.local"]));
    b.wait("keys", "confirmed", 20 * SEC);
    // Digits go in RTP: wait until the media path is up (the prompt is heard).
    b.wait_event(
        |e| e["id"] == "keys" && e["event"] == "iceState" && e["state"] == "connected",
        10 * SEC,
    );
    std::thread::sleep(SEC);
    b.run("keys", "dtmf", json!(["123#"]));
    let hits = rig.web.wait_hits("/digits", 20 * SEC, |h| !h.is_empty());
    assert!(!hits.is_empty(), "no action-URL request\n{}", b.report());
    let body = hits[0].json();
    assert_eq!(body["dtmf"], "123", "{body}");
    assert_eq!(body["from"], "keys");
    b.wait("keys", "ended", 10 * SEC);
}

/// A group `connect` rings a browser user and a SIP user at once: the browser answers, the
/// caller is connected to it, and the SIP user's INVITE is CANCELled.
#[test]
fn a_group_connect_rings_a_browser_and_a_phone_the_browser_answers_the_phone_is_cancelled() {
    let script = json!([{"action": "connect", "ring_type": "group", "timeout": 20,
                         "call": [{"type": "sip", "user": "grpweb"}, {"type": "sip", "user": "grpdesk"}]}]);
    let (rig, _ports) = rig(script);
    let mut b = Browsers::start(rig.dir.path());
    browser_user(&rig, &mut b, Sdk::JsSip, "grpweb", 800);
    rig.endpoint("grpdesk");
    rig.endpoint("alice");
    let mut desk = rig.phone("grpdesk");
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", support::rtp::Rtp::bind().addr);
    let ringing = desk.expect_request("INVITE", None, 15 * SEC);
    desk.reply(&ringing, 180, None);
    b.wait("grpweb", "incoming", 15 * SEC);
    b.run("grpweb", "answer", json!([]));
    let mut dialog = alice
        .final_response(&mut out, 20 * SEC)
        .unwrap_or_else(|s| panic!("the caller got {s}\n{}", b.report()));
    desk.expect_cancel(&ringing, 10 * SEC);
    b.wait("grpweb", "confirmed", 10 * SEC);
    assert_eq!(alice.bye(&mut dialog), 200);
    b.wait("grpweb", "ended", 10 * SEC);
}

/// piopiyjs as a PIOPIY app uses it: `login` with `add_sip`'s `webrtc_domain`, `call()` a
/// number, answered (the answer URL connects a SIP phone), audio both ways, `terminate()`.
#[test]
fn piopiyjs_logs_in_with_the_add_sip_field_calls_hears_and_terminates() {
    let (rig, ports) = rig(connect_to("agent"));
    let agent = phone(&rig, "agent", 1250, None);
    let ep = add_sip(&rig, "pio");
    let domain = ep["webrtc_domain"]
        .as_str()
        .expect("webrtc_domain")
        .to_string();
    assert_eq!(domain, ports.wss.to_string());
    let mut b = Browsers::start(rig.dir.path());
    b.open(
        "pio",
        Sdk::Piopiy,
        850,
        json!({"user": "pio", "password": "pw-pio", "domain": domain}),
    );
    b.wait("pio", "login", 15 * SEC);
    b.run("pio", "call", json!(["5000"]));
    b.wait("pio", "answered", 20 * SEC);
    browser_hears(&mut b, "pio", 1250);
    phone_hears(&agent, 850, &mut b, "pio");
    b.run("pio", "hangup", json!([]));
    // piopiyjs reports its own hang-up as `hangup` (`ended` is for the far end's).
    b.wait("pio", "hangup", 10 * SEC);
    assert!(agent.wait_log("terminated", 10 * SEC), "{}", agent.log());
    // piopiyjs's cloud calls fail here, and that is the only failure it reports.
    let events = b.events_of("pio", Duration::ZERO);
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "loginFailed" || e["event"] == "error")
            .all(|e| e["code"] == 407 && e["status"] == "Token generation failed"),
        "{events:?}"
    );
}
