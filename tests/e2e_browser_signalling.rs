//! Issue 15: browsers dial in — what works without WebRTC media. Headless Chromium (Debian's)
//! runs the browser SIP stacks that apps use — JsSIP, SIP.js and TeleCMI's piopiyjs, each
//! loaded unchanged from its npm package — against the real binary over wss with its
//! self-signed certificate. Each one registers with what `add_sip` gave the app and is refused
//! a wrong password; a call through the answer URL reaches piopiyjs over its wss connection
//! with the PIOPIY headers it reads, and its refusal reaches the caller. The calls with media
//! are in e2e_browser_calls.rs. Everything on 127.0.0.0/8 (chromium resolves no other name);
//! every process stopped by PID.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::browser::{Browsers, Sdk};
use support::http::Reply;
use support::rig::Rig;
use support::transports::{registrations_of, rig_with, Ports};

const SEC: Duration = Duration::from_secs(1);

/// `add_sip` for `user`, as an app would call it; its response.
fn add_sip(rig: &Rig, user: &str) -> Value {
    let (status, body) = rig.srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": rig.appid, "secret": rig.secret, "username": user, "password": format!("pw-{user}")}),
    );
    assert_eq!(status, 200, "add_sip {user}: {body}");
    body
}

/// Waits (bounded) until `user` has a wss registration.
fn registered_over_wss(rig: &Rig, user: &str) -> bool {
    let deadline = Instant::now() + 10 * SEC;
    loop {
        if registrations_of(rig, user)
            .iter()
            .any(|r| r["transport"] == "wss")
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn jssip_sipjs_and_piopiyjs_register_over_wss_wrong_passwords_are_refused_and_a_call_reaches_piopiyjs(
) {
    let ports = Ports::new();
    let script = json!([{"action": "connect", "timeout": 20,
                         "call": [{"type": "sip", "user": "pioneer"}]}]);
    let rig = rig_with(vec![Reply::Json(script)], &ports, &[]);
    let mut b = Browsers::start(rig.dir.path());

    // JsSIP and SIP.js: the app hands them `wss_URL` and the endpoint's SIP URI.
    // Each browser process has its own fake microphone tone (JsSIP's 440 Hz, SIP.js's 880 Hz).
    for (sdk, user, tone) in [(Sdk::JsSip, "jsuser", 440), (Sdk::SipJs, "sipjsuser", 880)] {
        let ep = add_sip(&rig, user);
        let wss = ep["wss_URL"]
            .as_str()
            .expect("add_sip gives wss_URL")
            .to_string();
        assert_eq!(wss, format!("wss://{}", ports.wss));
        let uri = ep["sip_uri"].as_str().unwrap().to_string();
        b.open(
            user,
            sdk,
            tone,
            json!({"wss": wss, "uri": uri, "user": user, "password": format!("pw-{user}")}),
        );
        let ok = b.wait(user, "registered", 15 * SEC);
        assert_eq!(ok["status"], 200, "{sdk:?}: {ok}");
        assert!(
            registered_over_wss(&rig, user),
            "{sdk:?}: no wss binding for {user}"
        );

        let bad = format!("{user}-bad");
        b.open(
            &bad,
            sdk,
            tone,
            json!({"wss": wss, "uri": uri, "user": user, "password": "wrong"}),
        );
        let refused = b.wait(&bad, "registrationFailed", 15 * SEC);
        assert!(
            refused["status"]
                .as_u64()
                .is_some_and(|s| s == 401 || s == 403),
            "{sdk:?}: {refused}"
        );
        assert!(
            b.try_wait(&bad, "registered", Duration::ZERO).is_none(),
            "{sdk:?}"
        );
    }

    // piopiyjs: the app passes `webrtc_domain` to `login(user, password, domain)` unchanged;
    // piopiyjs dials 'wss://' + domain with the AOR user@domain. Its login also asks
    // TeleCMI's cloud for a token, which no name resolves to here: exactly one kind of
    // failure is expected from that, loginFailed 407 "Token generation failed", while the SIP
    // login succeeds.
    let ep = add_sip(&rig, "pioneer");
    let domain = ep["webrtc_domain"]
        .as_str()
        .expect("add_sip gives webrtc_domain")
        .to_string();
    assert_eq!(domain, ports.wss.to_string());
    b.open(
        "pioneer",
        Sdk::Piopiy,
        440,
        json!({"user": "pioneer", "password": "pw-pioneer", "domain": domain}),
    );
    let ok = b.wait("pioneer", "login", 15 * SEC);
    assert_eq!(ok["code"], 200, "{ok}");
    assert!(registered_over_wss(&rig, "pioneer"));
    let token = |e: &Value| {
        e["event"] == "loginFailed" && e["code"] == 407 && e["status"] == "Token generation failed"
    };
    b.wait_event(|e| e["id"] == "pioneer" && token(e), 10 * SEC)
        .unwrap_or_else(|| panic!("no token failure\n{}", b.report()));
    let events = b.events_of("pioneer", Duration::ZERO);
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "loginFailed" || e["event"] == "error")
            .all(token),
        "piopiyjs reported another failure: {events:?}"
    );

    // A call to 5000 is connected to piopiyjs's user: the INVITE reaches it over its wss
    // connection with the headers piopiyjs reads; its refusal reaches the caller.
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", support::rtp::Rtp::bind().addr);
    let incoming = b.wait("pioneer", "inComingCall", 15 * SEC);
    assert!(
        incoming["call_id"].as_str().is_some_and(|c| !c.is_empty()),
        "{incoming}"
    );
    b.run("pioneer", "reject", json!([]));
    let status = alice.final_response(&mut out, 15 * SEC).err();
    assert!(
        status.is_some_and(|s| s >= 400),
        "{status:?}\n{}",
        b.report()
    );
    b.wait("pioneer", "hangup", 10 * SEC);

    // (Wrong passwords for three users from one address ban it, per the password-guessing
    // defence: this one comes last.)
    b.open(
        "pioneer-bad",
        Sdk::Piopiy,
        440,
        json!({"user": "pioneer", "password": "wrong", "domain": domain}),
    );
    let refused = b.wait_event(
        |e| e["id"] == "pioneer-bad" && e["event"] == "loginFailed" && !token(e),
        15 * SEC,
    );
    let refused = refused.unwrap_or_else(|| panic!("piopiyjs: no login failure\n{}", b.report()));
    assert_eq!(refused["code"], 401, "{refused}");
    let events = b.events_of("pioneer-bad", SEC);
    assert!(!events.iter().any(|e| e["event"] == "login"), "{events:?}");
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "loginFailed")
            .all(|e| token(e) || e["code"] == 401),
        "{events:?}"
    );
    // The harness's own check, no server involved: each browser hears its own tone over a
    // loopback peer connection, so the call tests' frequency measure is sound.
    for (user, tone) in [("jsuser", 440.0), ("sipjsuser", 880.0)] {
        let m = b.run(user, "selfTest", json!([]));
        let hz = m["hz"].as_f64().unwrap_or_else(|| panic!("{m}"));
        assert!(
            (hz - tone).abs() <= m["binHz"].as_f64().unwrap(),
            "{user}: {m}"
        );
    }

    // No page threw.
    assert!(
        !b.seen
            .iter()
            .any(|e| e["event"] == "pageError" || e["event"] == "opError"),
        "{}",
        b.report()
    );
}
