//! Conformance checks for CDRs and the webhook outbox. App ids 80–84, calls `c-*`.

use std::sync::{Arc, Barrier};

use super::{cdr, delivery};
use crate::store::{AppId, Cdr, CdrCursor, DeliveryKind, Store, StoreError};

fn ids(list: &[Cdr]) -> Vec<String> {
    list.iter()
        .map(|c| format!("{}/{}", c.cmiuuid, c.leg_id))
        .collect()
}

pub(super) fn cdrs(store: &dyn Store) {
    let a = cdr(80, "c-1", "a", 1_700_000_001_000);
    let b2 = cdr(80, "c-1", "b2", 1_700_000_001_500);
    let b1 = cdr(80, "c-1", "b1", 1_700_000_001_200);
    for c in [&a, &b2, &b1] {
        assert!(store.insert_cdr(c, None).unwrap(), "new");
    }
    let mut again = a.clone();
    again.duration = 999;
    again.time += 5;
    assert!(
        !store.insert_cdr(&again, None).unwrap(),
        "same call and leg: kept once, whatever else differs"
    );
    let legs = store.cdrs_of_call("c-1").unwrap();
    assert_eq!(ids(&legs), ["c-1/a", "c-1/b1", "c-1/b2"], "by leg id");
    assert_eq!(legs[0], a, "the first insert is kept");
    assert!(store.cdrs_of_call("c-").unwrap().is_empty(), "exact call");
    assert!(store.cdrs_of_call("c-9").unwrap().is_empty());
    assert!(matches!(
        store.cdrs_of_call("c\0"),
        Err(StoreError::InvalidKey("cmiuuid"))
    ));
    assert!(matches!(
        store.insert_cdr(&cdr(80, "c-2", "a\0", 1), None),
        Err(StoreError::InvalidKey("leg id"))
    ));

    // A CDR with its webhook: both or neither.
    let with_hook = cdr(80, "c-2", "a", 1_700_000_002_000);
    let mut hook = delivery(9_000_001, Some("c-2"));
    hook.kind = DeliveryKind::Cdr;
    assert!(store.insert_cdr(&with_hook, Some(&hook)).unwrap());
    let mut second = hook.clone();
    second.seq = 9_000_002;
    assert!(!store.insert_cdr(&with_hook, Some(&second)).unwrap());
    let queued: Vec<u64> = store.deliveries().unwrap().iter().map(|d| d.seq).collect();
    assert!(queued.contains(&9_000_001), "queued with its CDR");
    assert!(
        !queued.contains(&9_000_002),
        "a repeated CDR queues nothing"
    );
    assert!(store.delete_delivery(9_000_001).unwrap());

    // A batch: each CDR as if inserted alone, in order; a repeat within the batch is caught.
    let mut batch_hook = delivery(9_000_003, Some("c-3"));
    batch_hook.kind = DeliveryKind::Cdr;
    let mut repeat_hook = batch_hook.clone();
    repeat_hook.seq = 9_000_004;
    let batch = [
        (cdr(80, "c-3", "a", 1_700_000_003_000), Some(batch_hook)),
        (cdr(80, "c-3", "b1", 1_700_000_003_100), None),
        (cdr(80, "c-3", "a", 1_700_000_003_200), Some(repeat_hook)),
        (a.clone(), None),
    ];
    assert_eq!(
        store.insert_cdrs(&batch).unwrap(),
        [true, true, false, false]
    );
    assert_eq!(
        ids(&store.cdrs_of_call("c-3").unwrap()),
        ["c-3/a", "c-3/b1"]
    );
    let queued: Vec<u64> = store.deliveries().unwrap().iter().map(|d| d.seq).collect();
    assert!(queued.contains(&9_000_003) && !queued.contains(&9_000_004));
    assert!(store.delete_delivery(9_000_003).unwrap());
}

pub(super) fn cdr_listing(store: &dyn Store) {
    // Apps 81 and 82 interleaved in time; two CDRs of one call share a millisecond.
    let made = [
        cdr(81, "c-10", "a", 1_800_000_000_000),
        cdr(82, "c-11", "a", 1_800_000_001_000),
        cdr(81, "c-12", "a", 1_800_000_002_000),
        cdr(81, "c-12", "b1", 1_800_000_002_000),
        cdr(82, "c-13", "a", 1_800_000_003_000),
        cdr(81, "c-14", "a", 1_800_000_004_000),
    ];
    for c in &made {
        store.insert_cdr(c, None).unwrap();
    }
    let newest = store.cdrs(None, 3, None).unwrap();
    assert_eq!(
        ids(&newest),
        ["c-14/a", "c-13/a", "c-12/b1"],
        "newest first"
    );
    let next = store.cdrs(None, 3, Some(&newest[2].cursor())).unwrap();
    assert_eq!(
        ids(&next),
        ["c-12/a", "c-11/a", "c-10/a"],
        "the next page starts after the cursor, ties included"
    );

    let app81 = store.cdrs(Some(AppId(81)), 10, None).unwrap();
    assert_eq!(ids(&app81), ["c-14/a", "c-12/b1", "c-12/a", "c-10/a"]);
    let page = store.cdrs(Some(AppId(81)), 2, None).unwrap();
    let rest = store
        .cdrs(Some(AppId(81)), 10, Some(&page[1].cursor()))
        .unwrap();
    assert_eq!(ids(&rest), ["c-12/a", "c-10/a"]);
    assert!(store.cdrs(Some(AppId(89)), 10, None).unwrap().is_empty());
    assert!(store.cdrs(None, 0, None).unwrap().is_empty());
    let past_the_end = CdrCursor {
        time: 1,
        cmiuuid: String::new(),
        leg_id: String::new(),
    };
    assert!(store
        .cdrs(Some(AppId(81)), 10, Some(&past_the_end))
        .unwrap()
        .is_empty());

    // An id with CDRs is taken, even without its app.
    assert!(matches!(
        store.insert_app(&super::app(81, "cdr.example")),
        Err(StoreError::Conflict)
    ));
    // CDRs are history: they outlive their app.
    store.insert_app(&super::app(84, "cdr.example")).unwrap();
    assert!(store
        .insert_cdr(&cdr(84, "c-84", "a", 9_000), None)
        .unwrap());
    store.delete_app(AppId(84)).unwrap();
    assert_eq!(store.cdrs(Some(AppId(84)), 10, None).unwrap().len(), 1);
}

