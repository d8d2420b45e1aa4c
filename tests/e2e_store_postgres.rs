//! Issue 19, the PostgreSQL store from outside: the real binary on a real PostgreSQL (Debian's
//! server run by `scripts/pg` as the postgres user, on 127.0.0.1, stopped on drop).
//!
//! * One node keeps its apps and endpoints in PostgreSQL across `kill -9`; a phone registers,
//!   calls through the answer URL with audio both ways, and the app gets the call's events
//!   and CDRs.
//! * PostgreSQL stopped (`pg_ctl stop -m immediate`) for about 10 s while a call is up: the
//!   call's RTP keeps flowing both ways, a REGISTER gets 503, API writes get 503, reads still
//!   answer; the call ends in that window and its events and CDRs reach the app once
//!   PostgreSQL is back; then registrations, writes and calls work again, with no restart.
//! * `ringmaster store migrate` copies a sled data directory into PostgreSQL; a node on
//!   PostgreSQL (with a fresh data directory) sees everything and the old passwords work.
//! * Two nodes on one store: an endpoint added on node 1 registers on node 2, and node 1's
//!   admin token works on node 2.

mod support;

use std::time::{Duration, Instant};

use engine::sip::message::HeaderName;
use serde_json::{json, Value};
use support::http::Reply;
use support::postgres::Postgres;
use support::reports::{reports, stored_cdrs};
use support::rig::{Rig, CONFIG};
use support::rtp::Rtp;
use support::store_node::{
    admin, admin_token, metric, node_flags, secret_file, wait_db_up, within,
};
use support::ua::{Dialog, Ua};
use support::{Server, BIN};

const SEC: Duration = Duration::from_secs(1);

fn connect_bob() -> Reply {
    Reply::Json(
        json!([{"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}]),
    )
}

/// A PostgreSQL of its own in a fresh directory (handed to the postgres user by scripts/pg).
/// Field order is drop order: the server stops (by pg_ctl, then by PID) while its directory,
/// pid file included, still exists; the directory goes after.
struct Db {
    pg: Postgres,
    _dir: tempfile::TempDir,
}

fn postgres() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        pg: Postgres::start(dir.path()),
        _dir: dir,
    }
}

/// A call rig (server, app web server, app) whose node is `n1` on the store at `url`.
fn rig_on(url: &str, secrets: &std::path::Path) -> Rig {
    let flags = node_flags(url, "n1", &secret_file(secrets));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Rig::configured_with(vec![connect_bob()], None, CONFIG, &flags)
}

/// Alice calls 5000, the script connects bob, bob answers: both dialogs and both RTP ends,
/// and the call's cmiuuid (from the answer-URL request).
fn call_alice_to_bob(
    rig: &Rig,
    alice: &mut Ua,
    bob: &mut Ua,
) -> (Dialog, Dialog, Rtp, Rtp, String) {
    let answers_before = rig.web.hits("/answer").len();
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    let d_b = bob.answer(&inv, bob_rtp.addr);
    let d_a = alice
        .final_response(&mut out, 10 * SEC)
        .expect("bob answered");
    let hits = rig.web.hits("/answer");
    assert_eq!(hits.len(), answers_before + 1, "one answer-URL request");
    let cmiuuid = hits.last().unwrap().json()["cmiuuid"]
        .as_str()
        .expect("cmiuuid")
        .to_string();
    (d_a, d_b, alice_rtp, bob_rtp, cmiuuid)
}

/// RTP both ways through ringmaster: `n` packets each way arrive (bounded wait).
fn audio_both_ways(d_a: &Dialog, d_b: &Dialog, alice_rtp: &Rtp, bob_rtp: &Rtp, n: u16) {
    let (a0, b0) = (alice_rtp.received(), bob_rtp.received());
    let senders = [
        alice_rtp.send(d_a.remote_rtp.expect("SDP in the 200"), n),
        bob_rtp.send(d_b.remote_rtp.expect("SDP in the INVITE"), n),
    ];
    for s in senders {
        s.join().unwrap();
    }
    let want = usize::from(n) * 8 / 10;
    let got_a = alice_rtp.wait_received(a0 + want, 3 * SEC) - a0;
    let got_b = bob_rtp.wait_received(b0 + want, 3 * SEC) - b0;
    assert!(
        got_a >= want && got_b >= want,
        "RTP relayed: alice got {got_a}, bob got {got_b} of {n}"
    );
}

fn get_sip(srv: &Server, appid: u64, secret: &str, user: &str) -> (u16, Value) {
    srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": secret, "username": user}),
    )
}

