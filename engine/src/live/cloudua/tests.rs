use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use super::*;

fn session(placed: bool) -> Session {
    Session {
        domain: "acme.cua.example".into(),
        reply_id: "r1".into(),
        session_ref: None,
        callback_base: Some("https://device.example.com/cb".into()),
        placed,
        source_user: "panel7".into(),
        destination_uri: "sip:bob@acme.example".into(),
        sip_call_id: Some("abc@host".into()),
        device_codec: Some(AudioCodec::Pcma),
        our_key: MasterKey::new([7; 30]),
        answer_crypto: None,
        b: Some(Anchor {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            rtp_port: 20_000,
            rtcp_port: 20_001,
        }),
        a_codec: Some(AudioCodec::Pcmu),
    }
}

#[test]
fn a_phone_calling_a_device_is_a_new_remote_call() {
    let s = session(false);
    let (name, body) = render(
        &s,
        "c1",
        &LiveEvent::Incoming { answered: false },
        "t1",
        false,
    )
    .expect("a callback");
    assert_eq!(name, "newRemoteCall");
    assert_eq!(body["replyId"], "r1");
    assert_eq!(body["codec"], "PCMU");
    assert_eq!(body["remoteRtpIp"], "192.0.2.1");
    assert_eq!(body["remoteRtpPort"], 20_000);
    assert_eq!(body["callId"], "abc@host");
    assert_eq!(body["crypto"].as_array().map(Vec::len), Some(2));
    let offered = crypto_of(&body["crypto"][0]).expect("our own crypto parses");
    assert_eq!(offered.key, MasterKey::new([7; 30]));
    assert!(body.get("sessionReferenceId").is_none());
}

#[test]
fn a_placed_call_rings_answers_and_fails() {
    let mut s = session(true);
    s.session_ref = Some(json!({"alarm": 42}));
    let (name, body) = render(&s, "c1", &LiveEvent::Ringing, "t1", false).unwrap();
    assert_eq!(
        (name, body["event"].as_str()),
        ("callNotify", Some("ringing"))
    );
    assert_eq!(body["replyId"], "r1");
    assert_eq!(body["sessionReferenceId"], json!({"alarm": 42}));
    let (name, body) = render(&s, "c1", &LiveEvent::Answered, "t2", true).unwrap();
    assert_eq!(name, "callAnswered");
    assert_eq!(body["codec"], "PCMA");
    assert_eq!(body["remotePartyNumber"], "bob");
    let busy = LiveEvent::Ended {
        cause: "busy".into(),
        status: Some(486),
    };
    let (name, body) = render(&s, "c1", &busy, "t3", false).unwrap();
    assert_eq!(name, "callFailed");
    assert_eq!(
        (body["sipStatus"].as_u64(), body["sipReason"].as_str()),
        (Some(486), Some("Busy Here"))
    );
    // The device cancelled its own call: a hang-up, not a failure.
    let cancelled = LiveEvent::Ended {
        cause: "hangup".into(),
        status: None,
    };
    assert_eq!(
        render(&s, "c1", &cancelled, "t4", false).unwrap().0,
        "callHungup"
    );
    assert_eq!(render(&s, "c1", &busy, "t5", true).unwrap().0, "callHungup");
}

#[test]
fn a_reoffer_is_a_notify() {
    let s = session(false);
    let (name, body) = render(&s, "c1", &LiveEvent::Reoffer { update: true }, "t", true).unwrap();
    assert_eq!(
        (name, body["event"].as_str()),
        ("callNotify", Some("update"))
    );
    let (_, body) = render(&s, "c1", &LiveEvent::Reoffer { update: false }, "t", true).unwrap();
    assert_eq!(body["event"], "reInvite");
}

#[test]
fn events_without_a_callback() {
    let s = session(false);
    assert!(render(&s, "c1", &LiveEvent::Ringing, "t", false).is_none());
    assert!(render(&s, "c1", &LiveEvent::Answered, "t", true).is_none());
    assert!(render(&s, "c1", &LiveEvent::Dtmf('1'), "t", true).is_none());
}

#[test]
fn crypto_elements_are_checked() {
    let good = json!({"suite": "AES_CM_128_HMAC_SHA1_32", "id": 3,
        "config": format!("inline:{}", STANDARD.encode([1u8; 30]))});
    let c = crypto_of(&good).unwrap();
    assert_eq!((c.tag, c.suite), (3, Suite::AesCm128HmacSha1_32));
    assert!(
        crypto_of(&json!({"suite": "AES_256_CM_HMAC_SHA1_80", "config": "inline:AAAA"})).is_none()
    );
    assert!(
        crypto_of(&json!({"suite": "AES_CM_128_HMAC_SHA1_80", "config": "inline:short"})).is_none()
    );
    assert!(crypto_of(&json!({"suite": 5})).is_none());
}

#[test]
fn debug_hides_the_key_and_reply_id() {
    let text = format!("{:?}", session(true));
    assert!(!text.contains("r1") && !text.contains("[7, 7"), "{text}");
}
