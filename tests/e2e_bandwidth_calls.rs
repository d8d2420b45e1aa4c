//! Bandwidth App Platform v1 live calls through the real binary, driven by the Bandwidth
//! Python SDK (bandwidth-sdk 3.1.0 from PyPI, unchanged; scripts/setup installs it) with
//! phones registered with endpoint credentials, on loopback:
//! - the seed guide's steps: a domain, an endpoint tied to an application, an app-created
//!   call to the endpoint's `sipUri` → `answer` → audio (heard by the phone) → `speak` done →
//!   hang up → `hangup`; the endpoint dials a number → `incomingcall` with `from` = its sipUri
//!   → the app calls a second endpoint and bridges the two → both phones hear each other;
//! - gather of the caller's DTMF, and the error shapes of live commands.

mod support;

use std::time::Duration;

use serde_json::json;
use support::audio::{decode, tone_frames, tone_wav_bytes, Capture, Law};
use support::bandwidth::{assert_common, callbacks, phone, provision, start, wait_callback};
use support::http::{HttpStub, Reply};
use support::ua::Dialog;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn the_seed_guide_step_three_an_app_call_speaks_plays_and_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    stub.route(
        "/tone.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(700.0, 2.0)),
    );
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let (name, sip_uri, realm) = &eps[0];
    let mut kim = phone(&srv, name, realm);

    // (3) The app calls the endpoint's sipUri.
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": sip_uri, "callback_url": stub.url("/bw"), "tag": "step3",
               "sip_headers": {"X-Account": "acct-42"}}),
    );
    let call = call.as_str().expect("call id").to_string();
    assert!(call.starts_with("c-"), "{call}");
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    // sipHeaders are on the INVITE as given.
    assert_eq!(
        inv.req
            .headers
            .get(&engine::sip::message::HeaderName::parse("X-Account")),
        Some("acct-42")
    );
    let cap = Capture::bind();
    let mut d: Dialog = kim.answer(&inv, cap.addr);
    let answer = wait_callback(&stub, "answer", 1).remove(0);
    assert_common(&answer, &call);
    // Signed with the hex SHA-256 of the user's API secret.
    let key = engine::directory::bandwidth::secret_sha256(&sdk.secret);
    for hit in stub.hits("/bw") {
        hit.verify_signature(&key)
            .unwrap_or_else(|e| panic!("callback signature: {e}"));
    }
    assert_eq!(
        (
            &answer["from"],
            &answer["to"],
            &answer["callState"],
            &answer["tag"]
        ),
        (
            &json!("+15550001111"),
            &json!(sip_uri),
            &json!("active"),
            &json!("step3")
        )
    );
    let got = sdk.ok("voice.get_call", json!({"call_id": call}));
    assert_eq!(
        (&got["state"], &got["direction"]),
        (&json!("active"), &json!("out")),
        "{got}"
    );

    // A tone file from the app's web server: the phone hears 700 Hz.
    sdk.ok(
        "voice.play_audio_to_call",
        json!({"call_id": call, "file_url": stub.url("/tone.wav")}),
    );
    let done = wait_callback(&stub, "playback", 2);
    assert_eq!(
        done.iter().map(|c| c["status"].clone()).collect::<Vec<_>>(),
        [json!("started"), json!("done")]
    );
    let heard = decode(&cap.audio(Law::Mu), Law::Mu);
    assert!(
        tone_frames(&heard, 700.0) >= 50,
        "the phone hears the app's 700 Hz file ({} tone frames)",
        tone_frames(&heard, 700.0)
    );

    // Speech: started, then done.
    sdk.ok(
        "voice.play_audio_to_call",
        json!({"call_id": call, "sentence": "Hello from ringmaster", "gender": "female", "locale": "en_US"}),
    );
    let speak = wait_callback(&stub, "speak", 2);
    assert_eq!(
        speak
            .iter()
            .map(|c| (c["status"].clone(), c["state"].clone()))
            .collect::<Vec<_>>(),
        [
            (json!("started"), json!("PLAYBACK_START")),
            (json!("done"), json!("PLAYBACK_STOP"))
        ]
    );

    // The app hangs up: the phone gets a BYE, the app a hangup callback.
    sdk.ok("voice.hangup_call", json!({"call_id": call}));
    kim.expect_bye(&d, 5 * SEC);
    let hangup = wait_callback(&stub, "hangup", 1).remove(0);
    assert_common(&hangup, &call);
    assert_eq!(hangup["cause"], "NORMAL_CLEARING", "{hangup}");
    let got = sdk.ok("voice.get_call", json!({"call_id": call}));
    assert_eq!(got["state"], "completed", "{got}");
    assert!(got["end_time"].is_string(), "{got}");
    // Commands on an ended call are refused in Bandwidth's shape, never hang.
    let err = sdk
        .call(
            "voice.play_audio_to_call",
            json!({"call_id": call, "sentence": "late"}),
        )
        .unwrap_err();
    assert_eq!(
        (err["status"].clone(), err["code"].clone()),
        (json!(409), json!("call-unavailable")),
        "{err}"
    );
    let events = sdk.ok("voice.list_call_events", json!({"call_id": call}));
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.starts_with(&["answer", "playback", "playback", "speak", "speak"]),
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"hangup"));
    let _ = kim.bye(&mut d);
}

