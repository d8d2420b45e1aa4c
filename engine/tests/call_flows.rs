//! Call flows on the virtual clock, no sockets: which SIP messages go out, in which order, and
//! which events and CDRs result (issue "Calls": one test per flow).

mod common;

use common::call_rig::Rig;
use engine::sip::message::{HeaderName, HeaderView};
use pcmo::FetchError;

fn ones(rig: &Rig) {
    for (leg, hangups, cdrs) in rig.terminal_counts() {
        assert_eq!(
            (hangups, cdrs),
            (1, 1),
            "leg {leg}: exactly one terminal event and one CDR\n{:#?}",
            rig.log
        );
    }
}

#[test]
fn group_ring_second_device_answers_others_cancelled_then_bye() {
    let mut rig = Rig::inbound(&[("bob", &[1, 2]), ("carol", &[3])], None);
    assert_eq!(
        rig.sip(),
        ["A<-180"],
        "ringback while the answer URL is fetched"
    );
    assert_eq!(rig.fetches.len(), 1);
    let body = &rig.fetches[0].2;
    assert_eq!(body["action"], "inbound");
    assert_eq!(body["cmiuuid"], "call-1");
    assert_eq!(body["to"], 5000);
    assert_eq!(body["leg"], "a");
    rig.answer_url(r#"[{"action":"connect","ring_type":"group","timeout":20,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]}]"#);
    assert_eq!(rig.sip()[1..], ["B1<-INVITE", "B2<-INVITE", "B3<-INVITE"]);
    // Every branch is offered our relay ports, not the caller's.
    let offer = String::from_utf8(rig.invite_of(1).body.to_vec()).unwrap();
    assert!(
        offer.contains("c=IN IP4 203.0.113.1") && offer.contains("m=audio 30002 "),
        "{offer}"
    );
    assert!(!offer.contains("192.0.2.10"));
    assert_eq!(
        rig.invite_of(1).headers.get_other("X-cmi-uuid"),
        Some("call-1")
    );
    assert_eq!(
        rig.invite_of(1).headers.get(&HeaderName::MaxForwards),
        Some("69")
    );
    rig.b(1, 180);
    rig.b(2, 180);
    rig.b(3, 180);
    rig.log.clear();
    rig.b(2, 200);
    let sip = rig.sip();
    assert_eq!(sip[0], "B2<-ACK", "the winner is acknowledged first");
    let mut rest: Vec<&str> = sip[1..].to_vec();
    rest.sort();
    // bob's other device (by the fork) and carol (by the script) are cancelled; A answered.
    assert_eq!(rest, ["A<-200", "B1<-CANCEL", "B3<-CANCEL"]);
    // A's 200 carries B's answer re-anchored on our A-side port.
    let ok = rig.a_ok().unwrap();
    let sdp = String::from_utf8(ok.body.to_vec()).unwrap();
    assert!(sdp.contains("m=audio 30000 RTP/AVP 0 101"), "{sdp}");
    assert!(!sdp.contains("198.51.100.2"));
    assert!(rig.log.contains(&"ev B2 out_bridged".to_string()));
    assert!(rig.media.contains(&"Bridge".to_string()));
    rig.cancelled_ones_answer_487();
    rig.a_bye();
    assert!(rig.sip().contains(&"B2<-BYE"));
    rig.answer_pending(200);
    assert!(rig.finished, "{:#?}", rig.log);
    ones(&rig);
    let cdrs: Vec<&String> = rig.log.iter().filter(|l| l.starts_with("cdr")).collect();
    assert!(
        cdrs.contains(&&"cdr A in_answered caller-hung-up".to_string()),
        "{cdrs:?}"
    );
    assert!(
        cdrs.contains(&&"cdr B2 out_answered caller-hung-up".to_string()),
        "{cdrs:?}"
    );
    assert!(
        cdrs.contains(&&"cdr B1 out_missed cancelled".to_string()),
        "{cdrs:?}"
    );
    assert_eq!(rig.terminal_counts().len(), 4);
}

#[test]
fn sequential_first_times_out_second_answers() {
    let mut rig = Rig::inbound(&[("bob", &[1]), ("carol", &[2])], None);
    rig.answer_url(r#"[{"action":"connect","timeout":10,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]},{"action":"hangup"}]"#);
    assert_eq!(rig.sip(), ["A<-180", "B1<-INVITE"]);
    rig.b(1, 180);
    rig.advance(9.9);
    assert_eq!(rig.sip().len(), 2, "still ringing bob");
    rig.advance(0.2);
    assert_eq!(rig.sip()[2..], ["B1<-CANCEL", "B2<-INVITE"]);
    rig.b(1, 487);
    rig.b(2, 200);
    assert_eq!(rig.sip()[4..], ["B2<-ACK", "A<-200"]);
    rig.b_bye(2);
    // carol hung up: the script goes on with its next action, a hangup.
    assert!(rig.sip().contains(&"A<-BYE"));
    rig.answer_pending(200);
    assert!(rig.finished);
    ones(&rig);
}

#[test]
fn loop_two_rings_two_rounds_then_the_next_action_runs() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","ring_type":"group","timeout":5,"loop":2,"call":[{"type":"sip","user":"bob"}]},{"action":"hangup"}]"#);
    rig.b(1, 180);
    rig.advance(5.0);
    rig.b(1, 487);
    assert_eq!(
        rig.sip(),
        ["A<-180", "B1<-INVITE", "B1<-CANCEL", "B2<-INVITE"],
        "second round"
    );
    rig.b(2, 180);
    rig.advance(5.0);
    rig.b(2, 487);
    // Nobody answered: the next action (hangup) refuses the unanswered caller with 480.
    assert_eq!(rig.sip()[4..], ["B2<-CANCEL", "A<-480"]);
    assert!(rig.finished);
    ones(&rig);
}

#[test]
fn duration_cuts_a_connected_call() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(
        r#"[{"action":"connect","duration":30,"timeout":20,"call":[{"type":"sip","user":"bob"}]}]"#,
    );
    rig.b(1, 200);
    assert!(rig.sip().contains(&"A<-200"));
    rig.advance(29.0);
    assert!(!rig.sip().contains(&"A<-BYE"));
    rig.advance(1.5);
    let sip = rig.sip();
    assert!(
        sip.contains(&"A<-BYE") && sip.contains(&"B1<-BYE"),
        "{sip:?}"
    );
    rig.answer_pending(200);
    assert!(rig.finished);
    assert!(
        rig.log
            .iter()
            .any(|l| l == "cdr A in_answered duration-limit"),
        "{:#?}",
        rig.log
    );
    ones(&rig);
}

