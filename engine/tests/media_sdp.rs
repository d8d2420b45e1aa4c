//! The SDP bodies of the RFC 4475 / RFC 5118 torture messages through the media SDP module:
//! parse, inspect, anchor, and print without loss.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use engine::media::sdp::policy::{self, CallType, SUPPORTED};
use engine::media::sdp::{anchor, Anchor, LocalOrigin, MediaKind, SessionDescription};

const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// The torture corpus vendored in the repository (`tests/data/sip-torture`), so a plain clone
/// passes; `SIP_TORTURE_DIR` overrides.
fn torture_body(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("SIP_TORTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip-torture")
        });
    let path = dir.join(name);
    let message = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{name}: no body"));
    message[start + 4..].to_vec()
}

fn parse(name: &str) -> SessionDescription {
    SessionDescription::parse(&torture_body(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn v6(text: &str) -> IpAddr {
    IpAddr::V6(
        text.parse::<Ipv6Addr>()
            .unwrap_or_else(|e| panic!("{text}: {e}")),
    )
}

#[test]
fn rfc5118_ipv6_in_sdp_is_read_and_anchored() {
    let sdp = parse("rfc5118/ipv6-in-sdp.dat");
    assert_eq!(
        sdp.origin.as_ref().map(|o| o.addrtype.as_str()),
        Some("IP6")
    );
    assert_eq!(sdp.media.len(), 2);
    let remote = |i| policy::media_remote(&sdp, i);
    assert_eq!(
        remote(0),
        Some((SocketAddr::new(v6("2001:db8::20"), 6000), None))
    );
    assert_eq!(
        remote(1),
        Some((SocketAddr::new(v6("2001:db8::20"), 6024), None))
    );
    // G726-32 is not relayed (no transcoding yet), video is refused for an audio call.
    let (_, relayed) = policy::plan_offer(&sdp, CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![false, false]);

    // Anchoring itself works on IPv6 for any plain RTP m-line the caller chooses.
    let ours6 = v6("2001:db8::1");
    let anchor6 = Anchor {
        addr: ours6,
        rtp_port: 30000,
        rtcp_port: 30001,
    };
    let mut origin = LocalOrigin::new("ringmaster", 5, ours6);
    let out = anchor::anchor(&sdp, &[Some(anchor6), None], &mut origin)
        .map(|s| s.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.contains("o=ringmaster 5 5 IN IP6 2001:db8::1\r\n"),
        "{out}"
    );
    assert!(out.contains("c=IN IP6 2001:db8::1\r\n"), "{out}");
    assert!(
        out.contains("m=audio 30000 RTP/AVP 2\r\na=rtpmap:2 G726-32/8000\r\n"),
        "{out}"
    );
    assert!(out.ends_with("m=video 0 RTP/AVP 107\r\n"), "{out}");
}

#[test]
fn rfc5118_mixed_ip4_and_ip6_m_lines_keep_their_own_families() {
    let sdp = parse("rfc5118/mult-ip-in-sdp.dat");
    assert!(sdp.connection.is_none());
    assert_eq!(
        sdp.origin.as_ref().map(|o| o.address.as_str()),
        Some("host.example.com")
    );
    let audio = SocketAddr::from(([192, 0, 2, 1], 22334));
    assert_eq!(policy::media_remote(&sdp, 0), Some((audio, None)));
    assert_eq!(
        policy::media_remote(&sdp, 1),
        Some((SocketAddr::new(v6("2001:db8::1"), 6024), None))
    );

    let (filtered, relayed) = policy::plan_offer(&sdp, CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![true, false]);
    let mut origin = LocalOrigin::new("ringmaster", 5, OURS);
    let a = Anchor {
        addr: OURS,
        rtp_port: 30000,
        rtcp_port: 30001,
    };
    let out =
        anchor::anchor(&filtered, &[Some(a), None], &mut origin).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.connection.as_ref().and_then(|c| c.ip()), Some(OURS));
    assert!(out.media.iter().all(|m| m.connection.is_none()));
    assert_eq!((out.media[0].port, out.media[1].port), (30000, 0));
}

#[test]
fn rfc5118_ipv4_mapped_ipv6_reaches_the_ipv4_endpoint() {
    let sdp = parse("rfc5118/ipv4-mapped-ipv6.dat");
    assert_eq!(
        sdp.connection.as_ref().map(|c| c.addrtype.as_str()),
        Some("IP6")
    );
    let expected = SocketAddr::from(([192, 0, 2, 2], 6000));
    assert_eq!(policy::media_remote(&sdp, 0), Some((expected, None)));
}

#[test]
fn rfc4475_sdp01_body_is_processed() {
    let sdp = parse("rfc4475/sdp01.dat");
    let kinds: Vec<_> = sdp.media.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(kinds, vec![MediaKind::Audio, MediaKind::Video]);
    let (filtered, relayed) = policy::plan_offer(&sdp, CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![true, false]);
    // PT 12 (QCELP) is dropped, PCMU stays.
    assert_eq!(filtered.media[0].formats, vec!["0"]);
}

#[test]
fn torture_bodies_print_back_verbatim() {
    for name in [
        "rfc5118/ipv6-in-sdp.dat",
        "rfc5118/mult-ip-in-sdp.dat",
        "rfc5118/ipv4-mapped-ipv6.dat",
        "rfc4475/sdp01.dat",
    ] {
        let body = torture_body(name);
        let printed = parse(name).to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&printed),
            String::from_utf8_lossy(&body),
            "{name}"
        );
    }
}

