//! Cloud SIP UA with exact SIP control: a device (this test: REST with an HS256 token, the
//! callback server, a raw RTP socket) and our test UA as the phone, against the real binary
//! on loopback. The independent device (PyJWT, pylibsrtp, tones) is `e2e_cloudua.rs`; here
//! each SIP outcome the API promises is checked message by message:
//! - placed: 180 → `callNotify` ringing → 200 → `callAnswered` (remoteRtpIp/Port) → RTP both
//!   ways through the relay → re-INVITE → `callNotify` reInvite → the phone's BYE →
//!   `callHungup`; `sessionReferenceId` in each;
//! - placed: a 486 → `callFailed` sipStatus 486; cancelled by `sessionReferenceId` → CANCEL;
//! - called: `newRemoteCall` → ringback (180) → answer (200) → RTP both ways →
//!   `hangupcalljwt` → BYE → `callHungup`; the spent `replyId` → 404;
//! - called: hang-up before answer → 486; no answer → 480 after the answer timeout; the
//!   caller's CANCEL → `callHungup`.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use support::http::{HttpStub, Reply};
use support::rig::{admin_post, Rig, CONFIG};
use support::rtp::Rtp;
use support::ua::sdp_audio_addr;

const SEC: Duration = Duration::from_secs(1);
const DOMAIN: &str = "acme.cua.test";
const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";

fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(json!({"aud": DOMAIN, "exp": now + 300}).to_string());
    let input = format!("{head}.{body}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

struct World {
    rig: Rig,
    device: HttpStub,
}

impl World {
    fn start() -> World {
        let config = format!("{CONFIG}[cloudua]\nanswer_timeout_secs = 2\n");
        let rig = Rig::configured(vec![Reply::Status(500)], None, &config);
        let device = HttpStub::start(vec![Reply::Status(200)]);
        let (status, d) = admin_post(
            &rig.srv,
            "/admin/v1/cloudua/domains",
            json!({"name": DOMAIN, "appid": rig.appid, "hs256_secret": SECRET,
                   "callback_base_url": device.url("/cb")}),
        );
        assert_eq!(status, 201, "{d}");
        assert_eq!(d["algorithms"], json!(["HS256"]));
        World { rig, device }
    }

    fn post(&self, route: &str, body: Value) -> (u16, Value) {
        let url = format!("http://{}/mediaservice/{DOMAIN}/{route}", self.rig.srv.http);
        let resp = ureq::post(&url)
            .set("Authorization", &format!("Bearer {}", token()))
            .timeout(10 * SEC)
            .send_json(body);
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {url}: {e}"),
        };
        assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
        (resp.status(), resp.into_json().unwrap_or(Value::Null))
    }

    /// The `n`-th callback `name` (1-based), once it came; its signature checked.
    fn callback(&self, name: &str, n: usize) -> Value {
        let hits = self
            .device
            .wait_hits(&format!("/cb/{name}"), 10 * SEC, |h| h.len() >= n);
        let hit = &hits[n - 1];
        hit.verify_signature(&self.rig.secret).expect("signed");
        hit.json()
    }
}

fn port_of(v: &Value) -> u16 {
    v["remoteRtpPort"].as_u64().expect("remoteRtpPort") as u16
}

/// Both ends hear the other through the relay: `a` sends to `a_to`, `b` to `b_to`.
fn audio_both_ways(a: &Rtp, a_to: SocketAddr, b: &Rtp, b_to: SocketAddr) {
    let (ta, tb) = (a.send(a_to, 50), b.send(b_to, 50));
    ta.join().unwrap();
    tb.join().unwrap();
    assert!(
        a.wait_received(25, 5 * SEC) >= 25,
        "a heard {}",
        a.received()
    );
    assert!(
        b.wait_received(25, 5 * SEC) >= 25,
        "b heard {}",
        b.received()
    );
}

