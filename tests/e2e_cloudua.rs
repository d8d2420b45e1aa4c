//! The Cloud SIP UA API end to end: a "thin device" (tests/cloudua/device.py: PyJWT tokens,
//! its own callback server, its own G.711 tone over RTP, SRTP through pylibsrtp) against the
//! real binary and real SIP phones (Debian's baresip sending its own tone; the test UA of
//! tests/support/ua.rs where exact SIP is checked: 180, 480, 486, CANCEL), all on loopback.
//!
//! - device → phone: placed, ringing, answered, audio both ways, the phone hangs up;
//! - phone → device: newRemoteCall, ringback, answer, audio both ways, the device hangs up;
//!   the phone cancelling, no answer (480), busy before answer (486);
//! - a placed call refused 486 → callFailed; cancelled before answer → the phone gets CANCEL;
//! - SDES-SRTP on the device's leg (the phone plain RTP), placed and answered.
//!
//! Tokens, CORS and bad input are in e2e_cloudua_auth.rs.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::cloudua::Auth;
use support::cloudua_rig::{
    add_domain, assert_all_signed, baresip, device_hears, hs, ok, phone_hears, place_body, relay,
    world, world_with, DOMAIN, SEC,
};
use support::rtp::Rtp;
use support::ua::sdp_audio_addr;

#[test]
fn device_calls_a_real_phone_that_answers_both_hear_each_other_and_the_phone_hangs_up() {
    let mut w = world();
    let bob = baresip(&w, "bob", 1100, None);
    let port = w.dev.rtp_open("call", None);
    let reference = json!({"visit": 7, "door": "front"});
    let mut body = place_body("sip:bob@test.local", port, reference.clone());
    body["codec"] = json!("PCMA");
    let placed = ok(&mut w, "placeremotecalljwt", body);
    let reply_id = placed["replyId"].clone();
    assert!(
        placed["callId"].is_string() && reply_id.is_string(),
        "{placed}"
    );

    let ringing = w.dev.wait_callback("callNotify", 10 * SEC);
    assert_eq!(ringing["event"], "ringing", "{ringing}");
    assert_eq!(ringing["replyId"], reply_id, "{ringing}");
    assert_eq!(ringing["sessionReferenceId"], reference, "{ringing}");
    let answered = w.dev.wait_callback("callAnswered", 10 * SEC);
    assert_eq!(answered["replyId"], reply_id, "{answered}");
    assert_eq!(answered["codec"], "PCMA", "{answered}");
    assert_eq!(answered["sessionReferenceId"], reference, "{answered}");
    let to = relay(&w, &answered);

    w.dev.rtp_send("call", to, "PCMA", 700, None);
    phone_hears(&mut w, &bob, 700, "call");
    device_hears(&mut w, "call", 1100, to);
    assert_all_signed(&w);

    bob.quit();
    let hungup = w.dev.wait_callback("callHungup", 10 * SEC);
    assert_eq!(hungup["callId"], placed["callId"], "{hungup}");
    assert_eq!(hungup["sessionReferenceId"], reference, "{hungup}");
    w.dev.rtp_stop("call");
    let auth = hs(&w);
    let again = w
        .dev
        .post("hangupcalljwt", json!({"replyId": reply_id}), auth);
    assert_eq!(again.status, 404, "a finished call's replyId: {again:?}");
}

#[test]
fn a_real_phone_calls_the_device_which_answers_both_hear_each_other_and_the_device_hangs_up() {
    let mut w = world();
    let alice = baresip(&w, "alice", 1200, Some("door"));
    let call = w.dev.wait_callback("newRemoteCall", 10 * SEC);
    for field in [
        "replyId",
        "callId",
        "sessionId",
        "traceId",
        "httpTransactionId",
    ] {
        assert!(call[field].is_string(), "{field} in {call}");
    }
    assert_eq!(call["domain"], DOMAIN, "{call}");
    assert_eq!(call["sourceUser"], "alice", "{call}");
    assert!(
        call["destinationUri"]
            .as_str()
            .unwrap_or("")
            .contains("door"),
        "{call}"
    );
    assert_eq!(call["telephoneEventPayloadType"], 101, "{call}");
    let codec = call["codec"].as_str().expect("codec").to_string();
    assert!(codec == "PCMU" || codec == "PCMA", "{call}");
    let to = relay(&w, &call);
    let reply_id = call["replyId"].clone();

    ok(
        &mut w,
        "sendremotecallringbackjwt",
        json!({"replyId": reply_id}),
    );
    let port = w.dev.rtp_open("in", None);
    ok(
        &mut w,
        "answerremotecalljwt",
        json!({"replyId": reply_id, "receiveIp": "127.0.0.1", "receivePort": port, "codec": codec}),
    );
    w.dev.rtp_send("in", to, &codec, 600, None);
    phone_hears(&mut w, &alice, 600, "in");
    device_hears(&mut w, "in", 1200, to);

    ok(&mut w, "hangupcalljwt", json!({"replyId": reply_id}));
    assert!(
        alice.wait_log("terminated", 10 * SEC),
        "the phone got no BYE:\n{}",
        alice.log()
    );
    w.dev.rtp_stop("in");
    let auth = hs(&w);
    let again = w.dev.post(
        "answerremotecalljwt",
        json!({"replyId": reply_id, "receiveIp": "127.0.0.1", "receivePort": port, "codec": codec}),
        auth,
    );
    assert_eq!(again.status, 404, "a finished call's replyId: {again:?}");
}

