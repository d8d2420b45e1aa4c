use super::*;

#[test]
fn twilio_messages() {
    let m = parse(r#"{"event":"media","streamSid":"MZ1","media":{"payload":"AAEC"}}"#).unwrap();
    assert_eq!(m, [AgentMessage::Media(vec![0, 1, 2])]);
    assert_eq!(
        parse(r#"{"event":"mark","mark":{"name":"greeting"}}"#).unwrap(),
        [AgentMessage::Mark("greeting".into())]
    );
    assert_eq!(
        parse(r#"{"event":"clear"}"#).unwrap(),
        [AgentMessage::Clear]
    );
    assert_eq!(
        parse(r#"{"event":"media","media":{}}"#),
        Err(WireError::Field("media.payload"))
    );
    assert_eq!(
        parse(r#"{"event":"media","media":{"payload":"%%"}}"#),
        Err(WireError::Field("media.payload"))
    );
}

#[test]
fn piopiy_messages_one_or_an_array() {
    let m = parse(
        r#"[{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":16000,"audioData":"AAA="}},
            {"action":"pause"},{"action":"resume"},{"action":"break"},{"action":"stop"}]"#,
    )
    .unwrap();
    assert_eq!(
        m,
        [
            AgentMessage::Audio {
                kind: AudioKind::Raw,
                rate: 16000,
                bytes: vec![0, 0]
            },
            AgentMessage::Pause,
            AgentMessage::Resume,
            AgentMessage::Clear,
            AgentMessage::Stop,
        ]
    );
    let wav = parse(r#"{"type":"streamAudio","data":{"audioDataType":"wav","sampleRate":"8000","audioData":""}}"#).unwrap();
    assert!(matches!(
        wav[0],
        AgentMessage::Audio {
            kind: AudioKind::Wav,
            rate: 8000,
            ..
        }
    ));
    assert_eq!(
        parse(r#"{"type":"streamAudio","data":{"audioDataType":"ogg","audioData":""}}"#),
        Err(WireError::Unsupported("ogg".into()))
    );
}

#[test]
fn junk_is_an_error_never_a_panic() {
    for junk in [
        "",
        "{",
        "[]x",
        "42",
        r#"{"event":"dance"}"#,
        r#"{"action":7}"#,
        r#"{"type":"streamAudio"}"#,
    ] {
        assert!(
            parse(junk).is_err() || parse(junk).unwrap().is_empty(),
            "{junk}"
        );
    }
}

#[test]
fn outgoing_shapes() {
    let mut o = Outgoing::new("MZ1".into(), "call-1".into(), "42".into());
    let start: Value = serde_json::from_str(&o.start(
        &json!({"from": "alice", "customParameters": {"k": "v"}}),
        &["inbound"],
        "audio/x-mulaw",
        8000,
    ))
    .unwrap();
    assert_eq!(start["event"], "start");
    assert_eq!(start["sequenceNumber"], "1");
    assert_eq!(start["start"]["callSid"], "call-1");
    assert_eq!(start["start"]["customParameters"]["k"], "v");
    assert_eq!(start["start"]["mediaFormat"]["sampleRate"], 8000);
    let media: Value = serde_json::from_str(&o.media("inbound", 1, 20, &[0xff; 160])).unwrap();
    assert_eq!(media["sequenceNumber"], "2");
    assert_eq!(
        STANDARD
            .decode(media["media"]["payload"].as_str().unwrap())
            .unwrap()
            .len(),
        160
    );
    let dtmf: Value = serde_json::from_str(&o.dtmf("inbound", '5')).unwrap();
    assert_eq!(dtmf["dtmf"]["digit"], "5");
    let stop: Value = serde_json::from_str(&o.stop("ended by the call")).unwrap();
    assert_eq!(stop["stop"]["callSid"], "call-1");
}
