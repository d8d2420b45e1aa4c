//! RFC 3261 §17 transactions on the virtual wire: retransmission schedules, timeouts,
//! absorption of duplicates, CANCEL, ACK, TCP behaviour, stateless rejects.

mod common;

use std::time::Duration;

use common::{first_word, request, Net, Node};
use engine::sip::message::{response_to, HeaderName, HeaderView};
use engine::sip::transaction::{Config, State, TxEvent};
use engine::sip::Transport;

const UAC: usize = 0;
const UAS: usize = 1;

fn pair() -> Net {
    Net::new(vec![
        Node::new("192.0.2.1:5060", 1),
        Node::new("192.0.2.2:5060", 2),
    ])
}

/// A UAC with defaults and a UAS with `cfg`.
fn pair_with(cfg: Config) -> Net {
    Net::new(vec![
        Node::new("192.0.2.1:5060", 1),
        Node::with_config("192.0.2.2:5060", cfg),
    ])
}

fn options() -> engine::sip::message::Request {
    request(
        "OPTIONS sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;rport\nFrom: <sip:a@192.0.2.1>;tag=a1\nTo: <sip:b@192.0.2.2>\nCall-ID: opt-1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n",
    )
}

fn invite() -> engine::sip::message::Request {
    request(
        "INVITE sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;rport\nFrom: <sip:a@192.0.2.1>;tag=a1\nTo: <sip:b@192.0.2.2>\nCall-ID: inv-1\nCSeq: 1 INVITE\nMax-Forwards: 70\nContact: <sip:a@192.0.2.1>\n\n",
    )
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn non_invite_client_retransmits_with_timer_e_then_times_out_with_timer_f() {
    let mut net = pair();
    net.drop = Box::new(|_, _| true);
    let now = net.now;
    let peer = net.peer(UAS);
    let tx = net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    net.advance(secs(40.0));
    let times: Vec<f64> = net.nodes[UAC]
        .sent
        .iter()
        .map(|(t, _)| t.as_secs_f64())
        .collect();
    // Timer E: T1, doubling, capped at T2 = 4 s; Timer F at 64*T1 = 32 s.
    assert_eq!(
        times,
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(
        net.nodes[UAC].take_events(),
        [TxEvent::Timeout { tx }, TxEvent::Terminated { tx }]
    );
    assert!(net.nodes[UAC].layer.is_empty());
}

#[test]
fn non_invite_server_absorbs_retransmissions_and_replays_its_final_response() {
    let mut net = pair();
    // Lose the first 200 so the client retransmits its request once.
    let mut dropped = false;
    net.drop = Box::new(move |from, t| {
        if from == UAS && !dropped && common::first_word(&t.bytes) == "SIP/2.0 200" {
            dropped = true;
            return true;
        }
        false
    });
    let now = net.now;
    let peer = net.peer(UAS);
    let ctx = net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 200);
    // Completed keeps only the response bytes for the replay, not the parsed request.
    assert_eq!(net.nodes[UAS].layer.state(stx), Some(State::Completed));
    assert!(net.nodes[UAS].layer.request(stx).is_none());
    net.advance(secs(1.0));
    // The UAS saw one request; the retransmission got the stored 200.
    let requests = net.nodes[UAS]
        .events
        .iter()
        .filter(|e| matches!(e, TxEvent::Request { .. }))
        .count();
    assert_eq!(requests, 1);
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 200", "SIP/2.0 200"]);
    let responses: Vec<_> = net.nodes[UAC]
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            TxEvent::Response { tx, response } => Some((tx, response.status)),
            _ => None,
        })
        .collect();
    assert_eq!(responses, [(ctx, 200)]);
    // Timer K (T4) ends the client; Timer J (64*T1) ends the server.
    net.advance(secs(5.0));
    assert!(net.nodes[UAC].layer.is_empty());
    assert_eq!(net.nodes[UAS].layer.state(stx), Some(State::Completed));
    net.advance(secs(32.0));
    assert!(net.nodes[UAS].layer.is_empty());
}