pub(super) fn outbox(store: &dyn Store) {
    for seq in [30, 10, 20] {
        store.put_delivery(&delivery(seq, Some("c-30"))).unwrap();
    }
    let mut retried = delivery(20, Some("c-30"));
    retried.attempt = 3;
    retried.due_at += 8_000;
    store.put_delivery(&retried).unwrap();
    let pending = store.deliveries().unwrap();
    let seqs: Vec<u64> = pending.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [10, 20, 30], "seq order");
    assert_eq!(pending[1], retried, "put replaces");
    assert!(store.delete_delivery(10).unwrap());
    assert!(!store.delete_delivery(10).unwrap(), "already gone");
    assert!(store.delete_delivery(20).unwrap());
    assert!(store.delete_delivery(30).unwrap());
    assert!(store.deliveries().unwrap().is_empty());
}

/// Eight threads store the same leg's CDR, each with its own delivery: one wins, and exactly
/// one delivery is queued.
pub(crate) fn concurrent_cdr_inserts(store: Arc<dyn Store>) {
    const THREADS: u64 = 8;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|n| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut hook = delivery(100 + n, Some("c-race"));
                hook.kind = DeliveryKind::Cdr;
                store
                    .insert_cdr(&cdr(83, "c-race", "a", 1_900_000_000_000), Some(&hook))
                    .unwrap()
            })
        })
        .collect();
    let won = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&new| new)
        .count();
    assert_eq!(won, 1);
    assert_eq!(store.deliveries().unwrap().len(), 1);
    assert_eq!(store.cdrs_of_call("c-race").unwrap().len(), 1);
}

/// Retention: pruning by age (every app) and by count (one app), oldest first. Runs on an
/// empty store (first in the suite) since pruning by age spans every app.
pub(super) fn cdr_retention(store: &dyn Store) {
    for (app, call, t) in [
        (85, "r-1", 1_000),
        (85, "r-2", 2_000),
        (86, "r-3", 2_500),
        (85, "r-4", 3_000),
        (85, "r-5", 4_000),
        (86, "r-6", 5_000),
    ] {
        assert!(store.insert_cdr(&cdr(app, call, "a", t), None).unwrap());
    }
    assert_eq!(
        store.prune_cdrs_before(1_000, 10).unwrap(),
        0,
        "nothing older"
    );
    assert_eq!(store.prune_cdrs_before(2_600, 2).unwrap(), 2, "at most max");
    assert_eq!(
        store.prune_cdrs_before(2_600, 10).unwrap(),
        1,
        "then the rest"
    );
    let left: Vec<String> = ids(&store.cdrs(None, 10, None).unwrap());
    assert_eq!(left, ["r-6/a", "r-5/a", "r-4/a"]);
    assert!(
        store.cdrs_of_call("r-3").unwrap().is_empty(),
        "gone from every index"
    );
    assert!(store.cdrs(Some(AppId(86)), 10, None).unwrap().len() == 1);

    // App 85 keeps its newest one; app 86 is untouched.
    assert_eq!(store.prune_cdrs_of_app(AppId(85), 1, 10).unwrap(), 1);
    assert_eq!(
        ids(&store.cdrs(Some(AppId(85)), 10, None).unwrap()),
        ["r-5/a"]
    );
    assert_eq!(
        ids(&store.cdrs(Some(AppId(86)), 10, None).unwrap()),
        ["r-6/a"]
    );
    assert_eq!(store.prune_cdrs_of_app(AppId(85), 1, 10).unwrap(), 0);
    assert_eq!(store.prune_cdrs_of_app(AppId(86), 0, 10).unwrap(), 1);
    assert_eq!(ids(&store.cdrs(None, 10, None).unwrap()), ["r-5/a"]);
    assert_eq!(store.prune_cdrs_before(u64::MAX, 10).unwrap(), 1);
    assert!(store.cdrs(None, 10, None).unwrap().is_empty());
}
