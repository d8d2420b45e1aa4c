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

fn queue(max_events: usize, max_cdrs: usize) -> Queue {
    Queue::new(Limits {
        max_events,
        max_cdrs,
    })
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
    let evicted = q.make_room(DeliveryKind::Event).unwrap().unwrap();
    assert_eq!(evicted.seq, 2);
    q.insert(event(4, "x", 0));
    assert_eq!(q.len(), 3);
    q.finish(1);
    assert_eq!(seqs(&q.take_due(0, 10)), [4], "x goes on with 4");
    q.insert(event(5, "z", 0));
    assert_eq!(seqs(&q.take_due(0, 10)), [5]);
    assert_eq!(
        q.make_room(DeliveryKind::Event),
        Err(Full),
        "every event is being attempted"
    );
    assert_eq!(
        q.make_room(DeliveryKind::Cdr),
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
    assert_eq!(q.make_room(DeliveryKind::Event).unwrap().unwrap().seq, 1);
    assert_eq!(q.next_due(), Some(0), "2 heads x now");
    assert_eq!(seqs(&q.take_due(0, 10)), [2]);
}

#[test]
fn cdrs_over_their_cap_are_refused_never_evicted() {
    let mut q = queue(1, 2);
    q.insert(delivery(1, Some("x"), DeliveryKind::Cdr, 0));
    q.insert(delivery(2, Some("y"), DeliveryKind::Cdr, 0));
    assert_eq!(q.make_room(DeliveryKind::Cdr), Err(Full));
    q.insert(event(3, "z", 0));
    let evicted = q.make_room(DeliveryKind::Event).unwrap().unwrap();
    assert_eq!(evicted.seq, 3, "an event goes, not a CDR");
    q.finish(1);
    assert_eq!(q.make_room(DeliveryKind::Cdr), Ok(None), "room again");
}
