//! What the `stream` end-to-end tests (`e2e_stream`, `e2e_stream_agents`) share: the tones
//! each party sends, a baresip phone, the `stream` action, the prompt after it, and the
//! checks every stream's `connected`/`start` must pass.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::audio::{tone_frames, tone_wav_bytes};
use super::baresip::{Baresip, PhoneSpec};
use super::http::Reply;
use super::rig::Rig;
use super::stream_agent::Seen;

pub const SEC: Duration = Duration::from_secs(1);
/// What the caller sends.
pub const CALLER_HZ: u32 = 700;
/// What the agent answers with.
pub const AGENT_HZ: u32 = 1400;
/// The prompt of the script's action after the stream.
pub const NEXT_HZ: u32 = 500;
/// The called party's tone in a bridged call.
pub const CALLEE_HZ: u32 = 1100;

/// A baresip phone of `user` sending a `hz` sine, dialling `dial` at start.
pub fn phone(rig: &Rig, user: &str, hz: u32, dial: Option<&str>) -> Baresip {
    rig.endpoint(user);
    let aor = format!("{user}@test.local");
    let password = format!("pw-{user}");
    Baresip::start(
        rig.dir.path(),
        &PhoneSpec {
            aor: &aor,
            password: &password,
            server: rig.srv.sip,
            tone: hz,
            dial,
            seconds: 40,
        },
    )
}

/// Waits (bounded) until `phone` heard at least `n` 20 ms frames of `hz`; how many it heard.
pub fn hears(phone: &Baresip, hz: u32, n: usize) -> usize {
    let deadline = Instant::now() + 20 * SEC;
    loop {
        let got = tone_frames(&phone.heard(), f64::from(hz));
        if got >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn stream(url: &str, listen_mode: &str, quality: &str) -> Value {
    json!({"action": "stream", "ws_url": url, "listen_mode": listen_mode,
           "voice_quality": quality})
}

/// The action after the stream: 2 s of a `NEXT_HZ` prompt served by the app's web server.
pub fn next_prompt(rig: &Rig) -> Value {
    rig.web.route(
        "/next.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(f64::from(NEXT_HZ), 2.0)),
    );
    json!({"action": "play", "file_url": rig.web.url("/next.wav")})
}

/// A rig whose answer URL returns `script(rig)` (built once the rig's URLs are known).
pub fn rig_with(script: impl FnOnce(&Rig) -> Value) -> Rig {
    let rig = Rig::start(vec![Reply::Status(500)]);
    let s = script(&rig);
    rig.web.set_replies(vec![Reply::Json(s)]);
    rig
}

/// The checks every stream's first messages must pass: `connected`, then `start` for this
/// call with `tracks` and this media format, sequence numbers in order.
pub fn assert_start(seen: &Seen, rig: &Rig, tracks: &[&str], encoding: &str, rate: u32) {
    let events = seen.events();
    assert_eq!(events[..2], ["connected", "start"], "{events:?}");
    assert_eq!(seen.raw["connected"]["protocol"], "Call", "{}", seen.raw);
    let start = seen.start();
    let sid = start["streamSid"].as_str().unwrap_or("");
    assert!(!sid.is_empty(), "{start}");
    assert_eq!(start["start"]["streamSid"], sid, "{start}");
    assert_eq!(start["sequenceNumber"], "1", "{start}");
    assert_eq!(start["start"]["tracks"], json!(tracks), "{start}");
    assert_eq!(
        start["start"]["mediaFormat"],
        json!({"encoding": encoding, "sampleRate": rate, "channels": 1}),
        "{start}"
    );
    assert_eq!(start["start"]["appid"], json!(rig.appid), "{start}");
    let call = start["start"]["callSid"].as_str().unwrap_or("");
    assert!(!call.is_empty(), "{start}");
    assert_eq!(
        seen.header("x-ringmaster-call-id"),
        Some(call),
        "{}",
        seen.raw
    );
    assert_eq!(seen.bad_sequence(), 0, "sequenceNumber gaps: {events:?}");
}
