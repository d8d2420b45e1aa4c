//! PCMO `stream` end to end with other agents and when streams fail: the real binary on
//! loopback, baresip as the caller sending 700 Hz.
//!
//! - failures: an unreachable URL, a refused upgrade, one never answered, a wss:// agent with
//!   an untrusted certificate and one past the app's limit of concurrent streams each give a
//!   `stream_failed` event and the script goes on;
//! - Pipecat (PyPI `pipecat-ai`: its FastAPI WebSocket transport and Twilio serializer, as its
//!   telephony examples run them, `auto_hang_up` off) holds a call: it hears the caller's tone
//!   and the caller hears its 1400 Hz;
//! - examples/stream/ (the answer server and the parrot agent) hold a call.
//!
//! Formats, dialects, barge-in and bridged calls are in e2e_stream.rs.

mod support;

use serde_json::{json, Value};
use support::free_port;
use support::http::Reply;
use support::rig::Rig;
use support::stream_agent::{Agent, Example, Pipecat};
use support::stream_calls::{
    hears, next_prompt, phone, rig_with, stream, AGENT_HZ, CALLEE_HZ, CALLER_HZ, NEXT_HZ, SEC,
};

/// An unreachable URL, an upgrade refused with 403, one never answered (the 5 s connect
/// timeout) and a wss:// agent whose self-signed certificate is not trusted: a
/// `stream_failed` event each, with its reason, and alice's script goes on to a
/// stream that stays open. With `[media] max_streams_per_app = 1` that stream is the app's
/// one: bob's stream fails at once (`stream_failed`, the limit) and his script goes on to the
/// prompt he hears. The refused upgrade was signed too.
#[test]
fn unreachable_refused_silent_and_over_limit_streams_give_stream_failed_and_the_call_goes_on() {
    let config =
        support::rig::CONFIG.replace("[calls]", "[media]\nmax_streams_per_app = 1\n[calls]");
    let rig = Rig::configured(vec![Reply::Status(500)], None, &config);
    let (mut holder, mut refusing, mut silent, mut untrusted) = (
        Agent::start(rig.dir.path()),
        Agent::start(rig.dir.path()),
        Agent::start(rig.dir.path()),
        Agent::start_tls(rig.dir.path()),
    );
    let wss = format!("wss://127.0.0.1:{}/tls", untrusted.port);
    let dead = format!("ws://127.0.0.1:{}/nobody", free_port());
    rig.web.set_replies(vec![
        Reply::Json(json!([
            stream(&dead, "caller", "8000"),
            stream(&refusing.url("/refuse?y=2"), "caller", "8000"),
            stream(&silent.url("/silent"), "caller", "8000"),
            stream(&wss, "caller", "8000"),
            stream(&holder.url("/hold"), "caller", "8000")
        ])),
        Reply::Json(json!([
            stream(&holder.url("/second"), "caller", "8000"),
            next_prompt(&rig)
        ])),
    ]);
    refusing.reject(403);
    refusing.secret(&rig.secret);
    silent.stall(30);
    let _alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));
    let held = holder.wait(0, &[], 30 * SEC, |s| !s.start().is_null());
    assert_eq!(
        held.target(),
        "/hold",
        "alice's script went on past four failures"
    );
    let alice_failed = rig.error_events();
    let bob = phone(&rig, "bob", CALLEE_HZ, Some("5000"));
    let next = hears(&bob, NEXT_HZ, 50);
    assert!(
        next >= 50,
        "after the stream over the limit: {next} frames of the prompt\n{}",
        rig.srv.log()
    );

    let reasons = |errors: &[Value]| -> Vec<String> {
        errors
            .iter()
            .filter(|e| e["code"] == "stream_failed")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (first, all) = (reasons(&alice_failed), reasons(&rig.error_events()));
    assert_eq!(first.len(), 4, "{alice_failed:#?}");
    assert!(
        first.iter().all(|m| !m.is_empty()),
        "a reason each: {first:?}"
    );
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all[4].contains("limit"), "bob's: {all:?}");
    assert!(
        first[1].contains("403") && first[3].contains("TLS"),
        "the reasons say what failed: {first:?}"
    );
    let upgrades = refusing.upgrades();
    assert_eq!(upgrades.len(), 1, "{upgrades:?}");
    assert_eq!(upgrades[0]["target"], "/refuse?y=2");
    assert_eq!(upgrades[0]["signature_ok"], true, "{upgrades:?}");
    assert_eq!(silent.upgrades().len(), 1);
    assert!(
        untrusted.upgrades().is_empty(),
        "a certificate no public root vouches for: no upgrade over it"
    );
    assert!(
        refusing.seen(&[]).is_empty() && silent.seen(&[]).is_empty(),
        "no WebSocket opened"
    );
    let held = holder.seen(&[]);
    assert_eq!(held.len(), 1, "the stream over the limit never connected");
    assert_eq!(held[0].closed_by(), None, "alice's stream is still open");
    rig.assert_alive();
}

