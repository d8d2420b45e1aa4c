//! Issue 4 ("Calls"), flows 6 and 7: a carrier's trunk sends a call to an owned number and
//! `bridge` dials out through the trunk; an app places a call over REST with
//! `pcmo_make_call` and an inline script.

mod support;

use std::time::Duration;

use engine::sip::message::HeaderView;
use serde_json::json;
use support::http::Reply;
use support::rig::Rig;
use support::rtp::Rtp;
use support::ua::Ua;

const SEC: Duration = Duration::from_secs(1);
const OWNED: &str = "14155550123";
const CALLED: &str = "14155550199";

fn cli_ok(rig: &Rig, args: &[&str]) {
    let out = rig.srv.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn user_of(inv: &support::ua::Incoming) -> Option<String> {
    inv.req.uri.as_sip().and_then(|u| u.user.clone())
}

#[test]
fn trunk_call_to_an_owned_number_bridges_out_through_the_trunk() {
    let script = json!([{"action": "bridge", "from": OWNED, "timeout": 10,
                         "connect": [{"type": "pstn", "number": CALLED}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    // The carrier lives on 127.0.0.2, so our other UAs (127.0.0.1) are not taken for it.
    let mut gateway = Ua::bind_at("127.0.0.2", rig.srv.sip, "carrier.example", "gw", "");
    let mut pstn = Ua::bind_at(
        "127.0.0.2",
        rig.srv.sip,
        "carrier.example",
        "14155550100",
        "",
    );
    cli_ok(
        &rig,
        &[
            "trunk",
            "add",
            "--name",
            "carrier",
            "--address",
            &gateway.addr.to_string(),
            "--allow-ip",
            "127.0.0.2",
        ],
    );
    cli_ok(
        &rig,
        &["number", "add", OWNED, "--app", &rig.appid.to_string()],
    );

    // A number nobody owns: refused, and the app is not asked.
    let mut out = pstn.invite_plain(
        &format!("sip:14155550000@{}", rig.srv.sip),
        Rtp::bind().addr,
    );
    assert_eq!(pstn.final_response(&mut out, 5 * SEC).err(), Some(404));
    assert!(rig.web.hits("/answer").is_empty());

    let (caller_rtp, callee_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = pstn.invite_plain(&format!("sip:+{OWNED}@{}", rig.srv.sip), caller_rtp.addr);
    let inv = gateway.expect_request("INVITE", None, 5 * SEC);
    assert_eq!(
        user_of(&inv).as_deref().map(|u| u.trim_start_matches('+')),
        Some(CALLED)
    );
    let from = inv.req.hdr_from().unwrap();
    assert_eq!(
        from.uri
            .as_sip()
            .and_then(|u| u.user.as_deref())
            .map(|u| u.trim_start_matches('+')),
        Some(OWNED)
    );
    gateway.reply(&inv, 180, None);
    let d_out = gateway.answer(&inv, callee_rtp.addr);
    let mut d_in = pstn
        .final_response(&mut out, 5 * SEC)
        .expect("answered through the trunk");

    let senders = [
        caller_rtp.send(d_in.remote_rtp.unwrap(), 25),
        callee_rtp.send(d_out.remote_rtp.unwrap(), 25),
    ];
    for s in senders {
        s.join().unwrap();
    }
    assert!(
        caller_rtp.wait_received(25, 2 * SEC) >= 22,
        "carrier caller heard {}",
        caller_rtp.received()
    );
    assert!(
        callee_rtp.wait_received(25, 2 * SEC) >= 22,
        "carrier callee heard {}",
        callee_rtp.received()
    );
    assert_eq!(pstn.bye(&mut d_in), 200);
    gateway.expect_bye(&d_out, 5 * SEC);

    let ask = rig.web.hits("/answer");
    assert_eq!(ask.len(), 1);
    assert_eq!(ask[0].json()["to"], OWNED.parse::<u64>().unwrap());
}

#[test]
fn pcmo_make_call_dials_the_user_and_runs_the_inline_script() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.endpoint("bob");
    rig.endpoint("carol");
    let (mut bob, mut carol) = (rig.phone("bob"), rig.phone("carol"));
    let (status, body) = rig.srv.post(
        "/v1/pcmo_make_call",
        json!({"appid": rig.appid, "secret": rig.secret, "from": OWNED, "to": "bob",
               "pcmo": [{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "carol"}]}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 200);
    assert_eq!(body["status"], "progress");
    let request_id = body["request_id"].as_str().expect("request_id").to_string();
    assert!(!request_id.is_empty());

    // ringmaster dials bob first; the script runs once bob answers and connects carol.
    let inv_b = bob.expect_request("INVITE", None, 5 * SEC);
    let shown = inv_b.req.hdr_from().unwrap();
    assert_eq!(
        shown.uri.as_sip().and_then(|u| u.user.as_deref()),
        Some(OWNED),
        "`from` is the caller id bob sees"
    );
    assert!(
        carol
            .try_request("INVITE", None, Duration::from_millis(300))
            .is_none(),
        "the script ran before bob answered"
    );
    let (bob_rtp, carol_rtp) = (Rtp::bind(), Rtp::bind());
    let mut d_b = bob.answer(&inv_b, bob_rtp.addr);
    let inv_c = carol.expect_request("INVITE", None, 5 * SEC);
    let d_c = carol.answer(&inv_c, carol_rtp.addr);

    let senders = [
        bob_rtp.send(d_b.remote_rtp.unwrap(), 25),
        carol_rtp.send(d_c.remote_rtp.unwrap(), 25),
    ];
    for s in senders {
        s.join().unwrap();
    }
    assert!(
        bob_rtp.wait_received(25, 2 * SEC) >= 22,
        "bob heard {}",
        bob_rtp.received()
    );
    assert!(
        carol_rtp.wait_received(25, 2 * SEC) >= 22,
        "carol heard {}",
        carol_rtp.received()
    );
    assert_eq!(bob.bye(&mut d_b), 200);
    carol.expect_bye(&d_c, 5 * SEC);
    assert!(
        rig.web.hits("/answer").is_empty(),
        "an inline script needs no answer URL"
    );

    // Two legs (bob dialled first, then carol), each with one CDR, all carrying the request id.
    let hits = rig.web.wait_hits("/events", 10 * SEC, |h| {
        h.iter().filter(|h| h.json()["type"] == "cdr").count() >= 2
    });
    let bodies: Vec<serde_json::Value> = hits.iter().map(|h| h.json()).collect();
    for b in &bodies {
        assert_eq!(b["request_id"], request_id.as_str(), "{b}");
    }
    let mut kinds: Vec<(&str, &str)> = bodies
        .iter()
        .filter(|b| b["type"] == "cdr")
        .map(|b| (b["leg"].as_str().unwrap(), b["cdr_kind"].as_str().unwrap()))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [("a", "out_answered"), ("b", "out_answered")]);
}

#[test]
fn a_trunk_known_by_its_credentials_calls_in_from_any_address() {
    let script =
        json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    rig.endpoint("bob");
    let mut bob = rig.phone("bob");
    // No allow list: the carrier proves who it is with the trunk's username and password.
    cli_ok(
        &rig,
        &[
            "trunk",
            "add",
            "--name",
            "roaming",
            "--address",
            "127.0.0.2:5999",
            "--username",
            "carrier-acct",
            "--password",
            "s3cret-pw",
        ],
    );
    cli_ok(
        &rig,
        &["number", "add", OWNED, "--app", &rig.appid.to_string()],
    );

    let mut wrong = Ua::bind_at(
        "127.0.0.2",
        rig.srv.sip,
        "carrier.example",
        "carrier-acct",
        "not-the-pw",
    );
    let mut out = wrong.invite(OWNED, Rtp::bind().addr);
    assert_eq!(wrong.final_response(&mut out, 5 * SEC).err(), Some(407));
    assert!(rig.web.hits("/answer").is_empty(), "nothing fetched");

    let mut carrier = Ua::bind_at(
        "127.0.0.2",
        rig.srv.sip,
        "carrier.example",
        "carrier-acct",
        "s3cret-pw",
    );
    let mut out = carrier.invite(OWNED, Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, Rtp::bind().addr);
    let mut d = carrier
        .final_response(&mut out, 5 * SEC)
        .expect("a trunk call to an owned number is answered");
    assert_eq!(carrier.bye(&mut d), 200);
    bob.expect_bye(&d_b, 5 * SEC);
    let ask = rig.web.hits("/answer");
    assert_eq!(ask.len(), 1);
    assert_eq!(ask[0].json()["to"], OWNED.parse::<u64>().unwrap());

    // The same credentials to a number no app owns: 404, nothing fetched.
    let mut out = carrier.invite("14155550000", Rtp::bind().addr);
    assert_eq!(carrier.final_response(&mut out, 5 * SEC).err(), Some(404));
    assert_eq!(rig.web.hits("/answer").len(), 1);
}
