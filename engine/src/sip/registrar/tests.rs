use bytes::Bytes;

use super::*;
use crate::sip::message::{parse, HeaderName, Message, Request};
use crate::sip::Peer;

const NOW: u64 = 1_700_000_000;

fn register(call_id: &str, cseq: u32, extra: &str) -> Request {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}{call_id}\r\nFrom: <sip:alice@example.com>;tag=f\r\nTo: <sip:alice@example.com>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n{extra}\r\n"
    );
    match parse(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn peer() -> Peer {
    Peer::udp("192.0.2.10:5060".parse().unwrap())
}

fn run(req: &Request, current: &[Binding]) -> Result<Update, Box<crate::sip::message::Response>> {
    apply(req, current, NOW, peer(), &RegistrarConfig::default(), "tt")
}

fn contacts(u: &Update) -> Vec<String> {
    u.response
        .headers
        .get_all(&HeaderName::Contact)
        .map(str::to_string)
        .collect()
}

#[test]
fn binds_with_header_or_param_expiry_and_lists_all_contacts() {
    let u = run(
        &register(
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.10:5060>\r\nExpires: 300\r\n",
        ),
        &[],
    )
    .unwrap();
    assert!(u.changed);
    assert_eq!(u.bindings[0].expires_at, NOW + 300);
    assert_eq!(contacts(&u), ["<sip:alice@192.0.2.10:5060>;expires=300"]);
    // A second device; the contact's own expires wins over the header.
    let u = run(
        &register(
            "c2",
            1,
            "Contact: <sip:alice@198.51.100.4:5062>;expires=120\r\nExpires: 300\r\n",
        ),
        &u.bindings,
    )
    .unwrap();
    assert_eq!(u.bindings.len(), 2);
    assert_eq!(
        contacts(&u),
        [
            "<sip:alice@192.0.2.10:5060>;expires=300",
            "<sip:alice@198.51.100.4:5062>;expires=120"
        ]
    );
}

#[test]
fn too_brief_gets_423_and_long_ones_are_capped() {
    let r = run(
        &register("c1", 1, "Contact: <sip:alice@h>\r\nExpires: 10\r\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(r.status, 423);
    assert_eq!(r.headers.get(&HeaderName::MinExpires), Some("60"));
    let u = run(
        &register("c1", 1, "Contact: <sip:alice@h>\r\nExpires: 999999\r\n"),
        &[],
    )
    .unwrap();
    assert_eq!(u.bindings[0].expires_at, NOW + 7200);
}

#[test]
fn expires_zero_removes_one_and_star_removes_all() {
    let u = run(
        &register(
            "c1",
            1,
            "Contact: <sip:alice@h1>, <sip:alice@h2>\r\nExpires: 300\r\n",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(u.bindings.len(), 2);
    let u2 = run(
        &register("c1", 2, "Contact: <sip:alice@h1>;expires=0\r\n"),
        &u.bindings,
    )
    .unwrap();
    assert_eq!(contacts(&u2), ["<sip:alice@h2>;expires=300"]);
    let bad = run(&register("c1", 3, "Contact: *\r\n"), &u.bindings).unwrap_err();
    assert_eq!(bad.status, 400);
    let u3 = run(
        &register("c9", 1, "Contact: *\r\nExpires: 0\r\n"),
        &u.bindings,
    )
    .unwrap();
    assert!(u3.bindings.is_empty() && u3.changed);
    assert!(contacts(&u3).is_empty());
}

#[test]
fn out_of_order_cseq_on_the_same_call_id_is_refused() {
    let u = run(
        &register("c1", 5, "Contact: <sip:alice@h1>\r\nExpires: 300\r\n"),
        &[],
    )
    .unwrap();
    let r = run(
        &register("c1", 5, "Contact: <sip:alice@h1>\r\nExpires: 0\r\n"),
        &u.bindings,
    )
    .unwrap_err();
    assert_eq!(r.status, 500);
    // A different Call-ID may update it regardless of CSeq.
    let u2 = run(
        &register("c2", 1, "Contact: <sip:alice@h1>\r\nExpires: 0\r\n"),
        &u.bindings,
    )
    .unwrap();
    assert!(u2.bindings.is_empty());
}

#[test]
fn fetch_changes_nothing_and_expired_bindings_drop_out() {
    let u = run(
        &register("c1", 1, "Contact: <sip:alice@h1>\r\nExpires: 300\r\n"),
        &[],
    )
    .unwrap();
    let f = run(&register("c1", 2, ""), &u.bindings).unwrap();
    assert!(!f.changed);
    assert_eq!(contacts(&f), ["<sip:alice@h1>;expires=300"]);
    let mut old = u.bindings.clone();
    old[0].expires_at = NOW - 1;
    let f = run(&register("c1", 2, ""), &old).unwrap();
    assert!(f.changed && f.bindings.is_empty());
}

#[test]
fn instance_id_identifies_the_device_across_contact_changes() {
    let inst = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    let u = run(
        &register("c1", 1, &format!("Contact: <sip:alice@192.0.2.10:5060>;+sip.instance={inst};reg-id=1\r\nExpires: 300\r\n")),
        &[],
    )
    .unwrap();
    let u2 = run(
        &register("c1", 2, &format!("Contact: <sip:alice@192.0.2.10:6000>;+sip.instance={inst};reg-id=1\r\nExpires: 300\r\n")),
        &u.bindings,
    )
    .unwrap();
    assert_eq!(u2.bindings.len(), 1);
    assert_eq!(u2.bindings[0].contact, "sip:alice@192.0.2.10:6000");
    assert_eq!(u2.bindings[0].instance.as_deref(), Some(inst));
    assert!(contacts(&u2)[0].ends_with(&format!(";+sip.instance={inst};reg-id=1")));
}

#[test]
fn non_sip_contacts_are_never_bound() {
    let r = run(&register("c1", 1, "Contact: <name:John_Smith>\r\n"), &[]).unwrap_err();
    assert_eq!(r.status, 416);
}

#[test]
fn too_many_contacts_keep_the_freshest() {
    let cfg = RegistrarConfig {
        max_contacts: 2,
        ..RegistrarConfig::default()
    };
    let mut cur = Vec::new();
    for (i, exp) in [(1, 100), (2, 200), (3, 300)] {
        let req = register(
            &format!("c{i}"),
            1,
            &format!("Contact: <sip:alice@h{i}>\r\nExpires: {exp}\r\n"),
        );
        cur = apply(&req, &cur, NOW, peer(), &cfg, "t").unwrap().bindings;
    }
    let mut hosts: Vec<_> = cur.iter().map(|b| b.contact.clone()).collect();
    hosts.sort();
    assert_eq!(hosts, ["sip:alice@h2", "sip:alice@h3"]);
}

#[test]
fn a_register_over_a_stream_makes_its_connection_a_flow_while_its_bindings_live() {
    use crate::sip::{ConnId, Transport};
    let tcp = Peer {
        transport: Transport::Tcp,
        addr: "192.0.2.10:5060".parse().unwrap(),
        conn: Some(ConnId(7)),
    };
    let cfg = RegistrarConfig::default();
    let req = register(
        "c1",
        1,
        "Contact: <sip:alice@192.0.2.10:5060;transport=tcp>\r\nExpires: 300\r\n",
    );
    let u = apply(&req, &[], NOW, tcp, &cfg, "tt").unwrap();
    assert_eq!(u.flow(&tcp), Some((ConnId(7), NOW + 300)));
    assert_eq!(u.flow(&peer()), None, "no flow over UDP");
    let bye = register(
        "c1",
        2,
        "Contact: <sip:alice@192.0.2.10:5060;transport=tcp>;expires=0\r\n",
    );
    let u = apply(&bye, &u.bindings, NOW, tcp, &cfg, "tt").unwrap();
    assert_eq!(
        u.flow(&tcp),
        Some((ConnId(7), 0)),
        "unregistered: the flow ends"
    );
}