#[test]
fn caller_cancels_while_b_legs_ring() {
    let mut rig = Rig::inbound(&[("bob", &[1, 2]), ("carol", &[3])], None);
    rig.answer_url(r#"[{"action":"connect","ring_type":"group","call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]}]"#);
    rig.b(1, 180);
    rig.log.clear();
    rig.caller_cancels();
    let sip = rig.sip();
    assert_eq!(sip[0], "A<-487");
    for b in ["B1<-CANCEL", "B2<-CANCEL", "B3<-CANCEL"] {
        assert!(sip.contains(&b), "{sip:?}");
    }
    rig.cancelled_ones_answer_487();
    assert!(rig.finished, "{:#?}", rig.log);
    ones(&rig);
    assert_eq!(rig.terminal_counts().len(), 4);
    assert!(rig
        .log
        .contains(&"cdr A in_missed caller-cancelled".to_string()));
}

#[test]
fn bridge_dials_a_number_through_the_trunk_with_the_caller_id() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"bridge","from":914471000000,"connect":[{"type":"pstn","number":919876543210}]}]"#);
    assert_eq!(rig.sip()[1], "B1<-INVITE");
    let inv = rig.invite_of(1);
    assert_eq!(inv.uri.to_string(), "sip:919876543210@192.0.2.200:5060");
    assert!(inv
        .headers
        .get(&HeaderName::From)
        .unwrap()
        .starts_with("<sip:914471000000@test.local>"));
    rig.b(1, 200);
    assert!(rig.sip().contains(&"A<-200"));
}

