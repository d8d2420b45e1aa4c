//! Issue 4 ("Calls"), how a script goes on: when a connect ends because the B leg hung up the
//! next action runs with the caller still connected; an action this version cannot execute
//! yet (a media action) ends the call cleanly instead of being skipped.

mod support;

use std::time::Duration;

use serde_json::json;
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;

const SEC: Duration = Duration::from_secs(1);

/// Alice talks to bob; bob hangs up; the next connect rings carol and alice, still in her
/// call, now talks to carol (RTP both ways); alice hangs up.
#[test]
fn after_the_b_leg_hangs_up_the_next_connect_reaches_the_still_connected_caller() {
    let rig = Rig::start(vec![Reply::Json(json!([
        {"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]},
        {"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "carol"}]}
    ]))]);
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob, mut carol) =
        (rig.phone("alice"), rig.phone("bob"), rig.phone("carol"));
    let (alice_rtp, carol_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    let mut d_b = bob.answer(&inv_b, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by bob");
    assert!(
        carol
            .try_request("INVITE", None, Duration::from_millis(300))
            .is_none(),
        "carol rang while bob's connect was still on"
    );

    assert_eq!(bob.bye(&mut d_b), 200);
    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    let d_c = carol.answer(&inv_c, carol_rtp.addr);
    assert!(
        alice
            .try_request("BYE", None, Duration::from_millis(300))
            .is_none(),
        "the caller was hung up although the script had another connect"
    );

    let (to_a, to_c) = (d_a.remote_rtp.unwrap(), d_c.remote_rtp.unwrap());
    let senders = [alice_rtp.send(to_a, 25), carol_rtp.send(to_c, 25)];
    for s in senders {
        s.join().unwrap();
    }
    let (at_alice, at_carol) = (
        alice_rtp.wait_received(25, 2 * SEC),
        carol_rtp.wait_received(25, 2 * SEC),
    );
    assert!(
        at_alice >= 22 && at_carol >= 22,
        "alice heard {at_alice}, carol {at_carol} of 25 packets after the re-bridge"
    );
    assert_eq!(alice.bye(&mut d_a), 200);
    carol.expect_bye(&d_c, 5 * SEC);
}

/// A `stream` whose agent cannot be reached is an error event (`stream_failed`) and the
/// script goes on with its next action; the call is not lost.
#[test]
fn a_stream_that_cannot_connect_is_reported_and_the_script_goes_on() {
    let rig = Rig::start(vec![Reply::Json(json!([
        {"action": "stream", "ws_url": "ws://127.0.0.1:9/audio"},
        {"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}
    ]))]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered to stream");
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    bob.reply(&inv, 486, None);
    // The error event goes through the outbox: wait (bounded) for it.
    let deadline = std::time::Instant::now() + 10 * SEC;
    while !rig
        .error_events()
        .iter()
        .any(|e| e["code"] == "stream_failed")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            rig.error_events()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    rig.assert_alive();
}
