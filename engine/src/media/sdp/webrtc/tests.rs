use super::*;

/// What Chromium offers for a microphone (trimmed of some codecs, otherwise as sent).
const CHROME_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 3c1d\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\n\
a=ice-ufrag:Xy1z\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:3c1d 9f2e\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1234567 cname:abc\r\n\
a=ssrc:1234567 msid:3c1d 9f2e\r\n";

fn offer() -> SessionDescription {
    SessionDescription::parse(CHROME_OFFER.as_bytes()).unwrap()
}

fn local() -> WebRtcLocal {
    WebRtcLocal {
        ufrag: "rmUfrag1".into(),
        pwd: "rmPasswordRmPasswordRm12".into(),
        fingerprint: "sha-256 AA:BB".into(),
        ssrc: 42,
        video_ssrc: 43,
    }
}

#[test]
fn a_browser_offer_is_read() {
    let sdp = offer();
    assert_eq!(first_webrtc(&sdp), Some(0));
    let remote = WebRtcRemote::from_media(&sdp, 0).unwrap();
    assert_eq!(remote.ufrag, "Xy1z");
    assert_eq!(remote.pwd, "abcdefghijklmnopqrstuvwx");
    assert!(remote.fingerprint.starts_with("sha-256 0A:1B"));
    assert_eq!(remote.setup, Setup::ActPass);
    assert_eq!(remote.mid.as_deref(), Some("0"));
    assert_eq!(remote.ssrcs, vec![1_234_567]);
    assert_eq!(remote.mid_extension, Some(4));
    assert!(!remote.we_are_dtls_client());
}

#[test]
fn unusable_browser_descriptions_say_why() {
    let no_ice = CHROME_OFFER.replace("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", "");
    let sdp = SessionDescription::parse(no_ice.as_bytes()).unwrap();
    assert_eq!(
        WebRtcRemote::from_media(&sdp, 0),
        Err(WebRtcError::NoIceCredentials)
    );
    let sha1 = CHROME_OFFER.replace("a=fingerprint:sha-256", "a=fingerprint:sha-1");
    let sdp = SessionDescription::parse(sha1.as_bytes()).unwrap();
    assert_eq!(
        WebRtcRemote::from_media(&sdp, 0),
        Err(WebRtcError::Fingerprint)
    );
    assert_eq!(
        WebRtcRemote::from_media(&sdp, 5),
        Err(WebRtcError::NoIceCredentials)
    );
}

#[test]
fn made_plain_it_is_an_ordinary_offer() {
    let mut sdp = offer();
    to_plain(&mut sdp);
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert!(text.contains("m=audio 9 RTP/AVP 111 0 8 126\r\n"), "{text}");
    for gone in [
        "a=ssrc",
        "a=msid",
        "a=mid",
        "a=extmap",
        "a=rtcp-fb",
        "a=rtcp:",
        "a=group",
    ] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
    assert!(text.contains("a=rtpmap:126 telephone-event/8000"), "{text}");
}

#[test]
fn a_plain_description_towards_a_browser_gets_our_side() {
    let plain = "v=0\r\no=ringmaster 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=rtcp:30003\r\nm=video 30004 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    let mut sdp = SessionDescription::parse(plain.as_bytes()).unwrap();
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    to_webrtc(
        &mut sdp,
        0,
        &[],
        &local(),
        Setup::Passive,
        ip,
        &[Some("a0".into())],
        Some(4),
    );
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    for want in [
        "a=ice-lite\r\n",
        "a=group:BUNDLE a0\r\n",
        "m=audio 30000 UDP/TLS/RTP/SAVPF 0 126\r\n",
        "a=mid:a0\r\n",
        "a=ice-ufrag:rmUfrag1\r\n",
        "a=ice-pwd:rmPasswordRmPasswordRm12\r\n",
        "a=fingerprint:sha-256 AA:BB\r\n",
        "a=setup:passive\r\n",
        "a=rtcp-mux\r\n",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 30000 typ host\r\n",
        "a=ssrc:42 cname:ringmaster\r\n",
        "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n",
        "a=mid:1\r\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in {text}");
    }
    assert!(
        !text.contains("a=rtcp:"),
        "rtcp-mux, no separate port: {text}"
    );
    let back = SessionDescription::parse(text.as_bytes()).unwrap();
    let remote = WebRtcRemote::from_media(&back, 0).unwrap();
    assert_eq!(remote.ssrcs, vec![42]);
    assert_eq!(remote.setup, Setup::Passive);
    assert!(
        remote.we_are_dtls_client(),
        "towards a passive side we are the client"
    );
}
