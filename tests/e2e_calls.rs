//! Issue 4 ("Calls"), end to end: the real binary on loopback, a caller and phones that are
//! either our test UA (where RTP or exact counts matter) or SIPp (a second, independent SIP
//! implementation), and the app's answer URL served from inside the test.
//!
//! Flows of the "Must show": group ring with a user on two devices and RTP both ways
//! (1), sequential ring (2), `loop` (3), `duration` (4), the caller's CANCEL while B legs
//! ring (5); then forking races, declines, RTP inactivity and SIPp on both ends.
//! Elsewhere: trunk and REST calls (6, 7) in `e2e_call_trunk.rs`, answer-URL failures (8) in
//! `e2e_call_answer_url.rs`, B2BUA details in `e2e_call_b2bua.rs`, how a script goes on in
//! `e2e_call_script.rs`, the v3 connect in `e2e_call_v3.rs`.
//!
//! Live events and CDRs on the event URL (compat-fields §b5), and the stored CDRs, are
//! checked after flows 1 and 5, which between them end every kind of leg: answered and
//! bridged, cancelled by the fork, cancelled with the caller.

mod support;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use engine::sip::message::{HeaderName, HeaderView};
use serde_json::{json, Value};
use support::http::Reply;
use support::phone::SippPhone;
use support::reports::{assert_missed, reports, stored_cdrs};
use support::rig::Rig;
use support::rtp::Rtp;
use support::ua::{sdp_audio_addr, Incoming};

const SEC: Duration = Duration::from_secs(1);
/// RTP packets each side sends (one second of G.711 at 20 ms).
const PACKETS: u16 = 50;

fn sip_user(u: &str) -> Value {
    json!({"type": "sip", "user": u})
}

/// The answer URL was asked once, with PIOPIY's fields, signed with the app's secret.
fn assert_answer_request(rig: &Rig, from: &str, to: u64) -> String {
    let hits = rig.web.hits("/answer");
    assert_eq!(hits.len(), 1, "one answer-URL request per call");
    let body = hits[0].json();
    assert_eq!(body["from"], from);
    assert_eq!(body["to"], to, "a dialled number is sent as a JSON number");
    assert_eq!(body["action"], "inbound");
    assert_eq!(body["leg"], "a");
    assert_eq!(body["appid"], rig.appid);
    assert!(body["time"].as_u64().is_some(), "time in ms: {body}");
    let cmiuuid = body["cmiuuid"].as_str().expect("cmiuuid").to_string();
    assert!(!cmiuuid.is_empty());
    assert_eq!(body["cmuuid"], cmiuuid.as_str(), "both spellings");
    hits[0]
        .verify_signature(&rig.secret)
        .expect("answer-URL request signed with the app secret");
    cmiuuid
}

/// An offer ringmaster sent to a B leg points at ringmaster's own RTP port, not the caller's.
fn assert_anchored(rig: &Rig, inc: &Incoming, caller_rtp: SocketAddr) {
    let to_b = sdp_audio_addr(&inc.req.body).expect("SDP offer in the B leg's INVITE");
    assert_eq!(to_b.ip().to_string(), "127.0.0.1");
    assert!(
        rig.is_rtp_port(to_b.port()),
        "B offer on {to_b}: not one of ringmaster's ports {:?}",
        rig.rtp_ports
    );
    assert_ne!(to_b, caller_rtp, "the caller's address leaked to the B leg");
}