#[test]
fn answer_url_down_without_fallback_is_a_503_and_an_error_event() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url_fails(FetchError::Timeout);
    assert_eq!(rig.sip(), ["A<-180", "A<-503"]);
    assert!(rig.log.contains(&"error answer_url_failed".to_string()));
    assert!(rig.finished);
    ones(&rig);
}

#[test]
fn answer_url_down_runs_the_fallback_script() {
    let mut rig = Rig::inbound(
        &[("bob", &[1])],
        Some(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#),
    );
    rig.answer_url_fails(FetchError::Status(500));
    assert!(rig.log.contains(&"error answer_url_failed".to_string()));
    assert_eq!(rig.sip(), ["A<-180", "B1<-INVITE"]);
}

#[test]
fn invalid_json_gets_its_error_and_a_503() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url("{not json");
    assert!(
        rig.log.contains(&"error invalid_json".to_string()),
        "{:#?}",
        rig.log
    );
    assert_eq!(rig.sip(), ["A<-180", "A<-503"]);
}

#[test]
fn stream_answers_streams_the_caller_and_goes_on_when_it_ends() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"stream","ws_url":"wss://app.example.com/audio","voice_quality":"16000"},{"action":"hangup"}]"#);
    assert_eq!(rig.sip(), ["A<-180", "A<-200"], "answered before streaming");
    let spec = rig
        .media_cmds
        .iter()
        .find_map(|c| match c {
            engine::media::Command::Stream { spec, .. } => Some(spec.clone()),
            _ => None,
        })
        .expect("a Stream command");
    assert_eq!(
        (spec.tracks, spec.rate, spec.encoding()),
        ([true, false], 16000, "audio/x-l16")
    );
    assert_eq!(spec.start["callSid"], "call-1");
    let id = rig
        .media_cmds
        .iter()
        .find_map(|c| match c {
            engine::media::Command::Stream { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    // A failed stream is an error event, and the script goes on (here: hangs up).
    rig.media_event(engine::media::Event::StreamDone {
        id,
        end: engine::media::stream::StreamEnd::Failed("cannot connect".into()),
    });
    assert!(
        rig.log.contains(&"error stream_failed".to_string()),
        "{:#?}",
        rig.log
    );
    assert_eq!(rig.sip().last(), Some(&"A<-BYE"));
}

#[test]
fn streaming_the_callee_without_one_is_a_script_error_not_the_end() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"stream","ws_url":"wss://app.example.com/audio","listen_mode":"callee"},{"action":"hangup"}]"#);
    assert!(
        rig.log.contains(&"error stream_no_callee".to_string()),
        "{:#?}",
        rig.log
    );
    assert!(!rig
        .media_cmds
        .iter()
        .any(|c| matches!(c, engine::media::Command::Stream { .. })));
    assert_eq!(rig.sip().last(), Some(&"A<-BYE"), "the next action ran");
}

#[test]
fn an_unregistered_user_is_skipped_at_once() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"connect","timeout":30,"call":[{"type":"sip","user":"nobody"}]},{"action":"hangup"}]"#);
    assert_eq!(
        rig.sip(),
        ["A<-180", "A<-480"],
        "no INVITE, no waiting for the timeout"
    );
}

#[test]
fn an_unroutable_target_is_skipped_with_an_error_event() {
    let mut rig = Rig::inbound(&[], None);
    rig.answer_url(r#"[{"action":"connect","timeout":30,"call":[{"type":"sip","uri":"sip:x@nowhere.invalid"}]},{"action":"hangup"}]"#);
    assert_eq!(rig.sip(), ["A<-180", "A<-503"], "no INVITE, no waiting");
    assert!(
        rig.log.contains(&"error target_unroutable".to_string()),
        "{:?}",
        rig.log
    );
}

#[test]
fn busy_callee_is_not_retried_by_loop() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","loop":3,"call":[{"type":"sip","user":"bob"}]},{"action":"hangup"}]"#);
    rig.b(1, 486);
    assert_eq!(rig.sip(), ["A<-180", "B1<-INVITE", "A<-486"]);
    ones(&rig);
}

