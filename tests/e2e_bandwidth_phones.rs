//! The Bandwidth seed guide with real phones: baresip (Debian's) registered with endpoint
//! credentials the Bandwidth Python SDK created, each phone sending its own tone and keeping
//! what it heard; the app drives the calls with the SDK, unchanged.
//! - step 3: the app calls the endpoint's sipUri; the phone answers; the app plays a tone file
//!   and speaks; the phone hears both; the app hangs up;
//! - step 4: one endpoint dials a number → `incomingcall` from its sipUri → the app calls the
//!   second endpoint and bridges the two → each phone hears the other's tone;
//! - step 5: a carrier's call to the application's number reaches the phone (the app calls it
//!   and bridges the two).

mod support;

use std::time::Duration;

use serde_json::json;
use support::audio::{loud_frames, tone_frames, tone_wav_bytes};
use support::bandwidth::{provision, start, wait_callback};
use support::baresip::{Baresip, PhoneSpec};
use support::http::{HttpStub, Reply};
use support::Server;

const SEC: Duration = Duration::from_secs(1);

fn baresip(
    dir: &std::path::Path,
    srv: &Server,
    uri: &str,
    tone: u32,
    dial: Option<&str>,
) -> Baresip {
    let aor = uri.trim_start_matches("sip:");
    let phone = Baresip::start(
        dir,
        &PhoneSpec {
            aor,
            password: "s3cret-pass",
            server: srv.sip,
            tone,
            dial,
            seconds: 60,
        },
    );
    assert!(
        phone.wait_log("200 OK", 10 * SEC),
        "baresip did not register:\n{}",
        phone.log()
    );
    phone
}

/// Waits (bounded) until `phone` heard at least `n` 20 ms frames of `hz`.
fn hears(phone: &Baresip, hz: f64, n: usize) -> usize {
    let deadline = std::time::Instant::now() + 10 * SEC;
    loop {
        let got = tone_frames(&phone.heard(), hz);
        if got >= n || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_real_phone_hears_what_the_app_plays_and_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    stub.route(
        "/tone.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(700.0, 2.0)),
    );
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let kim = baresip(dir.path(), &srv, &eps[0].1, 1100, None);

    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1, "callback_url": stub.url("/bw")}),
    );
    let call = call.as_str().unwrap().to_string();
    wait_callback(&stub, "answer", 1);
    sdk.ok(
        "voice.play_audio_to_call",
        json!({"call_id": call, "file_url": stub.url("/tone.wav")}),
    );
    wait_callback(&stub, "playback", 2);
    let tone = hears(&kim, 700.0, 50);
    assert!(
        tone >= 50,
        "kim heard {tone} frames of the app's 700 Hz file\n{}",
        kim.log()
    );
    sdk.ok(
        "voice.play_audio_to_call",
        json!({"call_id": call, "sentence": "Your call is important to us", "voice": "susan"}),
    );
    wait_callback(&stub, "speak", 2);
    sdk.ok("voice.hangup_call", json!({"call_id": call}));
    let hangup = wait_callback(&stub, "hangup", 1).remove(0);
    assert_eq!(hangup["cause"], "NORMAL_CLEARING", "{hangup}");
    assert!(kim.wait_log("terminated", 5 * SEC), "{}", kim.log());
    // Speech after the tone: loud frames that are not the tone.
    let heard = kim.heard();
    let speech = loud_frames(&heard).saturating_sub(tone_frames(&heard, 700.0));
    assert!(speech >= 25, "kim heard {speech} frames of speech");
}

#[test]
fn two_real_phones_bridged_by_the_app_hear_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["ann", "ben"]);
    let ben = baresip(dir.path(), &srv, &eps[1].1, 1400, None);
    let ann = baresip(dir.path(), &srv, &eps[0].1, 600, Some("+15557654321"));

    let inc = wait_callback(&stub, "incomingcall", 1).remove(0);
    assert_eq!(inc["from"], json!(eps[0].1), "{inc}");
    let a_call = inc["callId"].as_str().unwrap().to_string();
    let b_call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15557654321", "to": eps[1].1, "callback_url": stub.url("/bw")}),
    );
    let b_call = b_call.as_str().unwrap().to_string();
    wait_callback(&stub, "answer", 1);
    sdk.ok(
        "voice.create_bridge",
        json!({"call_ids": [a_call, b_call], "bridge_audio": true}),
    );
    let at_ann = hears(&ann, 1400.0, 50);
    let at_ben = hears(&ben, 600.0, 50);
    assert!(
        at_ann >= 50,
        "ann heard {at_ann} frames of ben's 1400 Hz\n{}",
        ann.log()
    );
    assert!(
        at_ben >= 50,
        "ben heard {at_ben} frames of ann's 600 Hz\n{}",
        ben.log()
    );
    sdk.ok("voice.hangup_call", json!({"call_id": a_call}));
    sdk.ok("voice.hangup_call", json!({"call_id": b_call}));
    assert!(ann.wait_log("terminated", 5 * SEC), "{}", ann.log());
    assert!(ben.wait_log("terminated", 5 * SEC), "{}", ben.log());
}

#[test]
fn step_five_a_carriers_call_to_the_number_reaches_a_real_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let kim = baresip(dir.path(), &srv, &eps[0].1, 1300, None);
    // The carrier: a trunk from 127.0.0.2 sending a call to the application's number.
    let mut carrier =
        support::ua::Ua::bind_at("127.0.0.2", srv.sip, "carrier.example", "4930111", "");
    srv.cli(&[
        "trunk",
        "add",
        "--name",
        "carrier",
        "--address",
        &carrier.addr.to_string(),
        "--allow-ip",
        "127.0.0.2",
    ]);
    srv.cli(&[
        "number",
        "add",
        "14155550123",
        "--app",
        app.trim_start_matches("a-"),
    ]);
    let cap = support::audio::Capture::bind();
    let mut out = carrier.invite_plain(&format!("sip:+14155550123@{}", srv.sip), cap.addr);
    let mut d = carrier
        .final_response(&mut out, 5 * SEC)
        .expect("auto-answered");
    let inc = wait_callback(&stub, "incomingcall", 1).remove(0);
    assert_eq!(inc["to"], "14155550123", "{inc}");
    let c_call = inc["callId"].as_str().unwrap().to_string();
    let k_call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+14155550123", "to": eps[0].1, "callback_url": stub.url("/bw")}),
    );
    let k_call = k_call.as_str().unwrap().to_string();
    wait_callback(&stub, "answer", 1);
    sdk.ok("voice.create_bridge", json!({"call_ids": [c_call, k_call]}));
    let to = d.remote_rtp.unwrap();
    cap.send_tone(to, support::audio::Law::Mu, 500.0, 2.0)
        .join()
        .unwrap();
    let at_kim = hears(&kim, 500.0, 40);
    let heard =
        support::audio::decode(&cap.audio(support::audio::Law::Mu), support::audio::Law::Mu);
    let at_caller = tone_frames(&heard, 1300.0);
    assert!(
        at_kim >= 40,
        "kim heard {at_kim} frames of the caller's 500 Hz\n{}",
        kim.log()
    );
    assert!(
        at_caller >= 40,
        "the caller heard {at_caller} frames of kim's 1300 Hz"
    );
    assert_eq!(carrier.bye(&mut d), 200);
    sdk.ok("voice.hangup_call", json!({"call_id": k_call}));
    assert!(kim.wait_log("terminated", 5 * SEC), "{}", kim.log());
}