/// The offer/answer round a B2BUA runs for an anchored audio-only call, on sdp01's offer.
#[test]
fn offer_answer_round_for_an_audio_only_anchored_call() {
    let offer_from_a = parse("rfc4475/sdp01.dat");
    let (filtered, relayed) = policy::plan_offer(&offer_from_a, CallType::Audio, SUPPORTED);
    let ours = |port| {
        Some(Anchor {
            addr: OURS,
            rtp_port: port,
            rtcp_port: port + 1,
        })
    };
    let to_b: Vec<_> = relayed
        .iter()
        .map(|&r| if r { ours(30002) } else { None })
        .collect();
    let mut origin_b = LocalOrigin::new("ringmaster", 77, OURS);
    let offer_to_b = anchor(&filtered, &to_b, &mut origin_b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (offer_to_b.media[0].port, offer_to_b.media[1].port),
        (30002, 0)
    );

    let answer_from_b = SessionDescription::parse(
        b"v=0\r\no=b 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 RTP/AVP 31\r\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let accepted =
        policy::match_answer(&offer_to_b, &answer_from_b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(accepted, vec![true, false]);
    let b_remote = SocketAddr::from(([198, 51, 100, 20], 5004));
    assert_eq!(
        policy::media_remote(&answer_from_b, 0),
        Some((b_remote, None))
    );
    let a_remote = SocketAddr::from(([192, 0, 2, 5], 49217));
    assert_eq!(
        policy::media_remote(&offer_from_a, 0),
        Some((a_remote, None))
    );

    let to_a: Vec<_> = accepted
        .iter()
        .map(|&ok| if ok { ours(30000) } else { None })
        .collect();
    let mut origin_a = LocalOrigin::new("ringmaster", 78, OURS);
    let answer_to_a =
        anchor(&answer_from_b, &to_a, &mut origin_a).unwrap_or_else(|e| panic!("{e}"));
    let text = answer_to_a.to_string();
    assert!(text.contains("c=IN IP4 203.0.113.1\r\n"), "{text}");
    assert!(text.contains("m=audio 30000 RTP/AVP 0\r\n"), "{text}");
    assert!(text.ends_with("m=video 0 RTP/AVP 31\r\n"), "{text}");
    // The answer to A matches A's offer by index too.
    assert_eq!(
        policy::match_answer(&offer_from_a, &answer_to_a),
        Ok(vec![true, false])
    );
}
