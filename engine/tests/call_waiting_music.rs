//! v3 connect's `waiting_music` in the call core, on the virtual clock: the ringing caller gets
//! a 183 with our SDP and the music (loaded like a prompt) in a loop; it stops when a target
//! is bridged or when the connect is over, and keeps playing between rounds of `loop`.

mod common;

use common::call_rig::Rig;
use engine::call::media_actions::AudioRequest;
use engine::media::{Command as MediaCommand, Event, Leg};
use pcmo::MediaId;

const MUSIC: u64 = u64::MAX - 1;

fn script(music: &str, ring_timeout: u32, extra_target: bool) -> String {
    let more = if extra_target {
        r#",{"type":"sip","user":"carol"}"#
    } else {
        ""
    };
    format!(
        r#"[{{"action":"connect","params":{{"caller_id":"14155550100","strategy":"simultaneous","options":{{"ring_timeout_sec":{ring_timeout},"waiting_music":"{music}"}}}},"endpoints":[{{"type":"sip","user":"bob"}}{more}]}},{{"action":"hangup"}}]"#
    )
}

fn music_plays(rig: &Rig) -> usize {
    rig.media_cmds
        .iter()
        .filter(|c| matches!(c, MediaCommand::Play { id, leg: Leg::A, .. } if *id == MUSIC))
        .count()
}

fn music_stops(rig: &Rig) -> usize {
    rig.media_cmds
        .iter()
        .filter(|c| matches!(c, MediaCommand::StopPlay { id } if *id == MUSIC))
        .count()
}

#[test]
fn the_ringing_caller_gets_early_media_and_the_music_in_a_loop_until_the_bridge() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(&script("hold.wav", 30, false));
    assert_eq!(rig.sip(), ["A<-180", "A<-183", "B1<-INVITE"]);
    let progress = rig.log.iter().position(|l| l == "A<-183").unwrap();
    assert!(progress > 0);
    assert_eq!(
        rig.loads,
        [(MediaId(MUSIC), AudioRequest::File("hold.wav".into()))],
        "loaded like a prompt (cache, URL policy)"
    );
    rig.audio_loaded(MediaId(MUSIC), Some(1600));
    assert_eq!(music_plays(&rig), 1);
    rig.b(1, 180);
    rig.media_event(Event::PlayDone {
        id: MUSIC,
        completed: true,
    });
    assert_eq!(music_plays(&rig), 2, "looped");
    assert_eq!(music_stops(&rig), 0);
    rig.b(1, 200);
    assert_eq!(music_stops(&rig), 1, "stopped at the answer");
    let stop = rig
        .media_cmds
        .iter()
        .position(|c| matches!(c, MediaCommand::StopPlay { id } if *id == MUSIC))
        .unwrap();
    let bridge = rig
        .media_cmds
        .iter()
        .position(|c| matches!(c, MediaCommand::Bridge))
        .expect("bridged");
    assert!(
        stop < bridge,
        "the music stops before the parties hear each other"
    );
    assert!(rig.sip().contains(&"A<-200"));
    // The stop's PlayDone (not completed) does not start it again.
    rig.media_event(Event::PlayDone {
        id: MUSIC,
        completed: false,
    });
    assert_eq!(music_plays(&rig), 2);
}

#[test]
fn the_music_ends_with_the_connect_and_a_load_failure_is_an_error_event() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(&script("hold.wav", 5, false));
    rig.audio_loaded(MediaId(MUSIC), Some(1600));
    rig.b(1, 180);
    rig.advance(6.0);
    assert_eq!(music_stops(&rig), 1, "no answer: the connect is over");
    rig.media_event(Event::PlayDone {
        id: MUSIC,
        completed: true,
    });
    assert_eq!(music_plays(&rig), 1, "not replayed after the connect");

    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(&script("missing.wav", 30, false));
    rig.audio_loaded(MediaId(MUSIC), None);
    assert!(
        rig.log.contains(&"error play_failed".to_string()),
        "{:#?}",
        rig.log
    );
    assert_eq!(music_plays(&rig), 0);
    assert!(rig.sip().contains(&"B1<-INVITE"), "the targets still ring");
}

#[test]
fn an_answered_caller_hears_the_music_on_its_leg_without_a_183() {
    // A call ringmaster placed: A (bob) is answered before the script rings carol.
    let script = r#"[{"action":"connect","params":{"caller_id":"14155550100","options":{"waiting_music":"https://app.example.com/hold.mp3"}},"endpoints":[{"type":"sip","user":"carol"}]}]"#;
    let mut rig = Rig::outbound(&[("bob", &[7]), ("carol", &[3])], "bob", script);
    rig.b(0, 180);
    rig.b(0, 200);
    assert_eq!(
        rig.sip()[1..],
        ["A<-ACK", "B1<-INVITE"],
        "no 183 on an answered leg"
    );
    assert_eq!(
        rig.loads,
        [(
            MediaId(MUSIC),
            AudioRequest::Url("https://app.example.com/hold.mp3".into())
        )],
        "a URL goes through the shell's URL policy and prompt cache"
    );
    rig.audio_loaded(MediaId(MUSIC), Some(800));
    assert_eq!(music_plays(&rig), 1);
    rig.b(1, 200);
    assert_eq!(music_stops(&rig), 1);
    assert!(rig.media.contains(&"Bridge".to_string()));
}
