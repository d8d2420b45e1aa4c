//! More of Bandwidth's live control through the real binary and the Python SDK, unchanged:
//! - the seed guide's step 5: a carrier's call to the application's number reaches an
//!   endpoint (the app calls it and bridges the two);
//! - callbacks by GET (query parameters, signed over the URL) and one try of the fallback URL
//!   when the callback URL fails;
//! - a transfer (`state: transferring`, `transferTo`) rings the new party and bridges it;
//! - recordings switched on over REST, listed and downloaded;
//! - walls between users: another user's call and bridge are 404, never bridgeable.

mod support;

use std::io::Read;
use std::time::Duration;

use engine::sip::message::HeaderView;

use serde_json::json;
use support::audio::{decode, read_wav, tone_frames, Capture, Law};
use support::bandwidth::{phone, provision, start, wait_callback, Sdk};
use support::http::{HttpStub, Reply};
use support::ua::Ua;

const SEC: Duration = Duration::from_secs(1);
const NUMBER: &str = "14155550123";

/// The app's id as a number (`a-7` → 7), for the operator's CLI.
fn appid(app: &str) -> String {
    app.trim_start_matches("a-").to_string()
}

#[test]
fn step_five_a_carrier_call_to_the_number_reaches_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let mut kim = phone(&srv, &eps[0].0, &eps[0].2);
    let pstn_caller = Ua::bind_at("127.0.0.2", srv.sip, "carrier.example", "4930111", "");
    srv.cli(&[
        "trunk",
        "add",
        "--name",
        "carrier",
        "--address",
        &pstn_caller.addr.to_string(),
        "--allow-ip",
        "127.0.0.2",
    ]);
    srv.cli(&["number", "add", NUMBER, "--app", &appid(&app)]);
    // The number reads back in the user's phoneNumbers, tied to the application.
    let numbers = sdk.ok("account.list_phone_numbers", json!({}));
    assert!(
        numbers
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["number"] == format!("+{NUMBER}") && n["application_id"] == json!(app)),
        "{numbers}"
    );

    let mut pstn = pstn_caller;
    let cap_c = Capture::bind();
    let mut out = pstn.invite_plain(&format!("sip:+{NUMBER}@{}", srv.sip), cap_c.addr);
    let mut d_c = pstn
        .final_response(&mut out, 5 * SEC)
        .expect("auto-answered");
    let inc = wait_callback(&stub, "incomingcall", 1).remove(0);
    assert_eq!(
        (&inc["to"], &inc["from"]),
        (&json!(NUMBER), &json!("4930111")),
        "{inc}"
    );
    let c_call = inc["callId"].as_str().unwrap().to_string();
    let k_call = sdk.ok(
        "voice.create_call",
        json!({"from_": format!("+{NUMBER}"), "to": eps[0].1, "callback_url": stub.url("/bw")}),
    );
    let k_call = k_call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    let cap_k = Capture::bind();
    let d_k = kim.answer(&inv, cap_k.addr);
    wait_callback(&stub, "answer", 1);
    sdk.ok("voice.create_bridge", json!({"call_ids": [c_call, k_call]}));
    let tc = cap_c.send_tone(d_c.remote_rtp.unwrap(), Law::Mu, 500.0, 1.5);
    let tk = cap_k.send_tone(d_k.remote_rtp.unwrap(), Law::Mu, 1700.0, 1.5);
    tc.join().unwrap();
    tk.join().unwrap();
    cap_c.wait_quiet(Duration::from_millis(300), 5 * SEC);
    let at_c = tone_frames(&decode(&cap_c.audio(Law::Mu), Law::Mu), 1700.0);
    let at_k = tone_frames(&decode(&cap_k.audio(Law::Mu), Law::Mu), 500.0);
    assert!(
        at_c >= 40 && at_k >= 40,
        "caller heard {at_c}, kim heard {at_k}"
    );
    assert_eq!(pstn.bye(&mut d_c), 200);
    sdk.ok("voice.hangup_call", json!({"call_id": k_call}));
    kim.expect_bye(&d_k, 5 * SEC);
}

