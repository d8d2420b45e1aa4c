//! SDP unit tests on real-world bodies (RFC 5737 / RFC 3849 addresses).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::policy::{self, CallType, SUPPORTED};
use super::*;

/// SIPp's built-in UAC offer (`sipp -sn uac`), with its keywords filled in.
const SIPP_UAC: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A Linphone-style softphone offer: Opus/Speex/G.711/G.729, three telephone-events, video,
/// ICE candidates, rtcp-fb, and one line type nobody knows.
const SOFTPHONE: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n\
s=Talk\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
a=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
a=ice-ufrag:8hhY\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=fmtp:100 0-15\r\n\
a=rtcp:7079\r\n\
a=candidate:1 1 UDP 2130706431 198.51.100.7 7078 typ host\r\n\
a=candidate:1 2 UDP 2130706430 198.51.100.7 7079 typ host\r\n\
a=candidate:2 1 UDP 1694498815 203.0.113.9 41000 typ srflx raddr 198.51.100.7 rport 7078\r\n\
a=rtcp-fb:* trr-int 5000\r\n\
y=an unknown line type\r\n\
m=video 9078 RTP/AVP 96 97\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 H264/90000\r\n\
a=fmtp:97 profile-level-id=42801F\r\n\
a=rtcp:9079\r\n\
a=candidate:1 1 UDP 2130706431 198.51.100.7 9078 typ host\r\n\
a=rtcp-fb:* ccm fir\r\n";

/// A hold re-INVITE as RFC 3264 §8.4 has it (sendonly), and the RFC 2543 form.
const HOLD_SENDONLY: &str = "v=0\r\no=bob 2808844564 2808844565 IN IP4 192.0.2.20\r\ns=-\r\n\
c=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=sendonly\r\n";
const HOLD_2543: &str = "v=0\r\no=bob 2808844564 2808844566 IN IP4 192.0.2.20\r\ns=-\r\n\
c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\n";

const V6: &str = "v=0\r\no=- 1 1 IN IP6 2001:db8::20\r\ns=-\r\nc=IN IP6 2001:db8::20\r\n\
t=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtcp:6001 IN IP6 2001:db8::21\r\na=ptime:20\r\n";

const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

fn parse(s: &str) -> SessionDescription {
    match SessionDescription::parse(s.as_bytes()) {
        Ok(sdp) => sdp,
        Err(e) => panic!("fixture does not parse: {e}"),
    }
}

fn anchor_at(port: u16) -> Option<Anchor> {
    Some(Anchor {
        addr: OURS,
        rtp_port: port,
        rtcp_port: port + 1,
    })
}

#[test]
fn sipp_offer_parses_into_the_typed_view() {
    let sdp = parse(SIPP_UAC);
    assert_eq!(sdp.media.len(), 1);
    let audio = &sdp.media[0];
    assert_eq!(
        (audio.kind.clone(), audio.port, audio.proto.as_str()),
        (MediaKind::Audio, 6000, "RTP/AVP")
    );
    assert_eq!(audio.payload_types().collect::<Vec<_>>(), vec![0]);
    assert!(audio.rtpmap(0).is_some_and(|m| m.is("pcmu", 8000)));
    assert_eq!(sdp.direction_of(0), Direction::SendRecv);
    let remote = policy::media_remote(&sdp, 0);
    assert_eq!(
        remote,
        Some((SocketAddr::from(([192, 0, 2, 10], 6000)), None))
    );
}

#[test]
fn printing_round_trips_every_fixture_byte_for_byte() {
    for fixture in [SIPP_UAC, SOFTPHONE, HOLD_SENDONLY, HOLD_2543, V6] {
        assert_eq!(parse(fixture).to_string(), fixture);
    }
}

#[test]
fn lf_only_line_ends_and_trailing_blank_lines_are_accepted() {
    let lf = SIPP_UAC.replace("\r\n", "\n") + "\n\n";
    assert_eq!(parse(&lf).to_string(), SIPP_UAC);
}