fn add_sip(srv: &Server, appid: u64, secret: &str, user: &str, password: &str) -> (u16, Value) {
    srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": user, "password": password}),
    )
}

fn app_listed(srv: &Server, token: &str, appid: u64) -> bool {
    let (s, apps) = admin(srv, token, "GET", "/admin/v1/apps", None);
    s == 200
        && apps["apps"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["appid"] == appid))
}

#[test]
fn one_node_keeps_its_state_in_postgres_across_kill9_and_calls_report_to_the_app() {
    let db = postgres();
    let pg = &db.pg;
    let secrets = tempfile::tempdir().unwrap();
    let mut rig = rig_on(&pg.url, secrets.path());
    rig.endpoint("alice");
    rig.endpoint("bob");
    // A binding from before the crash (its 200 came after the commit).
    let mut early = rig.ua("bob");
    early.register(3600);
    wait_db_up(&rig.srv, 1.0, 10 * SEC);
    let trips = metric(&rig.srv, "store_db_round_trips_total").expect("round trips metric");
    assert!(
        trips > 0.0,
        "the writes went to PostgreSQL: {trips} round trips"
    );

    rig.srv.restart();
    let token = admin_token(&rig.srv);
    assert!(
        app_listed(&rig.srv, &token, rig.appid),
        "the app after kill -9"
    );
    for user in ["alice", "bob"] {
        let (s, b) = get_sip(&rig.srv, rig.appid, &rig.secret, user);
        assert_eq!((s, b["username"].clone()), (200, json!(user)), "{b}");
    }

    let (s, regs) = admin(
        &rig.srv,
        &token,
        "GET",
        &format!("/admin/v1/registrations?app={}", rig.appid),
        None,
    );
    assert!(
        s == 200 && regs.to_string().contains(&early.addr.to_string()),
        "bob's binding after kill -9: {regs}"
    );
    // Bob is reached on the binding that came back from the database.
    let (mut alice, mut bob) = (rig.phone("alice"), early);
    let (mut d_a, d_b, alice_rtp, bob_rtp, cmiuuid) = call_alice_to_bob(&rig, &mut alice, &mut bob);
    audio_both_ways(&d_a, &d_b, &alice_rtp, &bob_rtp, 50);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);

    let r = reports(&rig, &cmiuuid, 2);
    r.assert_one_end_per_leg(2);
    assert_eq!(stored_cdrs(&rig, &cmiuuid, 2).len(), 2, "CDRs stored");
    rig.assert_alive();
}

/// An API write while the database is away: 503 and the store's error code, nothing changed.
/// The contract named `store_unavailable`; the API surfaces answer `storage_failure` (their
/// existing code for a store that could not write), which says the same.
fn assert_store_refusal(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 503, "{what} while PostgreSQL is down: {body}");
    let code = body["error"].as_str().unwrap_or_default();
    assert!(
        ["store_unavailable", "storage_failure"].contains(&code),
        "{what}: error {code:?} in {body}"
    );
}

