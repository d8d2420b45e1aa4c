//! Issue 13 items 4, 7 and 8, end to end against the real binary on loopback:
//!
//! * tenancy: app B's script dials a user only app A has (by name, and as a URI of the shared
//!   domain); A's registered phone never rings and B gets exactly what an unknown user gives;
//!   `add_sip` of A's name in the shared domain says only "taken";
//! * dialogs: a BYE (or re-INVITE) with the right Call-ID but a wrong tag gets 481, media goes
//!   on, the right BYE still ends the call;
//! * RTP: a stranger on 127.0.0.9 sending to a leg's relay port before, during and after
//!   latching reaches neither leg and takes no media away; a phone behind NAT (SDP naming an
//!   address it does not send from) still latches from its SIP address.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::http::{HttpStub, Reply};
use support::rig::{admin_post, Rig};
use support::rtp::Rtp;
use support::ua::{sdp, Ua};

const SEC: Duration = Duration::from_secs(1);
/// RTP packets per burst (one second of G.711 at 20 ms).
const PACKETS: u16 = 50;

fn connect(target: Value) -> Value {
    json!([{"action": "connect", "timeout": 5, "call": [target]}, {"action": "hangup"}])
}

/// What an app learns from one call's deliveries, without ids, times or names: each
/// delivery's type, status, error code, CDR kind, and its set of fields.
fn shape(web: &HttpStub, cmiuuid: &str) -> Vec<String> {
    web.hits("/events")
        .iter()
        .map(|h| h.json())
        .filter(|b| b["cmiuuid"] == cmiuuid)
        .map(|b| {
            let mut keys: Vec<&String> = b.as_object().map(|o| o.keys().collect()).unwrap();
            keys.sort();
            format!(
                "{} {} {} {} {keys:?}",
                b["type"], b["status"], b["error"]["code"], b["cdr_kind"]
            )
        })
        .collect()
}

#[test]
fn another_apps_user_is_not_found_exactly_like_an_unknown_one() {
    // App A (the rig's) owns alice, registered. App B has no domain of its own: it shares
    // the default domain `test.local` with A.
    let rig = Rig::start(vec![Reply::Json(json!([{"action": "hangup"}]))]);
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let targets = [
        json!({"type": "sip", "user": "alice"}),
        json!({"type": "sip", "uri": "sip:alice@test.local"}),
        json!({"type": "sip", "user": "nobody"}),
        json!({"type": "sip", "uri": "sip:nobody@test.local"}),
    ];
    let web_b = HttpStub::start(
        targets
            .iter()
            .cloned()
            .map(|t| Reply::Json(connect(t)))
            .collect(),
    );
    let (status, app_b) = admin_post(
        &rig.srv,
        "/admin/v1/apps",
        json!({"name": "b", "answer_url": web_b.answer_url(), "event_url": web_b.event_url()}),
    );
    assert_eq!(status, 201, "{app_b}");
    let (appid_b, secret_b) = (app_b["appid"].as_u64().unwrap(), app_b["secret"].clone());
    let add = |user: &str| {
        rig.srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid_b, "secret": secret_b, "username": user, "password": format!("pw-{user}")}),
        )
    };
    assert_eq!(add("carol").0, 200);
    // add_sip: A's name is "taken", word for word what B's own existing name gets.
    assert_eq!(
        add("alice"),
        add("carol"),
        "add_sip tells more than 'taken'"
    );

    let mut carol = Ua::new(rig.srv.sip, "test.local", "carol", "pw-carol");
    carol.register(300);
    let mut finals = Vec::new();
    for _ in &targets {
        let mut out = carol.invite("5000", Rtp::bind().addr);
        finals.push(carol.final_response(&mut out, 15 * SEC).err());
        assert_eq!(out.statuses.first(), Some(&180));
    }
    assert!(
        alice.try_request("INVITE", None, SEC).is_none(),
        "app B's script rang app A's phone"
    );
    assert_eq!(finals[0], finals[2], "by name: other app's user vs unknown");
    assert_eq!(finals[1], finals[3], "by URI: other app's user vs unknown");
    assert_eq!(finals[0], Some(480));

    // B's deliveries for each call: the same shape for A's user as for nobody.
    let answers = web_b.hits("/answer");
    assert_eq!(answers.len(), 4);
    let ids: Vec<String> = answers
        .iter()
        .map(|h| h.json()["cmiuuid"].as_str().unwrap().to_string())
        .collect();
    web_b.wait_hits("/events", 10 * SEC, |h| {
        ids.iter().all(|id| {
            h.iter()
                .any(|h| h.json()["cmiuuid"] == id.as_str() && h.json()["type"] == "cdr")
        })
    });
    let shapes: Vec<Vec<String>> = ids.iter().map(|id| shape(&web_b, id)).collect();
    assert!(!shapes[0].is_empty());
    assert_eq!(shapes[0], shapes[2], "events by name");
    assert_eq!(shapes[1], shapes[3], "events by URI");
    // A's app heard nothing of B's calls.
    assert!(rig.web.hits("/answer").is_empty());
    rig.assert_alive();
}

