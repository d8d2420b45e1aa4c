//! Issue 4 ("Calls"), flow 8: the answer URL is down, slow, answers an HTTP error or
//! something that is not a valid script. The caller hears ringback, then 503 (or the app's
//! fallback script runs), the server keeps serving SIP and HTTP, nothing panics, and the
//! next call works; the app gets a signed `error` event saying why.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;
use support::ua::Ua;

const SEC: Duration = Duration::from_secs(1);

fn connect_bob() -> Value {
    json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}])
}

/// An answer URL on a port where nothing listens (connection refused). The port is from
/// [`support::free_port`], outside the kernel's ephemeral range: a port the kernel chose could
/// become the source port of the server's own outgoing connection meanwhile.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}/answer", support::free_port())
}

/// Alice calls 5000 and the call fails: ringback first, then `status`.
fn call_refused(alice: &mut Ua, status: u16) {
    let mut out = alice.invite("5000", Rtp::bind().addr);
    assert_eq!(alice.final_response(&mut out, 10 * SEC).err(), Some(status));
    assert_eq!(
        out.statuses,
        [180, status],
        "ringback while the app was asked, then {status}"
    );
}

/// Alice calls 5000 and bob answers: the script (answer URL or fallback) ran.
fn call_reaches_bob(alice: &mut Ua, bob: &mut Ua) {
    let mut out = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, Rtp::bind().addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered by bob");
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
}

fn users(rig: &Rig) -> (Ua, Ua) {
    rig.endpoint("alice");
    rig.endpoint("bob");
    (rig.phone("alice"), rig.phone("bob"))
}

#[test]
fn answer_url_down_gives_503_and_the_server_keeps_serving() {
    let rig = Rig::with(
        vec![Reply::Status(200)],
        Some(json!({"answer_url": dead_url()})),
    );
    let (mut alice, _bob) = users(&rig);
    call_refused(&mut alice, 503);
    call_refused(&mut alice, 503);
    rig.assert_alive();
}

#[test]
fn answer_url_slower_than_the_timeout_gives_503_then_the_next_call_works() {
    // The server allows 1.5 s (support::rig::CONFIG); the app takes 4 s once, then is quick.
    let rig = Rig::start(vec![
        Reply::After(4 * SEC, Box::new(Reply::Json(connect_bob()))),
        Reply::Json(connect_bob()),
    ]);
    let (mut alice, mut bob) = users(&rig);
    let started = Instant::now();
    call_refused(&mut alice, 503);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(3500),
        "gave up after {waited:?}; answer_timeout_ms is 1500 and the app answers at 4 s"
    );
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(200))
            .is_none(),
        "the late script must not run"
    );
    call_reaches_bob(&mut alice, &mut bob);
    assert_eq!(rig.web.hits("/answer").len(), 2);
    rig.assert_alive();
}

#[test]
fn an_app_with_its_own_answer_timeout_waits_longer_than_the_server_default() {
    // The server allows 1.5 s; this app asked for 4 s and its server takes 2.5 s.
    let rig = Rig::with(
        vec![Reply::After(
            Duration::from_millis(2500),
            Box::new(Reply::Json(connect_bob())),
        )],
        Some(json!({"answer_timeout_ms": 4000})),
    );
    let (mut alice, mut bob) = users(&rig);
    call_reaches_bob(&mut alice, &mut bob);
    // Out of range is refused when the app is created, with the field named.
    let (status, body) = support::rig::admin_post(
        &rig.srv,
        "/admin/v1/apps",
        json!({"name": "x", "answer_url": "http://127.0.0.1:9/a", "answer_timeout_ms": 60000}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("answer_timeout_ms"), "{body}");
    rig.assert_alive();
}

#[test]
fn answer_url_error_or_invalid_script_gives_503_then_the_next_call_works() {
    let rig = Rig::start(vec![
        // Not JSON.
        Reply::Text("[{\"action\": \"connect\", ".into()),
        // JSON, but not a script.
        Reply::Json(json!({"action": "connect"})),
        // A script with an error (connect without targets).
        Reply::Json(json!([{"action": "connect"}])),
        Reply::Status(500),
        Reply::Json(connect_bob()),
    ]);
    let (mut alice, mut bob) = users(&rig);
    for _ in 0..4 {
        call_refused(&mut alice, 503);
    }
    assert!(
        bob.try_request("INVITE", None, Duration::from_millis(200))
            .is_none(),
        "a broken script rang bob"
    );
    call_reaches_bob(&mut alice, &mut bob);
    assert_eq!(rig.web.hits("/answer").len(), 5);
    rig.assert_alive();
}

#[test]
fn fallback_script_runs_when_the_answer_url_fails() {
    let rig = Rig::with(
        vec![Reply::Status(500), Reply::Text("not json".into())],
        Some(json!({"fallback_pcmo": connect_bob()})),
    );
    let (mut alice, mut bob) = users(&rig);
    // HTTP 500, then invalid JSON: both times the fallback connects alice to bob.
    call_reaches_bob(&mut alice, &mut bob);
    call_reaches_bob(&mut alice, &mut bob);
    assert_eq!(rig.web.hits("/answer").len(), 2);
    rig.assert_alive();
}

#[test]
fn fallback_script_runs_when_the_answer_url_is_down() {
    let rig = Rig::with(
        vec![Reply::Status(200)],
        Some(json!({"answer_url": dead_url(), "fallback_pcmo": connect_bob()})),
    );
    let (mut alice, mut bob) = users(&rig);
    call_reaches_bob(&mut alice, &mut bob);
}

#[test]
fn answer_url_failures_are_reported_as_signed_error_events() {
    let rig = Rig::start(vec![
        Reply::Text("not json".into()),
        Reply::Status(500),
        Reply::Json(json!([{"action": "connect", "timeout": 10}])),
    ]);
    let (mut alice, _bob) = users(&rig);
    for _ in 0..3 {
        call_refused(&mut alice, 503);
    }
    let hits = rig.web.wait_hits("/events", 15 * SEC, |h| {
        h.iter().filter(|h| h.json()["type"] == "cdr").count() >= 3
    });
    for h in &hits {
        h.verify_signature(&rig.secret)
            .unwrap_or_else(|e| panic!("event URL delivery not signed right: {e}"));
        assert!(h.header("x-ringmaster-delivery-id").is_some());
    }
    let bodies: Vec<Value> = hits.iter().map(|h| h.json()).collect();
    let errors: Vec<&Value> = bodies.iter().filter(|b| b["status"] == "error").collect();
    let codes: Vec<&str> = errors
        .iter()
        .map(|e| e["error"]["code"].as_str().unwrap_or(""))
        .collect();
    assert!(codes.contains(&"invalid_json"), "{errors:#?}");
    assert!(codes.contains(&"answer_url_failed"), "{errors:#?}");
    // A script error says where: the JSON path into the script.
    let missing = errors
        .iter()
        .find(|e| e["error"]["code"] == "missing_field")
        .unwrap_or_else(|| {
            panic!("no missing_field error for a connect without targets: {errors:#?}")
        });
    assert!(
        missing["error"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/0")),
        "{missing}"
    );
    let cdrs: Vec<&Value> = bodies.iter().filter(|b| b["type"] == "cdr").collect();
    assert_eq!(cdrs.len(), 3, "one CDR per (A-only) call: {cdrs:#?}");
    assert!(cdrs
        .iter()
        .all(|c| c["cdr_kind"] == "in_missed" && c["leg"] == "a"));
}
