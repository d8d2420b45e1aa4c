//! Three ringmaster nodes on 127.0.0.2, 127.0.0.3 and 127.0.0.4 sharing one real PostgreSQL
//! (`tests/support/postgres.rs`), each with its own SIP and RTP addresses: a phone registered
//! on node 1 over UDP (alice, the test UA) and one on node 2 over TCP (bob) call each other
//! through the app's answer URL, with audio both ways relayed once, by the call's node; a
//! REST `pcmo_make_call` sent to node 3 rings alice through node 1; `kill -9` of node 3 leaves
//! the call up and both phones reachable from the surviving nodes.
//!
//! Every process is stopped by PID when its handle drops; every wait is bounded.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use engine::sip::message::{HeaderName, HeaderView, NameAddr, Request};
use serde_json::{json, Value};
use support::http::{HttpStub, Reply};
use support::postgres::Postgres;
use support::rig::{admin_get_as, admin_post, CONFIG};
use support::rtp::Rtp;
use support::stream_ua::{Kind, StreamUa};
use support::ua::{sdp, sdp_audio_addr, Ua};
use support::{free_port, Server};

const SEC: Duration = Duration::from_secs(1);

/// One node: its own directory, loopback address and RTP window; the shared store and secret.
fn node(root: &Path, n: u8, pg: &Postgres, secret: &Path) -> Server {
    node_with(root, n, pg, secret, &[])
}