#[test]
fn softphone_offer_is_planned_audio_only_and_anchored() {
    let offer = parse(SOFTPHONE);
    let (filtered, relayed) = policy::plan_offer(&offer, CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![true, false]);
    // Offerer's order kept; only PCMU, PCMA and telephone-event/8000 survive.
    assert_eq!(filtered.media[0].formats, vec!["0", "8", "100"]);

    let anchors: Vec<_> = relayed
        .iter()
        .map(|r| r.then(|| anchor_at(30000)).flatten())
        .collect();
    let mut origin = LocalOrigin::new("ringmaster", 42, OURS);
    let out = match anchor::anchor(&filtered, &anchors, &mut origin) {
        Ok(out) => out.to_string(),
        Err(e) => panic!("{e}"),
    };
    let expected = "v=0\r\n\
o=ringmaster 42 42 IN IP4 203.0.113.1\r\n\
s=Talk\r\n\
c=IN IP4 203.0.113.1\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 30000 RTP/AVP 0 8 100\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=fmtp:100 0-15\r\n\
a=rtcp:30001\r\n\
a=rtcp-fb:* trr-int 5000\r\n\
y=an unknown line type\r\n\
m=video 0 RTP/AVP 96 97\r\n";
    assert_eq!(out, expected);
}

#[test]
fn video_is_relayed_only_for_the_video_call_type() {
    let (filtered, relayed) = policy::plan_offer(&parse(SOFTPHONE), CallType::Video, SUPPORTED);
    assert_eq!(relayed, vec![true, true]);
    assert_eq!(
        filtered.media[1].formats,
        ["96", "97"],
        "video codecs pass untouched"
    );
    let (_, relayed) = policy::plan_offer(&parse(SOFTPHONE), CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![true, false]);
}

#[test]
fn audio_without_a_supported_voice_codec_is_not_relayed() {
    let only_opus = SIPP_UAC.replace(
        "RTP/AVP 0\r\na=rtpmap:0 PCMU/8000",
        "RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000",
    );
    let (_, relayed) = policy::plan_offer(&parse(&only_opus), CallType::Audio, SUPPORTED);
    assert_eq!(relayed, vec![false]);
}

#[test]
fn secure_profiles_are_not_relayed_and_anchor_refuses_them() {
    let savp = SIPP_UAC.replace("RTP/AVP", "RTP/SAVP");
    let sdp = parse(&savp);
    assert_eq!(
        policy::plan_offer(&sdp, CallType::Audio, SUPPORTED).1,
        vec![false]
    );
    let mut origin = LocalOrigin::new("ringmaster", 1, OURS);
    let err = anchor::anchor(&sdp, &[anchor_at(30000)], &mut origin);
    assert!(matches!(
        err,
        Err(anchor::AnchorError::NotRelayable { index: 0, .. })
    ));
    let err = anchor::anchor(&sdp, &[], &mut origin);
    assert!(matches!(
        err,
        Err(anchor::AnchorError::MediaCountMismatch {
            media: 1,
            anchors: 0
        })
    ));
}

#[test]
fn hold_is_detected_and_passes_through_anchoring() {
    let mut origin = LocalOrigin::new("ringmaster", 7, OURS);
    let sendonly = parse(HOLD_SENDONLY);
    assert!(policy::is_hold(&sendonly, 0));
    let out = anchor::anchor(&sendonly, &[anchor_at(30000)], &mut origin).map(|s| s.to_string());
    assert!(out
        .as_deref()
        .is_ok_and(|s| s.contains("a=sendonly\r\n") && s.contains("c=IN IP4 203.0.113.1")));

    let zero = parse(HOLD_2543);
    assert!(policy::is_hold(&zero, 0));
    assert_eq!(policy::media_remote(&zero, 0), None);
    let out = anchor::anchor(&zero, &[anchor_at(30000)], &mut origin).map(|s| s.to_string());
    assert!(out
        .as_deref()
        .is_ok_and(|s| s.contains("c=IN IP4 0.0.0.0\r\n") && s.contains("m=audio 30000 ")));

    assert!(!policy::is_hold(&parse(SIPP_UAC), 0));
}

