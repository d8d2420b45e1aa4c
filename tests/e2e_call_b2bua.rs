//! Issue 4 ("Calls"), the B2BUA around the flows: the per-app call limit, the caller giving
//! up while the answer URL is fetched, early media (183) from a ringing B leg, hold and
//! unhold re-INVITEs relayed with ringmaster's ports, and `call_type`.

mod support;

use std::time::{Duration, Instant};

use engine::sip::message::HeaderName;
use serde_json::{json, Value};
use support::http::Reply;
use support::rig::{Rig, CONFIG};
use support::rtp::Rtp;
use support::ua::{sdp_audio_addr, sdp_with};

const SEC: Duration = Duration::from_secs(1);

fn connect_bob() -> Value {
    json!([{"action": "connect", "timeout": 20, "call": [{"type": "sip", "user": "bob"}]}])
}

fn body_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn app_call_limit_gives_503_and_an_ended_call_frees_its_slot() {
    let config = format!("{CONFIG}max_calls_per_app = 1\n");
    let rig = Rig::configured(vec![Reply::Json(connect_bob())], None, &config);
    for u in ["alice", "bob", "carol"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice, mut carol) =
        (rig.phone("bob"), rig.phone("alice"), rig.phone("carol"));
    let mut first = alice.invite("5000", Rtp::bind().addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 180, None);

    let mut second = carol.invite("5000", Rtp::bind().addr);
    let r = carol.next_response(&mut second, 5 * SEC);
    assert_eq!(r.status, 503, "a second concurrent call of a one-call app");
    assert!(
        r.headers.get(&HeaderName::RetryAfter).is_some(),
        "503 says when to retry"
    );
    assert_eq!(
        rig.web.hits("/answer").len(),
        1,
        "a refused call asks the app nothing"
    );
    // A call placed over REST meets the same limit: 429 call_limit, and nobody is dialled.
    let (status, body) = rig.srv.post(
        "/v1/pcmo_make_call",
        json!({"appid": rig.appid, "secret": rig.secret, "from": "1000", "to": "carol",
               "pcmo": [{"action": "hangup"}]}),
    );
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "call_limit", "{body}");
    assert!(
        carol
            .try_request("INVITE", None, Duration::from_millis(300))
            .is_none(),
        "a placed call past the limit dialled carol"
    );

    assert_eq!(alice.cancel(&mut first), (200, 487));
    bob.expect_cancel(&inv, 5 * SEC);
    let events = rig.web.wait_hits("/events", 5 * SEC, |h| {
        h.iter().any(|h| h.json()["status"] == "error")
    });
    let error = events
        .iter()
        .map(|h| h.json())
        .find(|b| b["status"] == "error")
        .unwrap();
    assert_eq!(error["error"]["code"], "call_limit", "{error}");

    // The ended call gives its slot back (polled: the call finishes just after its CANCEL).
    let deadline = Instant::now() + 3 * SEC;
    let mut third = loop {
        let mut out = carol.invite("5000", Rtp::bind().addr);
        let r = carol.next_response(&mut out, 5 * SEC);
        if r.status == 180 {
            break out;
        }
        assert_eq!(r.status, 503);
        assert!(
            Instant::now() < deadline,
            "the slot of the ended call was never freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 180, None);
    assert_eq!(carol.cancel(&mut third), (200, 487));
    bob.expect_cancel(&inv, 5 * SEC);
}

#[test]
fn caller_cancel_while_the_answer_url_is_fetched_runs_no_script() {
    let rig = Rig::start(vec![Reply::After(
        SEC,
        Box::new(Reply::Json(connect_bob())),
    )]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let mut out = alice.invite("5000", Rtp::bind().addr);
    assert_eq!(alice.next_response(&mut out, 5 * SEC).status, 180);
    rig.web.wait_hits("/answer", 5 * SEC, |h| h.len() == 1);
    assert_eq!(alice.cancel(&mut out), (200, 487));
    // The script arrives 1 s after the request; nobody may be rung for a call that is over.
    assert!(
        bob.try_request("INVITE", None, 2 * SEC).is_none(),
        "bob was rung for a call the caller had already cancelled"
    );
    rig.assert_alive();
}

#[test]
fn early_media_from_a_ringing_b_leg_reaches_the_caller() {
    let rig = Rig::start(vec![Reply::Json(connect_bob())]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let to_b = sdp_audio_addr(&inv.req.body).expect("offer");
    bob.reply(&inv, 183, Some(bob_rtp.addr));

    let early = loop {
        let r = alice.next_response(&mut out, 5 * SEC);
        assert!(
            r.status < 200,
            "answered or failed before any 183: {}",
            r.status
        );
        if r.status == 183 {
            break r;
        }
    };
    let to_a = sdp_audio_addr(&early.body).expect("SDP in the relayed 183");
    assert!(rig.is_rtp_port(to_a.port()), "early media anchored: {to_a}");
    bob_rtp.send(to_b, 25).join().unwrap();
    assert!(
        alice_rtp.wait_received(25, 2 * SEC) >= 22,
        "alice heard {} packets of early media",
        alice_rtp.received()
    );

    let d_b = bob.answer(&inv, bob_rtp.addr);
    let mut d_a = alice.final_response(&mut out, 5 * SEC).expect("answered");
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
}

#[test]
fn hold_and_unhold_reinvites_are_relayed_with_ringmaster_ports() {
    let rig = Rig::start(vec![Reply::Json(connect_bob())]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (alice_rtp, bob_rtp) = (Rtp::bind(), Rtp::bind());
    let mut out = alice.invite("5000", alice_rtp.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, bob_rtp.addr);
    let mut d_a = alice.final_response(&mut out, 5 * SEC).expect("answered");
    let (to_a, to_b) = (d_a.remote_rtp.unwrap(), d_b.remote_rtp.unwrap());

    for (mine, theirs) in [("sendonly", "recvonly"), ("sendrecv", "sendrecv")] {
        let answer = std::thread::scope(|s| {
            let (bob, d_b) = (&mut bob, &d_b);
            let bob_side = s.spawn(move || {
                let re = bob.expect_request("INVITE", Some(&d_b.call_id), 5 * SEC);
                bob.reply_with(&re, 200, Some(sdp_with(bob_rtp.addr, theirs, "")));
                bob.expect_request("ACK", Some(&d_b.call_id), 5 * SEC);
                re
            });
            let answer = alice.reinvite(&mut d_a, &sdp_with(alice_rtp.addr, mine, ""));
            (answer, bob_side.join().unwrap())
        });
        let (resp, relayed) = answer;
        assert_eq!(resp.status, 200, "{mine}");
        let offer = body_text(&relayed.req.body);
        assert!(
            offer.contains(&format!("a={mine}")),
            "bob was offered {offer}"
        );
        assert_eq!(
            sdp_audio_addr(&relayed.req.body),
            Some(to_b),
            "bob is offered ringmaster's B port, not alice's"
        );
        let answer = body_text(&resp.body);
        assert!(
            answer.contains(&format!("a={theirs}")),
            "alice was answered {answer}"
        );
        assert_eq!(
            sdp_audio_addr(&resp.body),
            Some(to_a),
            "alice is answered ringmaster's A port, not bob's"
        );
    }
    // Unheld: RTP flows again both ways.
    let senders = [alice_rtp.send(to_a, 25), bob_rtp.send(to_b, 25)];
    for s in senders {
        s.join().unwrap();
    }
    assert!(alice_rtp.wait_received(25, 2 * SEC) >= 22 && bob_rtp.wait_received(25, 2 * SEC) >= 22);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);
}

/// Whether an SDP body carries a video stream that is not disabled (port 0).
fn has_live_video(body: &[u8]) -> bool {
    body_text(body)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("m=video "))
        .any(|rest| !rest.starts_with("0 "))
}

/// `call_type: "audio"` offers B legs audio only; `"video"` keeps the caller's video.
fn b_offer_for(call_type: &str) -> Vec<u8> {
    let script = json!([{"action": "connect", "timeout": 20, "call_type": call_type,
                         "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let video = Rtp::bind();
    let offer = sdp_with(
        Rtp::bind().addr,
        "sendrecv",
        &format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
            video.addr.port()
        ),
    );
    let mut out = alice.invite_sdp("5000", &offer);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    bob.reply(&inv, 486, None);
    assert_eq!(alice.final_response(&mut out, 5 * SEC).err(), Some(486));
    inv.req.body.to_vec()
}

#[test]
fn call_type_audio_offers_b_legs_no_video() {
    let offer = b_offer_for("audio");
    assert!(sdp_audio_addr(&offer).is_some());
    assert!(
        !has_live_video(&offer),
        "video offered to B: {}",
        body_text(&offer)
    );
}

#[test]
fn call_type_video_keeps_the_callers_video() {
    let offer = b_offer_for("video");
    assert!(
        has_live_video(&offer),
        "no video offered to B: {}",
        body_text(&offer)
    );
}

/// RTP packets with payload type 96 (a video codec), paced, from `from` to `to`.
fn send_video(from: &std::net::UdpSocket, to: std::net::SocketAddr, packets: u16) {
    for i in 0..packets {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&i.to_be_bytes());
        p.extend_from_slice(&(u32::from(i) * 3000).to_be_bytes());
        p.extend_from_slice(&0x5EED_u32.to_be_bytes());
        p.extend(std::iter::repeat_n(0xA5u8, 900));
        from.send_to(&p, to).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Video packets that arrive at `sock` within `wait`.
fn count_video(sock: &std::net::UdpSocket, wait: Duration) -> usize {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (deadline, mut n, mut buf) = (Instant::now() + wait, 0, [0u8; 2048]);
    while Instant::now() < deadline {
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if len == 912 && buf[1] & 0x7F == 96 {
                n += 1;
            }
        }
    }
    n
}

/// With `call_type: "video"` and both sides offering and accepting plain-RTP video, video
/// packets flow both ways through ringmaster's own video ports.
#[test]
fn call_type_video_relays_video_both_ways() {
    let script = json!([{"action": "connect", "timeout": 20, "call_type": "video",
                         "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut bob, mut alice) = (rig.phone("bob"), rig.phone("alice"));
    let (a_video, b_video) = (
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    let video_line = |s: &std::net::UdpSocket| {
        format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
            s.local_addr().unwrap().port()
        )
    };
    let offer = sdp_with(Rtp::bind().addr, "sendrecv", &video_line(&a_video));
    let mut out = alice.invite_sdp("5000", &offer);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let to_bob = support::ua::sdp_media_addr(&inv.req.body, "video").expect("video offered to B");
    assert!(
        rig.is_rtp_port(to_bob.port()),
        "our port, not alice's: {to_bob}"
    );
    let answer = sdp_with(Rtp::bind().addr, "sendrecv", &video_line(&b_video));
    bob.reply_with(&inv, 200, Some(answer));
    let mut d_a = alice.final_response(&mut out, 5 * SEC).expect("answered");
    let to_alice = d_a.remote_video.expect("alice is answered with video");
    assert!(rig.is_rtp_port(to_alice.port()), "{to_alice}");

    send_video(&a_video, to_alice, 30);
    assert!(count_video(&b_video, SEC) >= 25, "bob got alice's video");
    send_video(&b_video, to_bob, 30);
    assert!(count_video(&a_video, SEC) >= 25, "alice got bob's video");
    assert_eq!(alice.bye(&mut d_a), 200);
}

/// An INVITE that has used up its Max-Forwards is refused with 483 before anything else
/// (loop protection), and asks the app nothing.
#[test]
fn invite_without_hops_left_gets_483() {
    let rig = Rig::start(vec![Reply::Json(connect_bob())]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:5000@test.local SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKmf0;rport\r\nFrom: <sip:alice@test.local>;tag=mf0\r\nTo: <sip:5000@test.local>\r\nCall-ID: mf0@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(invite.as_bytes(), rig.srv.sip).unwrap();
    sock.set_read_timeout(Some(5 * SEC)).unwrap();
    let mut buf = [0u8; 4096];
    let text = loop {
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("a final answer to the INVITE");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 100") {
            break text;
        }
    };
    assert!(text.starts_with("SIP/2.0 483"), "{text}");
    assert!(rig.web.hits("/answer").is_empty());
}
