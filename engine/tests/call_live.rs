//! Live control of the call core on the virtual clock: every command in every call state
//! (ringing, answered, bridged, ended), commands racing hang-ups, a REST-driven call handed to
//! a PCMO script and taken back.

mod common;

use std::time::Duration;

use common::call_rig::Rig;
use engine::call::live::{
    GatherReason, GatherSpec, LiveAccepted, LiveCommand, LiveError, LiveEvent, LivePrompt,
    LiveSource,
};
use engine::media::sdp::Anchor;
use engine::media::Command as MediaCommand;

fn speak(text: &str, looped: bool) -> LiveCommand {
    LiveCommand::Play(LivePrompt {
        source: LiveSource::Speak {
            text: text.into(),
            voice: pcmo::Voice::default(),
        },
        looped,
        tag: Some("greeting".into()),
    })
}

fn gather(max: usize, term: &str) -> LiveCommand {
    LiveCommand::Gather(GatherSpec {
        max_digits: max,
        inter_digit_timeout: Duration::from_secs(5),
        terminating_digits: term.into(),
        prompt: None,
        bargeable: true,
        tag: Some("pin".into()),
    })
}

fn peer() -> Anchor {
    Anchor {
        addr: "203.0.113.1".parse().unwrap(),
        rtp_port: 31002,
        rtcp_port: 31003,
    }
}

fn lives(rig: &Rig) -> Vec<String> {
    rig.live.iter().map(common::call_rig::live_name).collect()
}

#[test]
fn an_auto_answered_inbound_call_is_answered_then_announced() {
    let rig = Rig::inbound_live(&[], true);
    assert_eq!(rig.sip(), ["A<-180", "A<-200"]);
    assert_eq!(lives(&rig), ["incoming answered=true"]);
    // No answer URL is fetched for a live call.
    assert!(rig.fetches.is_empty());
}

#[test]
fn a_ringing_call_is_answered_by_command_and_only_once() {
    let mut rig = Rig::inbound_live(&[], false);
    assert_eq!(rig.sip(), ["A<-180"]);
    assert_eq!(lives(&rig), ["incoming answered=false"]);
    // Media commands need an active call.
    assert_eq!(rig.command(speak("hi", false)), Err(LiveError::NotActive));
    assert_eq!(rig.command(gather(4, "#")), Err(LiveError::NotActive));
    assert_eq!(
        rig.command(LiveCommand::SendDtmf("1".into())),
        Err(LiveError::NotActive)
    );
    assert_eq!(rig.command(LiveCommand::Answer), Ok(LiveAccepted::Done));
    assert_eq!(rig.sip(), ["A<-180", "A<-200"]);
    assert_eq!(rig.command(LiveCommand::Answer), Err(LiveError::NotRinging));
    assert_eq!(
        rig.command(LiveCommand::Reject(603)),
        Err(LiveError::NotRinging)
    );
}

#[test]
fn a_ringing_call_is_rejected_with_603() {
    let mut rig = Rig::inbound_live(&[], false);
    assert_eq!(
        rig.command(LiveCommand::Reject(603)),
        Ok(LiveAccepted::Done)
    );
    assert_eq!(rig.sip(), ["A<-180", "A<-603"]);
    assert!(rig.finished);
    assert_eq!(
        rig.live.last(),
        Some(&LiveEvent::Ended {
            cause: "rejected".into(),
            status: Some(603)
        })
    );
    // Everything after the end is refused, never hangs.
    for cmd in [
        LiveCommand::Answer,
        LiveCommand::Hangup,
        speak("x", false),
        LiveCommand::Hold(None),
    ] {
        assert_eq!(rig.command(cmd), Err(LiveError::Ended));
    }
}

