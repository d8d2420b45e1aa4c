//! Issue 20: recordings as MP3 and as a single channel, end to end. A bridged call where the
//! caller sends 600 Hz, then the callee 1400 Hz; the file is fetched through the recordings
//! API (its MIME type, `format`, `channels`, `duration_ms` checked) and decoded by the test:
//! an MP3 with symphonia, a WAV with hound. Both tones must be in the audio, the mono WAV's
//! in its one channel.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::audio::{read_wav, seconds, tone_frames, Capture, Law};
use support::http::Reply;
use support::rig::{admin_get, Rig};

const SEC: Duration = Duration::from_secs(1);

/// Runs a call with `script` (it must record and ring bob), the caller's tone then the
/// callee's, 1.5 s each; returns the recording event, the file's bytes, its Content-Type and
/// its entry in the recordings listing.
fn record_a_call(script: Value) -> (Value, Vec<u8>, String, Value) {
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let (cap_a, cap_b) = (Capture::bind(), Capture::bind());
    let mut out = alice.invite("5000", cap_a.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, cap_b.addr);
    let mut d_a = alice.final_response(&mut out, 5 * SEC).expect("bridged");
    let to_a = d_a.remote_rtp.expect("ringmaster's port for alice");
    let to_b = d_b.remote_rtp.expect("ringmaster's port for bob");
    // One party at a time, so each 20 ms of the mixed audio holds one tone.
    cap_a.send_tone(to_a, Law::Mu, 600.0, 1.5).join().unwrap();
    cap_b.send_tone(to_b, Law::Mu, 1400.0, 1.5).join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);

    let hits = rig.web.wait_hits("/events", 15 * SEC, |h| {
        h.iter().any(|h| h.json()["type"] == "recording")
    });
    let ev = hits
        .iter()
        .map(|h| h.json())
        .find(|b| b["type"] == "recording")
        .unwrap();
    assert_eq!(ev["status"], "complete", "{ev}");
    let id = ev["recording_id"].as_str().unwrap().to_string();
    let token = std::fs::read_to_string(rig.srv.dir.join("admin.token")).unwrap();
    let resp = ureq::get(&format!(
        "http://{}{}",
        rig.srv.http,
        ev["url"].as_str().unwrap()
    ))
    .set("authorization", &format!("Bearer {}", token.trim()))
    .timeout(10 * SEC)
    .call()
    .expect("the recording downloads");
    let mime = resp.header("content-type").unwrap_or("").to_string();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
    let (status, list) = admin_get(&rig.srv, "/admin/v1/recordings");
    assert_eq!(status, 200, "{list}");
    let entry = list["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recording_id"] == id.as_str())
        .cloned()
        .expect("listed");
    (ev, bytes, mime, entry)
}

/// Both parties' tones, each for about its 1.5 s (75 frames), in `samples` (8 kHz).
fn assert_both_tones(what: &str, samples: &[i16]) {
    let (a, b) = (tone_frames(samples, 600.0), tone_frames(samples, 1400.0));
    assert!(
        (55..=90).contains(&a),
        "{what}: caller's 600 Hz in {a} frames"
    );
    assert!(
        (55..=90).contains(&b),
        "{what}: callee's 1400 Hz in {b} frames"
    );
}

#[test]
fn record_action_as_mp3_decodes_to_both_parties_tones() {
    let script = json!([
        {"action": "record", "format": "mp3"},
        {"action": "connect", "call": [{"type": "sip", "user": "bob"}]}
    ]);
    let (ev, bytes, mime, entry) = record_a_call(script);
    assert_eq!(
        (ev["format"].clone(), ev["channels"].clone()),
        (json!("mp3"), json!(2))
    );
    assert_eq!(mime, "audio/mpeg");
    assert_eq!(
        (entry["format"].clone(), entry["channels"].clone()),
        (json!("mp3"), json!(2)),
        "{entry}"
    );
    // Decoded with symphonia (the engine's prompt decoder), mixed to 8 kHz mono.
    let audio =
        engine::media::prompt::decode(&bytes, &Default::default()).expect("the mp3 decodes");
    assert_both_tones("mp3", &audio);
    let length = seconds(audio.len());
    assert!((3.0..9.0).contains(&length), "{length} s");
    let listed = entry["duration_ms"].as_u64().expect("duration_ms") as f64 / 1000.0;
    let event = ev["duration_ms"].as_u64().expect("duration_ms") as f64 / 1000.0;
    assert!(
        (listed - length).abs() < 0.3,
        "listed {listed} s, decoded {length} s"
    );
    assert!(
        (event - length).abs() < 0.5,
        "event {event} s, decoded {length} s"
    );
}

#[test]
fn connect_recording_single_channel_is_a_mono_wav_with_both_tones() {
    let script = json!([{"action": "connect",
        "params": {"caller_id": "14155550100",
                   "options": {"recording": {"enabled": true, "channels": "single",
                                             "format": "wav"}}},
        "endpoints": [{"type": "sip", "user": "bob"}]}]);
    let (ev, bytes, mime, entry) = record_a_call(script);
    assert_eq!(
        (ev["format"].clone(), ev["channels"].clone()),
        (json!("wav"), json!(1))
    );
    assert_eq!(mime, "audio/wav");
    let (spec, ch) = read_wav(&bytes);
    assert_eq!((spec.channels, spec.sample_rate), (1, 8000));
    assert_both_tones("mono wav", &ch[0]);
    let length = seconds(ch[0].len());
    let listed = entry["duration_ms"].as_u64().expect("duration_ms");
    assert!(
        listed.abs_diff((length * 1000.0) as u64) <= 1,
        "listed {listed} ms, file {length} s"
    );
    assert_eq!(entry["channels"], 1);
}