/// Once a call is over its RTP ports are closed: we can bind them ourselves (bounded wait).
fn assert_ports_released(anchors: &[SocketAddr]) {
    let deadline = Instant::now() + 3 * SEC;
    for a in anchors {
        while UdpSocket::bind(a).is_err() {
            assert!(
                Instant::now() < deadline,
                "RTP port {a} still held after the call ended"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Group ring, one user on two devices, RTP through ringmaster.

/// Alice calls 5000; the script rings bob (SIPp phone + our UA) and carol (SIPp phone) at
/// once; bob's second device answers; the others are cancelled; RTP flows both ways through
/// ringmaster's ports; alice hangs up. Returns the call's `cmiuuid`.
fn group_ring(rig: &Rig) -> String {
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    let limit = Duration::from_secs(20);
    let bob_desk = SippPhone::start(&rig.srv, rig.dir.path(), "bob", "uas_ring.xml", 1, limit);
    let carol = SippPhone::start(&rig.srv, rig.dir.path(), "carol", "uas_ring.xml", 1, limit);
    let mut bob_mobile = rig.phone("bob");
    let mut alice = rig.phone("alice");

    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob_mobile.expect_request("INVITE", None, 5 * SEC);
    assert_anchored(rig, &inv, alice_rtp.addr);
    let cmi = inv.req.headers.get_other("X-cmi-uuid").map(str::to_string);
    assert_eq!(
        inv.req.headers.get(&HeaderName::MaxForwards),
        Some("69"),
        "a B2BUA hop costs one Max-Forwards (loop protection)"
    );
    bob_mobile.reply(&inv, 180, None);
    // Ring briefly, as a person would, before picking up.
    std::thread::sleep(Duration::from_millis(300));
    let b = bob_mobile.answer(&inv, bob_rtp.addr);

    let mut a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("alice's call answered");
    let (last, ringing) = out.statuses.split_last().unwrap();
    assert_eq!(*last, 200);
    assert!(
        !ringing.is_empty() && ringing.iter().all(|s| *s == 180 || *s == 183),
        "ringback before the answer: {:?}",
        out.statuses
    );

    let to_a = a.remote_rtp.expect("SDP in the 200 to alice");
    let to_b = b.remote_rtp.expect("SDP offer to bob");
    assert!(rig.is_rtp_port(to_a.port()), "A side on {to_a}");
    assert_ne!(to_a, to_b, "each leg has its own anchor");
    assert_ne!(to_a, bob_rtp.addr, "bob's address leaked to alice");

    let senders = [alice_rtp.send(to_a, PACKETS), bob_rtp.send(to_b, PACKETS)];
    for s in senders {
        s.join().unwrap();
    }
    let n = usize::from(PACKETS);
    let (at_alice, at_bob) = (
        alice_rtp.wait_received(n, 2 * SEC),
        bob_rtp.wait_received(n, 2 * SEC),
    );
    // Close to what was sent: a few packets may precede the bridge, none may be invented.
    assert!(
        (n * 9 / 10..=n).contains(&at_alice),
        "alice got {at_alice} of {n} packets"
    );
    assert!(
        (n * 9 / 10..=n).contains(&at_bob),
        "bob got {at_bob} of {n} packets"
    );
    assert_eq!(
        alice_rtp.sources(),
        vec![to_a],
        "alice hears only ringmaster's A port"
    );
    assert_eq!(
        bob_rtp.sources(),
        vec![to_b],
        "bob hears only ringmaster's B port"
    );

    for held in [to_a, to_b] {
        assert!(
            UdpSocket::bind(held).is_err(),
            "{held} is not ringmaster's while the call is up"
        );
    }
    assert_eq!(alice.bye(&mut a), 200);
    bob_mobile.expect_bye(&b, 5 * SEC);
    assert_ports_released(&[to_a, to_b]);

    for (who, phone) in [("bob's desk phone", bob_desk), ("carol", carol)] {
        let (code, errors) = phone.finish(10 * SEC);
        assert_eq!(
            code, 0,
            "{who} (SIPp uas_ring) did not see INVITE, CANCEL, 487, ACK: {errors}"
        );
    }
    let cmiuuid = assert_answer_request(rig, "alice", 5000);
    assert_eq!(
        cmi.as_deref(),
        Some(cmiuuid.as_str()),
        "X-cmi-uuid on the B leg's INVITE"
    );
    cmiuuid
}

fn group_script() -> Value {
    json!([{"action": "connect", "ring_type": "group", "timeout": 20,
            "call": [sip_user("bob"), sip_user("carol")]}])
}

/// Flow 1 whole: the SIP and RTP checks of [`group_ring`], then every leg's events in order
/// and exactly one CDR per leg, delivered signed and stored.
#[test]
fn group_ring_second_device_answers_others_cancelled_rtp_both_ways() {
    let rig = Rig::start(vec![Reply::Json(group_script())]);
    let cmiuuid = group_ring(&rig);
    let r = reports(&rig, &cmiuuid, 4);
    r.assert_one_end_per_leg(4);
    let (by_leg, kinds) = (r.by_leg(), r.cdr_kinds());
    assert_eq!(by_leg["a"], ["started", "in_answered", "hangup"]);
    assert_eq!(kinds["a"], ["in_answered"]);
    let answered: Vec<&String> = kinds
        .iter()
        .filter(|(_, k)| k[0] == "out_answered")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(answered.len(), 1, "{kinds:?}");
    for (leg, statuses) in by_leg.iter().filter(|(l, _)| *l != "a") {
        if leg == answered[0] {
            assert_eq!(
                statuses,
                &["ringing", "out_answered", "out_bridged", "hangup"],
                "{leg}"
            );
        } else {
            assert_missed(leg, statuses);
            assert_eq!(kinds[leg], ["out_missed"], "{leg}");
        }
    }
    let hangup = |leg: &str| {
        r.events
            .iter()
            .find(|e| e["leg_id"] == leg && e["status"] == "hangup")
            .unwrap()
            .clone()
    };
    assert_eq!(hangup("a")["hangup_cause"], "caller-hung-up");
    for leg in by_leg.keys().filter(|l| *l != "a" && *l != answered[0]) {
        assert_eq!(
            (
                hangup(leg)["hangup_cause"].clone(),
                hangup(leg)["sip_status"].clone()
            ),
            (json!("cancelled"), json!(487)),
            "{leg}"
        );
    }
    // Who each leg is: the caller called 5000; the B legs are bob (twice) and carol.
    let mut b_to: Vec<&str> = r
        .cdrs
        .iter()
        .filter(|c| c["leg"] == "b")
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    b_to.sort();
    assert_eq!(b_to, ["bob", "bob", "carol"]);
    let a_cdr = r.cdrs.iter().find(|c| c["leg"] == "a").unwrap();
    assert_eq!(
        (a_cdr["from"].as_str(), a_cdr["to"].as_str()),
        (Some("alice"), Some("5000"))
    );
    assert!(
        a_cdr["answer_time"].as_u64().is_some() && a_cdr["status"] == "answered",
        "{a_cdr}"
    );
    for e in r.events.iter().chain(&r.cdrs) {
        assert_eq!(e["appid"], rig.appid);
        assert_eq!(e["cmuuid"], cmiuuid.as_str(), "both spellings");
        assert_eq!(e["leg"], if e["leg_id"] == "a" { "a" } else { "b" });
    }
    let stored = stored_cdrs(&rig, &cmiuuid, 4);
    let delivered: BTreeMap<String, String> = kinds
        .iter()
        .map(|(l, k)| (l.clone(), k[0].clone()))
        .collect();
    assert_eq!(stored, delivered, "the stored CDRs are the delivered ones");
    let (status, body) = rig.srv.post(
        "/v1/piopiy/cmiuuid_cdr",
        json!({"appid": rig.appid, "secret": rig.secret, "cmiuuid": cmiuuid}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["cdr"]["leg"], "a",
        "PIOPIY's pull API shows the A leg first"
    );
    assert_eq!(body["cdrs"].as_array().map(Vec::len), Some(4));
    rig.assert_alive();
}

// ---------------------------------------------------------------------------------------
// 2. Sequential ring.

#[test]
fn sequential_ring_first_user_times_out_then_second_answers() {
    let script = json!([{"action": "connect", "timeout": 5, "from": 14155550100_u64,
                         "call": [sip_user("bob"), sip_user("carol")]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    let (mut bob, mut carol, mut alice) =
        (rig.phone("bob"), rig.phone("carol"), rig.phone("alice"));
    let rtp = Rtp::bind();
    let mut out = alice.invite("5000", rtp.addr);

    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv_b, 180, None);
    assert!(
        carol.try_request("INVITE", None, 2 * SEC).is_none(),
        "carol rang while bob was still ringing: that is a group ring, not sequential"
    );
    let cancelled = bob.expect_cancel(&inv_b, 10 * SEC);
    let rang = cancelled - inv_b.at;
    assert!(
        rang >= Duration::from_millis(4500),
        "bob was cancelled after {rang:?}, before the 5 s timeout"
    );

    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    for inv in [&inv_b, &inv_c] {
        let from = inv.req.hdr_from().unwrap();
        assert_eq!(
            from.uri.as_sip().and_then(|u| u.user.as_deref()),
            Some("14155550100"),
            "`from` is the caller id on B legs"
        );
    }
    carol.reply(&inv_c, 180, None);
    let carol_rtp = Rtp::bind();
    let mut d_c = carol.answer(&inv_c, carol_rtp.addr);
    let d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("alice's call answered by carol");
    // This time the B leg hangs up: the connect ends, the script has nothing left, so the
    // caller gets a BYE.
    assert_eq!(carol.bye(&mut d_c), 200);
    alice.expect_bye(&d_a, 5 * SEC);
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(300))
            .is_none(),
        "bob rang twice"
    );
    assert_answer_request(&rig, "alice", 5000);
}

// ---------------------------------------------------------------------------------------
// 3. `loop`.

/// `loop: 2` rings bob's two devices for two rounds (exactly two INVITEs each), then the
/// script's next action (a connect to carol) runs and carol answers.
#[test]
fn loop_two_rings_two_rounds_then_the_next_action_runs() {
    let script = json!([
        {"action": "connect", "timeout": 5, "loop": 2, "call": [sip_user("bob")]},
        {"action": "connect", "timeout": 10, "call": [sip_user("carol")]}
    ]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    // bob's desk phone is SIPp: exit 0 only after two whole INVITE, CANCEL, 487, ACK calls.
    let desk = SippPhone::start(
        &rig.srv,
        rig.dir.path(),
        "bob",
        "uas_ring.xml",
        2,
        Duration::from_secs(25),
    );
    let (mut bob, mut carol, mut alice) =
        (rig.phone("bob"), rig.phone("carol"), rig.phone("alice"));
    let rtp = Rtp::bind();
    let mut out = alice.invite("5000", rtp.addr);

    let mut rounds = Vec::new();
    for round in 1..=2 {
        let inv = bob.expect_request("INVITE", None, 5 * SEC);
        bob.reply(&inv, 180, None);
        let cancelled = bob.expect_cancel(&inv, 10 * SEC);
        assert!(
            cancelled - inv.at >= Duration::from_millis(4500),
            "round {round} cut short"
        );
        rounds.push(inv.call_id().to_string());
    }
    assert_ne!(
        rounds[0], rounds[1],
        "each round is a new INVITE, not a retransmission"
    );

    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    let d_c = carol.answer(&inv_c, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by carol after the loop");
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(300))
            .is_none(),
        "a third round rang bob"
    );
    assert_eq!(alice.bye(&mut d_a), 200);
    carol.expect_bye(&d_c, 5 * SEC);
    let (code, errors) = desk.finish(5 * SEC);
    assert_eq!(
        code, 0,
        "bob's desk phone did not ring and get cancelled twice: {errors}"
    );
}

/// A user without a live registration is skipped at once (not rung for `timeout`), in every
/// round; then `hangup` gives the caller 480.
#[test]
fn loop_over_an_unregistered_user_fails_at_once_then_hangup_gives_480() {
    let script = json!([
        {"action": "connect", "timeout": 30, "loop": 2, "call": [sip_user("bob")]},
        {"action": "hangup"}
    ]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let mut alice = rig.phone("alice");
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let started = Instant::now();
    assert_eq!(alice.final_response(&mut out, 10 * SEC).err(), Some(480));
    assert!(
        started.elapsed() < 5 * SEC,
        "an unregistered user was rung for {:?}",
        started.elapsed()
    );
    assert_eq!(out.statuses, [180, 480]);
}

// ---------------------------------------------------------------------------------------
// 4. `duration`.

#[test]
fn duration_cuts_the_connected_call_with_bye_to_both_sides() {
    // 10 s is the smallest `duration` a script may ask for (pcmo::limits::LEGACY_DURATION).
    let script =
        json!([{"action": "connect", "duration": 10, "timeout": 10, "call": [sip_user("bob")]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, Rtp::bind().addr);
    let answered = Instant::now();
    let d_a = alice.final_response(&mut out, 5 * SEC).expect("answered");

    let bye_a = alice.expect_bye(&d_a, 15 * SEC);
    let bye_b = bob.expect_bye(&d_b, 5 * SEC);
    for (who, at) in [("alice", bye_a), ("bob", bye_b)] {
        let lasted = at - answered;
        assert!(
            (Duration::from_millis(9500)..Duration::from_secs(13)).contains(&lasted),
            "{who} got BYE {lasted:?} after the answer; duration is 10 s"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. The caller hangs up while B legs ring.

/// Alice calls; bob (our UA and a SIPp phone) and carol (SIPp) ring; alice CANCELs. Returns
/// the call's `cmiuuid`.
fn caller_cancels(rig: &Rig) -> String {
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    let limit = Duration::from_secs(20);
    let desk = SippPhone::start(&rig.srv, rig.dir.path(), "bob", "uas_ring.xml", 1, limit);
    let carol = SippPhone::start(&rig.srv, rig.dir.path(), "carol", "uas_ring.xml", 1, limit);
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 180, None);

    let (cancel_status, invite_status) = alice.cancel(&mut out);
    assert_eq!(
        (cancel_status, invite_status),
        (200, 487),
        "CANCEL answered 200, INVITE 487"
    );
    bob.expect_cancel(&inv, 5 * SEC);
    for (who, phone) in [("bob's desk phone", desk), ("carol", carol)] {
        let (code, errors) = phone.finish(10 * SEC);
        assert_eq!(code, 0, "{who} (SIPp uas_ring) was not cancelled: {errors}");
    }
    assert!(
        bob.try_request("BYE", None, Duration::from_millis(300))
            .is_none(),
        "a cancelled leg got a BYE"
    );
    assert_answer_request(rig, "alice", 5000)
}

/// Flow 5 whole: every B leg cancelled, 487 to the caller, then one terminal event and one
/// missed CDR per leg, delivered signed and stored.
#[test]
fn caller_cancel_while_b_legs_ring_cancels_every_b_leg_and_gets_487() {
    let rig = Rig::start(vec![Reply::Json(group_script())]);
    let cmiuuid = caller_cancels(&rig);
    let r = reports(&rig, &cmiuuid, 4);
    r.assert_one_end_per_leg(4);
    let (by_leg, kinds) = (r.by_leg(), r.cdr_kinds());
    assert_eq!(by_leg["a"], ["started", "hangup"]);
    assert_eq!(kinds["a"], ["in_missed"]);
    for (leg, statuses) in by_leg.iter().filter(|(l, _)| *l != "a") {
        assert_missed(leg, statuses);
        assert_eq!(kinds[leg], ["out_missed"], "{leg}");
    }
    for e in r.events.iter().filter(|e| e["status"] == "hangup") {
        let want = if e["leg"] == "a" {
            "caller-cancelled"
        } else {
            "cancelled"
        };
        assert_eq!(e["hangup_cause"], want, "{e}");
        assert_eq!(e["sip_status"], 487, "{e}");
    }
    let stored = stored_cdrs(&rig, &cmiuuid, 4);
    assert!(
        stored
            .iter()
            .all(|(l, k)| k == if l == "a" { "in_missed" } else { "out_missed" }),
        "{stored:?}"
    );
    rig.assert_alive();
}

// ---------------------------------------------------------------------------------------
// Around the flows: forking races, declines, RTP inactivity.

/// Two devices of one user answer at the same moment: one wins; the other's 2xx is still
/// ACKed and then BYEd, never left half-open.
#[test]
fn two_devices_answer_at_once_the_loser_is_acked_then_hung_up() {
    let rig = Rig::start(vec![Reply::Json(
        json!([{"action": "connect", "timeout": 10, "call": [sip_user("bob")]}]),
    )]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut d1, mut d2, mut alice) = (rig.phone("bob"), rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let (i1, i2) = (
        d1.expect_request("INVITE", None, 5 * SEC),
        d2.expect_request("INVITE", None, 5 * SEC),
    );
    let (r1, r2) = (Rtp::bind(), Rtp::bind());
    d1.reply(&i1, 200, Some(r1.addr));
    d2.reply(&i2, 200, Some(r2.addr));
    d1.expect_request("ACK", Some(i1.call_id()), 5 * SEC);
    d2.expect_request("ACK", Some(i2.call_id()), 5 * SEC);
    let mut a = alice.final_response(&mut out, 5 * SEC).expect("answered");

    let bye1 = d1.try_request("BYE", Some(i1.call_id()), 2 * SEC);
    let wait2 = if bye1.is_some() {
        Duration::from_millis(500)
    } else {
        2 * SEC
    };
    let bye2 = d2.try_request("BYE", Some(i2.call_id()), wait2);
    let (loser, winner, winner_inv) = match (bye1, bye2) {
        (Some(b), None) => ((&mut d1, b), &mut d2, &i2),
        (None, Some(b)) => ((&mut d2, b), &mut d1, &i1),
        (b1, b2) => panic!(
            "exactly one device must be hung up at once; BYEs: {:?} {:?}",
            b1.is_some(),
            b2.is_some()
        ),
    };
    loser.0.reply(&loser.1, 200, None);
    assert_eq!(alice.bye(&mut a), 200);
    let bye = winner.expect_request("BYE", Some(winner_inv.call_id()), 5 * SEC);
    winner.reply(&bye, 200, None);
}

/// 486 from a target ends its attempts: `loop` does not ring it again, and the caller, never
/// answered, hears busy.
#[test]
fn busy_target_is_not_retried_by_loop_and_the_caller_hears_486() {
    let rig = Rig::start(vec![Reply::Json(
        json!([{"action": "connect", "timeout": 10, "loop": 3, "call": [sip_user("bob")]}]),
    )]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 486, None);
    bob.expect_request("ACK", Some(inv.call_id()), 5 * SEC);
    assert_eq!(alice.final_response(&mut out, 5 * SEC).err(), Some(486));
    assert_eq!(out.statuses, [180, 486]);
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(500))
            .is_none(),
        "a busy target was rung again"
    );
}

/// A bridged call whose RTP stops for `rtp_timeout_secs` ends with BYE to both sides; RTP
/// that keeps flowing longer than that keeps it up.
#[test]
fn rtp_inactivity_ends_the_call_but_flowing_rtp_keeps_it_up() {
    let config = format!("{}rtp_timeout_secs = 2\n", support::rig::CONFIG);
    let script = json!([{"action": "connect", "timeout": 10, "call": [sip_user("bob")]}]);
    let rig = Rig::configured(vec![Reply::Json(script)], None, &config);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, bob_rtp.addr);
    let d_a = alice.final_response(&mut out, 5 * SEC).expect("answered");

    // 3.5 s of RTP both ways, longer than the 2 s timeout: the call must stay up.
    let senders = [
        alice_rtp.send(d_a.remote_rtp.unwrap(), 175),
        bob_rtp.send(d_b.remote_rtp.unwrap(), 175),
    ];
    for s in senders {
        s.join().unwrap();
    }
    let stopped = Instant::now();
    assert!(
        alice.try_request("BYE", None, Duration::ZERO).is_none(),
        "alice got BYE while RTP flowed"
    );
    assert!(
        bob.try_request("BYE", None, Duration::ZERO).is_none(),
        "bob got BYE while RTP flowed"
    );
    assert!(
        alice_rtp.received() > 150 && bob_rtp.received() > 150,
        "RTP relayed: {} / {}",
        alice_rtp.received(),
        bob_rtp.received()
    );

    let bye_a = alice.expect_bye(&d_a, 8 * SEC);
    bob.expect_bye(&d_b, 3 * SEC);
    let silent = bye_a - stopped;
    assert!(
        silent >= Duration::from_millis(1500),
        "call ended {silent:?} after RTP stopped; the timeout is 2 s"
    );
}

// ---------------------------------------------------------------------------------------
// SIPp on both ends: an independent SIP implementation as caller and as phone.

/// SIPp calls 5000 (INVITE, 407, INVITE with credentials, 200, ACK, BYE); the script connects
/// it to bob, a SIPp phone that rings, answers and echoes RTP. Both SIPp runs must complete
/// their whole scenario.
#[test]
fn sipp_caller_reaches_a_sipp_phone_through_the_script() {
    let script = json!([{"action": "connect", "timeout": 10, "call": [sip_user("bob")]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let bob = SippPhone::start_with(
        &rig.srv,
        rig.dir.path(),
        "bob",
        "uas_answer.xml",
        1,
        Duration::from_secs(15),
        &["-set", "ring_ms", "300", "-rtp_echo"],
    );
    let csv = rig.dir.path().join("alice.csv");
    std::fs::write(
        &csv,
        "SEQUENTIAL\nalice;test.local;[authentication username=alice password=pw-alice]\n",
    )
    .unwrap();
    let scenario = support::test_file("sipp/uac_call.xml");
    let code = support::sipp(
        &[
            &rig.srv.sip.to_string(),
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            csv.to_str().unwrap(),
            "-s",
            "5000",
            "-set",
            "talk_ms",
            "1000",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            &support::free_port().to_string(),
            "-mp",
            &support::free_port().to_string(),
            "-timeout",
            "15s",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(
        code,
        0,
        "SIPp caller: the call did not go 407, 200, ACK, BYE 200; log:\n{}",
        rig.srv.log()
    );
    let (code, errors) = bob.finish(5 * SEC);
    assert_eq!(
        code, 0,
        "SIPp phone: INVITE, 180, 200, ACK, BYE not completed: {errors}"
    );
    assert_answer_request(&rig, "alice", 5000);
}
