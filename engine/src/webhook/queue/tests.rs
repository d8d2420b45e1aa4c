//! The schedule on its own: lanes, due times, retries and the caps, with times passed in.

use super::*;
use crate::store::AppId;

fn delivery(seq: u64, call: Option<&str>, kind: DeliveryKind, due_at: u64) -> Delivery {
    Delivery {
        seq,
        id: format!("d{seq}"),
        app: AppId(1),
        url: "http://127.0.0.1:9/events".into(),
        kind,
        call: call.map(str::to_owned),
        body: "{}".into(),
        attempt: 0,
        due_at,
        created_at: due_at,
    }
}

fn event(seq: u64, call: &str, due_at: u64) -> Delivery {
    delivery(seq, Some(call), DeliveryKind::Event, due_at)
}

fn seqs(list: &[Delivery]) -> Vec<u64> {
    list.iter().map(|d| d.seq).collect()
}

/// A queue with these caps in all; per app as large (the tests of fairness set their own).
fn queue(max_events: usize, max_cdrs: usize) -> Queue {
    Queue::new(Limits {
        max_events,
        max_cdrs,
        max_events_per_app: max_events,
        max_cdrs_per_app: max_cdrs,
    })
}

/// An event of `app`.
fn event_of(app: u64, seq: u64, call: &str) -> Delivery {
    Delivery {
        app: AppId(app),
        ..event(seq, call, 0)
    }
}

fn cdr_of(app: u64, seq: u64, call: &str) -> Delivery {
    Delivery {
        app: AppId(app),
        ..delivery(seq, Some(call), DeliveryKind::Cdr, 0)
    }
}

#[test]
fn one_call_at_a_time_in_order_other_calls_in_parallel() {
    let mut q = queue(100, 100);
    for d in [
        event(1, "x", 0),
        event(2, "x", 0),
        event(3, "y", 0),
        event(4, "x", 0),
    ] {
        q.insert(d);
    }
    assert_eq!(seqs(&q.take_due(10, 10)), [1, 3], "the heads of x and y");
    assert!(q.take_due(10, 10).is_empty(), "x waits for 1, y is empty");
    q.finish(1);
    assert_eq!(seqs(&q.take_due(10, 10)), [2], "then x's next");
    q.finish(2);
    q.finish(3);
    assert_eq!(seqs(&q.take_due(10, 10)), [4]);
    q.finish(4);
    assert!(q.is_empty() && q.next_due().is_none());
}

#[test]
fn a_retried_head_holds_its_lane_until_due() {
    let mut q = queue(100, 100);
    q.insert(event(1, "x", 100));
    q.insert(event(2, "x", 100));
    assert!(q.take_due(99, 10).is_empty(), "not due yet");
    assert_eq!(q.next_due(), Some(100));
    assert_eq!(seqs(&q.take_due(100, 10)), [1]);
    let updated = q.retry(1, 1_100).unwrap();
    assert_eq!((updated.attempt, updated.due_at), (1, 1_100));
    assert_eq!(q.next_due(), Some(1_100), "2 stays behind 1");
    assert!(q.take_due(1_099, 10).is_empty());
    let again = q.take_due(1_100, 10);
    assert_eq!((seqs(&again), again[0].attempt), (vec![1], 1));
    q.finish(1);
    assert_eq!(q.next_due(), Some(100), "2 was due long ago: at once");
}

#[test]
fn at_most_max_per_take_oldest_due_first() {
    let mut q = queue(100, 100);
    q.insert(event(1, "a", 30));
    q.insert(event(2, "b", 10));
    q.insert(delivery(3, None, DeliveryKind::Cdr, 20));
    q.insert(delivery(4, None, DeliveryKind::Cdr, 20));
    assert_eq!(seqs(&q.take_due(50, 2)), [2, 3]);
    assert_eq!(
        seqs(&q.take_due(50, 5)),
        [4, 1],
        "callless deliveries are lanes of their own"
    );
}

#[test]
fn over_the_event_cap_the_oldest_idle_event_goes() {
    let mut q = queue(3, 10);
    for d in [event(1, "x", 0), event(2, "x", 0), event(3, "y", 0)] {
        q.insert(d);
    }
    assert_eq!(seqs(&q.take_due(0, 10)), [1, 3]);
    // 1 and 3 are being attempted: 2 is the oldest that can go.
    let evicted = q.make_room(DeliveryKind::Event, AppId(1)).unwrap().unwrap();
    assert_eq!(evicted.seq, 2);
    q.insert(event(4, "x", 0));
    assert_eq!(q.len(), 3);
    q.finish(1);
    assert_eq!(seqs(&q.take_due(0, 10)), [4], "x goes on with 4");
    q.insert(event(5, "z", 0));
    assert_eq!(seqs(&q.take_due(0, 10)), [5]);
    assert_eq!(
        q.make_room(DeliveryKind::Event, AppId(1)),
        Err(Full),
        "every event is being attempted"
    );
    assert_eq!(
        q.make_room(DeliveryKind::Cdr, AppId(1)),
        Ok(None),
        "CDRs have their own cap"
    );
}

#[test]
fn evicting_a_waiting_head_promotes_the_next() {
    let mut q = queue(2, 10);
    q.insert(event(1, "x", 50));
    q.insert(event(2, "x", 0));
    assert_eq!(q.next_due(), Some(50));
    assert_eq!(
        q.make_room(DeliveryKind::Event, AppId(1))
            .unwrap()
            .unwrap()
            .seq,
        1
    );
    assert_eq!(q.next_due(), Some(0), "2 heads x now");
    assert_eq!(seqs(&q.take_due(0, 10)), [2]);
}

