//! Issue 4 ("Calls"): the v3 pipeline form of `connect` (`params.strategy`, `endpoints` with
//! SIP URIs) rings as the legacy form does.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::http::Reply;
use support::reports::reports;
use support::rig::Rig;
use support::rtp::Rtp;

const SEC: Duration = Duration::from_secs(1);

fn v3_connect(strategy: &str, uris: &[String]) -> Value {
    let endpoints: Vec<Value> = uris
        .iter()
        .map(|u| json!({"type": "sip", "uri": u}))
        .collect();
    json!([{"action": "connect",
            "params": {"caller_id": "14155550100", "strategy": strategy,
                       "options": {"ring_timeout_sec": 10}},
            "endpoints": endpoints}])
}

/// `strategy: "sequential"`: the second endpoint rings only once the first has failed (a
/// busy here, so the test needs no ring timeout), then answers.
#[test]
fn v3_sequential_rings_the_next_uri_after_a_busy_one() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.endpoint("alice");
    // Phones addressed by URI need no registration: the script dials them as given.
    let (mut bob, mut carol) = (rig.ua("bob"), rig.ua("carol"));
    let uris = [
        format!("sip:bob@{}", bob.addr),
        format!("sip:carol@{}", carol.addr),
    ];
    rig.web
        .set_replies(vec![Reply::Json(v3_connect("sequential", &uris))]);
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);

    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv_b, 180, None);
    assert!(
        carol
            .try_request("INVITE", None, Duration::from_millis(500))
            .is_none(),
        "sequential rang carol with bob"
    );
    bob.reply(&inv_b, 486, None);
    bob.expect_request("ACK", Some(inv_b.call_id()), 5 * SEC);
    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    let d_c = carol.answer(&inv_c, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by carol");
    assert_eq!(alice.bye(&mut d_a), 200);
    carol.expect_bye(&d_c, 5 * SEC);
}

/// `strategy: "simultaneous"` rings every endpoint at once; the first answer wins and the
/// other is cancelled.
#[test]
fn v3_simultaneous_rings_every_uri_at_once() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.endpoint("alice");
    let (mut bob, mut carol) = (rig.ua("bob"), rig.ua("carol"));
    let uris = [
        format!("sip:bob@{}", bob.addr),
        format!("sip:carol@{}", carol.addr),
    ];
    rig.web
        .set_replies(vec![Reply::Json(v3_connect("simultaneous", &uris))]);
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);

    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv_b, 180, None);
    carol.reply(&inv_c, 180, None);
    let d_c = carol.answer(&inv_c, Rtp::bind().addr);
    bob.expect_cancel(&inv_b, 5 * SEC);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by carol");
    assert_eq!(alice.bye(&mut d_a), 200);
    carol.expect_bye(&d_c, 5 * SEC);
}

/// A v3 SIP URI in the app's own domain is one of its users: it rings that user's
/// registrations, as `{"type":"sip","user":..}` does.
#[test]
fn v3_uri_in_our_own_domain_rings_the_registered_user() {
    let rig = Rig::start(vec![Reply::Json(v3_connect(
        "sequential",
        &["sip:bob@test.local".into()],
    ))]);
    rig.endpoint("alice");
    rig.endpoint("bob");
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by bob");
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
}

/// `params.metadata` rides along: every leg event from the connect on and every CDR (webhook
/// and PIOPIY's `cmiuuid_cdr` pull) carry the object beside `extra_params`.
#[test]
fn v3_metadata_arrives_in_the_events_and_the_cdrs() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.endpoint("alice");
    let mut bob = rig.ua("bob");
    let metadata = json!({"priority": 1, "queue": "sales", "vip": true});
    let script = json!([{"action": "connect",
        "params": {"caller_id": "14155550100", "options": {"ring_timeout_sec": 10},
                   "metadata": metadata},
        "endpoints": [{"type": "sip", "uri": format!("sip:bob@{}", bob.addr)}]}]);
    rig.web.set_replies(vec![Reply::Json(script)]);
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv_b, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by bob");
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);

    let cmiuuid = rig.web.hits("/answer")[0].json()["cmiuuid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = reports(&rig, &cmiuuid, 2);
    let b_events: Vec<&Value> = r.events.iter().filter(|e| e["leg"] == "b").collect();
    assert!(!b_events.is_empty(), "{:#?}", r.events);
    for e in b_events {
        assert_eq!(e["metadata"], metadata, "B leg event {e}");
    }
    let hangup_a = r
        .events
        .iter()
        .find(|e| e["leg"] == "a" && e["status"] == "hangup")
        .expect("A's hangup event");
    assert_eq!(hangup_a["metadata"], metadata, "{hangup_a}");
    for c in &r.cdrs {
        assert_eq!(c["metadata"], metadata, "CDR {c}");
        assert!(c.get("extra_params").is_some(), "beside extra_params: {c}");
    }
    let (status, body) = rig.srv.post(
        "/v1/piopiy/cmiuuid_cdr",
        json!({"appid": rig.appid, "secret": rig.secret, "cmiuuid": cmiuuid}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cdr"]["metadata"], metadata, "stored CDR: {body}");
}