#[test]
fn when_the_b_leg_hangs_up_the_script_goes_on() {
    let mut rig = Rig::inbound(&[("bob", &[1]), ("carol", &[2])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]},{"action":"connect","call":[{"type":"sip","user":"carol"}]}]"#);
    rig.b(1, 200);
    rig.b_bye(1);
    assert_eq!(
        rig.sip()[..5],
        ["A<-180", "B1<-INVITE", "B1<-ACK", "A<-200", "B1<-200"]
    );
    assert_eq!(rig.sip()[5], "B2<-INVITE");
    rig.b(2, 200);
    assert_eq!(rig.sip()[6..], ["B2<-ACK"], "A is already answered");
    rig.a_bye();
    rig.answer_pending(200);
    assert!(rig.finished);
    ones(&rig);
}

/// RFC 3261 §12.2.2: Call-ID *and* tags. A stranger who knows the Call-ID gets 481 for BYE
/// and re-INVITE on either leg, the call and its media stay as they are, and the real BYE
/// still ends it.
#[test]
fn in_dialog_requests_with_the_right_call_id_but_wrong_tags_get_481() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 200);
    let ours = rig.a_local_tag();
    let before = (rig.sip().len(), rig.media_cmds.len());
    rig.a_request_tagged("BYE", "at", Some("guess"));
    rig.a_request_tagged("BYE", "not-at", Some(&ours));
    rig.a_request_tagged("BYE", "at", None);
    rig.a_request_tagged("INVITE", "not-at", Some(&ours));
    rig.b_bye_tagged(1, "not-bobs");
    assert_eq!(
        rig.sip()[before.0..],
        ["A<-481", "A<-481", "A<-481", "A<-481", "B1<-481"],
        "{:?}",
        rig.sip()
    );
    assert_eq!(
        rig.media_cmds.len(),
        before.1,
        "a spoofed request moved the media: {:?}",
        &rig.media_cmds[before.1..]
    );
    assert!(!rig.finished);
    // The right tags still work, and the CSeq the strangers used did not count.
    rig.a_bye();
    assert!(rig.sip().contains(&"B1<-BYE"), "{:?}", rig.sip());
    rig.answer_pending(200);
    assert!(rig.finished);
    ones(&rig);
}

#[test]
fn in_dialog_requests_check_cseq_and_unknown_dialogs() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 200);
    rig.a_bye();
    // A second BYE with the same CSeq: out of order (the dialog is gone): 481.
    rig.a_bye();
    assert!(rig.sip().contains(&"A<-481"), "{:?}", rig.sip());
    assert_eq!(rig.a_invite().call_id(), Some("a-call"));
}

#[test]
fn a_placed_call_dials_the_a_leg_first_then_runs_its_inline_script() {
    let mut rig = Rig::outbound(
        &[("bob", &[7]), ("carol", &[3])],
        "bob",
        r#"[{"action":"connect","call":[{"type":"sip","user":"carol"}]}]"#,
    );
    // The A leg is dialled with ringmaster's own offer on its A-side port.
    assert_eq!(rig.sip(), ["A<-INVITE"]);
    let offer = String::from_utf8(rig.invite_of(0).body.to_vec()).unwrap();
    assert!(offer.contains("m=audio 30000 RTP/AVP 0 8 101"), "{offer}");
    assert!(rig
        .invite_of(0)
        .headers
        .get(&HeaderName::From)
        .unwrap()
        .starts_with("<sip:914471000000@test.local>"));
    rig.b(0, 180);
    rig.b(0, 200);
    // Answered: ACKed, and the script rings carol with A's codecs on the B-side port.
    assert_eq!(rig.sip()[1..], ["A<-ACK", "B1<-INVITE"]);
    let to_b = String::from_utf8(rig.invite_of(1).body.to_vec()).unwrap();
    assert!(to_b.contains("m=audio 30002 "), "{to_b}");
    rig.b(1, 200);
    assert!(
        rig.log.contains(&"ev B1 out_bridged".to_string()),
        "{:#?}",
        rig.log
    );
    assert!(rig.media.contains(&"Bridge".to_string()));
    // The A leg hangs up.
    rig.b_bye(0);
    rig.answer_pending(200);
    assert!(rig.finished, "{:#?}", rig.log);
    assert!(
        rig.log
            .contains(&"cdr A out_answered caller-hung-up".to_string()),
        "{:#?}",
        rig.log
    );
    ones(&rig);
}