/// Alice calls 5000, the script connects bob, both answer: the two dialogs and their RTP.
struct Bridged {
    rig: Rig,
    alice: Ua,
    bob: Ua,
    a: support::ua::Dialog,
    b: support::ua::Dialog,
    alice_rtp: Rtp,
    bob_rtp: Rtp,
}

fn bridged_call(config: Option<&str>) -> Bridged {
    let script =
        json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = match config {
        Some(c) => Rig::configured(vec![Reply::Json(script)], None, c),
        None => Rig::start(vec![Reply::Json(script)]),
    };
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let b = bob.answer(&inv, bob_rtp.addr);
    let a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("alice's call answered");
    Bridged {
        rig,
        alice,
        bob,
        a,
        b,
        alice_rtp,
        bob_rtp,
    }
}

/// Both sides send a burst; returns what each received (bounded wait).
fn burst(call: &Bridged) -> (usize, usize) {
    let (to_a, to_b) = (call.a.remote_rtp.unwrap(), call.b.remote_rtp.unwrap());
    let before = (call.alice_rtp.received(), call.bob_rtp.received());
    let senders = [
        call.alice_rtp.send(to_a, PACKETS),
        call.bob_rtp.send(to_b, PACKETS),
    ];
    for s in senders {
        s.join().unwrap();
    }
    let n = usize::from(PACKETS);
    (
        call.alice_rtp.wait_received(before.0 + n, 2 * SEC) - before.0,
        call.bob_rtp.wait_received(before.1 + n, 2 * SEC) - before.1,
    )
}

#[test]
fn a_bye_with_the_right_call_id_but_a_wrong_tag_gets_481_and_the_call_goes_on() {
    let mut call = bridged_call(None);
    let (at_alice, at_bob) = burst(&call);
    assert!(at_alice >= 45 && at_bob >= 45, "{at_alice} / {at_bob}");

    // A stranger who knows the Call-ID: a wrong To tag, a wrong From tag, no To tag.
    for mut spoof in [
        call.a.with_tags(None, Some("guessed")),
        call.a.with_tags(Some("guessed"), None),
        call.a.with_tags(None, Some("")),
    ] {
        assert_eq!(call.alice.bye(&mut spoof), 481, "{spoof:?}");
    }
    // The callee's side too, and a re-INVITE that would move alice's media to the stranger.
    let mut b_spoof = call.b.with_tags(None, Some("guessed"));
    assert_eq!(call.bob.bye(&mut b_spoof), 481);
    let stranger = Rtp::bind_at("127.0.0.9");
    let mut move_media = call.a.with_tags(None, Some("guessed"));
    let r = call.alice.reinvite(&mut move_media, &sdp(stranger.addr));
    assert_eq!(r.status, 481);

    // Nobody hung up, media still flows both ways, to the right places.
    assert!(call.bob.try_request("BYE", None, SEC / 2).is_none());
    let (at_alice, at_bob) = burst(&call);
    assert!(
        at_alice >= 45 && at_bob >= 45,
        "after the spoofs: {at_alice} / {at_bob}"
    );
    assert_eq!(stranger.received(), 0);

    // The right BYE ends the call.
    assert_eq!(call.alice.bye(&mut call.a), 200);
    call.bob.expect_bye(&call.b, 5 * SEC);
    call.rig.assert_alive();
}

