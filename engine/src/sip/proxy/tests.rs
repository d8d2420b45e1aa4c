//! The proxy on an in-memory wire: a calling node (n1), the flow node (n2) running the proxy,
//! and a device registered on n2. Each message is built as its sender would build it (the
//! dialog code of `call::dialog` for both ends), passed through [`Proxy::on_message`], and
//! re-parsed where it lands.

use std::net::SocketAddr;

use bytes::Bytes;

use super::route::{flow_token, request_route, RouteKey, PROXY_BRANCH};
use super::*;
use crate::call::dialog::Dialog;
use crate::sip::message::{parse, response_to, HeaderName, HeaderView, Message, Method};
use crate::sip::transaction::{build_ack, build_cancel};
use crate::sip::Transport;
use crate::store::NodeInfo;

const NOW_MS: u64 = 1_000_000;

fn n1() -> SocketAddr {
    "192.0.2.1:5060".parse().unwrap()
}
fn n2() -> SocketAddr {
    "192.0.2.2:5060".parse().unwrap()
}
fn phone() -> SocketAddr {
    "198.51.100.7:5062".parse().unwrap()
}

fn key() -> RouteKey {
    RouteKey::from_secret(b"the cluster secret of this test, 32+ bytes")
}

fn proxy() -> Proxy {
    Proxy::new("n2", n2(), key())
}

/// n2's view: n1 alive (n2 itself is never among the others).
fn view() -> NodeView {
    let node = |id: &str, sip| NodeInfo {
        id: id.into(),
        sip,
        internal_http: None,
        started_ms: 0,
        heartbeat_ms: NOW_MS,
    };
    NodeView::at("n2", &[node("n1", n1()), node("n2", n2())], NOW_MS, 10_000)
}