#[test]
fn a_device_calls_a_phone() {
    let w = World::start();
    w.rig.endpoint("bob");
    let mut bob = w.rig.phone("bob");
    let (dev, phone) = (Rtp::bind(), Rtp::bind());
    let r = json!({"alarm": 7});
    let (status, placed) = w.post(
        "placeremotecalljwt",
        json!({"destinationUri": "sip:bob@test.local", "sourceUser": "panel7", "codec": "PCMU",
               "receiveIp": "127.0.0.1", "receivePort": dev.addr.port(),
               "sessionReferenceId": r}),
    );
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["success"], true);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let from = inv
        .req
        .headers
        .get(&engine::sip::message::HeaderName::From)
        .unwrap_or("");
    assert!(from.contains("sip:panel7@"), "From user: {from}");
    bob.reply(&inv, 180, None);
    let ringing = w.callback("callNotify", 1);
    assert_eq!(
        (ringing["event"].as_str(), &ringing["sessionReferenceId"]),
        (Some("ringing"), &r)
    );
    assert_eq!(ringing["replyId"], placed["replyId"]);
    let mut d = bob.answer(&inv, phone.addr);
    let answered = w.callback("callAnswered", 1);
    assert_eq!(
        (answered["codec"].as_str(), answered["remoteRtpIp"].as_str()),
        (Some("PCMU"), Some("127.0.0.1"))
    );
    assert_eq!(answered["sessionReferenceId"], r);
    let relay_b: SocketAddr = ([127, 0, 0, 1], port_of(&answered)).into();
    let relay_a = sdp_audio_addr(&inv.req.body).expect("our SDP to the phone");
    audio_both_ways(&dev, relay_b, &phone, relay_a);
    // A re-INVITE from the phone (a session refresh, say) is told to the device.
    assert_eq!(
        bob.reinvite(&mut d, &support::ua::sdp(phone.addr)).status,
        200
    );
    let re = w.callback("callNotify", 2);
    assert_eq!(
        (re["event"].as_str(), &re["replyId"]),
        (Some("reInvite"), &placed["replyId"])
    );
    assert_eq!(bob.bye(&mut d), 200);
    let hung = w.callback("callHungup", 1);
    assert_eq!(
        (
            hung["sessionReferenceId"].clone(),
            hung["sourceUser"].as_str()
        ),
        (r, Some("panel7"))
    );
    // The finished call's replyId opens nothing.
    let (status, e) = w.post("hangupcalljwt", json!({"replyId": placed["replyId"]}));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{e}"
    );
}

#[test]
fn a_placed_call_fails_busy_or_is_cancelled() {
    let w = World::start();
    w.rig.endpoint("bob");
    let mut bob = w.rig.phone("bob");
    let dev = Rtp::bind();
    let place = |r: u32| {
        json!({"destinationUri": "sip:bob@test.local", "sourceUser": "panel7",
               "receiveIp": "127.0.0.1", "receivePort": dev.addr.port(), "sessionReferenceId": r})
    };
    assert_eq!(w.post("placeremotecalljwt", place(1)).0, 200);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 486, None);
    let failed = w.callback("callFailed", 1);
    assert_eq!(
        (
            failed["sipStatus"].as_u64(),
            failed["sessionReferenceId"].as_u64()
        ),
        (Some(486), Some(1))
    );
    assert_eq!(failed["sipReason"], "Busy Here");

    assert_eq!(w.post("placeremotecalljwt", place(2)).0, 200);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 180, None);
    w.callback("callNotify", 1);
    let (status, e) = w.post("hangupcalljwt", json!({"sessionReferenceId": 2}));
    assert_eq!(status, 200, "{e}");
    bob.expect_cancel(&inv, 5 * SEC);
    let hung = w.callback("callHungup", 1);
    assert_eq!(hung["sessionReferenceId"], 2);
}

#[test]
fn a_phone_calls_a_device() {
    let w = World::start();
    w.rig.endpoint("alice");
    let mut alice = w.rig.phone("alice");
    let (dev, phone) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("panel7", phone.addr);
    let call = w.callback("newRemoteCall", 1);
    assert_eq!(
        call["destinationUri"].as_str(),
        Some(format!("sip:panel7@{DOMAIN}").as_str())
    );
    assert_eq!(
        (call["sourceUser"].as_str(), call["codec"].as_str()),
        (Some("alice"), Some("PCMU"))
    );
    assert_eq!(call["crypto"].as_array().map(Vec::len), Some(2));
    let reply = call["replyId"].clone();
    assert_eq!(
        w.post("sendremotecallringbackjwt", json!({"replyId": reply}))
            .0,
        200
    );
    assert_eq!(alice.next_response(&mut out, 5 * SEC).status, 180);
    let (status, e) = w.post(
        "answerremotecalljwt",
        json!({"replyId": reply, "receiveIp": "127.0.0.1", "receivePort": dev.addr.port(), "codec": "PCMU"}),
    );
    assert_eq!(status, 200, "{e}");
    let d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("200 to the caller");
    let relay_a = d.remote_rtp.expect("our SDP to the caller");
    let relay_b: SocketAddr = ([127, 0, 0, 1], port_of(&call)).into();
    audio_both_ways(&dev, relay_b, &phone, relay_a);
    assert_eq!(w.post("hangupcalljwt", json!({"replyId": reply})).0, 200);
    alice.expect_bye(&d, 5 * SEC);
    let hung = w.callback("callHungup", 1);
    assert_eq!(hung["replyId"], reply);
    assert_eq!(w.post("hangupcalljwt", json!({"replyId": reply})).0, 404);
    assert_eq!(
        w.post(
            "answerremotecalljwt",
            json!({"replyId": "nope", "receiveIp": "127.0.0.1", "receivePort": 4000})
        )
        .0,
        404
    );
}

