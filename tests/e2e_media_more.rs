//! Issue 5 ("Media in calls"), end to end, beyond the "Must show" (`e2e_media.rs`):
//! digits in SIP INFO, `file_url` prompts (a failed download is an error event and the script
//! goes on; a URL is fetched once), and the recordings API's access rules.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::audio::{decode, tone_frames, tone_wav_bytes, write_tone_wav, Capture, Law};
use support::http::Reply;
use support::rig::{admin_post, api_raw, Auth, Rig};

const SEC: Duration = Duration::from_secs(1);

/// Legacy `input` with `max_digit: 3` fed by SIP INFO (`application/dtmf-relay`, the digit
/// or its event number): the action URL gets the digits and its `hangup` ends the call.
#[test]
fn input_collects_sip_info_digits() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.web.set_replies(vec![Reply::Json(json!([
        {"action": "input", "max_digit": 3, "timeout": 10, "action_url": rig.web.url("/pin")}
    ]))]);
    rig.web
        .route("/pin", Reply::Json(json!([{"action": "hangup"}])));
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Capture::bind().addr);
    let mut d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered for the input");
    for signal in ["4", "2", "11"] {
        let body = format!("Signal={signal}\r\nDuration=160\r\n");
        let status = alice.request_typed(&mut d, "INFO", "application/dtmf-relay", &body);
        assert_eq!(status, 200, "INFO Signal={signal}");
    }
    alice.expect_bye(&d, 10 * SEC);
    let hits = rig.web.hits("/pin");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].json()["dtmf"], "42#", "{}", hits[0].json());
    hits[0].verify_signature(&rig.secret).expect("signed");
}

/// `file_url`: a 404 gives the app an `error` event (`play_failed`, the one reason every failed
/// app URL gets: the status is in the server's log, not told to the app) and the
/// script goes on; a WAV served by the app's web server is heard, twice, and fetched once.
#[test]
fn file_url_prompts_are_downloaded_once_and_a_404_is_an_error_event() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.web.set_replies(vec![Reply::Json(json!([
        {"action": "play", "file_url": rig.web.url("/missing.wav")},
        {"action": "play", "file_url": rig.web.url("/beep.wav")},
        {"action": "play", "file_url": rig.web.url("/beep.wav")}
    ]))]);
    rig.web.route("/missing.wav", Reply::Status(404));
    rig.web.route(
        "/beep.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(1200.0, 0.6)),
    );
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let cap = Capture::bind();
    let mut out = alice.invite("5000", cap.addr);
    let d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered for the prompt");
    alice.expect_bye(&d, 15 * SEC);

    let heard = tone_frames(&decode(&cap.audio(Law::Mu), Law::Mu), 1200.0);
    assert!((54..=66).contains(&heard), "{heard} frames of 2 × 0.6 s");
    assert_eq!(rig.web.hits("/missing.wav").len(), 1);
    assert_eq!(rig.web.hits("/beep.wav").len(), 1, "cached by URL");
    let errors = rig.error_events();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "play_failed");
    let message = errors[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("could not be fetched"), "{message}");
    assert!(!message.contains("404"), "{message}");
}

/// A short recorded call; returns the recording id once its event came.
fn record_a_call(rig: &Rig) -> String {
    write_tone_wav(
        &rig.dir.path().join("prompts/beep.wav"),
        1000.0,
        8000,
        1,
        0.3,
    );
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Capture::bind().addr);
    let d = alice.final_response(&mut out, 5 * SEC).expect("answered");
    alice.expect_bye(&d, 10 * SEC);
    let hits = rig.web.wait_hits("/events", 15 * SEC, |h| {
        h.iter().any(|h| h.json()["type"] == "recording")
    });
    let ev: Value = hits
        .iter()
        .map(|h| h.json())
        .find(|b| b["type"] == "recording")
        .unwrap();
    ev["recording_id"].as_str().unwrap().to_string()
}

/// The recordings API: an app opens its own recording with Basic `appid:secret`; another
/// app's credentials get 404 (as for a recording that does not exist), wrong or missing
/// credentials 401; the list shows it; DELETE removes it.
#[test]
fn recordings_api_serves_an_app_its_own_recordings_only() {
    let script = json!([{"action": "record"}, {"action": "play", "file_name": "beep.wav"}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    rig.endpoint("alice");
    let id = record_a_call(&rig);
    let path = format!("/admin/v1/recordings/{id}");
    let (status, other) = admin_post(
        &rig.srv,
        "/admin/v1/apps",
        json!({"name": "other", "answer_url": rig.web.answer_url()}),
    );
    assert_eq!(status, 201, "{other}");
    let other_id = other["appid"].as_u64().unwrap();
    let other_secret = other["secret"].as_str().unwrap();

    let (status, wav) = api_raw(&rig.srv, "GET", &path, Auth::App(rig.appid, &rig.secret));
    assert_eq!(status, 200);
    assert!(wav.starts_with(b"RIFF"), "a WAV file");
    let other_app = Auth::App(other_id, other_secret);
    assert_eq!(api_raw(&rig.srv, "GET", &path, other_app).0, 404);
    assert_eq!(api_raw(&rig.srv, "DELETE", &path, other_app).0, 404);
    let wrong = Auth::App(rig.appid, "not-the-secret");
    assert_eq!(api_raw(&rig.srv, "GET", &path, wrong).0, 401);
    assert_eq!(api_raw(&rig.srv, "GET", &path, Auth::None).0, 401);

    let list = |q: &str| -> Value {
        let (status, body) = api_raw(
            &rig.srv,
            "GET",
            &format!("/admin/v1/recordings{q}"),
            Auth::Admin,
        );
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    };
    let mine = list(&format!("?app={}", rig.appid));
    assert_eq!(mine["recordings"][0]["recording_id"], id.as_str(), "{mine}");
    assert_eq!(mine["recordings"][0]["bytes"], wav.len());
    let theirs = list(&format!("?app={other_id}"));
    assert_eq!(theirs["recordings"], json!([]), "{theirs}");

    let own = Auth::App(rig.appid, &rig.secret);
    assert_eq!(api_raw(&rig.srv, "DELETE", &path, own).0, 200);
    assert_eq!(api_raw(&rig.srv, "GET", &path, Auth::Admin).0, 404);
    assert_eq!(list("")["recordings"], json!([]));
}
