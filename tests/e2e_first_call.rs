//! Issue 20: a first call needs no app server. An app created without an answer URL rings the
//! dialled user of the app: two endpoints call each other and hear each other, with nothing
//! listening at any answer URL. `app create` takes no `--answer-url` (or a `--default-script`).

mod support;

use std::time::Duration;

use serde_json::json;
use support::audio::{decode, tone_frames, Capture, Law};
use support::http::Reply;
use support::rig::{admin_get, Rig};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn two_endpoints_of_an_app_without_an_answer_url_call_each_other_with_audio_both_ways() {
    // The rig's app is created through the admin API with no answer URL at all (the stub
    // would fail any call that asked it).
    let rig = Rig::with(vec![Reply::Status(500)], Some(json!({"answer_url": null})));
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let (cap_a, cap_b) = (Capture::bind(), Capture::bind());
    let mut out = alice.invite("bob", cap_a.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, cap_b.addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("bob answered");
    let to_a = d_a.remote_rtp.expect("ringmaster's port for alice");
    let to_b = d_b.remote_rtp.expect("ringmaster's port for bob");
    let ta = cap_a.send_tone(to_a, Law::Mu, 600.0, 1.5);
    let tb = cap_b.send_tone(to_b, Law::Mu, 1400.0, 1.5);
    ta.join().unwrap();
    tb.join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    cap_b.wait_quiet(Duration::from_millis(300), 5 * SEC);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);

    let heard_by_alice = decode(&cap_a.packets(), Law::Mu);
    let heard_by_bob = decode(&cap_b.packets(), Law::Mu);
    let (a, b) = (
        tone_frames(&heard_by_alice, 1400.0),
        tone_frames(&heard_by_bob, 600.0),
    );
    assert!(a > 50, "alice heard bob in {a} frames");
    assert!(b > 50, "bob heard alice in {b} frames");
    assert!(
        rig.web.hits("/answer").is_empty(),
        "no answer URL was asked"
    );

    // The operator's CLI creates such an app too: no --answer-url needed.
    let created = rig.srv.cli_json(&[
        "app",
        "create",
        "--name",
        "first",
        "--domain",
        "first.test",
        "--json",
    ]);
    let appid = created["appid"].as_u64().expect("appid");
    let (status, apps) = admin_get(&rig.srv, "/admin/v1/apps");
    assert_eq!(status, 200);
    let app = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appid"] == appid)
        .expect("listed");
    assert_eq!(app["answer_url"], "", "{app}");
    // Or with a script of its own that every call runs.
    let script = rig.dir.path().join("default.json");
    std::fs::write(&script, r#"[{"action":"play","file_name":"hello.wav"}]"#).unwrap();
    let created = rig.srv.cli_json(&[
        "app",
        "create",
        "--name",
        "scripted",
        "--domain",
        "scripted.test",
        "--default-script",
        script.to_str().unwrap(),
        "--json",
    ]);
    let (_, apps) = admin_get(&rig.srv, "/admin/v1/apps");
    let app = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appid"] == created["appid"])
        .expect("listed");
    assert_eq!(app["answer_url"], "");
    assert_eq!(app["fallback_pcmo"][0]["action"], "play", "{app}");
    rig.assert_alive();
}
