use super::tests::{anchor_at, srtp, OFFER, US};
use super::*;
use crate::media::sdp::webrtc::WebRtcLocal;
use crate::media::AudioCodec;

const BROWSER_OFFER: &str = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Xy1z\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\na=setup:actpass\r\na=mid:0\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\na=ssrc:1234567 cname:abc\r\n";

fn locals() -> Box<[WebRtcLocal; 2]> {
    let local = |ufrag: &str, ssrc| WebRtcLocal {
        ufrag: ufrag.into(),
        pwd: "pwdpwdpwdpwdpwdpwdpwdpwd".into(),
        fingerprint: "sha-256 AA:BB".into(),
        ssrc,
        video_ssrc: ssrc + 1,
    };
    Box::new([local("ufA1", 11), local("ufB2", 22)])
}

#[test]
fn a_browser_caller_reaches_a_phone_as_plain_rtp_and_is_answered_webrtc() {
    let mut p =
        MediaPlan::from_offer(BROWSER_OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    assert!(p.a_is_webrtc());
    assert_eq!(p.a_remote(), None, "a browser's SDP address means nothing");
    p.set_webrtc_locals(Some(locals()));
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(
        offer.contains("m=audio 30002 RTP/AVP 0 8 126\r\n"),
        "{offer}"
    );
    for gone in [
        "ice-",
        "fingerprint",
        "setup",
        "mid",
        "ssrc",
        "BUNDLE",
        "rtcp-mux",
    ] {
        assert!(!offer.contains(gone), "{gone} in {offer}");
    }
    let answer = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\n";
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    assert!(b.webrtc.is_none(), "B is a phone");
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    for want in [
        "m=audio 30000 UDP/TLS/RTP/SAVPF 0 126\r\n",
        "a=ice-lite\r\n",
        "a=group:BUNDLE 0\r\n",
        "a=mid:0\r\n",
        "a=ice-ufrag:ufA1\r\n",
        "a=setup:passive\r\n",
        "a=rtcp-mux\r\n",
        "a=candidate:1 1 udp 2130706431 203.0.113.1 30000 typ host\r\n",
    ] {
        assert!(to_a.contains(want), "{want:?} missing in {to_a}");
    }
    let (codecs, session) = p.sent_to_a(&b.to_a);
    assert_eq!(codecs.unwrap().audio_pt, 0);
    let session = session.expect("A's media learns it is a browser");
    assert_eq!(session.remote.ufrag, "Xy1z");
    assert_eq!(session.local.ufrag, "ufA1");
    assert!(session.payload_types.contains(&(0, "PCMU".into(), 8000)));
    assert!(session
        .payload_types
        .contains(&(126, "telephone-event".into(), 8000)));
    let (_, again) = p.sent_to_a(&b.to_a);
    assert!(again.is_none(), "a refresh does not restart the peer");
}

#[test]
fn a_browser_callee_is_offered_webrtc_and_its_answer_sets_up_leg_b() {
    let mut p = MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    assert!(!p.a_is_webrtc());
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    assert!(p.offer_to_b_webrtc().is_none(), "no identity, no browser");
    p.set_webrtc_locals(Some(locals()));
    let offer = String::from_utf8(p.offer_to_b_webrtc().unwrap().to_vec()).unwrap();
    for want in [
        "m=audio 30002 UDP/TLS/RTP/SAVPF 0 8 101\r\n",
        "a=setup:actpass\r\n",
        "a=ice-ufrag:ufB2\r\n",
        "a=ssrc:22 cname:ringmaster\r\n",
        "m=video 0 UDP/TLS/RTP/SAVPF",
    ] {
        assert!(offer.contains(want), "{want:?} missing in {offer}");
    }
    let answer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:brws\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 0A:1B\r\na=setup:active\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ssrc:777 cname:x\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n";
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    let session = b.webrtc.expect("B is a browser");
    assert_eq!(session.remote.ssrcs, vec![777]);
    assert!(
        !session.remote.we_are_dtls_client(),
        "the browser is active"
    );
    assert_eq!(session.local.ufrag, "ufB2");
    assert!(p.b_is_webrtc());
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(
        to_a.contains("m=audio 30000 RTP/AVP 0 101\r\n"),
        "A is a phone: {to_a}"
    );
    assert!(!to_a.contains("ice-"), "{to_a}");
}

#[test]
fn browser_to_browser_video_rides_the_audio_transport() {
    let video = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Xy1z\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 0A:1B\r\na=setup:actpass\r\na=mid:1\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:98 VP9/90000\r\na=ssrc-group:FID 5555 6666\r\na=ssrc:5555 cname:abc\r\na=ssrc:6666 cname:abc\r\n";
    let offer = BROWSER_OFFER.replace("a=group:BUNDLE 0", "a=group:BUNDLE 0 1") + video;
    let mut p = MediaPlan::from_offer(offer.as_bytes(), CallType::Video, 9, US, srtp()).unwrap();
    assert!(!p.offers_video(), "no separate video ports for a browser");
    p.set_webrtc_locals(Some(locals()));
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let plain = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(
        plain.contains("m=video 0 "),
        "a phone gets no video: {plain}"
    );
    let to_b = String::from_utf8(p.offer_to_b_webrtc().unwrap().to_vec()).unwrap();
    for want in [
        "a=group:BUNDLE 0 1\r\n",
        "m=video 30002 UDP/TLS/RTP/SAVPF 96\r\n",
        "a=rtcp-fb:96 nack pli\r\n",
        "a=ssrc:23 cname:ringmaster\r\n",
    ] {
        assert!(to_b.contains(want), "{want:?} missing in {to_b}");
    }
    let answer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 126\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:brws\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 0A:1B\r\na=setup:active\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=ssrc:777 cname:x\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=ssrc:888 cname:x\r\n";
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    let b_session = b.webrtc.expect("B is a browser");
    let b_video = b_session.video.expect("B took video");
    assert_eq!(
        (b_video.mid.as_str(), b_video.ssrcs.as_slice()),
        ("1", &[888][..])
    );
    assert_eq!(b_video.payload_types, vec![(96, "VP8".to_owned(), 90_000)]);
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(
        to_a.contains("m=video 30000 UDP/TLS/RTP/SAVPF 96\r\n"),
        "{to_a}"
    );
    assert!(to_a.contains("a=group:BUNDLE 0 1\r\n"), "{to_a}");
    let (_, a_session) = p.sent_to_a(&b.to_a);
    let a_video = a_session.unwrap().video.expect("A's video is carried");
    assert_eq!(a_video.ssrcs, vec![5555, 6666]);
    assert_eq!(a_video.mid, "1");
}

#[test]
fn an_opus_only_browser_is_planned_as_g711_and_answered_opus() {
    let offer = BROWSER_OFFER
        .replace("111 0 8 126", "111 126")
        .replace("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", "");
    let mut p = MediaPlan::from_offer(offer.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
    p.set_webrtc_locals(Some(locals()));
    p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
    let to_b = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
    assert!(to_b.contains("m=audio 30002 RTP/AVP 0 8 126\r\n"), "{to_b}");
    assert!(!to_b.contains("opus"), "{to_b}");
    let answer = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 126\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n";
    let b = p.on_b_answer(answer.as_bytes()).unwrap();
    let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
    assert!(
        to_a.contains("m=audio 30000 UDP/TLS/RTP/SAVPF 111 126\r\n"),
        "{to_a}"
    );
    assert!(to_a.contains("a=rtpmap:111 opus/48000/2\r\n"), "{to_a}");
    assert!(!to_a.contains("PCMU") && !to_a.contains("PCMA"), "{to_a}");
    let (codecs, session) = p.sent_to_a(&b.to_a);
    let codecs = codecs.unwrap();
    assert_eq!(
        (codecs.audio, codecs.telephone_event),
        (AudioCodec::Pcmu, Some(126))
    );
    assert_eq!(
        session.unwrap().opus,
        Some(111),
        "A's media task transcodes"
    );
}