#[test]
fn session_level_direction_is_the_default_and_media_level_wins() {
    let text = SIPP_UAC.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
    let mut sdp = parse(&text);
    assert_eq!(sdp.direction_of(0), Direction::Inactive);
    assert!(policy::is_hold(&sdp, 0));
    sdp.media[0].set_direction(Direction::RecvOnly);
    assert_eq!(sdp.direction_of(0), Direction::RecvOnly);
    assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
}

#[test]
fn ipv6_offer_gives_v6_remotes_and_anchors_as_ip6() {
    let sdp = parse(V6);
    let v6 = |s: &str| s.parse::<Ipv6Addr>().map(IpAddr::V6).ok();
    let remote = policy::media_remote(&sdp, 0);
    assert_eq!(
        remote,
        Some((
            SocketAddr::new(v6("2001:db8::20").unwrap_or(OURS), 6000),
            Some(SocketAddr::new(v6("2001:db8::21").unwrap_or(OURS), 6001))
        ))
    );
    assert_eq!(sdp.media[0].ptime(), Some(20));
    let ours6 = v6("2001:db8::1").unwrap_or(OURS);
    let mut origin = LocalOrigin::new("ringmaster", 9, ours6);
    let anchor = Anchor {
        addr: ours6,
        rtp_port: 40000,
        rtcp_port: 40001,
    };
    let out = anchor::anchor(&sdp, &[Some(anchor)], &mut origin).map(|s| s.to_string());
    let out = out.unwrap_or_default();
    assert!(
        out.contains("o=ringmaster 9 9 IN IP6 2001:db8::1\r\n"),
        "{out}"
    );
    assert!(out.contains("c=IN IP6 2001:db8::1\r\n"));
    assert!(out.contains("a=rtcp:40001\r\n"));
}

#[test]
fn mixed_families_get_media_level_connections() {
    let sdp = parse(SOFTPHONE);
    let ours6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let anchors = [
        anchor_at(30000),
        Some(Anchor {
            addr: ours6,
            rtp_port: 30002,
            rtcp_port: 30003,
        }),
    ];
    let mut origin = LocalOrigin::new("ringmaster", 1, OURS);
    let out = anchor::anchor(&sdp, &anchors, &mut origin).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.connection.as_ref().map(|c| c.addrtype.as_str()),
        Some("IP4")
    );
    assert_eq!(out.media[0].connection, None);
    assert_eq!(out.media[1].connection, Some(Connection::for_ip(ours6)));
    assert!(out
        .to_string()
        .contains("m=video 30002 RTP/AVP 96 97\r\nc=IN IP6 2001:db8::1\r\n"));
}

#[test]
fn rtcp_attribute_is_added_only_when_not_rtp_plus_one() {
    let sdp = parse(SIPP_UAC);
    let mut origin = LocalOrigin::new("ringmaster", 1, OURS);
    let odd = Anchor {
        addr: OURS,
        rtp_port: 30000,
        rtcp_port: 30011,
    };
    let out = anchor::anchor(&sdp, &[Some(odd)], &mut origin)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(out.ends_with("a=rtcp:30011\r\n"), "{out}");
    let out = anchor::anchor(&sdp, &[anchor_at(30000)], &mut origin)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(!out.contains("a=rtcp"));
}

#[test]
fn origin_version_moves_only_when_the_description_changes() {
    let mut origin = LocalOrigin::new("ringmaster", 100, OURS);
    let sdp = parse(SIPP_UAC);
    let first = anchor::anchor(&sdp, &[anchor_at(30000)], &mut origin).ok();
    let again = anchor::anchor(&sdp, &[anchor_at(30000)], &mut origin).ok();
    assert_eq!(first, again);
    assert_eq!(origin.version(), 100);
    let hold = parse(HOLD_SENDONLY);
    let held = anchor::anchor(&hold, &[anchor_at(30000)], &mut origin).ok();
    assert_eq!(origin.version(), 101);
    assert_eq!(
        held.and_then(|s| s.origin).map(|o| o.session_id),
        Some("100".to_owned())
    );
}