#[test]
fn a_called_device_refuses_lets_it_ring_out_or_is_cancelled() {
    let w = World::start();
    w.rig.endpoint("alice");
    let mut alice = w.rig.phone("alice");
    let phone = Rtp::bind();
    // Hang-up before the answer: busy.
    let mut out = alice.invite("panel7", phone.addr);
    let call = w.callback("newRemoteCall", 1);
    assert_eq!(
        w.post("hangupcalljwt", json!({"replyId": call["replyId"]}))
            .0,
        200
    );
    assert_eq!(alice.final_response(&mut out, 5 * SEC).err(), Some(486));
    w.callback("callHungup", 1);
    // No answer: 480 after the answer timeout (2 s here).
    let mut out = alice.invite("panel7", phone.addr);
    w.callback("newRemoteCall", 2);
    assert_eq!(alice.final_response(&mut out, 10 * SEC).err(), Some(480));
    w.callback("callHungup", 2);
    // The caller gives up.
    let mut out = alice.invite("panel7", phone.addr);
    w.callback("newRemoteCall", 3);
    let (cancel, last) = alice.cancel(&mut out);
    assert_eq!((cancel, last), (200, 487));
    w.callback("callHungup", 3);
}

#[test]
fn bad_requests_get_clear_errors() {
    let w = World::start();
    let (status, e) = w.post("placeremotecalljwt", json!({"sourceUser": "x"}));
    assert_eq!((status, e["success"].as_bool()), (400, Some(false)), "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("destinationUri"),
        "{e}"
    );
    let base = json!({"destinationUri": "sip:bob@test.local", "sourceUser": "panel7",
                      "receiveIp": "127.0.0.1", "receivePort": 4000});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let (status, e) = w.post("placeremotecalljwt", with("codec", json!("GSM")));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("codec_unsupported")),
        "{e}"
    );
    assert_eq!(
        w.post("placeremotecalljwt", with("receivePort", json!(70_000)))
            .0,
        400
    );
    assert_eq!(
        w.post(
            "placeremotecalljwt",
            with("receiveIp", json!("phone.example"))
        )
        .0,
        400
    );
    let (status, e) = w.post("placeremotecalljwt", with("receiveIp", json!("10.1.2.3")));
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{e}"
    );
    assert_eq!(
        w.post("placeremotecalljwt", with("sourceUser", json!("a b")))
            .0,
        400
    );
    assert_eq!(
        w.post(
            "placeremotecalljwt",
            with(
                "crypto",
                json!([{"suite": "F8_128_HMAC_SHA1_80", "config": "inline:x"}])
            )
        )
        .0,
        400
    );
    let url = format!(
        "http://{}/mediaservice/{DOMAIN}/hangupcalljwt",
        w.rig.srv.http
    );
    let resp = ureq::post(&url)
        .set("Authorization", &format!("Bearer {}", token()))
        .send_string("{not json");
    assert!(matches!(resp, Err(ureq::Error::Status(400, _))));
    assert_eq!(w.post("hangupcalljwt", json!({})).0, 400);
    // Bad tokens count towards the address's REST ban; the ban answers in this API's shape.
    let mut last = (0, Value::Null);
    for _ in 0..12 {
        let resp = ureq::post(&url)
            .set("Authorization", "Bearer not.a.token")
            .send_json(json!({"replyId": "x"}));
        last = match resp {
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert_eq!(
        (
            last.1["success"].as_bool(),
            last.1["error"]["code"].as_str()
        ),
        (Some(false), Some("too_many_failures"))
    );
}