fn node_with(root: &Path, n: u8, pg: &Postgres, secret: &Path, extra: &[&str]) -> Server {
    let dir = root.join(format!("n{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ringmaster.toml");
    // A short liveness clock keeps the test short (the default declares a node dead after 10 s).
    std::fs::write(
        &config,
        format!("{CONFIG}[cluster]\nheartbeat_secs = 1\ndead_after_secs = 3\n"),
    )
    .unwrap();
    let low = 20_000 + u16::from(n) * 400 + (free_port() / 4 % 10) * 40;
    let range = format!("{low}-{}", low + 39);
    let node_id = format!("n{n}");
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--rtp-ports",
        &range,
        "--store",
        &pg.url,
        "--node-id",
        &node_id,
        "--cluster-secret-file",
        secret.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start_at([127, 0, 0, 1 + n], &dir, &args)
}

/// Retries `f` until it returns Some, for at most `limit` (the other nodes learn of a commit
/// by LISTEN/NOTIFY, within about 100 ms).
fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Record-Route's host and node parameter in a request a phone received.
fn record_route(req: &Request) -> Option<(SocketAddr, String)> {
    let rr = req.headers.get(&HeaderName::RecordRoute)?;
    let uri = NameAddr::parse(rr).ok()?.uri;
    let u = uri.as_sip()?;
    Some((
        SocketAddr::new(u.host.ip()?, u.port?),
        u.params.value("rm-node")?.to_string(),
    ))
}

fn make_call(srv: &Server, app: &Value, to: &str, pcmo: Value) {
    let (status, body) = srv.post(
        "/v1/pcmo_make_call",
        json!({"appid": app["appid"], "secret": app["secret"], "from": "1000", "to": to,
               "pcmo": pcmo}),
    );
    assert_eq!(status, 200, "make_call on {}: {body}", srv.http);
}

#[test]
fn three_nodes_reach_each_others_phones_and_survive_one_of_them() {
    let root = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&root.path().join("pg"));
    let secret = root.path().join("cluster.secret");
    std::fs::write(
        &secret,
        "a cluster secret of this test, shared by its three nodes",
    )
    .unwrap();
    let n1 = node(root.path(), 1, &pg, &secret);
    let n2 = node(root.path(), 2, &pg, &secret);
    let mut n3 = node(root.path(), 3, &pg, &secret);

    // The app's web server: alice's call connects bob.
    let web = HttpStub::start(vec![Reply::Json(json!([
        {"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "bob"}]}
    ]))]);
    let (status, app) = admin_post(
        &n1,
        "/admin/v1/apps",
        json!({"name": "cluster-e2e", "answer_url": web.answer_url(), "event_url": web.event_url()}),
    );
    assert_eq!(status, 201, "app create: {app}");
    // Endpoints made on other nodes: the app reached them through the store.
    for (srv, user) in [(&n2, "alice"), (&n3, "bob")] {
        eventually(5 * SEC, "the app on every node", || {
            let (status, _) = srv.post(
                "/v1/endpoint/add_sip",
                json!({"appid": app["appid"], "secret": app["secret"], "username": user,
                       "password": format!("pw-{user}")}),
            );
            (status == 200).then_some(())
        });
    }

    // alice registers on node 1 over UDP, bob on node 2 over TCP, once those nodes know them.
    for (srv, user) in [(&n1, "alice"), (&n2, "bob")] {
        eventually(5 * SEC, "the endpoint on the phone's node", || {
            let (status, _) = srv.post(
                "/v1/endpoint/get_sip",
                json!({"appid": app["appid"], "secret": app["secret"], "username": user}),
            );
            (status == 200).then_some(())
        });
    }
    let mut alice = Ua::new(n1.sip, "test.local", "alice", "pw-alice");
    alice.register(300);
    let mut bob = StreamUa::connect(Kind::Tcp, n2.sip, Path::new("-"), "bob", "pw-bob");
    let r = eventually(5 * SEC, "bob's endpoint on node 2", || {
        bob.register("test.local", 300).filter(|r| r.status == 200)
    });
    assert_eq!(r.status, 200);
    // Both bindings, with the nodes holding their flows, as node 3 sees them.
    eventually(5 * SEC, "both registrations on node 3", || {
        let (status, regs) = admin_get_as(&n1, &n3, "/admin/v1/registrations");
        let mut seen: Vec<(&str, &str, &str)> = regs["registrations"]
            .as_array()?
            .iter()
            .filter_map(|r| {
                Some((
                    r["username"].as_str()?,
                    r["node"].as_str()?,
                    r["transport"].as_str()?,
                ))
            })
            .collect();
        seen.sort();
        (status == 200 && seen == [("alice", "n1", "udp"), ("bob", "n2", "tcp")]).then_some(())
    });

    // 1. alice (node 1) calls bob (node 2) through the answer URL: node 1 runs the call and
    //    relays the media; node 2 only forwards the signalling over bob's TCP flow.
    let (rtp_a, rtp_b) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("bob", rtp_a.addr);
    let inv = bob
        .expect_request("INVITE", 15 * SEC)
        .unwrap_or_else(|| panic!("bob got no INVITE; node 1 log:\n{}", n1.log()));
    assert_eq!(
        record_route(&inv),
        Some((n2.sip, "n2".to_string())),
        "node 2 record-routes the call it forwards"
    );
    let media_b = sdp_audio_addr(&inv.body).expect("SDP in the INVITE");
    assert_eq!(
        media_b.ip(),
        n1.sip.ip(),
        "the call's node relays the media"
    );
    bob.reply(&inv, 180, "bt", None);
    bob.reply(&inv, 200, "bt", Some(&sdp(rtp_b.addr)));
    let mut d_a = alice
        .final_response(&mut out, 10 * SEC)
        .expect("alice's call answered");
    bob.expect_request("ACK", 5 * SEC)
        .expect("the ACK reached bob through node 2");
    let media_a = d_a.remote_rtp.expect("SDP in the 200");
    assert_eq!(media_a.ip(), n1.sip.ip());
    let audio = |packets: u16| {
        let (before_a, before_b) = (rtp_a.received(), rtp_b.received());
        let senders = [rtp_a.send(media_a, packets), rtp_b.send(media_b, packets)];
        for s in senders {
            s.join().unwrap();
        }
        let want = usize::from(packets) * 4 / 5;
        let got_a = rtp_a.wait_received(before_a + want, 3 * SEC) - before_a;
        let got_b = rtp_b.wait_received(before_b + want, 3 * SEC) - before_b;
        assert!(got_a >= want, "alice heard {got_a} of {packets}");
        assert!(got_b >= want, "bob heard {got_b} of {packets}");
    };
    audio(25);
    for src in rtp_a.sources().into_iter().chain(rtp_b.sources()) {
        assert_eq!(
            src.ip(),
            n1.sip.ip(),
            "every packet came from node 1's relay"
        );
    }

    // 2. A call placed over REST on node 3 rings alice, whose flow node 1 holds; the
    //    script's hang-up reaches her through node 1 too.
    make_call(&n3, &app, "alice", json!([{"action": "hangup"}]));
    let ring = alice.expect_request("INVITE", None, 10 * SEC);
    assert_eq!(
        ring.src, n1.sip,
        "node 1 forwards node 3's call over alice's flow"
    );
    assert_eq!(
        record_route(&ring.req).map(|(_, n)| n).as_deref(),
        Some("n1")
    );
    let d3 = alice.answer(&ring, Rtp::bind().addr);
    alice.expect_bye(&d3, 10 * SEC);

    // 3. Node 3 dies. The call on nodes 1 and 2 goes on; once node 3 is declared dead, both
    //    phones are still reached from the surviving nodes.
    n3.kill9();
    audio(25);
    eventually(10 * SEC, "node 3 declared dead on node 1", || {
        n1.log()
            .lines()
            .any(|l| l.contains("declared dead") && l.contains("n3"))
            .then_some(())
    });
    audio(25);
    make_call(&n2, &app, "alice", json!([{"action": "hangup"}]));
    let ring = alice.expect_request("INVITE", None, 10 * SEC);
    assert_eq!(ring.src, n1.sip);
    let d = alice.answer(&ring, Rtp::bind().addr);
    alice.expect_bye(&d, 10 * SEC);
    make_call(&n1, &app, "bob", json!([{"action": "hangup"}]));
    let ring = bob
        .expect_request("INVITE", 10 * SEC)
        .expect("node 1's call reaches bob through node 2");
    assert_eq!(record_route(&ring).map(|(_, n)| n).as_deref(), Some("n2"));
    bob.reply(&ring, 200, "b2", Some(&sdp(Rtp::bind().addr)));
    bob.expect_request("ACK", 5 * SEC)
        .expect("ACK through node 2");
    let bye = bob
        .expect_request("BYE", 10 * SEC)
        .expect("the script's BYE through node 2");
    bob.reply(&bye, 200, "b2", None);

    // 4. alice hangs up the first call: node 1 ends bob's leg through node 2.
    assert_eq!(alice.bye(&mut d_a), 200);
    let bye = bob
        .expect_request("BYE", 10 * SEC)
        .expect("BYE of the first call through node 2");
    assert_eq!(bye.call_id(), inv.call_id());
    bob.reply(&bye, 200, "bt", None);

    // 5. The other way: bob (node 2, over TCP) calls alice (node 1). Node 2 runs this call
    //    and relays its media; node 1 forwards alice's signalling.
    web.set_replies(vec![Reply::Json(json!([
        {"action": "connect", "timeout": 10, "call": [{"type": "sip", "user": "alice"}]}
    ]))]);
    let (rtp_a, rtp_b) = (Rtp::bind(), Rtp::bind());
    let offer = sdp(rtp_b.addr);
    let caller = std::thread::spawn(move || {
        let call = bob.invite("test.local", "alice", &offer);
        (bob, call)
    });
    let ring = alice.expect_request("INVITE", None, 15 * SEC);
    assert_eq!(
        ring.src, n1.sip,
        "node 1 forwards node 2's call over alice's flow"
    );
    let to_alice = sdp_audio_addr(&ring.req.body).expect("SDP in the INVITE");
    assert_eq!(
        to_alice.ip(),
        n2.sip.ip(),
        "bob's call is relayed by node 2"
    );
    let d_a = alice.answer(&ring, rtp_a.addr);
    let (mut bob, call) = caller.join().unwrap();
    let mut call = call.expect("bob's call answered");
    let to_bob = sdp_audio_addr(&call.answer).expect("SDP in the 200");
    assert_eq!(to_bob.ip(), n2.sip.ip());
    let senders = [rtp_a.send(to_alice, 25), rtp_b.send(to_bob, 25)];
    for s in senders {
        s.join().unwrap();
    }
    assert!(
        rtp_a.wait_received(20, 3 * SEC) >= 20,
        "alice heard {}",
        rtp_a.received()
    );
    assert!(
        rtp_b.wait_received(20, 3 * SEC) >= 20,
        "bob heard {}",
        rtp_b.received()
    );
    assert_eq!(bob.bye(&mut call), Some(200));
    alice.expect_bye(&d_a, 10 * SEC);
}

/// A REST command for a live call, sent to a node that does not run it, is carried out by the
/// node that does: the live-call index in the store names it, and the request goes to that
/// node's internal listener under the cluster's mark (a forged mark is refused).
#[test]
fn a_call_command_sent_to_another_node_reaches_the_calls_node() {
    let root = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&root.path().join("pg"));
    let secret = root.path().join("cluster.secret");
    std::fs::write(
        &secret,
        "another cluster secret, of the REST forwarding test",
    )
    .unwrap();
    let internal = |n: u8| format!("127.0.0.{}:{}", 1 + n, free_port());
    let (i4, i5) = (internal(4), internal(5));
    let n4 = node_with(root.path(), 4, &pg, &secret, &["--internal-listen", &i4]);
    let n5 = node_with(root.path(), 5, &pg, &secret, &["--internal-listen", &i5]);

    // alice's calls wait for a digit (30 s): the call stays up on node 4.
    let web = HttpStub::start(vec![Reply::Json(json!([
        {"action": "input", "max_digit": 1, "timeout": 30, "action_url": "http://127.0.0.1:9/digits"}
    ]))]);
    let (status, app) = admin_post(
        &n4,
        "/admin/v1/apps",
        json!({"name": "cluster-rest", "answer_url": web.answer_url(), "event_url": web.event_url()}),
    );
    assert_eq!(status, 201, "app create: {app}");
    let (status, _) = n4.post(
        "/v1/endpoint/add_sip",
        json!({"appid": app["appid"], "secret": app["secret"], "username": "alice",
               "password": "pw-alice"}),
    );
    assert_eq!(status, 200);
    let (status, token) = admin_post(&n4, "/admin/v1/tokens", json!({"app": app["appid"]}));
    assert_eq!(status, 201, "{token}");
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let hangup = |srv: &Server, call: &str, mark: Option<&str>| -> (u16, Value) {
        let mut req = ureq::post(&format!("http://{}/v3/voice/call/hangup", srv.http))
            .set("authorization", &bearer)
            .timeout(Duration::from_secs(15));
        if let Some(m) = mark {
            req = req.set("x-ringmaster-forwarded", m);
        }
        match req.send_json(json!({"call_id": call})) {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("hangup: {e}"),
        }
    };
    // Node 5 learns of the app and alice through the store (LISTEN/NOTIFY).
    eventually(10 * SEC, "alice on node 5", || {
        let (status, _) = n5.post(
            "/v1/endpoint/get_sip",
            json!({"appid": app["appid"], "secret": app["secret"], "username": "alice"}),
        );
        (status == 200).then_some(())
    });

    let mut alice = Ua::new(n4.sip, "test.local", "alice", "pw-alice");
    alice.register(300);
    let rtp = Rtp::bind();
    let mut out = alice.invite("4000", rtp.addr);
    let d = alice
        .final_response(&mut out, 10 * SEC)
        .unwrap_or_else(|s| panic!("alice's call got {s}; node 4 log:\n{}", n4.log()));
    let hits = web.wait_hits("/answer", 10 * SEC, |h| !h.is_empty());
    let call = hits[0].json()["cmiuuid"].as_str().unwrap().to_string();

    // A call no node runs: node 5 answers itself.
    let (status, body) = hangup(&n5, "no-such-call", None);
    assert_eq!(status, 404, "{body}; node 5 log:\n{}", n5.log());
    // A forged forwarding mark is refused before any handler runs.
    let (status, _) = hangup(&n5, &call, Some("1:deadbeef"));
    assert_eq!(status, 403);
    // Node 5 does not run alice's call: it forwards the command to node 4, which ends it.
    let (status, body) = eventually(10 * SEC, "the index to name node 4", || {
        let (status, body) = hangup(&n5, &call, None);
        (status != 404).then_some((status, body))
    });
    assert_eq!(status, 200, "{body}; node 5 log:\n{}", n5.log());
    assert_eq!(body["status"], "success");
    assert_eq!(body["call_id"], call.as_str());
    alice.expect_bye(&d, 10 * SEC);
}