/// Pipecat, its FastAPI WebSocket transport and Twilio serializer unchanged but for
/// `auto_hang_up`, holds a call: it hears the caller's tone and the caller hears its answer.
#[test]
fn pipecat_with_its_twilio_serializer_holds_a_call_through_ringmaster() {
    let mut pipecat_box = None;
    let rig = rig_with(|rig| {
        let pipecat = pipecat_box.insert(Pipecat::start(rig.dir.path(), AGENT_HZ, CALLER_HZ));
        json!([stream(&pipecat.url(), "caller", "8000")])
    });
    let mut pipecat = pipecat_box.unwrap();
    let alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));

    let report = pipecat.wait(30 * SEC, |r| r["heard_frames"].as_u64() >= Some(150));
    assert_eq!(report["transport"], "twilio", "{report}\n{}", pipecat.log());
    assert!(
        report["heard_frames"].as_u64() >= Some(150),
        "Pipecat heard the caller: {report}\n{}",
        pipecat.log()
    );
    let at_caller = hears(&alice, AGENT_HZ, 100);
    assert!(
        at_caller >= 100,
        "the caller heard {at_caller} frames of Pipecat's {AGENT_HZ} Hz\n{}",
        pipecat.log()
    );
    alice.quit();
    let report = pipecat.wait(15 * SEC, |r| r["ended"] == true);
    assert_eq!(
        report["ended"], true,
        "the pipeline ended with the call: {report}"
    );
    rig.assert_alive();
}

/// examples/stream/: the answer server's script streams the call to the parrot agent, which
/// checks the upgrade's signature, greets with a 440 Hz beep and then plays the caller back.
#[test]
fn the_example_answer_server_and_parrot_agent_hold_a_call() {
    let agent_port = free_port();
    let agent_url = format!("ws://127.0.0.1:{agent_port}/agent");
    let answer = Example::start(
        "answer_server.py",
        &["--listen", "127.0.0.1:0", "--agent", &agent_url],
    );
    let base = answer
        .printed()
        .iter()
        .find_map(|l| {
            l.split_whitespace()
                .last()
                .filter(|u| u.starts_with("http"))
                .map(String::from)
        })
        .expect("where the answer server listens");
    let rig = Rig::with(
        vec![Reply::Status(500)],
        Some(
            json!({"answer_url": format!("{base}/answer"), "event_url": format!("{base}/events")}),
        ),
    );
    let listen = format!("127.0.0.1:{agent_port}");
    let agent = Example::start("agent.py", &["--listen", &listen, "--secret", &rig.secret]);
    let alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));

    let beep = hears(&alice, 440, 40);
    assert!(
        beep >= 40,
        "the greeting: {beep} frames; {:?}",
        agent.printed()
    );
    let parrot = hears(&alice, CALLER_HZ, 100);
    assert!(
        parrot >= 100,
        "the caller played back: {parrot} frames; {:?}",
        agent.printed()
    );
    let printed = agent.printed();
    assert!(
        printed.iter().any(|l| l.contains("from alice to 5000")),
        "{printed:?}"
    );
    alice.quit();
    rig.assert_alive();
}