#[test]
fn answers_match_offers_by_index() {
    let offer = parse(SOFTPHONE);
    let mut answer = offer.clone();
    answer.media[1].port = 0;
    assert_eq!(policy::match_answer(&offer, &answer), Ok(vec![true, false]));

    answer.media.pop();
    assert_eq!(
        policy::match_answer(&offer, &answer),
        Err(policy::AnswerError::MediaCount {
            offer: 2,
            answer: 1
        })
    );

    let mut swapped = offer.clone();
    swapped.media.swap(0, 1);
    assert!(matches!(
        policy::match_answer(&offer, &swapped),
        Err(policy::AnswerError::MediaKind { index: 0, .. })
    ));

    let mut disabled = offer.clone();
    disabled.media[1].port = 0;
    assert_eq!(
        policy::match_answer(&disabled, &offer),
        Err(policy::AnswerError::AcceptedDisabled { index: 1 })
    );
}

#[test]
fn static_payload_types_are_known_without_rtpmap() {
    let mut media = parse("v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 18 8 0 13\r\n")
        .media
        .remove(0);
    assert_eq!(policy::codec_of(&media, 8), Some(("PCMA".to_owned(), 8000)));
    assert_eq!(policy::filter_codecs(&mut media, SUPPORTED), 2);
    assert_eq!(media.formats, vec!["8", "0"]);
}

#[test]
fn bounds_and_malformed_input_are_errors() {
    let e = |s: &[u8]| SessionDescription::parse(s).err();
    assert_eq!(
        e(&vec![b'a'; MAX_SDP_LEN + 1]),
        Some(SdpError::TooLarge {
            len: MAX_SDP_LEN + 1,
            max: MAX_SDP_LEN
        })
    );
    assert_eq!(e(b""), Some(SdpError::Empty));
    assert_eq!(e(b"v=1\r\n"), Some(SdpError::MissingVersion));
    assert_eq!(e(b"v=0\r\n\xff\r\n"), Some(SdpError::NotUtf8));
    assert_eq!(
        e(b"v=0\r\nnot a line\r\n"),
        Some(SdpError::MalformedLine { line: 2 })
    );
    assert!(matches!(
        e(b"v=0\r\nc=IN IP4\r\n"),
        Some(SdpError::MalformedField { line: 2, .. })
    ));
    assert!(matches!(
        e(b"v=0\r\nc=IN IP4 2001:db8::1\r\n"),
        Some(SdpError::MalformedField { .. })
    ));
    assert!(matches!(
        e(b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n"),
        Some(SdpError::MalformedField { .. })
    ));
    assert!(matches!(
        e(b"v=0\r\nm=audio 7000 RTP/AVP\r\n"),
        Some(SdpError::MalformedField { .. })
    ));
    assert!(matches!(
        e(b"v=0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n"),
        Some(SdpError::Duplicate { line: 3, .. })
    ));

    let many_media = format!("v=0\r\n{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
    assert_eq!(
        e(many_media.as_bytes()),
        Some(SdpError::TooManyMedia { max: MAX_MEDIA })
    );
    let many_attrs = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_ATTRIBUTES + 1));
    assert_eq!(
        e(many_attrs.as_bytes()),
        Some(SdpError::TooManyAttributes {
            max: MAX_ATTRIBUTES
        })
    );
}

#[test]
fn mangled_fixtures_never_panic_and_what_parses_reprints_and_reparses() {
    // Every truncation, and a byte flip at every position, of every fixture.
    for fixture in [SIPP_UAC, SOFTPHONE, HOLD_2543, V6] {
        let bytes = fixture.as_bytes();
        let mut parsed = 0;
        for i in 0..bytes.len() {
            let mut flipped = bytes.to_vec();
            flipped[i] ^= 0x5a;
            for input in [&bytes[..i], &flipped[..]] {
                if let Ok(sdp) = SessionDescription::parse(input) {
                    parsed += 1;
                    // Printing is a fixed point: what we print parses back to the same text.
                    let printed = sdp.to_string();
                    let again =
                        SessionDescription::parse(printed.as_bytes()).map(|s| s.to_string());
                    assert_eq!(again, Ok(printed));
                }
            }
        }
        assert!(parsed > 0);
    }
}