/// A new INVITE that reuses a live call's Call-ID (its own From tag, no To tag) is a call of
/// its own: it does not take over the live call's route, and its end does not drop it.
#[test]
fn an_invite_reusing_a_live_call_id_never_takes_over_the_live_call() {
    let mut call = bridged_call(None);
    call.rig.endpoint("carol");
    let mut carol = call.rig.phone("carol");
    let mut second = carol.invite_reusing("5000", &call.a.call_id, Rtp::bind().addr);
    let ringing = call.bob.expect_request("INVITE", None, 5 * SEC);
    call.bob.reply(&ringing, 180, None);
    assert_eq!(carol.next_response(&mut second, 5 * SEC).status, 180);
    assert_eq!(carol.cancel(&mut second), (200, 487));
    call.bob.expect_cancel(&ringing, 5 * SEC);
    // The second call is over; the first one's dialog still reaches the first call.
    std::thread::sleep(SEC / 2);
    let (at_alice, at_bob) = burst(&call);
    assert!(at_alice >= 45 && at_bob >= 45, "{at_alice} / {at_bob}");
    assert_eq!(
        call.alice.bye(&mut call.a),
        200,
        "the live call lost its route"
    );
    call.bob.expect_bye(&call.b, 5 * SEC);
    call.rig.assert_alive();
}

/// `ringmaster_rtp_foreign_dropped_total` from `/metrics`.
fn foreign_dropped(rig: &Rig) -> u64 {
    let body = ureq::get(&format!("http://{}/metrics", rig.srv.http))
        .timeout(5 * SEC)
        .call()
        .expect("metrics")
        .into_string()
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("ringmaster_rtp_foreign_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no foreign-source counter in:\n{body}"))
}

#[test]
fn rtp_from_a_stranger_never_reaches_the_other_leg_during_or_after_latching() {
    let call = bridged_call(None);
    let (to_a, to_b) = (call.a.remote_rtp.unwrap(), call.b.remote_rtp.unwrap());
    let stranger = Rtp::bind_at("127.0.0.9");
    // Just answered: both legs' latch windows are open and nothing latched yet. The stranger
    // is first on both relay ports.
    for s in [stranger.send(to_a, 25), stranger.send(to_b, 25)] {
        s.join().unwrap();
    }
    std::thread::sleep(SEC / 2);
    assert_eq!(
        (call.alice_rtp.received(), call.bob_rtp.received()),
        (0, 0),
        "the stranger's RTP reached a phone while the latch window was open"
    );
    // The phones latch and talk, each to the other and not to the stranger.
    let (at_alice, at_bob) = burst(&call);
    assert!(at_alice >= 45 && at_bob >= 45, "{at_alice} / {at_bob}");
    // Well after the windows closed, the stranger again, interleaved with the phones.
    std::thread::sleep(3 * SEC);
    let counts = (call.alice_rtp.received(), call.bob_rtp.received());
    for s in [stranger.send(to_a, 25), stranger.send(to_b, 25)] {
        s.join().unwrap();
    }
    std::thread::sleep(SEC / 2);
    assert_eq!(
        (call.alice_rtp.received(), call.bob_rtp.received()),
        counts,
        "the stranger's RTP reached a phone after latching"
    );
    let (at_alice, at_bob) = burst(&call);
    assert!(
        at_alice >= 45 && at_bob >= 45,
        "still talking: {at_alice} / {at_bob}"
    );
    assert_eq!(stranger.received(), 0, "media was diverted to the stranger");
    let dropped = foreign_dropped(&call.rig);
    assert!(dropped >= 90, "refused packets are counted: {dropped}");
    call.rig.assert_alive();
}

/// The other side of strict latching: a phone behind NAT names an address in its SDP it does
/// not send from; its RTP comes from the address its SIP comes from, on another port, and
/// latches there.
#[test]
fn a_phone_behind_nat_latches_from_its_sip_address_on_any_port() {
    let script =
        json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    // "Private" address: loopback where nobody listens (tests send nothing off 127/8).
    let private = "127.0.0.5:4000".parse().unwrap();
    let mut out = alice.invite_sdp("5000", &sdp(private));
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let b = bob.answer(&inv, bob_rtp.addr);
    let a = alice.final_response(&mut out, 5 * SEC).expect("answered");
    let (to_a, to_b) = (a.remote_rtp.unwrap(), b.remote_rtp.unwrap());
    alice_rtp.send(to_a, PACKETS).join().unwrap();
    bob_rtp.send(to_b, PACKETS).join().unwrap();
    let n = usize::from(PACKETS);
    assert!(bob_rtp.wait_received(n, 2 * SEC) >= 45, "alice not heard");
    assert!(
        alice_rtp.wait_received(n, 2 * SEC) >= 45,
        "bob's media did not follow alice's NAT address"
    );
    rig.assert_alive();
}