#[test]
fn callbacks_by_get_are_signed_over_the_url_and_a_failing_url_falls_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    stub.route("/broken", Reply::Status(500));
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let mut kim = phone(&srv, &eps[0].0, &eps[0].2);

    // GET callbacks.
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1, "callback_url": stub.url("/get"),
               "callback_http_method": "GET", "tag": "g"}),
    );
    let call = call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    let mut d = kim.answer(&inv, Capture::bind().addr);
    let deadline = std::time::Instant::now() + 5 * SEC;
    let hit = loop {
        let hits = stub.hits_prefixed("/get?");
        if let Some(h) = hits.into_iter().next() {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "no GET callback");
        std::thread::sleep(Duration::from_millis(20));
    };
    for part in [
        "eventType=answer",
        &format!("callId={call}"),
        "tag=g",
        "callState=active",
    ] {
        assert!(hit.path.contains(part), "{part} in {}", hit.path);
    }
    assert!(hit.body.is_empty(), "a GET has no body");
    assert!(hit.header("x-ringmaster-signature").is_some(), "signed");
    assert_eq!(kim.bye(&mut d), 200);

    // A callback URL that fails: the fallback URL gets the same event, once.
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1, "callback_url": stub.url("/broken"),
               "fallback_url": stub.url("/fallback"), "callback_timeout": 2000}),
    );
    let call = call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    let mut d = kim.answer(&inv, Capture::bind().addr);
    let fell = stub.wait_hits("/fallback", 5 * SEC, |h| !h.is_empty());
    assert_eq!(fell[0].json()["eventType"], "answer");
    assert_eq!(fell[0].json()["callId"], json!(call));
    assert_eq!(stub.hits("/broken").len(), 1);
    assert_eq!(kim.bye(&mut d), 200);
    stub.wait_hits("/fallback", 5 * SEC, |h| h.len() >= 2);
    assert_eq!(
        stub.hits("/broken").len(),
        2,
        "each event tried the callback URL once"
    );
}

#[test]
fn a_transfer_rings_the_new_party_and_bridges_it_with_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["ann", "ben"]);
    let mut ann = phone(&srv, &eps[0].0, &eps[0].2);
    let mut ben = phone(&srv, &eps[1].0, &eps[1].2);
    let cap_a = Capture::bind();
    let mut out = ann.invite("+15559990000", cap_a.addr);
    let d_a = ann
        .final_response(&mut out, 5 * SEC)
        .expect("auto-answered");
    let call = wait_callback(&stub, "incomingcall", 1)[0]["callId"]
        .as_str()
        .unwrap()
        .to_string();
    sdk.ok(
        "voice.transfer_call",
        json!({"call_id": call, "to": eps[1].1, "caller_id": "+15550004444"}),
    );
    let inv = ben.expect_request("INVITE", None, 5 * SEC);
    let from = inv.req.hdr_from().unwrap();
    assert_eq!(
        from.uri.as_sip().and_then(|u| u.user.as_deref()),
        Some("15550004444")
    );
    let cap_b = Capture::bind();
    let d_b = ben.answer(&inv, cap_b.addr);
    let got = sdk.ok("voice.get_call", json!({"call_id": call}));
    assert_eq!(got["state"], "transferring", "{got}");
    wait_callback(&stub, "transferComplete", 1);
    let tb = cap_b.send_tone(d_b.remote_rtp.unwrap(), Law::Mu, 1300.0, 1.0);
    tb.join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    let heard = tone_frames(&decode(&cap_a.audio(Law::Mu), Law::Mu), 1300.0);
    assert!(heard >= 30, "ann hears ben after the transfer: {heard}");
    ben.bye(&mut d_b.clone());
    ann.expect_bye(&d_a, 5 * SEC);
}

#[test]
fn recordings_switched_on_over_rest_are_listed_and_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let mut kim = phone(&srv, &eps[0].0, &eps[0].2);
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1, "callback_url": stub.url("/bw")}),
    );
    let call = call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    let cap = Capture::bind();
    let mut d = kim.answer(&inv, cap.addr);
    wait_callback(&stub, "answer", 1);
    sdk.ok("voice.enable_call_recording", json!({"call_id": call}));
    cap.send_tone(d.remote_rtp.unwrap(), Law::Mu, 800.0, 1.5)
        .join()
        .unwrap();
    assert_eq!(kim.bye(&mut d), 200);
    let rec = wait_callback(&stub, "recording", 1).remove(0);
    assert_eq!(rec["state"], "complete", "{rec}");
    let listed = sdk.ok("voice.list_call_recordings", json!({"call_id": call}));
    let id = listed[0]["id"].as_str().expect("a recording").to_string();
    assert_eq!(rec["recordingId"], json!(id));
    let one = sdk.ok("voice.get_recording", json!({"recording_id": id}));
    assert_eq!(one["state"], "complete", "{one}");
    let all = sdk.ok("voice.list_recordings", json!({}));
    assert!(all.as_array().unwrap().iter().any(|r| r["id"] == json!(id)));
    // The media: the caller's tone on the left channel.
    let wav = ureq::get(one["media"].as_str().unwrap())
        .set("authorization", &basic(&sdk))
        .call()
        .expect("media")
        .into_reader();
    let mut bytes = Vec::new();
    wav.take(10_000_000).read_to_end(&mut bytes).unwrap();
    let (spec, ch) = read_wav(&bytes);
    assert_eq!(spec.channels, 2);
    assert!(
        tone_frames(&ch[0], 800.0) >= 40,
        "the caller's tone is recorded"
    );
}