#[test]
fn speak_reports_started_and_done_and_a_loop_plays_until_stopped() {
    let mut rig = Rig::inbound_live(&[], true);
    rig.command(speak("welcome", false)).unwrap();
    let (id, _) = rig.loads[0].clone();
    rig.audio_loaded(id, Some(8000));
    assert!(rig.media.contains(&"Play".to_string()));
    rig.media_event(engine::media::Event::PlayDone {
        id: id.0,
        completed: true,
    });
    assert_eq!(
        lives(&rig)[1..],
        ["speak-started".to_string(), "speak-done".to_string()]
    );
    // A looping prompt is loaded again when it ends, until the app stops it.
    rig.command(speak("hold music", true)).unwrap();
    let (id, _) = rig.loads[1].clone();
    rig.audio_loaded(id, Some(8000));
    rig.advance(1.0);
    rig.media_event(engine::media::Event::PlayDone {
        id: id.0,
        completed: true,
    });
    assert_eq!(rig.loads.len(), 3, "looped: loaded again");
    rig.audio_loaded(id, Some(8000));
    assert_eq!(rig.command(LiveCommand::StopAudio), Ok(LiveAccepted::Done));
    assert!(rig.media.contains(&"StopPlay".to_string()));
    rig.media_event(engine::media::Event::PlayDone {
        id: id.0,
        completed: false,
    });
    assert_eq!(rig.loads.len(), 3, "stopped: not looped");
    assert_eq!(lives(&rig).last().unwrap(), "speak-done");
}

#[test]
fn a_looping_prompt_whose_audio_fails_is_not_fetched_in_a_tight_loop() {
    let mut rig = Rig::inbound_live(&[], true);
    rig.command(speak("broken", true)).unwrap();
    let (id, _) = rig.loads[0].clone();
    rig.audio_loaded(id, None);
    assert_eq!(rig.loads.len(), 1);
    assert_eq!(lives(&rig).last().unwrap(), "speak-done");
}

#[test]
fn gather_ends_on_max_digits_terminator_or_timeout_and_reports_each_digit() {
    let mut rig = Rig::inbound_live(&[], true);
    assert_eq!(rig.command(gather(3, "#")), Ok(LiveAccepted::Gather(1)));
    assert_eq!(rig.command(gather(3, "#")), Err(LiveError::GatherRunning));
    rig.press("123");
    let g = rig.live.iter().find_map(|e| match e {
        LiveEvent::Gather {
            id, digits, reason, ..
        } => Some((*id, digits.clone(), *reason)),
        _ => None,
    });
    assert_eq!(g, Some((1, "123".into(), GatherReason::MaxDigits)));
    assert_eq!(
        lives(&rig)[1..4],
        ["dtmf 1".to_string(), "dtmf 2".into(), "dtmf 3".into()]
    );
    assert_eq!(rig.command(gather(5, "#")), Ok(LiveAccepted::Gather(2)));
    rig.press("9#");
    assert_eq!(lives(&rig).last().unwrap(), "gather 9 terminating-digit");
    assert_eq!(rig.command(gather(5, "#")), Ok(LiveAccepted::Gather(3)));
    rig.press("4");
    rig.advance(4.0);
    rig.press("5");
    rig.advance(4.9);
    assert!(!lives(&rig).last().unwrap().starts_with("gather"));
    rig.advance(0.2);
    assert_eq!(lives(&rig).last().unwrap(), "gather 45 inter-digit-timeout");
    // The app ends a gather early; an unknown one is refused.
    assert_eq!(rig.command(gather(5, "#")), Ok(LiveAccepted::Gather(4)));
    assert_eq!(
        rig.command(LiveCommand::StopGather(9)),
        Err(LiveError::NoSuchGather)
    );
    assert_eq!(
        rig.command(LiveCommand::StopGather(4)),
        Ok(LiveAccepted::Done)
    );
    assert_eq!(lives(&rig).last().unwrap(), "gather  stopped");
}

#[test]
fn a_gather_prompt_is_stopped_by_the_first_digit() {
    let mut rig = Rig::inbound_live(&[], true);
    let cmd = LiveCommand::Gather(GatherSpec {
        max_digits: 2,
        inter_digit_timeout: Duration::from_secs(5),
        terminating_digits: String::new(),
        prompt: Some(LivePrompt {
            source: LiveSource::File {
                url: "http://127.0.0.1:9/p.wav".into(),
            },
            looped: false,
            tag: None,
        }),
        bargeable: true,
        tag: None,
    });
    rig.command(cmd).unwrap();
    let (id, _) = rig.loads[0].clone();
    rig.audio_loaded(id, Some(80_000));
    rig.press("7");
    assert!(
        rig.media.contains(&"StopPlay".to_string()),
        "{:?}",
        rig.media
    );
    // The gather's own prompt reports no speak/playback events of its own.
    assert!(!lives(&rig).iter().any(|e| e.starts_with("playback")));
}