#[test]
fn calls_to_the_device_ring_back_are_cancelled_time_out_with_480_and_are_refused_486() {
    let mut w = world_with(3);
    w.rig.endpoint("alice");
    let mut alice = w.rig.phone("alice");
    let rtp = Rtp::bind();

    // Ringback, then the caller gives up: 180, CANCEL, callHungup (its 500 retried).
    w.dev.reply(json!({"visitor": 1}));
    w.dev.fail("callHungup", 1);
    let mut out = alice.invite("door", rtp.addr);
    let call = w.dev.wait_callback("newRemoteCall", 10 * SEC);
    let reply_id = call["replyId"].clone();
    ok(
        &mut w,
        "sendremotecallringbackjwt",
        json!({"replyId": reply_id}),
    );
    let ring = alice.next_response(&mut out, 5 * SEC);
    assert_eq!(ring.status, 180, "ringback");
    assert_eq!(alice.cancel(&mut out), (200, 487));
    let hungup = w.dev.wait_callback("callHungup", 20 * SEC);
    assert_eq!(
        hungup["sessionReferenceId"],
        json!({"visitor": 1}),
        "{hungup}"
    );
    assert!(
        w.dev
            .callbacks()
            .iter()
            .any(|c| c["failed"] == true && c["callback"] == "callHungup"),
        "the first callHungup was answered 500 and retried"
    );
    let auth = hs(&w);
    let late = w.dev.post(
        "sendremotecallringbackjwt",
        json!({"replyId": reply_id}),
        auth,
    );
    assert_eq!(late.status, 404, "a cancelled call's replyId: {late:?}");

    // Nobody answers: 480 once [cloudua] answer_timeout_secs (3 s) ran out.
    let mut out = alice.invite("door", rtp.addr);
    w.dev.wait_callback("newRemoteCall", 10 * SEC);
    assert_eq!(alice.final_response(&mut out, 15 * SEC).err(), Some(480));

    // The device is busy: hangupcalljwt before the answer is 486 Busy Here.
    let mut out = alice.invite("door", rtp.addr);
    let call = w.dev.wait_callback("newRemoteCall", 10 * SEC);
    ok(&mut w, "hangupcalljwt", json!({"replyId": call["replyId"]}));
    assert_eq!(alice.final_response(&mut out, 10 * SEC).err(), Some(486));
    assert_all_signed(&w);
    w.rig.assert_alive();
}

