//! Video in the call core (virtual clock): `call_type: "video"` gets the call a second media
//! task whose ports B is offered and A is answered with; `audio` (the default) disables video.

mod common;

use common::call_rig::Rig;
use engine::media::{Command as MediaCommand, Leg};

const AV_OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
const AV_ANSWER: &str = "v=0\r\no=bob 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 50010 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

fn body(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn call_type_video_relays_video_on_its_own_ports() {
    let mut rig = Rig::inbound_offering(&[("bob", &[1])], None, AV_OFFER);
    rig.answer_url(
        r#"[{"action":"connect","call_type":"video","call":[{"type":"sip","user":"bob"}]}]"#,
    );
    let offer = body(&rig.invite_of(1).body);
    assert!(offer.contains("m=audio 30002 "), "{offer}");
    assert!(
        offer.contains("m=video 30006 RTP/AVP 96\r\n"),
        "B is offered our video port: {offer}"
    );
    rig.b_answering(1, 200, AV_ANSWER);
    let ok = body(&rig.a_ok().expect("A answered").body);
    assert!(
        ok.contains("m=video 30004 RTP/AVP 96\r\n"),
        "A gets our A-side video port: {ok}"
    );
    assert!(!ok.contains("198.51.100.1"), "{ok}");
    let remotes: Vec<(Leg, u16)> = rig
        .video_cmds
        .iter()
        .filter_map(|c| match c {
            MediaCommand::SetRemote { leg, rtp, .. } => Some((*leg, rtp.port())),
            _ => None,
        })
        .collect();
    assert_eq!(remotes, [(Leg::A, 40002), (Leg::B, 50010)]);
    assert!(rig
        .video_cmds
        .iter()
        .any(|c| matches!(c, MediaCommand::Bridge)));
    assert!(
        rig.video_cmds
            .iter()
            .any(|c| matches!(c, MediaCommand::SetRtpTimeout { after: None })),
        "a paused camera must not end the call"
    );
    rig.a_bye();
    rig.answer_pending(200);
    assert!(rig.finished);
    assert!(matches!(rig.video_cmds.last(), Some(MediaCommand::Stop)));
}

#[test]
fn call_type_audio_disables_video_and_allocates_nothing_for_it() {
    let mut rig = Rig::inbound_offering(&[("bob", &[1])], None, AV_OFFER);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    let offer = body(&rig.invite_of(1).body);
    assert!(offer.contains("m=video 0 "), "{offer}");
    let answer = AV_ANSWER.replace("m=video 50010", "m=video 0");
    rig.b_answering(1, 200, &answer);
    let ok = body(&rig.a_ok().expect("A answered").body);
    assert!(ok.contains("m=video 0 "), "{ok}");
    assert!(rig.video_cmds.is_empty());
}