#[test]
fn invite_client_retransmits_with_timer_a_doubling_then_timer_b() {
    let mut net = pair();
    net.drop = Box::new(|_, _| true);
    let now = net.now;
    let peer = net.peer(UAS);
    let tx = net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.advance(secs(40.0));
    let times: Vec<f64> = net.nodes[UAC]
        .sent
        .iter()
        .map(|(t, _)| t.as_secs_f64())
        .collect();
    assert_eq!(times, [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    assert_eq!(
        net.nodes[UAC].take_events(),
        [TxEvent::Timeout { tx }, TxEvent::Terminated { tx }]
    );
    assert!(net.nodes[UAC].layer.is_empty());
}

#[test]
fn trying_stops_invite_retransmissions_and_a_retransmitted_invite_gets_the_provisional_again() {
    let mut net = pair();
    let now = net.now;
    let peer = net.peer(UAS);
    net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.advance(secs(10.0));
    assert_eq!(net.nodes[UAC].sent_lines(), ["INVITE"]);
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 100"]);
    // A duplicate INVITE from the network: answered from the transaction, not passed up.
    let stx = net.last_server_tx(UAS);
    let dup = net.nodes[UAC].sent[0].1.clone();
    let from = net.peer(UAC);
    net.inject(UAS, from, dup.bytes);
    net.run();
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 100", "SIP/2.0 100"]);
    let requests = net.nodes[UAS]
        .events
        .iter()
        .filter(|e| matches!(e, TxEvent::Request { .. }))
        .count();
    assert_eq!(requests, 1);
    assert_eq!(net.nodes[UAS].layer.state(stx), Some(State::Proceeding));
}

#[test]
fn non_2xx_final_is_acked_by_the_client_and_retransmitted_by_timer_g_until_then() {
    let mut net = pair();
    // Lose the client's first ACK: the server retransmits 486 (Timer G), the client ACKs again.
    let mut acks = 0;
    net.drop = Box::new(move |from, t| {
        if from == UAC && common::first_word(&t.bytes) == "ACK" {
            acks += 1;
            return acks == 1;
        }
        false
    });
    let now = net.now;
    let peer = net.peer(UAS);
    let ctx = net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 486);
    net.advance(secs(1.0));
    assert_eq!(
        net.nodes[UAS].sent_lines(),
        ["SIP/2.0 100", "SIP/2.0 486", "SIP/2.0 486"]
    );
    assert_eq!(net.nodes[UAC].sent_lines(), ["INVITE", "ACK", "ACK"]);
    // The TU got the 486 once; the ACKs were absorbed by the server (no Ack event).
    let statuses: Vec<u16> = net.nodes[UAC]
        .events
        .iter()
        .filter_map(|e| match e {
            TxEvent::Response { tx, response } if *tx == ctx => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [100, 486]);
    assert!(!net.nodes[UAS]
        .events
        .iter()
        .any(|e| matches!(e, TxEvent::Ack { .. })));
    assert_eq!(net.nodes[UAS].layer.state(stx), Some(State::Confirmed));
    // The ACK carries the To tag of the response and the INVITE's branch.
    let ack = String::from_utf8_lossy(&net.nodes[UAC].sent[1].1.bytes).to_string();
    assert!(ack.contains("tag=b1"), "{ack}");
    assert!(ack.contains("CSeq: 1 ACK"));
    // Timer I then Timer D clean everything up.
    net.advance(secs(40.0));
    assert!(net.nodes[UAS].layer.is_empty());
    assert!(net.nodes[UAC].layer.is_empty());
}

#[test]
fn server_without_ack_for_its_error_response_times_out_with_timer_h() {
    let mut net = pair();
    net.drop = Box::new(|from, t| from == UAC && common::first_word(&t.bytes) == "ACK");
    let now = net.now;
    let peer = net.peer(UAS);
    net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 480);
    net.advance(secs(40.0));
    // Timer G: 0.5, 1, 2, 4, 4, ... until Timer H at 32 s.
    let times: Vec<f64> = net.nodes[UAS]
        .sent
        .iter()
        .filter(|(_, t)| common::first_word(&t.bytes) == "SIP/2.0 480")
        .map(|(t, _)| t.as_secs_f64())
        .collect();
    assert_eq!(
        times,
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert!(net.nodes[UAS]
        .events
        .contains(&TxEvent::Timeout { tx: stx }));
    assert!(net.nodes[UAS].layer.is_empty());
}

#[test]
fn two_hundred_is_retransmitted_until_the_ack_and_the_ack_reaches_the_tu() {
    let mut net = pair();
    let now = net.now;
    let peer = net.peer(UAS);
    let ctx = net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 200);
    net.run();
    // The UAC's TU sees the 200; it does not ACK until 1.6 s later (2xx resent at 0.5, 1.5).
    assert!(net.nodes[UAC].events.iter().any(
        |e| matches!(e, TxEvent::Response { tx, response } if *tx == ctx && response.status == 200)
    ));
    net.advance(secs(1.6));
    let two_hundreds = net.nodes[UAS]
        .sent_lines()
        .iter()
        .filter(|l| *l == "SIP/2.0 200")
        .count();
    assert_eq!(two_hundreds, 3);
    // The client transaction (Accepted) passed the retransmitted 2xx up as well.
    let seen = net.nodes[UAC]
        .events
        .iter()
        .filter(|e| matches!(e, TxEvent::Response { response, .. } if response.status == 200))
        .count();
    assert_eq!(seen, 3);
    // Accepted only passes 2xx up: the INVITE is no longer held (nothing to re-send or cancel).
    assert_eq!(net.nodes[UAC].layer.state(ctx), Some(State::Accepted));
    assert!(net.nodes[UAC].layer.request(ctx).is_none());
    let ack = request(
        "ACK sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;rport\nFrom: <sip:a@192.0.2.1>;tag=a1\nTo: <sip:b@192.0.2.2>;tag=b1\nCall-ID: inv-1\nCSeq: 1 ACK\nMax-Forwards: 70\n\n",
    );
    let peer = net.peer(UAS);
    net.nodes[UAC].layer.send_ack(ack, peer).unwrap();
    net.advance(secs(10.0));
    let two_hundreds_sent = |net: &common::Net| {
        net.nodes[UAS]
            .sent_lines()
            .iter()
            .filter(|l| *l == "SIP/2.0 200")
            .count()
    };
    assert_eq!(two_hundreds_sent(&net), 3, "no more 2xx after the ACK");
    // A late retransmission of the INVITE is absorbed (the 2xx bytes were let go at the ACK).
    let sent_invite = net.nodes[UAC].sent[0].1.bytes.clone();
    assert_eq!(first_word(&sent_invite), "INVITE");
    let uac = net.peer(UAC);
    net.inject(UAS, uac, sent_invite);
    net.run();
    assert_eq!(
        two_hundreds_sent(&net),
        3,
        "a retransmitted INVITE in Accepted gets nothing"
    );
    let requests = |net: &common::Net| {
        net.nodes[UAS]
            .events
            .iter()
            .filter(|e| matches!(e, TxEvent::Request { .. }))
            .count()
    };
    assert_eq!(requests(&net), 1, "nor is it a new request for the TU");
    // A late CANCEL still finds the answered INVITE: 200 (and nothing for the TU to do).
    // The INVITE has no body: its bytes with the method changed are its CANCEL (same branch).
    let cancel = String::from_utf8_lossy(&net.nodes[UAC].sent[0].1.bytes)
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    net.inject(UAS, uac, cancel.into_bytes());
    net.run();
    assert_eq!(net.nodes[UAS].sent_lines().last().unwrap(), "SIP/2.0 200");
    assert!(!net.nodes[UAS]
        .events
        .iter()
        .any(|e| matches!(e, TxEvent::Cancelled { .. })));
    assert!(net.nodes[UAS]
        .events
        .iter()
        .any(|e| matches!(e, TxEvent::Ack { request, .. } if request.call_id() == Some("inv-1"))));
    // Until Timers L and M (64*T1) both transactions still count as live.
    assert_eq!(net.nodes[UAC].layer.state(ctx), Some(State::Accepted));
    assert_eq!(net.nodes[UAS].layer.state(stx), Some(State::Accepted));
    // They end then, the server one without a timeout event, each reported Terminated (and
    // the CANCEL's transaction its Timer J later).
    net.advance(secs(35.0));
    assert!(net.nodes[UAS].layer.is_empty());
    assert!(net.nodes[UAC].layer.is_empty());
    assert!(!net.nodes[UAS]
        .events
        .contains(&TxEvent::Timeout { tx: stx }));
    assert!(net.nodes[UAS]
        .events
        .contains(&TxEvent::Terminated { tx: stx }));
    assert!(net.nodes[UAC]
        .events
        .contains(&TxEvent::Terminated { tx: ctx }));
    // After Timer M a 2xx is a stray: dropped, not reported.
    let reported = net.nodes[UAC].events.len();
    let two_hundred = net.nodes[UAS]
        .sent
        .iter()
        .find(|(_, t)| first_word(&t.bytes) == "SIP/2.0 200")
        .map(|(_, t)| t.bytes.clone())
        .unwrap();
    let uas = net.peer(UAS);
    net.inject(UAC, uas, two_hundred);
    net.run();
    assert_eq!(net.nodes[UAC].events.len(), reported);
}

#[test]
fn unacknowledged_two_hundred_is_reported_after_timer_l() {
    let mut net = pair();
    let now = net.now;
    let peer = net.peer(UAS);
    net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 200);
    net.advance(secs(40.0));
    assert!(net.nodes[UAS]
        .events
        .contains(&TxEvent::Timeout { tx: stx }));
    assert!(net.nodes[UAS].layer.is_empty());
    assert!(net.nodes[UAC].layer.is_empty(), "Timer M ended the client");
}