#[test]
fn the_caller_hanging_up_ends_a_running_gather_then_the_call() {
    let mut rig = Rig::inbound_live(&[], true);
    rig.command(gather(4, "#")).unwrap();
    rig.press("1");
    rig.a_bye();
    assert!(rig.finished, "{:#?}", rig.log);
    let l = lives(&rig);
    assert_eq!(
        l[l.len() - 2..],
        [
            "gather 1 hung-up".to_string(),
            "ended caller-hung-up None".into()
        ]
    );
    assert_eq!(rig.command(LiveCommand::Hangup), Err(LiveError::Ended));
}

#[test]
fn hangup_sends_bye_and_the_call_ends_once_it_is_answered() {
    let mut rig = Rig::inbound_live(&[], true);
    assert_eq!(rig.command(LiveCommand::Hangup), Ok(LiveAccepted::Done));
    assert_eq!(rig.sip().last(), Some(&"A<-BYE"));
    // Racing the BYE's answer, commands are refused.
    assert_eq!(rig.command(speak("x", false)), Err(LiveError::Ended));
    rig.answer_pending(200);
    assert!(rig.finished);
    assert_eq!(lives(&rig).last().unwrap(), "ended hangup Some(200)");
}

#[test]
fn dtmf_is_checked_and_sent_and_recording_switches_on_and_off() {
    let mut rig = Rig::inbound_live(&[], true);
    assert_eq!(
        rig.command(LiveCommand::SendDtmf("12x".into())),
        Err(LiveError::InvalidDigits)
    );
    rig.command(LiveCommand::SendDtmf("12#".into())).unwrap();
    assert!(rig.media_cmds.iter().any(|c| matches!(
        c,
        MediaCommand::SendDtmf { digits, .. } if digits == "12#"
    )));
    rig.command(LiveCommand::Record(true)).unwrap();
    rig.command(LiveCommand::Record(false)).unwrap();
    assert!(rig.log.contains(&"media Record".to_string()));
    assert!(rig.log.contains(&"media StopRecord".to_string()));
}

#[test]
fn a_placed_live_call_reports_answer_and_joins_its_bridge_then() {
    let mut rig = Rig::outbound_live(&[("bob", &[7])], "bob", "c1");
    assert_eq!(rig.sip(), ["A<-INVITE"]);
    // Joined before the answer: nothing is relayed yet.
    assert_eq!(
        rig.command(LiveCommand::Join { peer: peer() }),
        Ok(LiveAccepted::Done)
    );
    assert!(!rig.media.contains(&"Bridge".to_string()));
    assert_eq!(rig.command(LiveCommand::Answer), Err(LiveError::NotRinging));
    rig.b(0, 200);
    assert_eq!(lives(&rig), ["answered"]);
    // Answered: the B side's remote is the other call's B port, and the relay runs.
    assert!(rig.media_cmds.iter().any(|c| matches!(
        c,
        MediaCommand::SetRemote { leg: engine::media::Leg::B, rtp, .. } if rtp.port() == 31002
    )));
    assert!(rig.media.contains(&"Bridge".to_string()));
    assert_eq!(
        rig.command(LiveCommand::Join { peer: peer() }),
        Err(LiveError::AlreadyBridged)
    );
    // Hold and resume.
    assert_eq!(
        rig.command(LiveCommand::Hold(None)),
        Ok(LiveAccepted::Held(true))
    );
    assert_eq!(rig.media.last().map(String::as_str), Some("Unbridge"));
    assert_eq!(
        rig.command(LiveCommand::Hold(Some(false))),
        Ok(LiveAccepted::Held(false))
    );
    assert_eq!(rig.media.last().map(String::as_str), Some("Bridge"));
    // The other call's silence is not this call's end.
    rig.media_event(engine::media::Event::RtpTimeout {
        leg: engine::media::Leg::B,
    });
    assert!(!rig.finished);
    assert_eq!(rig.command(LiveCommand::Leave), Ok(LiveAccepted::Done));
    assert_eq!(rig.media.last().map(String::as_str), Some("Unbridge"));
    assert_eq!(rig.command(LiveCommand::Leave), Err(LiveError::NotBridged));
    assert_eq!(
        rig.command(LiveCommand::Hold(None)),
        Err(LiveError::NotBridged)
    );
}

