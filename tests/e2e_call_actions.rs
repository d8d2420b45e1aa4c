//! PIOPIY's live actions on a running PCMO call, through the real binary on loopback:
//! `POST /v1/call/action` hold/unhold/holdToggle exactly as the `piopiy` SDK's `Hold` sends it
//! (its host is hard-wired to TeleCMI, so the request is sent as it would be), and the v3
//! `transfer`/`hangup` of the `piopiy` 1.2.2 SDK from PyPI, unchanged, with a bearer token
//! from `ringmaster token create`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::audio::{decode, tone_frames, Capture, Law};
use support::http::Reply;
use support::rig::Rig;
use support::ua::Dialog;

const SEC: Duration = Duration::from_secs(1);

/// alice calls 5000; the script rings bob and bridges them. Returns both dialogs, their
/// captures and the call's cmiuuid.
fn bridged(
    rig: &Rig,
) -> (
    support::ua::Ua,
    support::ua::Ua,
    Dialog,
    Dialog,
    Capture,
    Capture,
    String,
) {
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let (cap_a, cap_b) = (Capture::bind(), Capture::bind());
    let mut out = alice.invite("5000", cap_a.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, cap_b.addr);
    let d_a = alice.final_response(&mut out, 5 * SEC).expect("bridged");
    let cmiuuid = rig.web.hits("/answer")[0].json()["cmiuuid"]
        .as_str()
        .unwrap()
        .to_string();
    (alice, bob, d_a, d_b, cap_a, cap_b, cmiuuid)
}

fn connect_bob() -> Vec<Reply> {
    vec![Reply::Json(
        json!([{"action": "connect", "call": [{"type": "sip", "user": "bob"}]}]),
    )]
}

/// What bob hears of alice's 900 Hz tone while alice sends `secs` of it.
fn bob_hears(cap_a: &Capture, cap_b: &Capture, to_a: std::net::SocketAddr, secs: f64) -> usize {
    let before = cap_b.audio(Law::Mu).len();
    cap_a.send_tone(to_a, Law::Mu, 900.0, secs).join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let packets = cap_b.audio(Law::Mu);
    tone_frames(
        &decode(&packets[before.min(packets.len())..], Law::Mu),
        900.0,
    )
}

fn action(rig: &Rig, cmiuuid: &str, action: &str) -> (u16, Value) {
    // Exactly the body piopiy's `Hold.hold/unhold/toggle` posts.
    rig.srv.post(
        "/v1/call/action",
        json!({"appid": rig.appid, "secret": rig.secret, "cmiuuid": cmiuuid, "action": action}),
    )
}

#[test]
fn hold_unhold_and_toggle_silence_and_resume_a_bridged_call() {
    let rig = Rig::start(connect_bob());
    let (mut alice, mut bob, mut d_a, d_b, cap_a, cap_b, cmiuuid) = bridged(&rig);
    let to_a = d_a.remote_rtp.unwrap();
    assert!(
        bob_hears(&cap_a, &cap_b, to_a, 1.0) >= 30,
        "bridged: bob hears alice"
    );

    let (status, body) = action(&rig, &cmiuuid, "hold");
    assert_eq!((status, &body["status"]), (200, &json!("hold")), "{body}");
    assert_eq!(
        bob_hears(&cap_a, &cap_b, to_a, 1.0),
        0,
        "held: bob hears nothing of alice"
    );

    let (status, body) = action(&rig, &cmiuuid, "unhold");
    assert_eq!((status, &body["status"]), (200, &json!("unhold")), "{body}");
    assert!(bob_hears(&cap_a, &cap_b, to_a, 1.0) >= 30, "resumed");

    let (_, body) = action(&rig, &cmiuuid, "holdToggle");
    assert_eq!(body["status"], "hold", "{body}");
    let (_, body) = action(&rig, &cmiuuid, "holdToggle");
    assert_eq!(body["status"], "unhold", "{body}");

    // Wrong secret: PIOPIY's 420; another app's or an unknown call: 404; a bad action: 400.
    let (status, _) = rig.srv.post(
        "/v1/call/action",
        json!({"appid": rig.appid, "secret": "wrong", "cmiuuid": cmiuuid, "action": "hold"}),
    );
    assert_eq!(status, 420);
    let (status, body) = action(&rig, "3b1f7c4e-0000-4000-8000-000000000000", "hold");
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("call_not_found")),
        "{body}"
    );
    let (status, _) = action(&rig, &cmiuuid, "mute");
    assert_eq!(status, 400);

    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
    // An ended call: 409 while its end is being recorded, then 404 (a PCMO call leaves the
    // live table when it ends; its CDRs are its record).
    let (status, body) = action(&rig, &cmiuuid, "hold");
    assert!(
        status == 409 || status == 404,
        "an ended call: {status} {body}"
    );
}

/// The `piopiy` 1.2.2 SDK's venv (scripts/setup).
fn piopiy(rig: &Rig, token: &str, code: &str) -> (bool, String) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/piopiy-py/bin/python");
    assert!(
        python.exists(),
        "piopiy 1.2.2 is not installed; run scripts/setup"
    );
    let prelude = format!(
        "import json, sys\nfrom piopiy import RestClient\nc = RestClient({token:?}, base_url='http://{}/v3')\n",
        rig.srv.http
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .output()
        .expect("run python");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_v3_sdk_transfers_a_call_to_a_new_pipeline_and_hangs_one_up() {
    let rig = Rig::start(connect_bob());
    let token = rig
        .srv
        .cli_json(&["token", "create", "--app", &rig.appid.to_string(), "--json"]);
    let token = token["token"].as_str().expect("token").to_string();

    // A wrong token is refused with the SDK's API error (401).
    let (ok, out) = piopiy(
        &rig,
        "rm3.1.00.00",
        "try:\n    c.voice.hangup('3b1f7c4e-0000-4000-8000-000000000000')\nexcept Exception as e:\n    print('status', e.status_code)\n    sys.exit(1)",
    );
    assert!(!ok && out.contains("status 401"), "{out}");

    // transfer: the bridged call gets a pipeline that hangs up; both phones get a BYE.
    let (_alice, mut bob, d_a, d_b, _ca, _cb, cmiuuid) = bridged(&rig);
    let (ok, out) = piopiy(
        &rig,
        &token,
        &format!("print(json.dumps(c.voice.transfer({cmiuuid:?}, [{{'action': 'hangup'}}])))"),
    );
    assert!(ok, "{out}");
    assert!(out.contains("success"), "{out}");
    bob.expect_bye(&d_b, 5 * SEC);
    let _ = d_a;

    // hangup of an ended call: the SDK's API error.
    let (ok, out) = piopiy(&rig, &token, &format!("c.voice.hangup({cmiuuid:?})"));
    assert!(!ok, "{out}");
}

#[test]
fn the_v3_sdk_hangs_up_a_live_call() {
    let rig = Rig::start(connect_bob());
    let token = rig
        .srv
        .cli_json(&["token", "create", "--app", &rig.appid.to_string(), "--json"]);
    let token = token["token"].as_str().unwrap().to_string();
    let (mut alice, mut bob, d_a, d_b, _ca, _cb, cmiuuid) = bridged(&rig);
    let (ok, out) = piopiy(
        &rig,
        &token,
        &format!("print(json.dumps(c.voice.hangup({cmiuuid:?}, cause='NORMAL_CLEARING')))"),
    );
    assert!(ok && out.contains("success"), "{out}");
    alice.expect_bye(&d_a, 5 * SEC);
    bob.expect_bye(&d_b, 5 * SEC);
}
