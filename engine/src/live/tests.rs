use super::*;
use crate::call::live::LiveEvent;

fn view(id: &str, user: &str) -> CallView {
    CallView {
        id: id.into(),
        app: AppId(1),
        user: Some(user.into()),
        direction: CallDirection::Out,
        from: "+15550001".into(),
        to: "sip:kim@d.example".into(),
        state: CallState::Started,
        start_ms: 1_000,
        active_ms: None,
        end_ms: None,
        bridge: None,
        tag: None,
        callback: None,
        cause: None,
        live: true,
        cloudua: None,
    }
}

fn table_with(calls: &[&str]) -> CallTable {
    let mut t = CallTable::default();
    for c in calls {
        t.started(view(c, "u-1"));
    }
    t
}

fn ended(cause: &str) -> LiveEvent {
    LiveEvent::Ended {
        cause: cause.into(),
        status: None,
    }
}

#[test]
fn a_call_goes_started_active_completed_and_logs_its_events() {
    let mut t = table_with(&["c1"]);
    t.event(
        "c1",
        &LiveEvent::Answered,
        2_000,
        Some(("answer".into(), "{}".into())),
    );
    let e = t.get("c1").unwrap();
    assert_eq!(e.view.state, CallState::Active);
    assert_eq!(e.view.active_ms, Some(2_000));
    t.event(
        "c1",
        &ended("hangup"),
        3_000,
        Some(("hangup".into(), "{}".into())),
    );
    let e = t.get("c1").unwrap();
    assert_eq!(e.view.state, CallState::Completed);
    assert_eq!(e.view.end_ms, Some(3_000));
    let names: Vec<&str> = e.events.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["answer", "hangup"]);
    assert!(t.is_ended("c1"));
}

#[test]
fn a_rejected_unanswered_call_reads_rejected() {
    let mut t = table_with(&["c1"]);
    t.event("c1", &ended("rejected"), 3_000, None);
    assert_eq!(t.get("c1").unwrap().view.state, CallState::Rejected);
}

#[test]
fn gathers_are_completed_by_their_event() {
    let mut t = table_with(&["c1"]);
    t.gather_started("c1", 1, Some("t".into()), 1_500);
    let g = LiveEvent::Gather {
        id: 1,
        digits: "42".into(),
        reason: GatherReason::TerminatingDigit,
        tag: Some("t".into()),
    };
    t.event("c1", &g, 2_500, None);
    let gv = &t.get("c1").unwrap().gathers[0];
    assert!(gv.completed);
    assert_eq!(gv.digits, "42");
    assert_eq!(gv.reason, Some(GatherReason::TerminatingDigit));
}

#[test]
fn a_bridge_of_two_calls_joins_them_and_holds_with_bridge_audio_false() {
    let mut t = table_with(&["c1", "c2"]);
    let plan = t
        .create_bridge("b1".into(), "u-1", vec!["c1".into(), "c2".into()], true, 5)
        .unwrap();
    assert_eq!(plan.join, Some(("c1".into(), "c2".into())));
    assert_eq!(plan.hold, None);
    assert_eq!(t.bridge("b1").unwrap().state, BridgeState::Active);
    assert_eq!(t.get("c1").unwrap().view.bridge.as_deref(), Some("b1"));
    let plan = t.update_bridge("b1", None, Some(false), 6).unwrap();
    assert_eq!(plan.hold, Some(true));
    assert_eq!(plan.join, None);
    assert_eq!(t.bridge("b1").unwrap().state, BridgeState::Hold);
}

#[test]
fn bridges_refuse_three_calls_bridged_calls_ended_calls_and_unknown_ones() {
    let mut t = table_with(&["c1", "c2", "c3"]);
    let three = vec!["c1".into(), "c2".into(), "c3".into()];
    assert_eq!(
        t.create_bridge("b0".into(), "u-1", three, true, 1),
        Err(BridgeError::TooManyCalls)
    );
    t.create_bridge("b1".into(), "u-1", vec!["c1".into(), "c2".into()], true, 1)
        .unwrap();
    assert_eq!(
        t.create_bridge("b2".into(), "u-1", vec!["c1".into(), "c3".into()], true, 1),
        Err(BridgeError::CallBridged("c1".into()))
    );
    t.event("c3", &ended("hangup"), 2, None);
    assert_eq!(
        t.create_bridge("b3".into(), "u-1", vec!["c3".into()], true, 1),
        Err(BridgeError::CallEnded("c3".into()))
    );
    assert_eq!(
        t.create_bridge("b4".into(), "u-1", vec!["nope".into()], true, 1),
        Err(BridgeError::UnknownCall("nope".into()))
    );
    assert_eq!(
        t.update_bridge("zz", None, None, 1),
        Err(BridgeError::NotFound)
    );
}

#[test]
fn a_bridged_call_that_ends_completes_the_bridge_and_the_other_leaves() {
    let mut t = table_with(&["c1", "c2"]);
    t.create_bridge("b1".into(), "u-1", vec!["c1".into(), "c2".into()], true, 1)
        .unwrap();
    let follow = t.event("c2", &ended("caller-hung-up"), 9, None);
    assert_eq!(
        follow,
        vec![Followup::LeaveBridge {
            bridge: "b1".into(),
            other: "c1".into()
        }]
    );
    let b = t.bridge("b1").unwrap();
    assert_eq!((b.state, b.completed_ms), (BridgeState::Completed, Some(9)));
    assert_eq!(
        t.update_bridge("b1", None, Some(true), 10),
        Err(BridgeError::Completed)
    );
}

#[test]
fn calls_are_listed_per_user_and_filter() {
    let mut t = table_with(&["c1", "c2"]);
    t.started(view("c3", "u-2"));
    let mine = t.list(&CallFilter {
        user: Some("u-1".into()),
        ..Default::default()
    });
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|c| c.user.as_deref() == Some("u-1")));
}

#[test]
fn ended_calls_are_forgotten_past_the_limit() {
    let mut t = CallTable::default();
    for i in 0..(MAX_ENDED + 5) {
        let id = format!("c{i}");
        t.started(view(&id, "u-1"));
        t.finished(&id, 1);
    }
    assert!(t.get("c0").is_none());
    assert!(t.get(&format!("c{}", MAX_ENDED + 4)).is_some());
}

#[test]
fn two_users_calls_are_never_bridgeable() {
    let mut t = table_with(&["c1"]);
    t.started(view("c2", "u-2"));
    assert_eq!(
        t.create_bridge("b1".into(), "u-1", vec!["c1".into(), "c2".into()], true, 1),
        Err(BridgeError::UnknownCall("c2".into()))
    );
    t.create_bridge("b2".into(), "u-1", vec!["c1".into()], true, 1)
        .unwrap();
    assert_eq!(
        t.update_bridge("b2", Some(vec!["c1".into(), "c2".into()]), None, 2),
        Err(BridgeError::UnknownCall("c2".into()))
    );
}

#[test]
fn a_script_driven_piopiy_call_leaves_the_table_when_it_ends() {
    let mut t = CallTable::default();
    let mut v = view("c1", "u-1");
    v.user = None;
    v.live = false;
    t.started(v);
    assert!(t.get("c1").is_some());
    t.finished("c1", 5);
    assert!(t.get("c1").is_none());
    // A live call stays readable.
    t.started(view("c2", "u-1"));
    t.finished("c2", 5);
    assert_eq!(t.get("c2").unwrap().view.state, CallState::Completed);
}