fn basic(sdk: &Sdk) -> String {
    use base64::Engine;
    let raw = format!("{}:{}", sdk.token, sdk.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[test]
fn another_users_calls_and_bridges_are_out_of_reach() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let mut kim = phone(&srv, &eps[0].0, &eps[0].2);
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1}),
    );
    let call = call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    let mut d = kim.answer(&inv, Capture::bind().addr);
    let bridge = sdk.ok("voice.create_bridge", json!({"call_ids": [call]}));
    let bridge = bridge.as_str().unwrap().to_string();

    // A second user, with its own application and a call of its own.
    let other = srv.cli_json(&["user", "create", "--json"]);
    let mallory = Sdk {
        base: sdk.base.clone(),
        user: other["user_id"].as_str().unwrap().into(),
        token: other["token"].as_str().unwrap().into(),
        secret: other["secret"].as_str().unwrap().into(),
        ca: None,
    };
    mallory.ok(
        "account.create_application",
        json!({"name": "m", "incoming_call_url": stub.url("/m")}),
    );
    for (method, args) in [
        ("voice.get_call", json!({"call_id": call})),
        ("voice.hangup_call", json!({"call_id": call})),
        (
            "voice.play_audio_to_call",
            json!({"call_id": call, "sentence": "hi"}),
        ),
        ("voice.get_bridge", json!({"bridge_id": bridge})),
        (
            "voice.update_bridge",
            json!({"bridge_id": bridge, "call_ids": []}),
        ),
    ] {
        let err = mallory.call(method, args).unwrap_err();
        assert_eq!(err["status"], 404, "{method}: {err}");
    }
    // Nor can another user's call join a bridge of one's own.
    let err = mallory
        .call("voice.create_bridge", json!({"call_ids": [call]}))
        .unwrap_err();
    assert_eq!(err["status"], 400, "{err}");
    // Mallory cannot dial the other user's endpoint as her own.
    let err = mallory
        .call(
            "voice.create_call",
            json!({"from_": "+15550001111", "to": eps[0].1}),
        )
        .unwrap_err();
    assert!(err["status"] == 400 || err["status"] == 403, "{err}");
    // The call is untouched.
    assert_eq!(
        sdk.ok("voice.get_call", json!({"call_id": call}))["state"],
        "active"
    );
    assert_eq!(kim.bye(&mut d), 200);
    let unknown = sdk
        .call(
            "voice.get_call",
            json!({"call_id": "c-3b1f7c4e-0000-4000-8000-000000000000"}),
        )
        .unwrap_err();
    assert_eq!(
        (unknown["status"].clone(), unknown["code"].clone()),
        (json!(404), json!("call-not-found"))
    );
}

#[test]
fn a_call_not_answered_in_its_call_timeout_reports_timeout_then_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, sdk) = start(dir.path());
    let stub = HttpStub::start(vec![Reply::Status(200)]);
    let (_app, _domain, eps) = provision(&sdk, &stub, &["kim"]);
    let mut kim = phone(&srv, &eps[0].0, &eps[0].2);
    let call = sdk.ok(
        "voice.create_call",
        json!({"from_": "+15550001111", "to": eps[0].1, "call_timeout": 1,
               "callback_url": stub.url("/bw")}),
    );
    let call = call.as_str().unwrap().to_string();
    let inv = kim.expect_request("INVITE", None, 5 * SEC);
    kim.reply(&inv, 180, None);
    kim.expect_cancel(&inv, 5 * SEC);
    let timeout = wait_callback(&stub, "timeout", 1).remove(0);
    assert_eq!(timeout["callId"], json!(call));
    let hangup = wait_callback(&stub, "hangup", 1).remove(0);
    assert_eq!(hangup["cause"], "NO_ANSWER", "{hangup}");
    assert_eq!(
        sdk.ok("voice.get_call", json!({"call_id": call}))["state"],
        "completed"
    );
}

#[test]
fn the_api_is_served_over_https_with_the_sip_tls_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let https = std::net::SocketAddr::from(([127, 0, 0, 1], support::free_port()));
    let srv = support::Server::start(dir.path(), &["--https-listen", &https.to_string()]);
    let user = srv.cli_json(&["user", "create", "--json"]);
    let ca = dir.path().join("tls/self-signed-cert.pem");
    assert!(
        ca.exists(),
        "the self-signed certificate is in the data directory"
    );
    let sdk = Sdk {
        base: format!("https://{https}"),
        user: user["user_id"].as_str().unwrap().into(),
        token: user["token"].as_str().unwrap().into(),
        secret: user["secret"].as_str().unwrap().into(),
        ca: Some(ca),
    };
    // Both SDKs, unchanged, verifying the server's certificate.
    let app = sdk.ok(
        "account.create_application",
        json!({"name": "tls", "incoming_call_url": "https://app.example.com/incoming"}),
    );
    let got = sdk.ok("account.get_application", json!({"app_id": app}));
    assert_eq!(got["name"], "tls", "{got}");
    let listed = sdk.node_ok("Application.list", json!([{}]));
    assert!(listed.to_string().contains("\"tls\""), "{listed}");
    // The same port does not speak plain HTTP.
    assert!(ureq::get(&format!("http://{https}/health")).call().is_err());
}