#[test]
fn postgres_down_for_ten_seconds_calls_go_on_writes_get_503_and_reports_follow_its_return() {
    let db = postgres();
    let pg = &db.pg;
    let secrets = tempfile::tempdir().unwrap();
    let rig = rig_on(&pg.url, secrets.path());
    for user in ["alice", "bob", "carol"] {
        rig.endpoint(user);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let mut carol = rig.ua("carol");
    let (mut d_a, d_b, alice_rtp, bob_rtp, cmiuuid) = call_alice_to_bob(&rig, &mut alice, &mut bob);
    audio_both_ways(&d_a, &d_b, &alice_rtp, &bob_rtp, 25);

    pg.stop("immediate");
    let down = Instant::now();

    // The call's media goes on both ways while the database is away.
    audio_both_ways(&d_a, &d_b, &alice_rtp, &bob_rtp, 100);
    // A REGISTER cannot be made durable: 503 with Retry-After.
    let r = carol.register_response(300);
    assert_eq!(r.status, 503, "REGISTER while PostgreSQL is down");
    assert!(
        r.headers.get(&HeaderName::RetryAfter).is_some(),
        "503 to REGISTER without Retry-After"
    );
    // API writes: 503 with the store's error; reads still answer from the node's state.
    let (s, b) = add_sip(&rig.srv, rig.appid, &rig.secret, "dave", "pw-dave");
    assert_store_refusal("add_sip", s, &b);
    let (s, b) = support::rig::admin_post(
        &rig.srv,
        "/admin/v1/apps",
        json!({"name": "late", "answer_url": "http://127.0.0.1:9/a"}),
    );
    assert_store_refusal("POST /admin/v1/apps", s, &b);
    let (s, b) = get_sip(&rig.srv, rig.appid, &rig.secret, "alice");
    assert_eq!(s, 200, "a read while PostgreSQL is down: {b}");
    wait_db_up(&rig.srv, 0.0, 5 * SEC);

    // The call ends inside the window: its events and CDRs wait in the node's outbox.
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
    std::thread::sleep((10 * SEC).saturating_sub(down.elapsed()));
    pg.restart();
    wait_db_up(&rig.srv, 1.0, 30 * SEC);

    rig.web.wait_hits("/events", 30 * SEC, |hits| {
        hits.iter()
            .filter(|h| h.json()["type"] == "cdr" && h.json()["cmiuuid"] == cmiuuid.as_str())
            .count()
            >= 2
    });
    let r = reports(&rig, &cmiuuid, 2);
    r.assert_one_end_per_leg(2);
    assert_eq!(
        stored_cdrs(&rig, &cmiuuid, 2).len(),
        2,
        "the window's CDRs stored"
    );

    // Everything works again without a restart.
    let r = within(
        15 * SEC,
        "carol registers after PostgreSQL's return",
        || {
            let r = carol.register_response(300);
            (r.status == 200).then_some(r)
        },
    );
    assert_eq!(r.status, 200);
    let (s, b) = add_sip(&rig.srv, rig.appid, &rig.secret, "dave", "pw-dave");
    assert_eq!(s, 200, "add_sip after PostgreSQL's return: {b}");
    let (mut d_a, d_b, alice_rtp, bob_rtp, _) = call_alice_to_bob(&rig, &mut alice, &mut bob);
    audio_both_ways(&d_a, &d_b, &alice_rtp, &bob_rtp, 25);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
    rig.assert_alive();
}

/// The number under `key` anywhere in the migrate command's JSON report.
fn count(report: &Value, key: &str) -> Option<u64> {
    match report {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_u64)
            .or_else(|| m.values().find_map(|v| count(v, key))),
        Value::Array(a) => a.iter().find_map(|v| count(v, key)),
        _ => None,
    }
}

