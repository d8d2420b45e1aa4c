use bytes::Bytes;

use super::*;
use crate::sip::message::{parse, response_to, HeaderName, Message};

fn invite(call_id: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@192.0.2.{call_id} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK{call_id}\r\nFrom: <sip:alice@example.com>;tag=rm1\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\r\n"
    );
    match parse(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn plan(leg: u32, target: u64) -> BranchPlan {
    BranchPlan {
        leg: LegId(leg),
        target: TargetId(target),
        invite: invite(&leg.to_string()),
        peer: Peer::udp(format!("192.0.2.{leg}:5060").parse().unwrap()),
        auth: None,
    }
}

fn resp(p: &BranchPlan, status: u16) -> Response {
    let mut r = response_to(&p.invite, status, Some(&format!("t{}", p.leg.0)));
    r.headers.push(
        HeaderName::Contact,
        format!("<sip:bob@192.0.2.{}:5060>", p.leg.0),
    );
    r
}

fn kinds(out: &[ForkOutput]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            ForkOutput::SendInvite { leg, .. } => format!("INVITE {}", leg.0),
            ForkOutput::Cancel { leg } => format!("CANCEL {}", leg.0),
            ForkOutput::SendAck { request, .. } => format!("ACK {}", request.call_id().unwrap()),
            ForkOutput::SendBye { leg, .. } => format!("BYE {}", leg.0),
            ForkOutput::Event(ForkEvent::Ringing { leg, .. }) => format!("ringing {}", leg.0),
            ForkOutput::Event(ForkEvent::Answered { leg, target, .. }) => {
                format!("answered {} t{}", leg.0, target.0)
            }
            ForkOutput::Event(ForkEvent::LegEnded { leg, status, .. }) => {
                format!("ended {} {status}", leg.0)
            }
            ForkOutput::Event(ForkEvent::TargetFailed { target, status }) => {
                format!("failed t{} {status}", target.0)
            }
            ForkOutput::Event(ForkEvent::Done) => "done".into(),
        })
        .collect()
}

#[test]
fn first_2xx_of_a_target_wins_and_its_other_devices_are_cancelled() {
    let (p1, p2) = (plan(1, 7), plan(2, 7));
    let mut f = Fork::new(vec![p1.clone(), p2.clone()], "<sip:rm@192.0.2.9>");
    f.start();
    assert_eq!(kinds(&f.drain()), ["INVITE 1", "INVITE 2"]);
    f.on_response(LegId(1), resp(&p1, 180));
    f.on_response(LegId(2), resp(&p2, 180));
    assert_eq!(kinds(&f.drain()), ["ringing 1", "ringing 2"]);
    f.on_response(LegId(2), resp(&p2, 200));
    assert_eq!(kinds(&f.drain()), ["ACK 2", "answered 2 t7", "CANCEL 1"]);
    f.on_response(LegId(1), resp(&p1, 487));
    assert_eq!(
        kinds(&f.drain()),
        ["ended 1 487", "done"],
        "no TargetFailed for an answered target"
    );
}

#[test]
fn a_2xx_crossing_the_cancel_is_acked_and_hung_up() {
    let (p1, p2) = (plan(1, 7), plan(2, 7));
    let mut f = Fork::new(vec![p1.clone(), p2.clone()], "<sip:rm@192.0.2.9>");
    f.start();
    f.on_response(LegId(1), resp(&p1, 200));
    f.drain();
    f.on_response(LegId(2), resp(&p2, 200));
    assert_eq!(kinds(&f.drain()), ["ACK 2", "BYE 2", "ended 2 200"]);
    // A retransmission of that 2xx is ACKed again, nothing else.
    f.on_response(LegId(2), resp(&p2, 200));
    assert_eq!(kinds(&f.drain()), ["ACK 2"]);
    f.on_bye_done(LegId(2));
    assert_eq!(kinds(&f.drain()), ["done"]);
}

#[test]
fn a_target_fails_with_its_most_telling_status() {
    let (p1, p2, p3) = (plan(1, 7), plan(2, 7), plan(3, 8));
    let mut f = Fork::new(
        vec![p1.clone(), p2.clone(), p3.clone()],
        "<sip:rm@192.0.2.9>",
    );
    f.start();
    f.drain();
    f.on_response(LegId(1), resp(&p1, 480));
    f.on_response(LegId(2), resp(&p2, 486));
    assert_eq!(
        kinds(&f.drain()),
        ["ended 1 480", "ended 2 486", "failed t7 486"]
    );
    f.on_timeout(LegId(3));
    assert_eq!(kinds(&f.drain()), ["ended 3 408", "failed t8 408", "done"]);
}

#[test]
fn cancelled_targets_report_their_legs() {
    let (p1, p2) = (plan(1, 7), plan(2, 8));
    let mut f = Fork::new(vec![p1.clone(), p2.clone()], "<sip:rm@192.0.2.9>");
    f.start();
    f.drain();
    f.on_response(LegId(1), resp(&p1, 180));
    f.cancel_targets(&[TargetId(7), TargetId(8)]);
    assert_eq!(kinds(&f.drain()), ["ringing 1", "CANCEL 1", "CANCEL 2"]);
    f.on_response(LegId(1), resp(&p1, 487));
    f.on_response(LegId(2), resp(&p2, 487));
    let k = kinds(&f.drain());
    assert_eq!(
        k,
        [
            "ended 1 487",
            "failed t7 487",
            "ended 2 487",
            "failed t8 487",
            "done"
        ]
    );
}

#[test]
fn best_status_ranking() {
    assert_eq!(best_status([487, 603, 486].into_iter()), 603);
    assert_eq!(best_status([487, 486, 503].into_iter()), 486);
    assert_eq!(best_status([487, 503, 404].into_iter()), 404);
    assert_eq!(best_status([487, 408].into_iter()), 408);
    assert_eq!(best_status(std::iter::empty()), 480);
}

#[test]
fn a_challenged_branch_with_credentials_answers_once() {
    let mut p1 = plan(1, 7);
    p1.auth = Some(ClientAuth {
        username: "trunkuser".into(),
        password: "s3cret".into(),
    });
    let mut f = Fork::new(vec![p1.clone()], "<sip:rm@192.0.2.9>");
    f.start();
    f.drain();
    let mut challenge = resp(&p1, 407);
    challenge.headers.push(
        HeaderName::ProxyAuthenticate,
        "Digest realm=\"carrier.example\", nonce=\"abc\", qop=\"auth\"",
    );
    f.on_response(LegId(1), challenge.clone());
    let out = f.drain();
    let ForkOutput::SendInvite { request, .. } = &out[0] else {
        panic!("{}", kinds(&out).join(","))
    };
    assert_eq!(request.cseq().unwrap().seq, 2);
    assert!(
        request.headers.get(&HeaderName::Via).is_none(),
        "a new transaction"
    );
    let creds = crate::sip::digest::Credentials::parse(
        request
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .unwrap(),
    )
    .unwrap();
    let h = crate::sip::digest::ha1(
        crate::sip::digest::Algorithm::Md5,
        "trunkuser",
        "carrier.example",
        "s3cret",
    );
    assert!(crate::sip::digest::verify(&creds, "INVITE", &h));
    // A second challenge is final: wrong credentials are not retried forever.
    f.on_response(LegId(1), challenge);
    assert_eq!(kinds(&f.drain()), ["ended 1 407", "failed t7 407", "done"]);
}