#[test]
fn a_placed_call_that_is_not_answered_ends_with_its_cdr() {
    let mut rig = Rig::outbound(&[("bob", &[7])], "bob", r#"[{"action":"hangup"}]"#);
    rig.b(0, 486);
    assert!(rig.finished, "{:#?}", rig.log);
    assert!(
        rig.log.contains(&"cdr A out_missed busy".to_string()),
        "{:#?}",
        rig.log
    );
    ones(&rig);
    let rig = Rig::outbound(&[], "nobody", r#"[{"action":"hangup"}]"#);
    assert_eq!(rig.sip(), Vec::<&str>::new());
    assert!(rig.finished);
    assert!(
        rig.log
            .contains(&"cdr A out_missed not-registered".to_string()),
        "{:#?}",
        rig.log
    );
}

#[test]
fn early_media_from_a_b_leg_reaches_the_ringing_caller() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 183);
    assert_eq!(rig.sip(), ["A<-180", "B1<-INVITE", "A<-183"]);
    assert!(
        rig.media.contains(&"Bridge".to_string()),
        "relayed before the answer"
    );
    rig.b(1, 200);
    assert_eq!(rig.sip()[3..], ["B1<-ACK", "A<-200"]);
}

/// RFC 3261 §15.1.2: the caller's re-INVITE, relayed to the callee, still unanswered when the
/// caller hangs up gets 487, and the call still finishes (found by the call_dialog fuzzer:
/// the server transaction was never answered).
#[test]
fn a_reinvite_pending_when_the_call_ends_gets_487() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    rig.b(1, 200);
    rig.log.clear();
    rig.a_reinvite();
    assert_eq!(rig.sip(), ["B1<-INVITE"], "relayed to the callee");
    rig.log.clear();
    rig.a_bye();
    rig.answer_pending_method("BYE", 200);
    let sip = rig.sip();
    assert!(sip.contains(&"B1<-BYE"), "{sip:?}");
    assert_eq!(
        sip.iter().filter(|l| l.starts_with("A<-")).count(),
        2,
        "the BYE and the pending re-INVITE answered: {sip:?}"
    );
    assert!(sip.contains(&"A<-487"), "{sip:?}");
    assert!(rig.finished);
    ones(&rig);
}

#[test]
fn a_stream_on_answer_starts_when_the_callee_is_bridged_with_both_tracks() {
    let mut rig = Rig::inbound(&[("bob", &[1])], None);
    rig.answer_url(r#"[{"action":"stream","ws_url":"wss://app.example.com/audio","listen_mode":"both","stream_on_answer":true},{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#);
    let streams = |rig: &Rig| {
        rig.media_cmds
            .iter()
            .filter_map(|c| match c {
                engine::media::Command::Stream { spec, .. } => Some(spec.tracks),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(
        streams(&rig).is_empty(),
        "nothing streams before the callee answers"
    );
    assert!(
        rig.sip().contains(&"B1<-INVITE") || rig.sip().iter().any(|s| s.contains("INVITE")),
        "{:?}",
        rig.sip()
    );
    rig.b(1, 200);
    assert_eq!(streams(&rig), [[true, true]], "both parties, once bridged");
}