fn req(text: &str) -> Request {
    match parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// What arrives at the far end of a transmission.
fn landed(t: &Transmit) -> Message {
    parse(t.bytes.clone()).expect("the proxy sends what parses")
}

fn forwarded(v: Verdict) -> Transmit {
    match v {
        Verdict::Forward(t) => t,
        other => panic!("expected a forward, got {other:?}"),
    }
}

/// n1's INVITE for the device's binding on n2, over `transport`, signed with `k`.
fn invite(k: &RouteKey, transport: Transport) -> Request {
    let flow = flow_token(transport, phone());
    let ruri = "sip:alice@10.0.0.5:5062";
    let route = request_route(k, "n2", n2(), &flow, "c1@n1", "f1", ruri);
    req(&format!("INVITE {ruri} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKn1a\nRoute: {route}\nFrom: <sip:bob@example.com>;tag=f1\nTo: <sip:alice@example.com>\nCall-ID: c1@n1\nCSeq: 1 INVITE\nContact: <sip:ringmaster@192.0.2.1:5060>\nMax-Forwards: 69\nContent-Type: application/sdp\n\nv=0\r\n"))
}

/// Sends `r` as n1 would: its own Via on top.
fn from_n1(mut r: Request, branch: &str) -> Request {
    r.headers.push_front(
        HeaderName::Via,
        format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"),
    );
    r
}

#[test]
fn a_call_from_another_node_reaches_the_device_and_every_in_dialog_request_passes() {
    let p = proxy();
    let inv = invite(&key(), Transport::Udp);
    // n1 → n2: over the flow to the device, our Via on top, our Record-Route, no Route left.
    let t = forwarded(p.on_message(Message::Request(inv.clone()), Peer::udp(n1()), &view()));
    assert_eq!(t.peer, Peer::udp(phone()));
    let Message::Request(at_phone) = landed(&t) else {
        panic!()
    };
    assert_eq!(at_phone.headers.get(&HeaderName::Route), None);
    assert_eq!(at_phone.headers.get(&HeaderName::MaxForwards), Some("68"));
    let top = at_phone.top_via().unwrap();
    assert!(top.branch().unwrap().starts_with(PROXY_BRANCH));
    assert_eq!(top.sent_by(), "192.0.2.2:5060");
    assert_eq!(at_phone.headers.count(&HeaderName::Via), 2);
    let rr = at_phone.headers.get(&HeaderName::RecordRoute).unwrap();
    assert!(rr.starts_with("<sip:192.0.2.2:5060;lr;rm-node=n2;"), "{rr}");
    // SDP passes untouched: the calling node relays the media.
    assert_eq!(at_phone.body, inv.body);
    assert_eq!(at_phone.uri, inv.uri);

    // The device answers (copying the Record-Route, §12.1.1): back to n1 by the Via.
    let mut ok = response_to(&at_phone, 200, Some("p1"));
    ok.headers.push(HeaderName::RecordRoute, rr);
    ok.headers
        .push(HeaderName::Contact, "<sip:alice@10.0.0.5:5062>");
    let t = forwarded(p.on_message(Message::Response(ok), Peer::udp(phone()), &view()));
    assert_eq!(t.peer, Peer::udp(n1()));
    let Message::Response(at_n1) = landed(&t) else {
        panic!()
    };
    assert_eq!(at_n1.headers.count(&HeaderName::Via), 1);
    assert_eq!(at_n1.top_via().unwrap().branch(), Some("z9hG4bKn1a"));

    // n1's dialog routes through n2 (its Record-Route): ACK and BYE reach the device.
    let mut d = Dialog::uac(
        &inv,
        &at_n1,
        Peer::udp(n2()),
        "<sip:ringmaster@192.0.2.1:5060>",
    )
    .unwrap();
    assert_eq!(d.route_set, vec![rr.to_string()]);
    for r in [d.ack(1, None), d.request(Method::Bye, None)] {
        let method = r.method.clone();
        let t = forwarded(p.on_message(
            Message::Request(from_n1(r, "z9hG4bKn1b")),
            Peer::udp(n1()),
            &view(),
        ));
        assert_eq!(t.peer, Peer::udp(phone()), "{method:?}");
        let Message::Request(r) = landed(&t) else {
            panic!()
        };
        assert_eq!(r.headers.get(&HeaderName::Route), None);
        // Only the dialog-creating INVITE is record-routed.
        assert_eq!(r.headers.get(&HeaderName::RecordRoute), None);
    }

    // The device's own BYE goes through n2 to the node its Request-URI names (n1's Contact),
    // and n1's 200 comes back to the device.
    let mut dev = Dialog::uas(
        &at_phone,
        "p1",
        Peer::udp(n2()),
        "<sip:alice@10.0.0.5:5062>",
    )
    .unwrap();
    let mut bye = dev.request(Method::Bye, None);
    bye.headers.push_front(
        HeaderName::Via,
        "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKdev1;rport",
    );
    let t = forwarded(p.on_message(Message::Request(bye), Peer::udp(phone()), &view()));
    assert_eq!(t.peer, Peer::udp(n1()));
    let Message::Request(at_n1) = landed(&t) else {
        panic!()
    };
    assert_eq!(at_n1.uri.to_string(), "sip:ringmaster@192.0.2.1:5060");
    let ok = response_to(&at_n1, 200, None);
    let t = forwarded(p.on_message(Message::Response(ok), Peer::udp(n1()), &view()));
    assert_eq!(t.peer, Peer::udp(phone()));
    let Message::Response(r) = landed(&t) else {
        panic!()
    };
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKdev1"));
}

#[test]
fn cancel_and_the_non_2xx_ack_take_the_invites_branch_towards_the_device() {
    let p = proxy();
    let inv = invite(&key(), Transport::Udp);
    let first = forwarded(p.on_message(Message::Request(inv.clone()), Peer::udp(n1()), &view()));
    let Message::Request(at_phone) = landed(&first) else {
        panic!()
    };
    let branch = at_phone.top_via().unwrap().branch().unwrap().to_string();
    // A retransmission is forwarded again, identically.
    let again = forwarded(p.on_message(Message::Request(inv.clone()), Peer::udp(n1()), &view()));
    assert_eq!(again, first);
    let busy = response_to(&at_phone, 486, Some("p1"));
    for r in [build_cancel(&inv), build_ack(&inv, &busy)] {
        let t = forwarded(p.on_message(Message::Request(r), Peer::udp(n1()), &view()));
        assert_eq!(t.peer, Peer::udp(phone()));
        let Message::Request(r) = landed(&t) else {
            panic!()
        };
        // §16.11: the device matches them to its INVITE transaction by this branch.
        assert_eq!(r.top_via().unwrap().branch(), Some(branch.as_str()));
    }
}

#[test]
fn a_flow_over_tcp_is_used_for_the_device_and_named_in_the_record_route() {
    let p = proxy();
    let t = forwarded(p.on_message(
        Message::Request(invite(&key(), Transport::Tcp)),
        Peer::udp(n1()),
        &view(),
    ));
    assert_eq!(
        t.peer,
        Peer {
            transport: Transport::Tcp,
            addr: phone(),
            conn: None
        }
    );
    let Message::Request(r) = landed(&t) else {
        panic!()
    };
    assert!(r.top_via().unwrap().transport == "TCP");
    assert!(r
        .headers
        .get(&HeaderName::RecordRoute)
        .unwrap()
        .contains(";transport=tcp;lr;"));
    // The device's response over its connection goes back to n1 over UDP.
    let ok = response_to(&r, 180, Some("p1"));
    let back = Peer {
        transport: Transport::Tcp,
        addr: phone(),
        conn: Some(crate::sip::ConnId(4)),
    };
    let t = forwarded(p.on_message(Message::Response(ok), back, &view()));
    assert_eq!(t.peer, Peer::udp(n1()));
}

#[test]
fn requests_not_signed_by_the_cluster_are_refused_and_others_are_not_ours() {
    let p = proxy();
    let refused = |v: Verdict| match v {
        Verdict::Refuse { status, transmit } => (status, transmit.peer),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let stranger = Peer::udp("203.0.113.9:5060".parse().unwrap());
    // Signed with another secret.
    let forged = invite(&RouteKey::from_secret(&[1; 32]), Transport::Udp);
    assert_eq!(
        refused(p.on_message(Message::Request(forged.clone()), stranger, &view())),
        (403, stranger)
    );
    // A genuine Route replayed for another destination (the Request-URI is signed).
    let mut moved = invite(&key(), Transport::Udp);
    moved.uri = Uri::parse("sip:victim@203.0.113.50").unwrap();
    assert_eq!(
        refused(p.on_message(Message::Request(moved), stranger, &view())).0,
        403
    );
    // ...or another flow (the flow token is signed).
    let mut other_flow = invite(&key(), Transport::Udp);
    let route = other_flow.headers.get(&HeaderName::Route).unwrap().replace(
        &flow_token(Transport::Udp, phone()),
        &flow_token(Transport::Udp, "203.0.113.50:5060".parse().unwrap()),
    );
    other_flow.headers.set(HeaderName::Route, route);
    assert_eq!(
        refused(p.on_message(Message::Request(other_flow), stranger, &view())).0,
        403
    );
    // An ACK gets no answer at all.
    let ack = build_ack(&forged, &response_to(&forged, 486, Some("x")));
    assert!(matches!(
        p.on_message(Message::Request(ack), stranger, &view()),
        Verdict::Drop(_)
    ));
    // Max-Forwards exhausted: 483.
    let mut tired = invite(&key(), Transport::Udp);
    tired.headers.set(HeaderName::MaxForwards, "0");
    assert_eq!(
        refused(p.on_message(Message::Request(tired), Peer::udp(n1()), &view())).0,
        483
    );
    // A Route for another node, or none: the transaction layer's business.
    let other_node = Proxy::new("n3", n2(), key());
    assert_eq!(
        other_node.on_message(
            Message::Request(invite(&key(), Transport::Udp)),
            Peer::udp(n1()),
            &view()
        ),
        Verdict::Pass
    );
    let plain = req("OPTIONS sip:192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\nCall-ID: o1\nCSeq: 1 OPTIONS\n\n");
    assert_eq!(
        p.on_message(Message::Request(plain), Peer::udp(n1()), &view()),
        Verdict::Pass
    );
}

#[test]
fn only_responses_to_our_own_forwards_go_back() {
    let p = proxy();
    let t = forwarded(p.on_message(
        Message::Request(invite(&key(), Transport::Udp)),
        Peer::udp(n1()),
        &view(),
    ));
    let Message::Request(at_phone) = landed(&t) else {
        panic!()
    };
    // Someone who saw our Via tries to point the way back elsewhere.
    let mut ok = response_to(&at_phone, 200, Some("p1"));
    let top = ok.headers.get(&HeaderName::Via).unwrap().to_string();
    let evil = top.replace(
        &flow_token(Transport::Udp, n1()),
        &flow_token(Transport::Udp, "203.0.113.50:9".parse().unwrap()),
    );
    assert_ne!(evil, top);
    ok.headers.replace_first(&HeaderName::Via, evil);
    assert!(matches!(
        p.on_message(Message::Response(ok), Peer::udp(phone()), &view()),
        Verdict::Drop(_)
    ));
    // A response to a transaction of our own: the layer's.
    let mut mine = response_to(&at_phone, 200, Some("p1"));
    mine.headers.remove_first(&HeaderName::Via);
    assert_eq!(
        p.on_message(Message::Response(mine), Peer::udp(phone()), &view()),
        Verdict::Pass
    );
}

#[test]
fn the_cheap_look_flags_only_what_can_be_ours() {
    let inv = invite(&key(), Transport::Udp).encode().unwrap();
    assert!(might_concern(&inv));
    let t = forwarded(proxy().on_message(
        Message::Request(invite(&key(), Transport::Udp)),
        Peer::udp(n1()),
        &view(),
    ));
    let Message::Request(at_phone) = landed(&t) else {
        panic!()
    };
    let mut resp = response_to(&at_phone, 180, Some("p1"));
    resp.headers.remove_all(&HeaderName::RecordRoute);
    assert!(might_concern(&resp.encode().unwrap()));
    assert!(!might_concern(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx\r\n\r\n"
    ));
}

#[test]
fn a_device_request_towards_a_dead_node_goes_nowhere_but_its_flow() {
    // With n1 dead, a Request-URI naming n1's address is no node's: the request is treated
    // as one for the device (which is where the route's flow points), never relayed to an
    // arbitrary address.
    let p = proxy();
    let dead = NodeView::at("n2", &[], NOW_MS, 10_000);
    let inv = invite(&key(), Transport::Udp);
    let t = forwarded(p.on_message(Message::Request(inv), Peer::udp(n1()), &dead));
    assert_eq!(t.peer, Peer::udp(phone()));
}