#[test]
fn cdrs_over_their_cap_are_refused_never_evicted() {
    let mut q = queue(1, 2);
    q.insert(delivery(1, Some("x"), DeliveryKind::Cdr, 0));
    q.insert(delivery(2, Some("y"), DeliveryKind::Cdr, 0));
    assert_eq!(q.make_room(DeliveryKind::Cdr, AppId(1)), Err(Full));
    q.insert(event(3, "z", 0));
    let evicted = q.make_room(DeliveryKind::Event, AppId(1)).unwrap().unwrap();
    assert_eq!(evicted.seq, 3, "an event goes, not a CDR");
    q.finish(1);
    assert_eq!(
        q.make_room(DeliveryKind::Cdr, AppId(1)),
        Ok(None),
        "room again"
    );
}

fn fair(max_events: usize, max_cdrs: usize, per_app_events: usize, per_app_cdrs: usize) -> Queue {
    Queue::new(Limits {
        max_events,
        max_cdrs,
        max_events_per_app: per_app_events,
        max_cdrs_per_app: per_app_cdrs,
    })
}

/// Admits `d` as the outbox does: make room (dropping what must go), then insert.
fn admit(q: &mut Queue, d: Delivery) -> Result<Option<u64>, Full> {
    let evicted = q.make_room(d.kind, d.app)?.map(|e| e.seq);
    q.insert(d);
    Ok(evicted)
}

#[test]
fn an_app_over_its_own_cap_evicts_only_its_own_events() {
    // App 1's event URL is dead: its backlog grows; app 2's events must all survive.
    let mut q = fair(1_000, 1_000, 3, 10);
    admit(&mut q, event_of(2, 1, "b1")).unwrap();
    admit(&mut q, event_of(2, 2, "b2")).unwrap();
    let mut evicted = Vec::new();
    for seq in 10..30 {
        if let Some(e) = admit(&mut q, event_of(1, seq, &format!("a{seq}"))).unwrap() {
            evicted.push(e);
        }
    }
    assert_eq!(q.events_of(AppId(1)), 3, "app 1 holds its cap");
    assert_eq!(q.events_of(AppId(2)), 2, "app 2 kept both");
    assert!(
        evicted.iter().all(|&seq| seq >= 10),
        "only app 1's went: {evicted:?}"
    );
    assert_eq!(evicted.len(), 17, "its oldest, one per new event");
    assert_eq!(evicted[0], 10);
    // Its in-flight events are not evicted: the next oldest idle one goes.
    assert_eq!(seqs(&q.take_due(0, 3)), [1, 2, 27]);
    assert_eq!(admit(&mut q, event_of(1, 40, "a40")), Ok(Some(28)));
    assert_eq!(admit(&mut q, event_of(1, 41, "a41")), Ok(Some(29)));
    assert_eq!(
        admit(&mut q, event_of(1, 42, "a42")),
        Ok(Some(40)),
        "the next idle one, in order"
    );
    q.take_due(0, 10);
    assert_eq!(
        q.make_room(DeliveryKind::Event, AppId(1)),
        Err(Full),
        "all of app 1's are being attempted: its new event is refused"
    );
    assert_eq!(
        q.make_room(DeliveryKind::Event, AppId(2)),
        Ok(None),
        "app 2 still has room"
    );
}

#[test]
fn full_in_all_the_largest_backlog_pays_never_a_smaller_app() {
    // Five places in all, four per app: app 1 (dead URL) takes four, app 2 one.
    let mut q = fair(5, 100, 4, 100);
    for seq in 1..=4 {
        admit(&mut q, event_of(1, seq, &format!("a{seq}"))).unwrap();
    }
    admit(&mut q, event_of(2, 5, "b5")).unwrap();
    // App 2 and app 3 send more: each time app 1, the largest backlog, gives its oldest.
    assert_eq!(admit(&mut q, event_of(2, 6, "b6")), Ok(Some(1)));
    assert_eq!(admit(&mut q, event_of(3, 7, "c7")), Ok(Some(2)));
    assert_eq!(
        (
            q.events_of(AppId(1)),
            q.events_of(AppId(2)),
            q.events_of(AppId(3))
        ),
        (2, 2, 1)
    );
    // Now apps 1 and 2 tie at two: the one whose oldest idle event is oldest pays (app 1's 3).
    assert_eq!(admit(&mut q, event_of(3, 8, "c8")), Ok(Some(3)));
    // App 2 is now the largest (two): it pays for its own next event, app 3 keeps its two.
    assert_eq!(admit(&mut q, event_of(2, 9, "b9")), Ok(Some(5)));
    assert_eq!(q.events_of(AppId(3)), 2);
    assert_eq!(q.len(), 5);
}

#[test]
fn cdr_webhooks_have_a_cap_per_app_too() {
    let mut q = fair(100, 10, 100, 2);
    admit(&mut q, cdr_of(1, 1, "a1")).unwrap();
    admit(&mut q, cdr_of(1, 2, "a2")).unwrap();
    assert_eq!(
        q.make_room(DeliveryKind::Cdr, AppId(1)),
        Err(Full),
        "app 1 is at its cap"
    );
    assert!(!q.cdr_room(AppId(1), 0, 0));
    assert_eq!(
        q.make_room(DeliveryKind::Cdr, AppId(2)),
        Ok(None),
        "app 2 is not"
    );
    assert!(q.cdr_room(AppId(2), 1, 1));
    assert!(
        !q.cdr_room(AppId(2), 2, 2),
        "a batch's reservations count per app"
    );
    q.finish(1);
    assert_eq!(q.cdrs_of(AppId(1)), 1);
    assert_eq!(
        q.make_room(DeliveryKind::Cdr, AppId(1)),
        Ok(None),
        "room again"
    );
}