#[test]
fn cancel_after_ringing_gets_200_then_the_invite_gets_487_and_is_acked() {
    let mut net = pair();
    let now = net.now;
    let peer = net.peer(UAS);
    let ctx = net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    let stx = net.answer(UAS, 180);
    net.run();
    net.nodes[UAC].layer.cancel(now, ctx).unwrap();
    net.run();
    assert!(net.nodes[UAS]
        .events
        .contains(&TxEvent::Cancelled { invite: stx }));
    net.respond(UAS, stx, 487);
    net.run();
    assert_eq!(
        net.nodes[UAS].sent_lines(),
        ["SIP/2.0 100", "SIP/2.0 180", "SIP/2.0 200", "SIP/2.0 487"]
    );
    assert_eq!(net.nodes[UAC].sent_lines(), ["INVITE", "CANCEL", "ACK"]);
    // The CANCEL's own 200 is not reported to the TU: only the INVITE's responses are.
    let statuses: Vec<u16> = net.nodes[UAC]
        .events
        .iter()
        .filter_map(|e| match e {
            TxEvent::Response { response, .. } => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [100, 180, 487]);
    net.advance(secs(40.0));
    assert!(net.nodes[UAC].layer.is_empty() && net.nodes[UAS].layer.is_empty());
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut net = pair();
    // The UAS's 100 Trying is lost, so the client sees nothing provisional at first.
    net.drop = Box::new(|from, t| from == UAS && common::first_word(&t.bytes) == "SIP/2.0 100");
    let now = net.now;
    let peer = net.peer(UAS);
    let ctx = net.nodes[UAC]
        .layer
        .send_request(now, invite(), peer)
        .unwrap();
    net.run();
    net.nodes[UAC].layer.cancel(now, ctx).unwrap();
    net.run();
    assert_eq!(net.nodes[UAC].sent_lines(), ["INVITE"], "CANCEL held back");
    net.answer(UAS, 180);
    net.run();
    assert_eq!(net.nodes[UAC].sent_lines(), ["INVITE", "CANCEL"]);
}

#[test]
fn cancel_for_an_unknown_invite_gets_481() {
    let mut net = pair();
    let cancel = request(
        "CANCEL sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnothere\nFrom: <sip:a@192.0.2.1>;tag=a1\nTo: <sip:b@192.0.2.2>\nCall-ID: x\nCSeq: 1 CANCEL\nMax-Forwards: 70\n\n",
    );
    let from = net.peer(UAC);
    net.inject(UAS, from, cancel.encode().unwrap());
    net.run();
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 481"]);
}

#[test]
fn tcp_has_no_retransmissions_and_no_completed_wait() {
    let mut net = pair();
    net.transport = Transport::Tcp;
    net.drop = Box::new(|_, _| true);
    let now = net.now;
    let peer = net.peer(UAS);
    let tx = net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    net.advance(secs(40.0));
    assert_eq!(net.nodes[UAC].sent.len(), 1);
    assert_eq!(
        net.nodes[UAC].take_events(),
        [TxEvent::Timeout { tx }, TxEvent::Terminated { tx }]
    );

    let mut net = pair();
    net.transport = Transport::Tcp;
    let now = net.now;
    let peer = net.peer(UAS);
    net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    net.run();
    net.answer(UAS, 200);
    net.run();
    // Timers J and K are zero over TCP: both ends are clean without any time passing.
    assert!(net.nodes[UAS].layer.is_empty());
    assert!(net.nodes[UAC].layer.is_empty());
}

#[test]
fn stray_responses_are_dropped() {
    let mut net = pair();
    let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKstray\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let from = net.peer(UAS);
    net.inject(UAC, from, resp);
    net.run();
    assert!(net.nodes[UAC].events.is_empty());
    assert!(net.nodes[UAC].sent.is_empty());
}

#[test]
fn malformed_request_gets_a_400_with_a_reason_at_its_source() {
    let mut net = pair();
    let bad = "OPTIONS sip:b@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKm\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let from = net.peer(UAC);
    net.inject(UAS, from, bad);
    let out = net.nodes[UAS].layer.poll_output().unwrap();
    let engine::sip::transaction::Output::Transmit(t) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        t.peer.addr, net.nodes[UAC].addr,
        "sent to the source, not the Via"
    );
    let text = String::from_utf8_lossy(&t.bytes);
    assert!(
        text.starts_with("SIP/2.0 400 Bad Request (Missing Call-ID header)\r\n"),
        "{text}"
    );
    assert!(net.nodes[UAS].layer.is_empty());
}