#[test]
fn the_seed_guide_step_four_an_endpoint_call_is_bridged_to_another_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (app, _domain, eps) = provision(&sdk, &stub, &["ann", "ben"]);
    let mut ann = phone(&srv, &eps[0].0, &eps[0].2);
    let mut ben = phone(&srv, &eps[1].0, &eps[1].2);

    // (4) ann dials a PSTN number: the application hears `incomingcall` from her sipUri,
    // answered already (autoAnswer).
    let cap_a = Capture::bind();
    let mut out = ann.invite("+15557654321", cap_a.addr);
    let mut d_a = ann
        .final_response(&mut out, 5 * SEC)
        .expect("auto-answered");
    let inc = wait_callback(&stub, "incomingcall", 1).remove(0);
    let a_call = inc["callId"].as_str().unwrap().to_string();
    assert_common(&inc, &a_call);
    assert_eq!(
        (&inc["from"], &inc["callState"], &inc["applicationId"]),
        (&json!(eps[0].1), &json!("active"), &json!(app)),
        "{inc}"
    );
    assert_eq!(inc["to"], "15557654321", "{inc}");

    // The app calls ben and bridges the two calls.
    let b_call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550002222", "to": eps[1].1, "callback_url": stub.url("/bw")}),
    );
    let b_call = b_call.as_str().unwrap().to_string();
    let inv = ben.expect_request("INVITE", None, 5 * SEC);
    let cap_b = Capture::bind();
    let d_b = ben.answer(&inv, cap_b.addr);
    wait_callback(&stub, "answer", 1);
    let bridge = sdk.ok(
        "voice.create_bridge",
        json!({"call_ids": [a_call, b_call], "bridge_audio": true}),
    );
    let bridge = bridge.as_str().expect("bridge id").to_string();
    let got = sdk.ok("voice.get_bridge", json!({"bridge_id": bridge}));
    assert_eq!(got["state"], "active", "{got}");
    assert_eq!(got["call_ids"], json!([a_call, b_call]), "{got}");
    let members = sdk.ok("voice.list_bridge_calls", json!({"bridge_id": bridge}));
    assert_eq!(members.as_array().map(Vec::len), Some(2), "{members}");

    // Each phone hears the other's own tone.
    let to_a = d_a.remote_rtp.expect("ringmaster's port for ann");
    let to_b = d_b.remote_rtp.expect("ringmaster's port for ben");
    let ta = cap_a.send_tone(to_a, Law::Mu, 600.0, 2.0);
    let tb = cap_b.send_tone(to_b, Law::Mu, 1400.0, 2.0);
    ta.join().unwrap();
    tb.join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    let at_a = decode(&cap_a.audio(Law::Mu), Law::Mu);
    let at_b = decode(&cap_b.audio(Law::Mu), Law::Mu);
    assert!(
        tone_frames(&at_a, 1400.0) >= 50,
        "ann hears ben's 1400 Hz: {}",
        tone_frames(&at_a, 1400.0)
    );
    assert!(
        tone_frames(&at_b, 600.0) >= 50,
        "ben hears ann's 600 Hz: {}",
        tone_frames(&at_b, 600.0)
    );
    assert_eq!(tone_frames(&at_a, 600.0), 0, "ann does not hear herself");

    // Hold: the bridge stops carrying audio; a third call cannot join a bridged call.
    sdk.ok(
        "voice.update_bridge",
        json!({"bridge_id": bridge, "bridge_audio": false}),
    );
    assert_eq!(
        sdk.ok("voice.get_bridge", json!({"bridge_id": bridge}))["state"],
        "hold"
    );
    let err = sdk
        .call(
            "voice.create_bridge",
            json!({"call_ids": [a_call], "bridge_audio": true}),
        )
        .unwrap_err();
    assert_eq!(err["code"], "bridge-bridged-callId", "{err}");

    // ann hangs up: both calls end (ben's is hung up by the app), the bridge completes.
    assert_eq!(ann.bye(&mut d_a), 200);
    let hang = wait_callback(&stub, "hangup", 1).remove(0);
    assert_eq!(
        (hang["callId"].as_str(), hang["cause"].as_str()),
        (Some(a_call.as_str()), Some("NORMAL_CLEARING"))
    );
    assert_eq!(
        sdk.ok("voice.get_bridge", json!({"bridge_id": bridge}))["state"],
        "completed"
    );
    sdk.ok("voice.hangup_call", json!({"call_id": b_call}));
    ben.expect_bye(&d_b, 5 * SEC);
}

#[test]
fn a_gather_collects_the_callers_digits_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["dee"]);
    let mut dee = phone(&srv, &eps[0].0, &eps[0].2);
    let cap = Capture::bind();
    let mut out = dee.invite("+15551112222", cap.addr);
    let mut d = dee
        .final_response(&mut out, 5 * SEC)
        .expect("auto-answered");
    let call = wait_callback(&stub, "incomingcall", 1)[0]["callId"]
        .as_str()
        .unwrap()
        .to_string();
    let gather = sdk.ok(
        "voice.create_call_gather",
        json!({"call_id": call, "max_digits": 4, "terminating_digits": "#", "tag": "pin"}),
    );
    let gather = gather.as_str().expect("gather id").to_string();
    let to = d.remote_rtp.unwrap();
    for digit in ['4', '2', '#'] {
        cap.press(to, digit);
    }
    let g = wait_callback(&stub, "gather", 1).remove(0);
    assert_eq!(
        (
            &g["digits"],
            &g["reason"],
            &g["state"],
            &g["gatherId"],
            &g["tag"]
        ),
        (
            &json!("42"),
            &json!("terminating-digit"),
            &json!("completed"),
            &json!(gather),
            &json!("pin")
        ),
        "{g}"
    );
    assert_eq!(callbacks(&stub, "dtmf").len(), 3);
    let got = sdk.ok(
        "voice.get_call_gather",
        json!({"call_id": call, "gather_id": gather}),
    );
    assert_eq!(
        (&got["state"], &got["digits"]),
        (&json!("completed"), &json!("42")),
        "{got}"
    );
    assert_eq!(dee.bye(&mut d), 200);
}
