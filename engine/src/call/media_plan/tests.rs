use super::*;

use crate::media::sdp::crypto::SrtpPolicy;
use crate::media::srtp::MasterKey;

pub(super) const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 0 RTP/AVP 96\r\n";
pub(super) const US: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));

pub(super) fn srtp() -> SrtpSetup {
    SrtpSetup {
        policy: SrtpPolicy::Optional,
        keys: [MasterKey::new([0xa1; 30]), MasterKey::new([0xb2; 30])],
    }
}

pub(super) fn anchor_at(port: u16) -> Anchor {
    Anchor {
        addr: US,
        rtp_port: port,
        rtcp_port: port + 1,
    }
}

#[test]
fn b_is_offered_our_ports_and_a_is_answered_with_ours_too() {
    let mut p = MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    assert_eq!(
        p.a_remote(),
        Some(("192.0.2.10:40000".parse().unwrap(), None))
    );
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(offer.contains("c=IN IP4 203.0.113.1\r\n"), "{offer}");
    assert!(
        offer.contains("m=audio 30002 RTP/AVP 0 8 101\r\n"),
        "G.729 filtered out: {offer}"
    );
    assert!(offer.contains("m=video 0 "), "{offer}");
    assert!(!offer.contains("192.0.2.10"));
    let b = p.on_b_answer(ANSWER.as_bytes()).unwrap();
    assert_eq!(b.remote.0, "198.51.100.5:50000".parse().unwrap());
    let pts = b.payload_types;
    assert!(pts.contains(8) && pts.contains(101) && !pts.contains(0));
    let codecs = b.codecs.unwrap();
    assert_eq!((codecs.audio_pt, codecs.telephone_event), (8, Some(101)));
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(to_a.contains("m=audio 30000 RTP/AVP 8 101\r\n"), "{to_a}");
    assert!(!to_a.contains("198.51.100.5"));
    assert!(p.last_to_a().is_none(), "nothing sent to A yet");
    let a = p.sent_to_a(&b.to_a).0.unwrap();
    assert_eq!(a.audio_pt, 8);
    assert_eq!(p.last_to_a().map(|b| b.len()), Some(to_a.len()));
}

#[test]
fn unusable_offers_and_answers() {
    assert_eq!(
        MediaPlan::from_offer(b"", CallType::Audio, 1, US, srtp()).unwrap_err(),
        SdpProblem::NoOffer
    );
    assert_eq!(
        MediaPlan::from_offer(b"garbage", CallType::Audio, 1, US, srtp()).unwrap_err(),
        SdpProblem::Unreadable
    );
    let g729 = "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
    assert_eq!(
        MediaPlan::from_offer(g729.as_bytes(), CallType::Audio, 1, US, srtp()).unwrap_err(),
        SdpProblem::NoCommonCodec
    );
    let mut p = MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let one_line = "v=0\r\no=b 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    assert_eq!(
        p.on_b_answer(one_line.as_bytes()).unwrap_err(),
        SdpProblem::BadAnswer
    );
}

#[test]
fn own_answer_when_the_script_answers_first() {
    let mut p = MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    assert!(p.own_answer_to_a().is_none(), "no ports yet");
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let a = String::from_utf8(p.own_answer_to_a().unwrap().to_vec()).unwrap();
    assert!(a.contains("m=audio 30000 RTP/AVP 0 8 101\r\n"), "{a}");
}

#[test]
fn a_law_callee_for_a_mu_law_caller_is_offered_both_and_a_keeps_its_own_law() {
    let pcmu_only = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let mut p =
        MediaPlan::from_offer(pcmu_only.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(
        offer.contains("m=audio 30002 RTP/AVP 0 8 101\r\n"),
        "{offer}"
    );
    let pcma = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let b = p.on_b_answer(pcma.as_bytes()).unwrap();
    assert_eq!(b.codecs.unwrap().audio_pt, 8, "B speaks A-law");
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(
        to_a.contains("m=audio 30000 RTP/AVP 0 101\r\n"),
        "A keeps μ-law: {to_a}"
    );
    assert_eq!(p.sent_to_a(&b.to_a).0.unwrap().audio_pt, 0);
}

#[test]
fn a_is_answered_only_the_types_it_offered() {
    let pcmu = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let mut p = MediaPlan::from_offer(pcmu.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let answer = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(to_a.contains("m=audio 30000 RTP/AVP 0\r\n"), "{to_a}");
    assert!(
        !to_a.contains("101"),
        "A never offered telephone-event: {to_a}"
    );
    assert!(b.payload_types.contains(101), "B may still send its digits");
}