#[test]
fn via_gets_received_and_rport_and_responses_follow_rfc_routing_without_force_rport() {
    // force_rport off: a client that did not ask for rport is answered at its Via port.
    let cfg = Config {
        force_rport: false,
        seed: 3,
        ..Config::default()
    };
    let mut net = Net::new(vec![
        Node::new("192.0.2.1:40000", 1),
        Node::with_config("192.0.2.2:5060", cfg),
        Node::new("192.0.2.1:5060", 4),
    ]);
    let req = request(
        "OPTIONS sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP client.example.com;branch=z9hG4bKv1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: v1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n",
    );
    let now = net.now;
    let from = net.peer(0);
    net.inject(1, from, req.encode().unwrap());
    net.run();
    let stx = net.last_server_tx(1);
    let stamped = net.nodes[1].layer.request(stx).unwrap().clone();
    let via = stamped.top_via().unwrap();
    assert_eq!(via.params.value("received"), Some("192.0.2.1"));
    assert_eq!(via.rport(), None);
    net.nodes[1]
        .layer
        .respond(now, stx, response_to(&stamped, 200, Some("t")))
        .unwrap();
    net.run();
    assert_eq!(net.nodes[1].sent[0].1.peer.addr.port(), 5060);

    // With rport asked for, the answer goes to the source port, and rport is filled in.
    let req = request(
        "OPTIONS sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP client.example.com;branch=z9hG4bKv2;rport\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: v2\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n",
    );
    net.inject(1, from, req.encode().unwrap());
    net.run();
    let stx = net.last_server_tx(1);
    let stamped = net.nodes[1].layer.request(stx).unwrap().clone();
    assert_eq!(stamped.top_via().unwrap().rport(), Some(Some(40000)));
    net.nodes[1]
        .layer
        .respond(now, stx, response_to(&stamped, 200, Some("t")))
        .unwrap();
    net.run();
    assert_eq!(net.nodes[1].sent[1].1.peer.addr.port(), 40000);
    let resp = String::from_utf8_lossy(&net.nodes[1].sent[1].1.bytes).to_string();
    assert!(
        resp.contains("received=192.0.2.1;rport=40000")
            || resp.contains("rport=40000;received=192.0.2.1"),
        "{resp}"
    );
}

