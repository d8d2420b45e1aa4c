//! Media actions in the call core, on the virtual clock (issue "Media in calls"): the caller is
//! answered when the script first needs media, prompts are loaded by the shell and played by
//! the media task, digits (RFC 4733 or SIP INFO) reach `input`/`play_get_input`, recordings
//! end with the call and are always reported, and each leg's codecs reach the media task.

mod common;

use common::call_rig::Rig;
use engine::call::media_actions::AudioRequest;
use engine::media::{AudioCodec, Command as MediaCommand, Event, Leg};
use pcmo::MediaId;

fn play_done(rig: &mut Rig, id: u64) {
    rig.media_event(Event::PlayDone {
        id,
        completed: true,
    });
}

#[test]
fn play_before_any_connect_answers_the_caller_then_the_script_goes_on() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"play","file_name":"welcome.wav"},{"action":"hangup"}]"#);
    assert_eq!(rig.sip(), ["A<-180", "A<-200"], "answered for the prompt");
    assert_eq!(
        rig.loads,
        [(MediaId(1), AudioRequest::File("welcome.wav".into()))]
    );
    assert!(
        !rig.log.contains(&"media Play".to_string()),
        "not before it is loaded"
    );
    rig.audio_loaded(MediaId(1), Some(8000));
    let played = rig.media_cmds.iter().find_map(|c| match c {
        MediaCommand::Play { id, leg, audio } => Some((*id, *leg, audio.len())),
        _ => None,
    });
    assert_eq!(played, Some((1, Leg::A, 8000)));
    assert_eq!(
        rig.sip(),
        ["A<-180", "A<-200"],
        "hangup waits for the prompt"
    );
    play_done(&mut rig, 1);
    assert_eq!(rig.sip(), ["A<-180", "A<-200", "A<-BYE"]);
    rig.answer_pending(200);
    assert!(rig.finished);
}

#[test]
fn a_prompt_that_cannot_be_loaded_is_an_error_event_and_the_script_goes_on() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(
        r#"[{"action":"play","file_url":"https://app.example.com/missing.wav"},{"action":"speak","text":"Sorry"}]"#,
    );
    rig.audio_loaded(MediaId(1), None);
    assert!(
        rig.log.contains(&"error play_failed".to_string()),
        "{:#?}",
        rig.log
    );
    assert_eq!(rig.loads.len(), 2, "the next action ran");
    match &rig.loads[1].1 {
        AudioRequest::Speak(s) => assert_eq!(s.text, "Sorry"),
        other => panic!("{other:?}"),
    }
    match &rig.loads[0].1 {
        AudioRequest::Url(u) => assert_eq!(u, "https://app.example.com/missing.wav"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn play_get_input_posts_the_digits_and_runs_the_script_that_comes_back() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(
        r##"[{"action":"play_get_input","file_name":"menu.wav","max_digit":3,"timeout":5,"action_url":"https://app.example.com/menu"},{"action":"hangup"}]"##,
    );
    rig.audio_loaded(MediaId(1), Some(1600));
    play_done(&mut rig, 1);
    rig.advance(0.5);
    rig.press("123");
    let (fetch_id, url, body) = rig.fetches.last().cloned().expect("action URL fetched");
    assert_eq!(url, "https://app.example.com/menu");
    assert_eq!(body["dtmf"], "123");
    assert_eq!(body["cmiuuid"], "call-1");
    rig.feed(engine::call::Input::ScriptFetched {
        fetch_id: fetch_id.expect("an action-URL fetch"),
        result: Ok(r#"[{"action":"speak","text":"Thanks"}]"#.into()),
    });
    match &rig.loads.last().unwrap().1 {
        AudioRequest::Speak(s) => assert_eq!(s.text, "Thanks", "the new script replaced the rest"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_input_replays_the_prompt_max_retry_times_then_goes_on() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(
        r#"[{"action":"play_get_input","file_name":"menu.wav","max_digit":1,"max_retry":2,"timeout":5,"action_url":"https://app.example.com/menu"},{"action":"hangup"}]"#,
    );
    // Each round: the prompt loads and plays to its end, then nobody types for 5.5 s.
    for _ in 0..10 {
        if rig.fetches.iter().any(|f| f.0.is_some()) {
            break;
        }
        let (id, _) = rig.loads.last().cloned().expect("a prompt");
        let played = rig
            .media_cmds
            .iter()
            .any(|c| matches!(c, MediaCommand::Play { id: p, .. } if *p == id.0));
        if !played {
            rig.audio_loaded(id, Some(800));
            play_done(&mut rig, id.0);
        }
        rig.advance(5.5);
    }
    let prompts = rig
        .loads
        .iter()
        .filter(|(_, r)| *r == AudioRequest::File("menu.wav".into()))
        .count();
    assert_eq!(
        prompts, 3,
        "played once, then replayed max_retry (2) times\n{:#?}",
        rig.log
    );
    let (_, _, body) = rig.fetches.last().cloned().unwrap();
    assert_eq!(
        body["dtmf"], "",
        "the app still hears that nothing was typed"
    );
}

#[test]
fn sip_info_digits_count_like_rfc_4733_ones() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(
        r#"[{"action":"input","max_digit":2,"timeout":5,"action_url":"https://app.example.com/dtmf"}]"#,
    );
    assert_eq!(rig.sip(), ["A<-180", "A<-200"]);
    rig.a_info("application/dtmf-relay", "Signal=4\nDuration=160\n");
    rig.a_info("application/dtmf", "7");
    assert_eq!(rig.sip()[2..], ["A<-200", "A<-200"], "each INFO answered");
    let (_, _, body) = rig.fetches.last().cloned().unwrap();
    assert_eq!(body["dtmf"], "47");
    rig.a_info("application/dtmf-relay", "Signal=oops\n");
    assert_eq!(
        rig.sip().last(),
        Some(&"A<-400"),
        "an unreadable digit is refused"
    );
}

#[test]
fn a_recording_ends_with_the_call_and_is_reported_before_the_call_finishes() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(
        r#"[{"action":"record"},{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#,
    );
    let path = rig.media_cmds.iter().find_map(|c| match c {
        MediaCommand::Record { id, path, .. } => Some((*id, path.clone())),
        _ => None,
    });
    let (id, path) = path.expect("recording started");
    assert_eq!(
        path,
        std::path::Path::new("/var/lib/ringmaster/recordings/1234567/call-1-1.wav")
    );
    rig.b(1, 200);
    rig.a_bye();
    rig.answer_pending(200);
    assert!(rig.log.contains(&"media StopRecord".to_string()));
    assert!(!rig.finished, "waits for the file to be final");
    rig.media_event(Event::RecordDone {
        id,
        path: path.clone(),
        duration_ms: 4200,
        ok: true,
    });
    assert!(
        rig.log.contains(&"recording call-1-1 ok=true".to_string()),
        "{:#?}",
        rig.log
    );
    assert!(rig.finished);
}

#[test]
fn a_recording_the_media_task_never_confirms_is_reported_failed_after_a_grace_period() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"record"},{"action":"hangup"}]"#);
    rig.answer_pending(200);
    assert!(!rig.finished);
    rig.advance(11.0);
    assert!(
        rig.log.contains(&"recording call-1-1 ok=false".to_string()),
        "{:#?}",
        rig.log
    );
    assert!(rig.finished);
}

