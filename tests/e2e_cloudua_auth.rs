//! The Cloud SIP UA API's door: tokens (HS256, RS256 and ES256 pass; expired, not yet valid,
//! no exp, wrong key, wrong domain, `alg: none`, HS256 keyed with a public key, an algorithm
//! the domain has no key for: all refused with the same 401), the domain CLI, CORS preflight on
//! every route, bad input (400, `codec_unsupported`, 404), a deleted domain, and the
//! per-domain rate (429 `rate_limited`). The thin device
//! (tests/cloudua/device.py) mints the tokens with PyJWT and makes the keys. First, the device
//! itself is checked against a second device, without ringmaster.

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};
use support::cloudua::{Answer, Auth, Device};
use support::cloudua_rig::{
    add_domain, config, hs, place_body, world_configured, DOMAIN, HEARD, SEC,
};

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
    // Every bad token counts as a failed REST authentication: more than the default 10 from
    // one address would turn the later 401s into the defence's 429.
    let mut w = world_configured(&(config(20) + "[defence]\nrest_failures = 50\n"));
    // A second domain, on a second app, verified with an EC P-256 key only, whose tokens
    // must also name their issuer.
    let other = w.rig.srv.app_with_endpoints(&[]);
    let gate_keys = w.dev.keys(&w.rig.dir.path().join("gate-keys"));
    let app = other["appid"].as_u64().expect("appid").to_string();
    let added = w.rig.srv.cli_json(&[
        "cloudua",
        "domain",
        "add",
        "--name",
        "gate.example",
        "--app",
        &app,
        "--public-key",
        gate_keys.ec_public.to_str().unwrap(),
        "--issuer",
        "gate-vendor",
        "--callback-base-url",
        &w.dev.callback_base,
        "--json",
    ]);
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
            json!({"alg": "ES256", "key": gate_keys.ec_private, "aud": "gate.example", "iss": "gate-vendor"}),
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
    for (what, iss) in [
        ("no issuer", Value::Null),
        ("another issuer", json!("mallory")),
    ] {
        let mut spec = json!({"alg": "ES256", "key": gate_keys.ec_private, "aud": "gate.example"});
        if !iss.is_null() {
            spec["iss"] = iss;
        }
        let a = w.dev.post_to(
            "gate.example",
            "hangupcalljwt",
            probe.clone(),
            Auth::Token(spec),
        );
        assert_unauthorized(&a, what);
    }
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

    // A deleted domain's tokens no longer pass.
    let out = w
        .rig
        .srv
        .cli(&["cloudua", "domain", "delete", "gate.example"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = w.rig.srv.cli_json(&["cloudua", "domain", "list", "--json"]);
    assert!(!listed.to_string().contains("gate.example"), "{listed}");
    let spec = json!({"alg": "ES256", "key": gate_keys.ec_private, "aud": "gate.example", "iss": "gate-vendor"});
    let a = w.dev.post_to(
        "gate.example",
        "hangupcalljwt",
        json!({"replyId": "no-such-call"}),
        Auth::Token(spec),
    );
    assert_unauthorized(&a, "a deleted domain");
    w.rig.assert_alive();
}

#[test]
fn a_domain_past_its_rate_gets_429_and_another_domain_does_not() {
    // [cloudua] rate_per_sec = 1, burst = 3: the fourth request at once is refused.
    let mut w = world_configured(&(config(20) + "rate_per_sec = 1\nburst = 3\n"));
    let other = w.rig.srv.app_with_endpoints(&[]);
    let app = other["appid"].as_u64().expect("appid");
    let k = w.keys.clone();
    add_domain(
        &w.rig,
        "gate.example",
        app,
        Some(&k.hs256),
        &k.rsa_public,
        &w.dev,
    );
    let probe = json!({"replyId": "no-such-call"});
    let answers: Vec<Answer> = (0..6)
        .map(|_| w.dev.post("hangupcalljwt", probe.clone(), hs(&w)))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        &statuses[..3],
        &[404, 404, 404],
        "the burst passes: {statuses:?}"
    );
    // Past the burst (a slow machine may have earned one more token meanwhile).
    let refused = answers[3..].iter().find(|a| a.status == 429);
    let refused = refused.unwrap_or_else(|| panic!("no 429 past the burst: {statuses:?}"));
    assert_eq!(refused.body["error"]["code"], "rate_limited", "{refused:?}");
    let gate = Auth::Token(json!({"alg": "HS256", "key": k.hs256, "aud": "gate.example"}));
    let a = w.dev.post_to("gate.example", "hangupcalljwt", probe, gate);
    assert_eq!(a.status, 404, "another domain has its own budget: {a:?}");
}