#[test]
fn a_full_transaction_table_answers_503() {
    let cfg = Config {
        max_transactions: 1,
        seed: 5,
        ..Config::default()
    };
    let mut net = pair_with(cfg);
    let now = net.now;
    let peer = net.peer(UAS);
    net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    let mut second = options();
    second.headers.set(HeaderName::CallId, "opt-2");
    net.nodes[UAC]
        .layer
        .send_request(now, second, peer)
        .unwrap();
    net.run();
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 503"]);
    assert!(net.nodes[UAS]
        .events
        .iter()
        .any(|e| matches!(e, TxEvent::Overloaded { .. })));
}

#[test]
fn answered_non_invites_do_not_fill_the_table_and_the_oldest_go_past_their_cap() {
    let cfg = Config {
        max_transactions: 1,
        max_completed: 2,
        seed: 5,
        ..Config::default()
    };
    let mut net = pair_with(cfg);
    let peer = net.peer(UAS);
    let mut answered = Vec::new();
    for n in 1..=4 {
        let mut req = options();
        req.headers.set(HeaderName::CallId, format!("opt-{n}"));
        let now = net.now;
        net.nodes[UAC].layer.send_request(now, req, peer).unwrap();
        net.run();
        answered.push(net.answer(UAS, 200));
        net.run();
    }
    // One live transaction at a time is all the table allows, yet all four were served.
    assert_eq!(net.nodes[UAS].sent_lines(), ["SIP/2.0 200"; 4]);
    // Only the two most recent answers are still kept for retransmissions.
    let kept: Vec<_> = answered
        .iter()
        .map(|&tx| net.nodes[UAS].layer.state(tx))
        .collect();
    assert_eq!(
        kept,
        [None, None, Some(State::Completed), Some(State::Completed)]
    );
    // Timer J still ends the kept ones.
    net.advance(secs(33.0));
    assert!(net.nodes[UAS].layer.is_empty());
}

/// Header injection, whoever built the message: a request whose header value holds CR LF is
/// refused with a typed error, no transaction is created and nothing reaches the wire; the
/// same request without it goes.
#[test]
fn a_request_with_a_control_character_in_a_header_is_refused_unsent() {
    let mut net = pair();
    let now = net.now;
    let peer = net.peer(UAS);
    let mut evil = options();
    evil.headers.set(
        HeaderName::From,
        "<sip:1000\r\nX-Evil: yes@192.0.2.1>;tag=a1",
    );
    let err = net.nodes[UAC]
        .layer
        .send_request(now, evil, peer)
        .unwrap_err();
    assert!(
        matches!(err, engine::sip::transaction::TxError::Encode(_)),
        "{err}"
    );
    assert!(net.nodes[UAC].layer.is_empty());
    net.run();
    assert!(net.nodes[UAC].sent.is_empty(), "nothing was sent");
    net.nodes[UAC]
        .layer
        .send_request(now, options(), peer)
        .unwrap();
    net.run();
    assert!(!net.nodes[UAC].sent.is_empty(), "the clean request went");
}