#[test]
fn each_legs_codecs_reach_the_media_task() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 200);
    let codecs: Vec<(Leg, AudioCodec, Option<u8>)> = rig
        .media_cmds
        .iter()
        .filter_map(|c| match c {
            MediaCommand::SetCodecs { leg, codecs } => {
                Some((*leg, codecs.audio, codecs.telephone_event))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        codecs,
        [
            (Leg::B, AudioCodec::Pcmu, Some(101)),
            (Leg::A, AudioCodec::Pcmu, Some(101))
        ]
    );
}

/// SDES: an `RTP/SAVP` caller's key reaches the media task as leg A's inbound key, our own key
/// for A (the call's, from the shell) is in A's answer and is A's outbound key; a plain callee
/// is offered plain RTP, never a key, and its leg is plain in the media task.
#[test]
fn an_srtp_callers_keys_reach_the_media_task_and_a_plain_callee_sees_none() {
    use engine::media::sdp::crypto::CryptoAttr;
    use engine::media::srtp::MasterKey;
    const KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    let sdp = common::call_rig::A_SDP.replace(" RTP/AVP ", " RTP/SAVP ")
        + &format!("a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n");
    let mut rig = Rig::inbound_offering(&[("bob", &[1])], None, &sdp);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    let offer = String::from_utf8_lossy(&rig.invite_of(1).body).to_string();
    assert!(
        offer.contains(" RTP/AVP ") && !offer.contains("crypto"),
        "{offer}"
    );
    rig.b(1, 200);
    let theirs = CryptoAttr::parse(&format!("7 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"))
        .unwrap()
        .key;
    let keys: Vec<_> = rig
        .media_cmds
        .iter()
        .filter_map(|c| match c {
            MediaCommand::SetSrtp { leg, keys } => Some((*leg, keys.clone())),
            _ => None,
        })
        .collect();
    let a = keys
        .iter()
        .find_map(|(leg, k)| (*leg == Leg::A).then_some(k.clone()))
        .flatten()
        .expect("leg A's keys");
    assert_eq!(
        (a.inbound.clone(), a.outbound.clone()),
        (theirs, MasterKey::new([1; 30]))
    );
    assert!(keys.contains(&(Leg::B, None)), "{keys:?}");
    let ok = rig.a_ok().expect("A answered");
    let answer = String::from_utf8_lossy(&ok.body).to_string();
    assert!(answer.contains(" RTP/SAVP "), "{answer}");
    let line = answer
        .lines()
        .find_map(|l| l.strip_prefix("a=crypto:"))
        .expect("our a=crypto");
    let ours = CryptoAttr::parse(line).unwrap();
    assert_eq!((ours.tag, ours.key), (7, MasterKey::new([1; 30])));
}

/// RTP latching (`media::latch`): the media task learns where each leg's SIP comes from — the
/// caller's source, the address the answered B leg's INVITE went to — before its latch window
/// opens, so a NATed phone's RTP can latch and a stranger's cannot.
#[test]
fn each_legs_signalling_source_reaches_the_media_task_before_its_latch_window() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 200);
    let position = |want: &dyn Fn(&MediaCommand) -> bool| {
        rig.media_cmds
            .iter()
            .position(want)
            .unwrap_or_else(|| panic!("not sent: {:?}", rig.media_cmds))
    };
    for (leg, ip) in [(Leg::A, "192.0.2.10"), (Leg::B, "198.51.100.1")] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        let source = position(
            &|c| matches!(c, MediaCommand::SetSignallingSource { leg: l, ip: i } if *l == leg && *i == ip),
        );
        let window =
            position(&|c| matches!(c, MediaCommand::OpenLatchWindow { leg: l } if *l == leg));
        assert!(source < window, "{leg:?}: {:?}", rig.media_cmds);
    }
}
