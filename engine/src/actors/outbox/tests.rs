//! The outbox in-process, against a real HTTP receiver on 127.0.0.1: retries (5xx, refused
//! connections), signatures, delivery ids, per-call order, persistence across a restart and
//! across `kill -9` (a child process), the caps and the give-ups.

mod receiver;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use receiver::{delivered, wait_until, Reply, Rule};

use super::*;
use crate::store::{AppId, MemoryStore, SledStore};
use crate::webhook::event::tests::event;
use crate::webhook::{verify, EventStatus, Limits};

const SECRET: &str = "s3cret-42";

fn app(url: Option<String>) -> App {
    App {
        id: AppId(42),
        name: "hooks".into(),
        secret: SECRET.into(),
        answer_url: "http://127.0.0.1:9/answer".into(),
        event_url: url,
        domain: "hooks.example".into(),
        fallback_pcmo: None,
        answer_timeout_ms: None,
        created_at: 1,
        account: None,
        live: None,
    }
}

fn url(addr: std::net::SocketAddr) -> Option<String> {
    Some(format!("http://{addr}/events"))
}

fn cdr(call: &str) -> Cdr {
    crate::store::conformance::cdr(42, call, "a", 1_700_000_009_000)
}

/// Retries within a test's patience: 200 ms doubling.
fn quick() -> OutboxConfig {
    OutboxConfig {
        retry: RetryPolicy {
            first_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..OutboxConfig::default()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rule(f: impl Fn(&receiver::Request) -> Reply + Send + Sync + 'static) -> Rule {
    Arc::new(f)
}

fn started(store: Arc<dyn Store>, config: OutboxConfig) -> Outbox {
    store.insert_app(&app(None)).ok();
    let commit = GroupCommit::start(store.clone()).unwrap();
    Outbox::start(store, commit, config).unwrap()
}

async fn queued(accepted: Accepted) -> String {
    match accepted.await.unwrap() {
        Receipt::Queued { delivery_id } => delivery_id,
        other => panic!("expected Queued, got {other:?}"),
    }
}

async fn drained(store: &dyn Store) {
    for _ in 0..500 {
        if store.deliveries().unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "deliveries still pending: {:?}",
        store.deliveries().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_5xx_and_refused_connections_then_delivers_signed_each_time() {
    // Attempt 1 gets a 503 and the port closes; attempt 2 (after 1 s) is refused; the port
    // opens again before attempt 3 (2 s later), which gets a 200.
    let (addr, log) = receiver::start(rule(|_| Reply::StatusThenClose(503))).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let outbox = started(store.clone(), OutboxConfig::default());
    let e = event("call-1", 1, EventStatus::Started);
    let id = queued(outbox.enqueue_event(&app(url(addr)), &e).unwrap()).await;

    let first = wait_until(&log, Duration::from_secs(5), |l| !l.is_empty()).await[0].clone();
    tokio::time::sleep_until((first.at + Duration::from_secs(2)).into()).await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    receiver::serve(listener, log.clone(), rule(|_| Reply::Status(200)));
    let seen = wait_until(&log, Duration::from_secs(10), |l| l.len() >= 2).await;

    let (one, three) = (&seen[0], &seen[1]);
    assert_eq!((one.attempt, one.status), (1, 503));
    assert_eq!(
        (three.attempt, three.status),
        (3, 200),
        "attempt 2 was refused"
    );
    assert_eq!(
        (one.delivery_id.as_str(), three.delivery_id.as_str()),
        (id.as_str(), id.as_str())
    );
    let gap = three.at - one.at;
    assert!(
        gap >= Duration::from_millis(2_800) && gap < Duration::from_secs(6),
        "1 s + 2 s backoff, got {gap:?}"
    );
    for r in [one, three] {
        assert_eq!(r.body, body(&e), "the same bytes every time");
        verify(SECRET, &r.signature, r.body.as_bytes(), unix_now(), 30).unwrap();
    }
    assert_ne!(
        one.signature, three.signature,
        "each attempt is signed with its own t"
    );
    drained(store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_in_order_while_other_calls_go_on() {
    let (addr, log) = receiver::start(rule(|r| {
        if r.what() == "x-1" && r.attempt == 1 {
            Reply::Status(503)
        } else {
            Reply::Status(200)
        }
    }))
    .await;
    let outbox = started(Arc::new(MemoryStore::new()), quick());
    let a = app(url(addr));
    let mut pending = Vec::new();
    for (call, seq) in [("x", 1), ("x", 2), ("x", 3), ("y", 1)] {
        let e = event(call, seq, EventStatus::Ringing);
        pending.push(outbox.enqueue_event(&a, &e).unwrap());
    }
    for p in pending {
        queued(p).await;
    }
    let seen = wait_until(&log, Duration::from_secs(5), |l| delivered(l).len() == 4).await;
    let order: Vec<(String, u16)> = seen.iter().map(|r| (r.what(), r.status)).collect();
    let x: Vec<_> = order
        .iter()
        .filter(|(w, _)| w.starts_with("x-"))
        .cloned()
        .collect();
    assert_eq!(
        x,
        [
            ("x-1".into(), 503),
            ("x-1".into(), 200),
            ("x-2".into(), 200),
            ("x-3".into(), 200)
        ],
        "x-2 waits for x-1's retry: {order:?}"
    );
    let y = order.iter().position(|(w, _)| w == "y-1").unwrap();
    let x1_ok = order
        .iter()
        .position(|o| *o == ("x-1".into(), 200))
        .unwrap();
    assert!(y < x1_ok, "y is not held up by x's retry: {order:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_restart_in_order() {
    let accept = Arc::new(AtomicBool::new(false));
    let gate = accept.clone();
    let (addr, log) = receiver::start(rule(move |_| {
        Reply::Status(if gate.load(SeqCst) { 200 } else { 503 })
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let a = app(url(addr));
    let ids = {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let outbox = started(store, quick());
        let mut ids = Vec::new();
        for seq in [1, 2] {
            let e = event("x", seq, EventStatus::Ringing);
            ids.push(queued(outbox.enqueue_event(&a, &e).unwrap()).await);
        }
        ids.push(queued(outbox.enqueue_cdr(&a, &cdr("x")).unwrap()).await);
        wait_until(&log, Duration::from_secs(5), |l| l.len() >= 2).await;
        outbox.shutdown().await;
        ids
    };
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let pending = store.deliveries().unwrap();
    assert_eq!(
        pending.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids
    );
    assert!(pending[0].attempt >= 1, "the failed attempts were recorded");
    assert_eq!(pending[1].attempt, 0, "x-2 waited behind x-1");

    accept.store(true, SeqCst);
    let before = log.lock().unwrap().len();
    let _outbox = started(store.clone(), quick());
    let seen = wait_until(&log, Duration::from_secs(5), |l| {
        delivered(&l[before..]).len() == 3
    })
    .await;
    let after: Vec<String> = delivered(&seen[before..])
        .iter()
        .map(|r| r.what())
        .collect();
    assert_eq!(after, ["x-1", "x-2", "cdr/a"]);
    let got: Vec<&str> = delivered(&seen[before..])
        .iter()
        .map(|r| r.delivery_id.as_str())
        .collect();
    assert_eq!(
        got,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "same delivery ids after the restart"
    );
    drained(store.as_ref()).await;
    assert_eq!(store.cdrs_of_call("x").unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdrs_are_stored_once_and_never_lost_to_the_cap() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let outbox = started(store.clone(), OutboxConfig::default());
    let quiet = app(None);
    assert!(matches!(
        outbox.enqueue_event(&quiet, &event("c", 1, EventStatus::Started)),
        Err(OutboxError::NoEventUrl)
    ));
    assert_eq!(
        outbox
            .enqueue_cdr(&quiet, &cdr("c"))
            .unwrap()
            .await
            .unwrap(),
        Receipt::Stored
    );
    assert_eq!(
        outbox
            .enqueue_cdr(&quiet, &cdr("c"))
            .unwrap()
            .await
            .unwrap(),
        Receipt::Duplicate
    );
    assert_eq!(store.cdrs_of_call("c").unwrap().len(), 1);
    assert!(store.deliveries().unwrap().is_empty());

    let full = started(
        store.clone(),
        OutboxConfig {
            limits: Limits {
                max_events: 10,
                max_cdrs: 0,
                ..Limits::default()
            },
            ..OutboxConfig::default()
        },
    );
    let loud = app(Some("http://127.0.0.1:9/events".into()));
    assert_eq!(
        full.enqueue_cdr(&loud, &cdr("d")).unwrap().await.unwrap(),
        Receipt::StoredNotQueued
    );
    assert_eq!(store.cdrs_of_call("d").unwrap().len(), 1, "stored anyway");
    assert!(store.deliveries().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_orphaned_deliveries_are_given_up() {
    let (addr, log) = receiver::start(rule(|r| {
        Reply::Status(if r.what() == "x-1" { 404 } else { 200 })
    }))
    .await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // Queued for an app that no longer exists: given up at start, never sent.
    let mut orphan = crate::store::conformance::delivery(5, Some("z"));
    orphan.app = AppId(99);
    orphan.url = url(addr).unwrap();
    store.put_delivery(&orphan).unwrap();
    let outbox = started(store.clone(), quick());
    let a = app(url(addr));
    for seq in [1, 2] {
        queued(
            outbox
                .enqueue_event(&a, &event("x", seq, EventStatus::Ringing))
                .unwrap(),
        )
        .await;
    }
    let seen = wait_until(&log, Duration::from_secs(5), |l| !delivered(l).is_empty()).await;
    let order: Vec<(String, u32, u16)> = seen
        .iter()
        .map(|r| (r.what(), r.attempt, r.status))
        .collect();
    assert_eq!(
        order,
        [("x-1".into(), 1, 404), ("x-2".into(), 1, 200)],
        "a 404 is not retried"
    );
    drained(store.as_ref()).await;
    assert!(!seen.iter().any(|r| r.delivery_id == orphan.id));
}

const CHILD_DIR: &str = "RINGMASTER_OUTBOX_CHILD_DIR";
const CHILD_URL: &str = "RINGMASTER_OUTBOX_CHILD_URL";

/// The child half of the `kill -9` test: queues three events and a CDR, says READY once they
/// are accepted (durable), and waits to be killed. Does nothing unless the parent started it.
#[test]
#[ignore = "a child process of accepted_deliveries_survive_kill_9"]
fn child() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(std::path::Path::new(&dir)).unwrap());
        let outbox = started(store, OutboxConfig::default());
        let a = app(Some(url));
        for seq in 1..=3 {
            queued(
                outbox
                    .enqueue_event(&a, &event("k", seq, EventStatus::Ringing))
                    .unwrap(),
            )
            .await;
        }
        queued(outbox.enqueue_cdr(&a, &cdr("k")).unwrap()).await;
        println!("READY");
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_deliveries_survive_kill_9() {
    use std::io::BufRead;
    let accept = Arc::new(AtomicBool::new(false));
    let gate = accept.clone();
    let (addr, log) = receiver::start(rule(move |_| {
        Reply::Status(if gate.load(SeqCst) { 200 } else { 503 })
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "actors::outbox::tests::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_URL, url(addr).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.ends_with("READY"))
    });
    let ready = tokio::time::timeout(Duration::from_secs(30), ready).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(matches!(ready, Ok(Ok(true))), "the child never said READY");

    accept.store(true, SeqCst);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let pending: Vec<String> = store
        .deliveries()
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(pending.len(), 4, "every accepted delivery survived");
    let _outbox = started(store.clone(), quick());
    let seen = wait_until(&log, Duration::from_secs(10), |l| delivered(l).len() == 4).await;
    let ok = delivered(&seen);
    assert_eq!(
        ok.iter().map(|r| r.what()).collect::<Vec<_>>(),
        ["k-1", "k-2", "k-3", "cdr/a"]
    );
    assert_eq!(
        ok.iter().map(|r| r.delivery_id.clone()).collect::<Vec<_>>(),
        pending
    );
    for r in ok {
        verify(SECRET, &r.signature, r.body.as_bytes(), unix_now(), 30).unwrap();
    }
    drained(store.as_ref()).await;
}
