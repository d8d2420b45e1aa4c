//! SRTP (SDES) through the offer/answer state: what each leg is offered and answered, and
//! the keys the media task gets.

use super::tests::{anchor_at, srtp, OFFER, US};
use super::*;
use crate::media::sdp::crypto::{CryptoAttr, SrtpPolicy, SrtpRefusal};
use crate::media::srtp::MasterKey;

const KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
/// B's answer to an audio-only offer.
const AUDIO_ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn savp_offer() -> String {
    format!("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n")
}

fn crypto_of(sdp: &[u8]) -> CryptoAttr {
    let sdp = SessionDescription::parse(sdp).unwrap();
    let value = sdp.media[0]
        .attribute("crypto")
        .unwrap()
        .value
        .clone()
        .unwrap();
    CryptoAttr::parse(&value).unwrap()
}

#[test]
fn an_srtp_caller_gets_our_key_and_a_plain_callee_never_sees_a_key() {
    let mut p =
        MediaPlan::from_offer(savp_offer().as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let a_keys = p.srtp_keys(Leg::A).unwrap();
    assert_eq!(a_keys.outbound, MasterKey::new([0xa1; 30]));
    assert_eq!(
        CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"))
            .unwrap()
            .key,
        a_keys.inbound
    );
    let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(
        offer.contains("m=audio 30002 RTP/AVP 0 8 101\r\n"),
        "{offer}"
    );
    assert!(!offer.contains("crypto"), "{offer}");
    let b = p.on_b_answer(AUDIO_ANSWER.as_bytes()).unwrap();
    assert_eq!(b.srtp, None, "B is plain");
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(to_a.contains("m=audio 30000 RTP/SAVP "), "{to_a}");
    let ours = crypto_of(&b.to_a);
    assert_eq!((ours.tag, ours.key), (3, MasterKey::new([0xa1; 30])));
    // The script answers A itself: the same key.
    let mut p =
        MediaPlan::from_offer(savp_offer().as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let own = p.own_answer_to_a().unwrap();
    assert_eq!(crypto_of(&own).key, MasterKey::new([0xa1; 30]));
    // A re-INVITE from A keeps its key; relayed to B it carries none.
    let relayed = p
        .relay(Leg::B, savp_offer().as_bytes(), true, Default::default)
        .unwrap();
    assert!(!String::from_utf8_lossy(&relayed.sdp).contains("crypto"));
    assert_eq!(relayed.srtp, Some(a_keys));
}

#[test]
fn re_invites_carry_new_keys_both_ways() {
    let mut p =
        MediaPlan::from_offer(savp_offer().as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    p.on_b_answer(AUDIO_ANSWER.as_bytes()).unwrap();
    // A re-offers with another key under another tag: the media task gets it.
    let other = "YUJDZGVmZ2hpSktMbW5vcFFyc3RVVldYWVphYmNk";
    let reoffer = savp_offer().replace(
        &format!("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        &format!("a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:{other}"),
    );
    let relayed = p
        .relay(Leg::B, reoffer.as_bytes(), true, Default::default)
        .unwrap();
    let keys = relayed.srtp.unwrap();
    assert_eq!(keys.suite, crate::media::srtp::Suite::AesCm128HmacSha1_32);
    assert_eq!(
        keys.inbound,
        CryptoAttr::parse(&format!("4 AES_CM_128_HMAC_SHA1_32 inline:{other}"))
            .unwrap()
            .key
    );
    // B's plain answer goes back to A with our key under A's new tag.
    let back = p
        .relay(Leg::A, AUDIO_ANSWER.as_bytes(), false, Default::default)
        .unwrap();
    assert_eq!(back.srtp, None, "B stays plain");
    let ours = crypto_of(&back.sdp);
    assert_eq!((ours.tag, ours.key), (4, MasterKey::new([0xa1; 30])));
    // A drops SRTP in a plain re-offer: A is plain again.
    let plain = p
        .relay(Leg::B, OFFER.as_bytes(), true, Default::default)
        .unwrap();
    assert_eq!(plain.srtp, None);
}

#[test]
fn require_offers_srtp_to_b_and_refuses_plain_callers_and_keyless_answers() {
    let require = SrtpSetup {
        policy: SrtpPolicy::Require,
        ..srtp()
    };
    assert_eq!(
        MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, require.clone())
            .unwrap_err(),
        SdpProblem::Srtp(SrtpRefusal::Required)
    );
    let mut p =
        MediaPlan::from_offer(savp_offer().as_bytes(), CallType::Audio, 9, US, require).unwrap();
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let offer = p.offer_to_b().unwrap();
    assert!(String::from_utf8_lossy(&offer).contains("m=audio 30002 RTP/SAVP "));
    let ours = crypto_of(&offer);
    assert_eq!((ours.tag, ours.key), (1, MasterKey::new([0xb2; 30])));
    assert_eq!(
        p.on_b_answer(AUDIO_ANSWER.as_bytes()).unwrap_err(),
        SdpProblem::Srtp(SrtpRefusal::NoUsableCrypto)
    );
    let answer = AUDIO_ANSWER.replace(
        "RTP/AVP 8 101\r\n",
        &format!("RTP/SAVP 8 101\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"),
    );
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    let keys = b.srtp.unwrap();
    assert_eq!(keys.outbound, MasterKey::new([0xb2; 30]));
    assert_eq!(
        keys.inbound,
        p.srtp_keys(Leg::A).unwrap().inbound,
        "same test key"
    );
}

#[test]
fn policy_never_refuses_mandatory_srtp() {
    let never = SrtpSetup {
        policy: SrtpPolicy::Never,
        ..srtp()
    };
    assert_eq!(
        MediaPlan::from_offer(savp_offer().as_bytes(), CallType::Audio, 9, US, never).unwrap_err(),
        SdpProblem::Srtp(SrtpRefusal::Disabled)
    );
}
