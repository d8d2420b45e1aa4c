//! The Cloud SIP UA API end to end: a "thin device" (tests/cloudua/device.py: PyJWT tokens,
//! its own callback server, its own G.711 tone over RTP, SRTP through pylibsrtp) against the
//! real binary and real SIP phones (Debian's baresip sending its own tone; the test UA of
//! tests/support/ua.rs where exact SIP is checked: 180, 480, 486, CANCEL), all on loopback.
//!
//! - device → phone: placed, ringing, answered, audio both ways, the phone hangs up;
//! - phone → device: newRemoteCall, ringback, answer, audio both ways, the device hangs up;
//!   the phone cancelling, no answer (480), busy before answer (486);
//! - a placed call refused 486 → callFailed; cancelled before answer → the phone gets CANCEL;
//! - SDES-SRTP on the device's leg (the phone plain RTP), placed and answered;
//! - tokens (HS256/RS256/ES256 pass; expired, not yet valid, wrong key, wrong domain, no
//!   exp, `alg: none`, HS256 keyed with the public key fail alike), CORS, bad input.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::audio::tone_frames;
use support::baresip::{Baresip, PhoneSpec};
use support::cloudua::{Answer, Auth, Device, Keys};
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;
use support::ua::sdp_audio_addr;

const SEC: Duration = Duration::from_secs(1);
/// A second of a tone, in 20 ms frames: what "hears" means for both sides.
const HEARD: usize = 50;
const DOMAIN: &str = "door.example";
/// Loopback callbacks and RTP are allowed for these tests; a ringing device gives up after 3 s.
const CONFIG: &str =
    "[policy]\nallow_networks = [\"127.0.0.0/8\"]\n[cloudua]\nanswer_timeout_secs = 3\n";

/// A server with an app mapped to Cloud UA domain `door.example` (HS256 secret and an RSA
/// public key, callbacks to the device), and the device.
struct World {
    // Field order is drop order: the device before the server and its directory.
    dev: Device,
    keys: Keys,
    rig: Rig,
}

fn world() -> World {
    let rig = Rig::configured(vec![Reply::Status(503)], None, CONFIG);
    let mut dev = Device::start(rig.dir.path(), rig.srv.http, DOMAIN);
    let keys = dev.keys(&rig.dir.path().join("keys"));
    let added = add_domain(
        &rig,
        DOMAIN,
        rig.appid,
        Some(&keys.hs256),
        &keys.rsa_public,
        &dev,
    );
    assert_eq!(added["name"], DOMAIN, "{added}");
    assert_eq!(added["algorithms"], json!(["HS256", "RS256"]), "{added}");
    World { dev, keys, rig }
}

/// `ringmaster cloudua domain add` (secret and public key from files).
fn add_domain(
    rig: &Rig,
    name: &str,
    app: u64,
    secret: Option<&Path>,
    public_key: &Path,
    dev: &Device,
) -> Value {
    let app = app.to_string();
    let mut args = vec!["cloudua", "domain", "add", "--name", name, "--app", &app];
    if let Some(secret) = secret {
        args.extend(["--hs256-secret-file", secret.to_str().unwrap()]);
    }
    args.extend([
        "--public-key",
        public_key.to_str().unwrap(),
        "--callback-base-url",
        &dev.callback_base,
        "--json",
    ]);
    rig.srv.cli_json(&args)
}

/// A valid HS256 token for `door.example`.
fn hs(w: &World) -> Auth {
    Auth::Token(json!({"alg": "HS256", "key": w.keys.hs256, "aud": DOMAIN}))
}

/// POSTs `route` with a valid token; panics unless `{"success": true}` with 200.
fn ok(w: &mut World, route: &str, body: Value) -> Value {
    let auth = hs(w);
    let a = w.dev.post(route, body.clone(), auth);
    assert_eq!(
        (a.status, &a.body["success"]),
        (200, &json!(true)),
        "{route} {body}: {a:?}\n{}",
        w.rig.srv.log()
    );
    a.body
}

/// Where the device must send its RTP, from a callback's remoteRtpIp/remoteRtpPort: one of
/// ringmaster's relay ports, never the phone's.
fn relay(w: &World, cb: &Value) -> SocketAddr {
    let ip = cb["remoteRtpIp"].as_str().expect("remoteRtpIp");
    let port = cb["remoteRtpPort"]
        .as_u64()
        .expect("remoteRtpPort is a number") as u16;
    assert!(w.rig.is_rtp_port(port), "not a relay port: {cb}");
    format!("{ip}:{port}").parse().unwrap()
}