#[test]
fn store_migrate_moves_a_sled_data_dir_into_postgres_and_old_passwords_work() {
    use engine::store::{SledStore, Store};
    let db = postgres();
    let pg = &db.pg;
    let secrets = tempfile::tempdir().unwrap();

    // A single sled node with an app, two endpoints (one registered), a number and CDRs.
    let sled_dir = tempfile::tempdir().unwrap();
    let mut sled = Server::start(sled_dir.path(), &[]);
    let app = sled.app_with_endpoints(&[("mig1", "Mig1-Secret-pw"), ("mig2", "Mig2-Secret-pw")]);
    let appid = app["appid"].as_u64().unwrap();
    let app_secret = app["secret"].as_str().unwrap().to_string();
    let n = sled.cli_json(&[
        "number",
        "add",
        "+14155550123",
        "--app",
        &appid.to_string(),
        "--json",
    ]);
    assert_eq!(n["number"], "14155550123");
    Ua::new(sled.sip, "test.local", "mig1", "Mig1-Secret-pw").register(3600);
    sled.kill9();
    {
        let store = SledStore::open(&sled_dir.path().join("store")).unwrap();
        for (leg, t) in [("a", 1_800_000_001_000), ("b1", 1_800_000_000_900)] {
            assert!(store
                .insert_cdr(
                    &support::reports::sample_cdr(appid, "mig-call", leg, t, "{}"),
                    None
                )
                .unwrap());
        }
        assert!(store
            .insert_cdr(
                &support::reports::sample_cdr(appid, "mig-call-2", "a", 1_800_000_002_000, "{}"),
                None
            )
            .unwrap());
        store.flush().unwrap();
    }

    let migrate = || {
        std::process::Command::new(BIN)
            .args(["store", "migrate", "--node-id", "n1", "--data-dir"])
            .arg(sled_dir.path())
            .args(["--to", &pg.url, "--json"])
            .output()
            .expect("run ringmaster store migrate")
    };
    let out = migrate();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "store migrate failed: {stderr}{stdout}"
    );
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("store migrate --json printed no JSON ({e}): {stdout}"));
    for (key, want) in [
        ("apps", 1),
        ("endpoints", 2),
        ("numbers", 1),
        ("cdrs", 3),
        ("bindings", 1),
    ] {
        assert_eq!(count(&report, key), Some(want), "{key} in {report}");
    }
    // Once more into the same database: refused, clearly, the password not shown.
    let again = migrate();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success(),
        "a second migrate into a full store succeeded"
    );
    assert!(err.contains("already holds data"), "{err}");
    assert!(
        !err.contains(":ringmaster@"),
        "the password in the error: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A node on PostgreSQL with a fresh data directory: everything is in the database.
    let node_dir = tempfile::tempdir().unwrap();
    let flags = node_flags(&pg.url, "n1", &secret_file(secrets.path()));
    let node = Server::start(
        node_dir.path(),
        &flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let token = admin_token(&node);
    assert!(app_listed(&node, &token, appid), "the migrated app");
    for user in ["mig1", "mig2"] {
        let (s, b) = get_sip(&node, appid, &app_secret, user);
        assert_eq!((s, b["username"].clone()), (200, json!(user)), "{b}");
    }
    let (s, numbers) = admin(
        &node,
        &token,
        "GET",
        &format!("/admin/v1/numbers?app={appid}"),
        None,
    );
    assert_eq!(s, 200, "{numbers}");
    assert!(numbers.to_string().contains("14155550123"), "{numbers}");
    let (s, calls) = admin(
        &node,
        &token,
        "GET",
        &format!("/admin/v1/calls?app={appid}&limit=10"),
        None,
    );
    assert_eq!(s, 200, "{calls}");
    assert_eq!(calls["calls"].as_array().map(Vec::len), Some(3), "{calls}");
    let (s, regs) = admin(
        &node,
        &token,
        "GET",
        &format!("/admin/v1/registrations?app={appid}"),
        None,
    );
    assert_eq!(s, 200, "{regs}");
    assert!(
        regs.to_string().contains("mig1"),
        "the migrated binding: {regs}"
    );
    // The old passwords: their digests came over whole.
    Ua::new(node.sip, "test.local", "mig2", "Mig2-Secret-pw").register(300);
    let mut wrong = Ua::new(node.sip, "test.local", "mig2", "not-the-password");
    assert_ne!(wrong.register_response(300).status, 200, "a wrong password");
}

#[test]
fn two_nodes_on_one_store_share_endpoints_and_the_admin_token() {
    let db = postgres();
    let pg = &db.pg;
    let secrets = tempfile::tempdir().unwrap();
    let secret = secret_file(secrets.path());
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let flags1 = node_flags(&pg.url, "n1", &secret);
    let flags2 = node_flags(&pg.url, "n2", &secret);
    let node1 = Server::start(
        dir1.path(),
        &flags1.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let node2 = Server::start(
        dir2.path(),
        &flags2.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let token = admin_token(&node1);

    // Node 1's token on node 2: an app created there, seen on node 1.
    let (s, app) = admin(
        &node2,
        &token,
        "POST",
        "/admin/v1/apps",
        Some(json!({"name": "two-nodes", "answer_url": "http://127.0.0.1:9/a"})),
    );
    assert_eq!(s, 201, "node 1's admin token on node 2: {app}");
    let appid = app["appid"].as_u64().expect("appid");
    let secret_app = app["secret"].as_str().unwrap().to_string();
    within(5 * SEC, "node 2's app on node 1", || {
        app_listed(&node1, &token, appid).then_some(())
    });
    let (s, _) = admin(
        &node2,
        "not-the-token-at-all-0123456789abcdef",
        "GET",
        "/admin/v1/apps",
        None,
    );
    assert_eq!(s, 401, "a wrong token on node 2");

    // An endpoint added on node 1 registers on node 2.
    let (s, b) = add_sip(&node1, appid, &secret_app, "erin", "pw-erin-Secret1");
    assert_eq!(s, 200, "add_sip on node 1: {b}");
    let mut erin = Ua::new(node2.sip, "test.local", "erin", "pw-erin-Secret1");
    within(
        5 * SEC,
        "erin (added on node 1) registers on node 2",
        || (erin.register_response(300).status == 200).then_some(()),
    );
    within(5 * SEC, "node 2's binding seen on node 1", || {
        let (_, regs) = admin(
            &node1,
            &token,
            "GET",
            &format!("/admin/v1/registrations?app={appid}"),
            None,
        );
        regs.to_string().contains("erin").then_some(())
    });
}