#[test]
fn placed_calls_refused_486_fail_and_cancelled_before_answer_send_cancel() {
    let mut w = world();
    w.rig.endpoint("bob");
    let mut bob = w.rig.phone("bob");
    let port = w.dev.rtp_open("call", None);

    // This placement's callbacks go to its own callbackBaseUrl, not the domain's.
    let mut body = place_body("sip:bob@test.local", port, json!("busy-1"));
    body["callbackBaseUrl"] = json!(format!("{}/percall", w.dev.callback_base));
    let placed = ok(&mut w, "placeremotecalljwt", body);
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    let offered = sdp_audio_addr(&inv.req.body).expect("an SDP offer");
    assert!(
        w.rig.is_rtp_port(offered.port()) && offered.port() != port,
        "the phone is offered ringmaster's relay, not the device: {offered}"
    );
    bob.reply(&inv, 486, None);
    let entry = w.dev.try_callback_entry("callFailed", 10 * SEC);
    let entry = entry.unwrap_or_else(|| panic!("no callFailed: {:#?}", w.dev.callbacks()));
    assert_eq!(entry["path"], "/cb/percall/callFailed", "{entry}");
    let failed = &entry["body"];
    assert_eq!(failed["sipStatus"], 486, "{failed}");
    assert_eq!(failed["domain"], DOMAIN, "{failed}");
    assert_eq!(failed["sessionReferenceId"], "busy-1", "{failed}");
    assert!(placed["callId"].is_string(), "{placed}");

    let reference = json!({"attempt": 2});
    let body = place_body("sip:bob@test.local", port, reference.clone());
    let placed = ok(&mut w, "placeremotecalljwt", body);
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    bob.reply(&inv, 180, None);
    let ringing = w.dev.wait_callback("callNotify", 10 * SEC);
    assert_eq!(ringing["event"], "ringing", "{ringing}");
    assert_eq!(ringing["replyId"], placed["replyId"], "{ringing}");
    // Another tenant's device knows nothing of this call, even with its replyId and
    // sessionReferenceId: 404, and the phone keeps ringing.
    let other = w.rig.srv.app_with_endpoints(&[]);
    let k = w.keys.clone();
    let app = other["appid"].as_u64().expect("appid");
    add_domain(
        &w.rig,
        "gate.example",
        app,
        Some(&k.hs256),
        &k.rsa_public,
        &w.dev,
    );
    let gate = || Auth::Token(json!({"alg": "HS256", "key": k.hs256, "aud": "gate.example"}));
    for body in [
        json!({"replyId": placed["replyId"]}),
        json!({"sessionReferenceId": reference}),
    ] {
        let a = w.dev.post_to("gate.example", "hangupcalljwt", body, gate());
        assert_eq!(a.status, 404, "another domain's call: {a:?}");
    }
    assert!(
        bob.try_request("CANCEL", None, Duration::from_millis(300))
            .is_none(),
        "another domain cancelled the call"
    );
    // Cancelled by the placement's own sessionReferenceId (the device may not have kept
    // the replyId).
    ok(
        &mut w,
        "hangupcalljwt",
        json!({"sessionReferenceId": reference}),
    );
    bob.expect_cancel(&inv, 10 * SEC);
    let auth = hs(&w);
    let again = w
        .dev
        .post("hangupcalljwt", json!({"replyId": placed["replyId"]}), auth);
    assert_eq!(again.status, 404, "a cancelled call's replyId: {again:?}");
    assert_all_signed(&w);
    w.rig.assert_alive();
}

#[test]
fn srtp_on_the_device_leg_and_plain_rtp_on_the_phone_both_hear_placed_and_answered() {
    let mut w = world();
    // Placed: the device offers its AES_CM_128_HMAC_SHA1_80 key; ringmaster's comes back in
    // callAnswered.
    let bob = baresip(&w, "bob", 1000, None);
    let own = w.dev.srtp_key();
    let port = w.dev.rtp_open("out", None);
    let mut body = place_body("sip:bob@test.local", port, Value::Null);
    body["crypto"] = json!([{"suite": "AES_CM_128_HMAC_SHA1_80", "id": 1, "config": own}]);
    ok(&mut w, "placeremotecalljwt", body);
    let answered = w.dev.wait_callback("callAnswered", 15 * SEC);
    let theirs = &answered["crypto"][0];
    assert_eq!(theirs["suite"], "AES_CM_128_HMAC_SHA1_80", "{answered}");
    assert_ne!(theirs["config"], json!(own), "ringmaster has its own key");
    let to = relay(&w, &answered);
    let srtp =
        json!({"suite": "AES_CM_128_HMAC_SHA1_80", "local": own, "remote": theirs["config"]});
    w.dev.rtp_send("out", to, "PCMU", 500, Some(srtp));
    phone_hears(&mut w, &bob, 500, "out");
    device_hears(&mut w, "out", 1000, to);
    w.dev.rtp_stop("out");
    drop(bob);

    // Answered: the phone calls; the device picks the _32 suite of the two offered.
    let carol = baresip(&w, "carol", 1600, Some("door"));
    let call = w.dev.wait_callback("newRemoteCall", 10 * SEC);
    let offered = call["crypto"].as_array().cloned().unwrap_or_default();
    assert_eq!(offered.len(), 2, "{call}");
    let theirs = offered
        .iter()
        .find(|c| c["suite"] == "AES_CM_128_HMAC_SHA1_32")
        .unwrap_or_else(|| panic!("no _32 key offered: {call}"))
        .clone();
    let own = w.dev.srtp_key();
    let port = w.dev.rtp_open("in", None);
    let codec = call["codec"].as_str().unwrap_or("PCMU").to_string();
    ok(
        &mut w,
        "answerremotecalljwt",
        json!({"replyId": call["replyId"], "receiveIp": "127.0.0.1", "receivePort": port,
               "codec": codec,
               "crypto": [{"suite": "AES_CM_128_HMAC_SHA1_32", "id": theirs["id"], "config": own}]}),
    );
    let to = relay(&w, &call);
    let srtp =
        json!({"suite": "AES_CM_128_HMAC_SHA1_32", "local": own, "remote": theirs["config"]});
    w.dev.rtp_send("in", to, &codec, 800, Some(srtp));
    phone_hears(&mut w, &carol, 800, "in");
    device_hears(&mut w, "in", 1600, to);
}
