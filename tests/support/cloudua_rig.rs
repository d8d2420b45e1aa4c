//! One Cloud SIP UA test's world: a server (loopback allowed by `[policy]`, its own answer
//! timeout) whose app is Cloud UA domain `door.example`, the thin device ([`super::cloudua`])
//! receiving its callbacks, and what the call tests share: tokens, phones (baresip) and the
//! checks that each side heard the other's tone.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::audio::tone_frames;
use super::baresip::{Baresip, PhoneSpec};
use super::cloudua::{Auth, Device, Keys};
use super::http::Reply;
use super::rig::Rig;

pub const SEC: Duration = Duration::from_secs(1);
/// A second of a tone, in 20 ms frames: what "hears" means for both sides.
pub const HEARD: usize = 50;
pub const DOMAIN: &str = "door.example";

/// The settings: loopback callbacks and RTP allowed; a ringing device gives up after
/// `answer_timeout_secs`.
pub fn config(answer_timeout_secs: u32) -> String {
    format!("[policy]\nallow_networks = [\"127.0.0.0/8\"]\n[cloudua]\nanswer_timeout_secs = {answer_timeout_secs}\n")
}

/// A server with an app mapped to Cloud UA domain `door.example` (HS256 secret and an RSA
/// public key, callbacks to the device), and the device.
pub struct World {
    // Field order is drop order: the device before the server and its directory.
    pub dev: Device,
    pub keys: Keys,
    pub rig: Rig,
}

/// A world whose device has 20 s to answer (a loaded machine never makes a call time out).
pub fn world() -> World {
    world_with(20)
}

pub fn world_with(answer_timeout_secs: u32) -> World {
    world_configured(&config(answer_timeout_secs))
}

/// A world with these settings (TOML).
pub fn world_configured(config_toml: &str) -> World {
    // The app's own answer URL fails: a call that reached it instead of the device would show.
    let rig = Rig::configured(vec![Reply::Status(503)], None, config_toml);
    let mut dev = Device::start(rig.dir.path(), rig.srv.http, DOMAIN);
    let keys = dev.keys(&rig.dir.path().join("keys"));
    dev.signing(&rig.secret);
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
pub fn add_domain(
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
pub fn hs(w: &World) -> Auth {
    Auth::Token(json!({"alg": "HS256", "key": w.keys.hs256, "aud": DOMAIN}))
}

/// POSTs `route` with a valid token; panics unless `{"success": true}` with 200.
pub fn ok(w: &mut World, route: &str, body: Value) -> Value {
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
pub fn relay(w: &World, cb: &Value) -> SocketAddr {
    let ip = cb["remoteRtpIp"].as_str().expect("remoteRtpIp");
    let port = cb["remoteRtpPort"]
        .as_u64()
        .expect("remoteRtpPort is a number") as u16;
    assert!(w.rig.is_rtp_port(port), "not a relay port: {cb}");
    format!("{ip}:{port}").parse().unwrap()
}

/// baresip registered as new endpoint `user` of the app, sending `tone` Hz, dialling `dial`.
pub fn baresip(w: &World, user: &str, tone: u32, dial: Option<&str>) -> Baresip {
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
pub fn phone_hears(w: &mut World, p: &Baresip, hz: u32, port: &str) {
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
pub fn device_hears(w: &mut World, port: &str, hz: u32, from: SocketAddr) {
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

pub fn place_body(to: &str, port: u16, reference: Value) -> Value {
    json!({"destinationUri": to, "sourceUser": "door", "codec": "PCMU",
           "receiveIp": "127.0.0.1", "receivePort": port, "telephoneEventPayloadType": 101,
           "sessionReferenceId": reference})
}

/// Every callback the device got so far carried a valid `X-Ringmaster-Signature` (the app's
/// secret, checked by the device itself).
pub fn assert_all_signed(w: &World) {
    let cbs = w.dev.callbacks();
    assert!(
        !cbs.is_empty() && cbs.iter().all(|c| c["signature_ok"] == true),
        "every callback is signed with the app's secret: {cbs:#?}"
    );
}