/// baresip registered as new endpoint `user` of the app, sending `tone` Hz, dialling `dial`.
fn baresip(w: &World, user: &str, tone: u32, dial: Option<&str>) -> Baresip {
    w.rig.endpoint(user);
    let aor = format!("{user}@test.local");
    let password = format!("pw-{user}");
    let p = Baresip::start(
        w.rig.dir.path(),
        &PhoneSpec {
            aor: &aor,
            password: &password,
            server: w.rig.srv.sip,
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

/// Waits (bounded) until baresip heard a second of `hz`; panics with both sides' state.
fn phone_hears(w: &mut World, p: &Baresip, hz: u32, port: &str) {
    let deadline = std::time::Instant::now() + 10 * SEC;
    loop {
        let got = tone_frames(&p.heard(), f64::from(hz));
        if got >= HEARD {
            return;
        }
        if std::time::Instant::now() > deadline {
            let sent = w.dev.heard(port, hz);
            panic!(
                "the phone heard {got} frames of the device's {hz} Hz (device side: {sent:?})\n{}\n{}",
                p.log(),
                w.rig.srv.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (bounded) until the device's `port` heard a second of `hz`, only from `from`.
fn device_hears(w: &mut World, port: &str, hz: u32, from: SocketAddr) {
    let h = w.dev.wait_heard(port, hz, HEARD, 10 * SEC);
    assert!(
        h.frames >= HEARD && h.srtp_failures == 0,
        "the device heard {h:?} of the phone's {hz} Hz\n{}",
        w.rig.srv.log()
    );
    assert_eq!(
        h.sources,
        vec![from.to_string()],
        "the device's media comes from ringmaster's relay only"
    );
}

fn place_body(to: &str, port: u16, reference: Value) -> Value {
    json!({"destinationUri": to, "sourceUser": "door", "codec": "PCMU",
           "receiveIp": "127.0.0.1", "receivePort": port, "telephoneEventPayloadType": 101,
           "sessionReferenceId": reference})
}

#[test]
fn thin_devices_hear_each_other_over_rtp_and_srtp() {
    // The harness itself, without ringmaster: what one device sends the other detects, in
    // both laws; SRTP decrypts with the right key and fails (counted, nothing heard) with a
    // wrong one. A device that heard anything regardless would make every test below moot.
    let dir = tempfile::tempdir().unwrap();
    let api: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut a = Device::start(dir.path(), api, "a.example");
    let mut b = Device::start(dir.path(), api, "b.example");
    let (ka, kb, wrong) = (a.srtp_key(), b.srtp_key(), a.srtp_key());
    let suite = "AES_CM_128_HMAC_SHA1_32";
    let pa = a.rtp_open("x", None);
    let pb = b.rtp_open("x", None);
    let to_a: SocketAddr = format!("127.0.0.1:{pa}").parse().unwrap();
    let to_b: SocketAddr = format!("127.0.0.1:{pb}").parse().unwrap();
    a.rtp_send("x", to_b, "PCMA", 700, None);
    b.rtp_send("x", to_a, "PCMU", 1300, None);
    let (ha, hb) = (
        a.wait_heard("x", 1300, HEARD, 10 * SEC),
        b.wait_heard("x", 700, HEARD, 10 * SEC),
    );
    assert!(ha.frames >= HEARD && hb.frames >= HEARD, "{ha:?} {hb:?}");
    assert_eq!(a.heard("x", 700).frames, 0, "a does not hear its own tone");

    let sa = a.rtp_open("s", None);
    let sb = b.rtp_open("s", None);
    let to_a: SocketAddr = format!("127.0.0.1:{sa}").parse().unwrap();
    let to_b: SocketAddr = format!("127.0.0.1:{sb}").parse().unwrap();
    a.rtp_send(
        "s",
        to_b,
        "PCMU",
        900,
        Some(json!({"suite": suite, "local": ka, "remote": wrong})),
    );
    b.rtp_send(
        "s",
        to_a,
        "PCMU",
        1500,
        Some(json!({"suite": suite, "local": kb, "remote": ka})),
    );
    let hb = b.wait_heard("s", 900, HEARD, 10 * SEC);
    assert!(hb.frames >= HEARD && hb.srtp_failures == 0, "{hb:?}");
    std::thread::sleep(SEC);
    let ha = a.heard("s", 1500);
    assert!(
        ha.frames == 0 && ha.srtp_failures >= 25 && ha.srtp_failures == ha.packets,
        "a wrong key decrypts nothing: {ha:?}"
    );
}

#[test]
fn device_calls_a_real_phone_that_answers_both_hear_each_other_and_the_phone_hangs_up() {
    let mut w = world();
    let bob = baresip(&w, "bob", 1100, None);
    let port = w.dev.rtp_open("call", None);
    let reference = json!({"visit": 7, "door": "front"});
    let body = place_body("sip:bob@test.local", port, reference.clone());
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
    assert_eq!(answered["codec"], "PCMU", "{answered}");
    assert_eq!(answered["sessionReferenceId"], reference, "{answered}");
    let to = relay(&w, &answered);

    w.dev.rtp_send("call", to, "PCMU", 700, None);
    phone_hears(&mut w, &bob, 700, "call");
    device_hears(&mut w, "call", 1100, to);
    assert!(
        w.dev.callbacks().iter().all(|c| c["signature"].is_string()),
        "every callback is signed: {:#?}",
        w.dev.callbacks()
    );

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
    w.dev.reply(json!("visitor-42"), 0);
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
    let mut w = world();
    w.rig.endpoint("alice");
    let mut alice = w.rig.phone("alice");
    let rtp = Rtp::bind();

    // Ringback, then the caller gives up: 180, CANCEL, callHungup (its 500 retried).
    w.dev.reply(json!({"visitor": 1}), 0);
    let mut out = alice.invite("door", rtp.addr);
    let call = w.dev.wait_callback("newRemoteCall", 10 * SEC);
    let reply_id = call["replyId"].clone();
    w.dev.reply(json!({"visitor": 1}), 1);
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
    w.rig.assert_alive();
}

#[test]
fn placed_calls_refused_486_fail_and_cancelled_before_answer_send_cancel() {
    let mut w = world();
    w.rig.endpoint("bob");
    let mut bob = w.rig.phone("bob");
    let port = w.dev.rtp_open("call", None);

    let body = place_body("sip:bob@test.local", port, json!("busy-1"));
    let placed = ok(&mut w, "placeremotecalljwt", body);
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    let offered = sdp_audio_addr(&inv.req.body).expect("an SDP offer");
    assert!(
        w.rig.is_rtp_port(offered.port()) && offered.port() != port,
        "the phone is offered ringmaster's relay, not the device: {offered}"
    );
    bob.reply(&inv, 486, None);
    let failed = w.dev.wait_callback("callFailed", 10 * SEC);
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

/// The same 401 whatever is wrong with the token.
fn assert_unauthorized(a: &Answer, what: &str) {
    assert_eq!(a.status, 401, "{what}: {a:?}");
    assert_eq!(
        a.body,
        json!({"success": false, "error": {"code": "unauthorized", "message": "invalid or missing token"}}),
        "{what}"
    );
}

#[test]
fn only_valid_tokens_pass_and_every_route_answers_cors_and_bad_input() {
    let mut w = world();
    // A second domain, on a second app, verified with an EC P-256 key only.
    let other = w.rig.srv.app_with_endpoints(&[]);
    let gate_keys = w.dev.keys(&w.rig.dir.path().join("gate-keys"));
    let app = other["appid"].as_u64().expect("appid");
    let added = add_domain(
        &w.rig,
        "gate.example",
        app,
        None,
        &gate_keys.ec_public,
        &w.dev,
    );
    assert_eq!(added["algorithms"], json!(["ES256"]), "{added}");
    let listed = w.rig.srv.cli_json(&["cloudua", "domain", "list", "--json"]);
    assert!(listed.to_string().contains("gate.example"), "{listed}");
    let stranger = w.dev.keys(&w.rig.dir.path().join("stranger-keys"));

    // A cheap route: hangupcalljwt of an unknown replyId is 404 once the token passes.
    let probe = json!({"replyId": "no-such-call"});
    let k = w.keys.clone();
    let valid = [
        (
            DOMAIN,
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN}),
        ),
        (
            DOMAIN,
            json!({"alg": "RS256", "key": k.rsa_private, "aud": [DOMAIN, "x"]}),
        ),
        (
            DOMAIN,
            json!({"alg": "HS256", "key": k.hs256, "domain": DOMAIN}),
        ),
        (
            "gate.example",
            json!({"alg": "ES256", "key": gate_keys.ec_private, "aud": "gate.example"}),
        ),
        // Just expired, within the documented 60 s leeway.
        (
            DOMAIN,
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN, "exp_in": -20}),
        ),
    ];
    for (domain, spec) in valid {
        let a = w.dev.post_to(
            domain,
            "hangupcalljwt",
            probe.clone(),
            Auth::Token(spec.clone()),
        );
        assert_eq!(a.status, 404, "valid {spec}: {a:?}");
        assert_eq!(a.body["success"], false, "{a:?}");
        assert_eq!(a.body["error"]["code"], "not_found", "{a:?}");
    }
    let invalid = [
        (
            "expired",
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN, "exp_in": -600}),
        ),
        (
            "not yet valid",
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN, "nbf_in": 600}),
        ),
        (
            "no exp",
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN, "exp_in": null}),
        ),
        (
            "wrong secret",
            json!({"alg": "HS256", "key": stranger.hs256, "aud": DOMAIN}),
        ),
        (
            "wrong RSA key",
            json!({"alg": "RS256", "key": stranger.rsa_private, "aud": DOMAIN}),
        ),
        (
            "wrong domain",
            json!({"alg": "HS256", "key": k.hs256, "aud": "gate.example"}),
        ),
        (
            "domain claim differs",
            json!({"alg": "HS256", "key": k.hs256, "aud": DOMAIN, "domain": "gate.example"}),
        ),
        ("alg none", json!({"alg": "none", "aud": DOMAIN})),
        (
            "HS256 keyed with the RSA public key",
            json!({"alg": "HS256-raw", "key": k.rsa_public, "aud": DOMAIN}),
        ),
        (
            "ES256 where only RS256 is configured",
            json!({"alg": "ES256", "key": gate_keys.ec_private, "aud": DOMAIN}),
        ),
    ];
    for (what, spec) in invalid {
        let a = w
            .dev
            .post("hangupcalljwt", probe.clone(), Auth::Token(spec));
        assert_unauthorized(&a, what);
    }
    let a = w.dev.post_to(
        "gate.example",
        "hangupcalljwt",
        probe.clone(),
        Auth::Token(json!({"alg": "HS256-raw", "key": gate_keys.ec_public, "aud": "gate.example"})),
    );
    assert_unauthorized(&a, "HS256 keyed with the EC public key");
    let a = w
        .dev
        .post_to("gate.example", "hangupcalljwt", probe.clone(), hs(&w));
    assert_unauthorized(&a, "door's token on gate's path");
    assert_unauthorized(
        &w.dev.post("hangupcalljwt", probe.clone(), Auth::None),
        "no token",
    );
    let a = w.dev.post(
        "hangupcalljwt",
        probe.clone(),
        Auth::Bearer("not.a.jwt".into()),
    );
    assert_unauthorized(&a, "garbage");

    // CORS: a preflight on every route, and the origin header on every answer.
    for route in [
        "placeremotecalljwt",
        "answerremotecalljwt",
        "sendremotecallringbackjwt",
        "hangupcalljwt",
    ] {
        let a = w.dev.options(route);
        assert!(matches!(a.status, 200 | 204), "OPTIONS {route}: {a:?}");
        let h = &a.headers;
        assert_eq!(h["access-control-allow-origin"], "*", "{route}: {h}");
        let methods = h["access-control-allow-methods"].as_str().unwrap_or("");
        assert!(methods.contains("POST"), "{route}: {h}");
        let allowed = h["access-control-allow-headers"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{route}: {h}"
        );
    }
    let a = w.dev.post("hangupcalljwt", probe, Auth::None);
    assert_eq!(a.headers["access-control-allow-origin"], "*", "{a:?}");

    // Bad input: 400 with a message; GSM is refused by name.
    let a = w
        .dev
        .post_raw("placeremotecalljwt", "{\"destinationUri\": ", hs(&w));
    assert_eq!(
        (a.status, &a.body["error"]["code"]),
        (400, &json!("bad_request")),
        "{a:?}"
    );
    assert!(a.body["error"]["message"].is_string(), "{a:?}");
    let port = w.dev.rtp_open("none", None);
    let mut body = place_body("sip:bob@test.local", port, Value::Null);
    body.as_object_mut().unwrap().remove("destinationUri");
    let a = w.dev.post("placeremotecalljwt", body.clone(), hs(&w));
    assert_eq!(
        (a.status, &a.body["error"]["code"]),
        (400, &json!("bad_request")),
        "{a:?}"
    );
    body["destinationUri"] = json!("sip:bob@test.local");
    body["codec"] = json!("GSM");
    let a = w.dev.post("placeremotecalljwt", body, hs(&w));
    assert_eq!(
        (a.status, &a.body["error"]["code"]),
        (400, &json!("codec_unsupported")),
        "{a:?}"
    );
    let a = w
        .dev
        .post("answerremotecalljwt", json!({"receivePort": "x"}), hs(&w));
    assert_eq!(a.status, 400, "{a:?}");
    assert!(
        w.dev.callbacks().is_empty(),
        "nothing above made a call: {:#?}",
        w.dev.callbacks()
    );
    w.rig.assert_alive();
}