#[test]
fn a_placed_live_call_that_rings_out_reports_timeout_then_no_answer() {
    let mut rig = Rig::outbound_live(&[("bob", &[7])], "bob", "c2");
    rig.b(0, 180);
    rig.advance(29.0);
    assert!(lives(&rig).is_empty());
    rig.advance(1.5);
    assert_eq!(lives(&rig), ["timeout"]);
    assert_eq!(rig.sip().last(), Some(&"A<-CANCEL"));
    rig.b(0, 487);
    assert!(rig.finished, "{:#?}", rig.log);
    assert_eq!(lives(&rig).last().unwrap(), "ended no-answer None");
}

#[test]
fn hanging_up_a_placed_call_while_it_rings_cancels_it() {
    let mut rig = Rig::outbound_live(&[("bob", &[7])], "bob", "c3");
    rig.b(0, 180);
    assert_eq!(rig.command(LiveCommand::Hangup), Ok(LiveAccepted::Done));
    assert_eq!(rig.sip().last(), Some(&"A<-CANCEL"));
    assert_eq!(rig.command(LiveCommand::Hangup), Err(LiveError::Ended));
    rig.b(0, 487);
    assert!(rig.finished);
}

#[test]
fn a_script_driven_call_takes_only_the_commands_of_any_driver() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"play","file_name":"x.wav"}]"#);
    assert_eq!(rig.command(speak("x", false)), Err(LiveError::ScriptDriven));
    assert_eq!(rig.command(gather(1, "")), Err(LiveError::ScriptDriven));
    assert_eq!(
        rig.command(LiveCommand::Hold(None)),
        Err(LiveError::NotBridged)
    );
    // Taken over: the script stops and commands drive the call.
    assert_eq!(
        rig.command(LiveCommand::TakeControl),
        Ok(LiveAccepted::Done)
    );
    assert_eq!(
        rig.command(speak("now live", false)),
        Ok(LiveAccepted::Done)
    );
    assert_eq!(rig.command(LiveCommand::Hangup), Ok(LiveAccepted::Done));
}

#[test]
fn a_live_call_is_handed_to_a_script_and_taken_back() {
    let mut rig = Rig::inbound_live(&[("bob", &[1])], true);
    rig.command(LiveCommand::Join { peer: peer() }).unwrap();
    let script =
        pcmo::Script::parse(r#"[{"action":"connect","connect":[{"type":"sip","user":"bob"}]}]"#)
            .unwrap();
    assert_eq!(
        rig.command(LiveCommand::RunScript(Box::new(script))),
        Ok(LiveAccepted::Done)
    );
    assert_eq!(lives(&rig).last().unwrap(), "transferred");
    // The script rings bob on the B side the bridge left.
    assert_eq!(rig.sip().last(), Some(&"B1<-INVITE"));
    assert_eq!(rig.command(speak("x", false)), Err(LiveError::ScriptDriven));
    rig.b(1, 200);
    assert!(
        rig.log.contains(&"ev B1 in_bridged".to_string())
            || rig.media.contains(&"Bridge".to_string())
    );
    // Back to live control: the app holds the script's bridge and hangs up.
    rig.command(LiveCommand::TakeControl).unwrap();
    assert_eq!(
        rig.command(LiveCommand::Hold(Some(true))),
        Ok(LiveAccepted::Held(true))
    );
    rig.command(LiveCommand::Hangup).unwrap();
    rig.answer_pending(200);
    assert!(rig.finished, "{:#?}", rig.log);
}

#[test]
fn a_transfer_to_a_script_url_fetches_it_like_an_answer_url() {
    let mut rig = Rig::inbound_live(&[], true);
    rig.command(LiveCommand::FetchScript("http://127.0.0.1:9/next".into()))
        .unwrap();
    let (fetch, url, body) = rig.fetches.last().unwrap().clone();
    assert_eq!((fetch, url.as_str()), (None, "http://127.0.0.1:9/next"));
    assert_eq!(body["action"], "transfer");
    rig.answer_url(r#"[{"action":"hangup"}]"#);
    assert_eq!(rig.sip().last(), Some(&"A<-BYE"));
}
