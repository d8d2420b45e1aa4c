//! Live calls driven by node-bandwidth 4.0.0 (npm, unchanged; only the base URL set) against
//! the real binary on loopback, with test phones registered with endpoint credentials: call
//! create/get/update, audio (speech and a file the phone hears), DTMF out, gather, recording,
//! bridge create/update/get and its calls, recordings; every value read back.

mod support;

use std::time::Duration;

use serde_json::json;
use support::audio::{decode, tone_frames, tone_wav_bytes, Capture, Law};
use support::bandwidth::{phone, provision, start, wait_callback};
use support::http::{HttpStub, Reply};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn node_bandwidth_drives_calls_bridges_and_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    stub.route(
        "/tone.wav",
        Reply::Bytes("audio/wav", tone_wav_bytes(900.0, 1.5)),
    );
    let (_app, _domain, eps) = provision(&sdk, &stub, &["ann", "ben"]);
    let mut ann = phone(&srv, &eps[0].0, &eps[0].2);
    let mut ben = phone(&srv, &eps[1].0, &eps[1].2);

    // Call.create → the phone rings; Call.get reads back what was asked.
    let a = sdk.node_ok(
        "Call.create",
        json!([{"from": "+15550001111", "to": eps[0].1, "callbackUrl": stub.url("/bw"), "tag": "node-a"}]),
    );
    let a_id = a["id"].as_str().expect("id from Location").to_string();
    let inv = ann.expect_request("INVITE", None, 5 * SEC);
    let cap_a = Capture::bind();
    let mut d_a = ann.answer(&inv, cap_a.addr);
    wait_callback(&stub, "answer", 1);
    let got = sdk.node_ok("Call.get", json!([a_id]));
    assert_eq!(
        (
            &got["id"],
            &got["state"],
            &got["from"],
            &got["to"],
            &got["tag"],
            &got["direction"]
        ),
        (
            &json!(a_id),
            &json!("active"),
            &json!("+15550001111"),
            &json!(eps[0].1),
            &json!("node-a"),
            &json!("out")
        ),
        "{got}"
    );

    // Audio: a file the phone hears, and speech.
    sdk.node_ok("Call.playAudioFile", json!([a_id, stub.url("/tone.wav")]));
    wait_callback(&stub, "playback", 2);
    let heard = tone_frames(&decode(&cap_a.audio(Law::Mu), Law::Mu), 900.0);
    assert!(heard >= 40, "ann heard {heard} frames of the file");
    sdk.node_ok("Call.speakSentence", json!([a_id, "Hello from node"]));
    wait_callback(&stub, "speak", 2);

    // DTMF out reaches the phone as RFC 4733 events.
    sdk.node_ok("Call.sendDtmf", json!([a_id, "5"]));
    let events = cap_a.wait(5 * SEC, |p| p.iter().any(|x| x.payload_type == 101));
    assert!(events
        .iter()
        .any(|p| p.payload_type == 101 && p.payload.first() == Some(&5)));

    // Gather: created, the phone keys 7 #, read back completed.
    let g = sdk.node_ok(
        "Call.createGather",
        json!([a_id, {"maxDigits": 3, "terminatingDigits": "#", "tag": "g1"}]),
    );
    let g_id = g["id"].as_str().expect("gather id").to_string();
    for d in ['7', '#'] {
        cap_a.press(d_a.remote_rtp.unwrap(), d);
    }
    wait_callback(&stub, "gather", 1);
    let got = sdk.node_ok("Call.getGather", json!([a_id, g_id]));
    assert_eq!(
        (&got["state"], &got["digits"], &got["reason"]),
        (
            &json!("completed"),
            &json!("7"),
            &json!("terminating-digit")
        ),
        "{got}"
    );

    // Recording on, a second call, a bridge, hold, read back.
    sdk.node_ok("Call.enableRecording", json!([a_id]));
    let b = sdk.node_ok(
        "Call.create",
        json!([{"from": "+15550001111", "to": eps[1].1, "callbackUrl": stub.url("/bw")}]),
    );
    let b_id = b["id"].as_str().unwrap().to_string();
    let inv = ben.expect_request("INVITE", None, 5 * SEC);
    let cap_b = Capture::bind();
    let d_b = ben.answer(&inv, cap_b.addr);
    let br = sdk.node_ok(
        "Bridge.create",
        json!([{"callIds": [a_id, b_id], "bridgeAudio": true}]),
    );
    let br_id = br["id"].as_str().expect("bridge id").to_string();
    let got = sdk.node_ok("Bridge.get", json!([br_id]));
    assert_eq!(
        (&got["state"], &got["callIds"], &got["bridgeAudio"]),
        (&json!("active"), &json!([a_id, b_id]), &json!(true)),
        "{got}"
    );
    let calls = sdk.node_ok("Bridge.getCalls", json!([br_id]));
    assert_eq!(calls.as_array().map(Vec::len), Some(2), "{calls}");
    cap_b
        .send_tone(d_b.remote_rtp.unwrap(), Law::Mu, 1250.0, 1.0)
        .join()
        .unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    let heard = tone_frames(&decode(&cap_a.audio(Law::Mu), Law::Mu), 1250.0);
    assert!(heard >= 30, "ann hears ben through the bridge: {heard}");
    sdk.node_ok("Bridge.update", json!([br_id, {"bridgeAudio": false}]));
    assert_eq!(sdk.node_ok("Bridge.get", json!([br_id]))["state"], "hold");

    // Hang up both; the recording is listed.
    sdk.node_ok("Call.hangup", json!([a_id]));
    ann.expect_bye(&d_a, 5 * SEC);
    sdk.node_ok("Call.hangup", json!([b_id]));
    ben.expect_bye(&d_b, 5 * SEC);
    wait_callback(&stub, "recording", 1);
    let recs = sdk.node_ok("Call.getRecordings", json!([a_id]));
    assert_eq!(recs.as_array().map(Vec::len), Some(1), "{recs}");
    let listed = sdk.node_ok("Recording.list", json!([{}]));
    assert!(
        listed["recordings"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            || listed.as_array().is_some_and(|r| !r.is_empty()),
        "{listed}"
    );
    // Errors in Bandwidth's shape reach node-bandwidth's error object.
    let err = sdk
        .node(
            "Call.get",
            json!(["c-3b1f7c4e-0000-4000-8000-000000000000"]),
        )
        .unwrap_err();
    assert_eq!(err["status"], 404, "{err}");
    let _ = ann.bye(&mut d_a);
}
