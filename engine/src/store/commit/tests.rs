//! Group-commit tests with a probe store that counts flushes and records what each one covered.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::sip::registrar::{Aor, Binding};
use crate::store::{
    Account, App, AppId, BwDomain, Cdr, CdrCursor, Delivery, Endpoint, MemoryStore, Number, Trunk,
};

/// A store whose "writes" are a counter: `flush` makes everything written before it started
/// durable, after a configurable delay. Flush number `fail_at` (1-based) fails; flush number 1
/// waits for `release` when `gated`.
#[derive(Default)]
struct Probe {
    inner: MemoryStore,
    written: AtomicU64,
    durable: AtomicU64,
    flushes: AtomicUsize,
    delay_ms: u64,
    fail_at: Option<usize>,
    gated: bool,
    release: AtomicBool,
}

impl Probe {
    /// A write; returns its sequence number.
    fn write(&self) -> u64 {
        self.written.fetch_add(1, SeqCst) + 1
    }
}

/// `callers` concurrent tasks each make `rounds` writes, each followed by a `sync` after which
/// the write must be durable (the whole point of a group commit); returns when all are done.
async fn write_and_sync(probe: &Arc<Probe>, commit: &GroupCommit, callers: usize, rounds: usize) {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (probe, commit) = (probe.clone(), commit.clone());
            tokio::spawn(async move {
                for _ in 0..rounds {
                    let seq = probe.write();
                    commit.sync().await.unwrap();
                    assert!(probe.durable.load(SeqCst) >= seq);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

impl Store for Probe {
    fn put_node(&self, node: &crate::store::NodeInfo) -> Result<(), StoreError> {
        self.inner.put_node(node)
    }
    fn nodes(&self) -> Result<Vec<crate::store::NodeInfo>, StoreError> {
        self.inner.nodes()
    }
    fn delete_node(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete_node(id)
    }
    fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        self.inner.insert_app(app)
    }
    fn app(&self, id: AppId) -> Result<Option<App>, StoreError> {
        self.inner.app(id)
    }
    fn update_app(&self, app: &App) -> Result<(), StoreError> {
        self.inner.update_app(app)
    }
    fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.inner.apps()
    }
    fn delete_app(&self, id: AppId) -> Result<(), StoreError> {
        self.inner.delete_app(id)
    }
    fn insert_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        self.inner.insert_endpoint(e)
    }
    fn update_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        self.inner.update_endpoint(e)
    }
    fn endpoint(&self, domain: &str, user: &str) -> Result<Option<Endpoint>, StoreError> {
        self.inner.endpoint(domain, user)
    }
    fn endpoints_of_app(
        &self,
        app: AppId,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, usize), StoreError> {
        self.inner.endpoints_of_app(app, offset, limit)
    }
    fn delete_endpoint(&self, domain: &str, user: &str) -> Result<(), StoreError> {
        self.inner.delete_endpoint(domain, user)
    }
    fn put_bindings(&self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        self.inner.put_bindings(aor, bindings)
    }
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        self.inner.bindings(aor)
    }
    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError> {
        self.inner.all_bindings()
    }
    fn insert_trunk(&self, t: &Trunk) -> Result<(), StoreError> {
        self.inner.insert_trunk(t)
    }
    fn trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError> {
        self.inner.trunk(name)
    }
    fn trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        self.inner.trunks()
    }
    fn delete_trunk(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_trunk(name)
    }
    fn insert_number(&self, n: &Number) -> Result<(), StoreError> {
        self.inner.insert_number(n)
    }
    fn number(&self, digits: &str) -> Result<Option<Number>, StoreError> {
        self.inner.number(digits)
    }
    fn numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError> {
        self.inner.numbers(app)
    }
    fn delete_number(&self, digits: &str) -> Result<(), StoreError> {
        self.inner.delete_number(digits)
    }
    fn update_number(&self, number: &Number) -> Result<(), StoreError> {
        self.inner.update_number(number)
    }
    fn insert_cloudua_domain(&self, d: &crate::store::CloudUaDomain) -> Result<(), StoreError> {
        self.inner.insert_cloudua_domain(d)
    }
    fn cloudua_domain(
        &self,
        name: &str,
    ) -> Result<Option<crate::store::CloudUaDomain>, StoreError> {
        self.inner.cloudua_domain(name)
    }
    fn cloudua_domains(&self) -> Result<Vec<crate::store::CloudUaDomain>, StoreError> {
        self.inner.cloudua_domains()
    }
    fn delete_cloudua_domain(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_cloudua_domain(name)
    }
    fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.inner.insert_account(account)
    }
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.inner.account(id)
    }
    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.accounts()
    }
    fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete_account(id)
    }
    fn insert_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        self.inner.insert_bw_domain(domain)
    }
    fn bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError> {
        self.inner.bw_domain(id)
    }
    fn bw_domains_of_account(&self, account: &str) -> Result<Vec<BwDomain>, StoreError> {
        self.inner.bw_domains_of_account(account)
    }
    fn delete_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.inner.delete_bw_domain(id)
    }
    fn endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.inner.endpoint_by_id(id)
    }
    fn endpoints_of_bw_domain(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.inner.endpoints_of_bw_domain(domain_id)
    }
    fn insert_cdr(&self, cdr: &Cdr, d: Option<&Delivery>) -> Result<bool, StoreError> {
        self.inner.insert_cdr(cdr, d)
    }
    fn cdrs_of_call(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError> {
        self.inner.cdrs_of_call(cmiuuid)
    }
    fn cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError> {
        self.inner.cdrs(app, limit, before)
    }
    fn prune_cdrs_before(&self, before: u64, max: usize) -> Result<usize, StoreError> {
        self.inner.prune_cdrs_before(before, max)
    }
    fn prune_cdrs_of_app(&self, app: AppId, keep: usize, max: usize) -> Result<usize, StoreError> {
        self.inner.prune_cdrs_of_app(app, keep, max)
    }
    fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        self.inner.put_delivery(d)
    }
    fn delete_delivery(&self, seq: u64) -> Result<bool, StoreError> {
        self.inner.delete_delivery(seq)
    }
    fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.inner.deliveries()
    }
    fn flush(&self) -> Result<(), StoreError> {
        let covered = self.written.load(SeqCst);
        let number = self.flushes.fetch_add(1, SeqCst) + 1;
        if self.gated && number == 1 {
            while !self.release.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        std::thread::sleep(Duration::from_millis(self.delay_ms));
        if self.fail_at == Some(number) {
            return Err(StoreError::Io(io::Error::other("disk on fire")));
        }
        self.durable.fetch_max(covered, SeqCst);
        Ok(())
    }
}

fn queued(commit: &GroupCommit) -> usize {
    let queue = commit.inner.queue.as_ref().unwrap();
    queue.max_capacity() - queue.capacity()
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    for _ in 0..5_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_share_flushes_and_each_sees_its_write_durable() {
    let probe = Arc::new(Probe {
        delay_ms: 5,
        ..Probe::default()
    });
    let commit = GroupCommit::start(probe.clone()).unwrap();
    const CALLERS: usize = 300;
    write_and_sync(&probe, &commit, CALLERS, 1).await;
    let flushes = probe.flushes.load(SeqCst);
    assert!(
        (1..=CALLERS / 10).contains(&flushes),
        "{flushes} flushes for {CALLERS} callers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_error_reaches_every_waiter_of_its_batch_and_the_next_batch_retries() {
    let probe = Arc::new(Probe {
        gated: true,
        fail_at: Some(2),
        ..Probe::default()
    });
    let commit = GroupCommit::start(probe.clone()).unwrap();

    // Flush 1 starts for the first caller and holds at the gate...
    let first = tokio::spawn({
        let commit = commit.clone();
        async move { commit.sync().await }
    });
    wait_until(|| probe.flushes.load(SeqCst) == 1).await;
    // ...while ten more callers queue up for flush 2, which will fail.
    let batch: Vec<_> = (0..10)
        .map(|_| {
            let commit = commit.clone();
            tokio::spawn(async move { commit.sync().await })
        })
        .collect();
    wait_until(|| queued(&commit) == 10).await;
    probe.release.store(true, SeqCst);

    first.await.unwrap().expect("flush 1 succeeded");
    for waiter in batch {
        match waiter.await.unwrap() {
            Err(StoreError::FlushFailed(shared)) => {
                assert!(shared.to_string().contains("disk on fire"), "{shared}");
            }
            other => panic!("expected the batch's flush error, got {other:?}"),
        }
    }
    assert_eq!(
        probe.flushes.load(SeqCst),
        2,
        "one flush for the whole batch"
    );
    commit.sync().await.expect("the next batch flushes again");
    assert_eq!(probe.flushes.load(SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_callers_than_the_queue_holds_all_complete() {
    let probe = Arc::new(Probe {
        delay_ms: 2,
        ..Probe::default()
    });
    let commit = GroupCommit::start(probe.clone()).unwrap();
    let callers = GroupCommit::MAX_QUEUED + 1_000;
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let commit = commit.clone();
            tokio::spawn(async move { commit.sync().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(probe.flushes.load(SeqCst) < callers / 100);
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_thread_and_releases_the_store() {
    let probe = Arc::new(Probe::default());
    let commit = GroupCommit::start(probe.clone()).unwrap();
    let clone = commit.clone();
    drop(commit);
    clone.sync().await.expect("a clone keeps the flusher alive");
    assert_eq!(
        Arc::strong_count(&probe),
        2,
        "the flusher still holds the store"
    );
    drop(clone);
    assert_eq!(Arc::strong_count(&probe), 1, "the flusher thread has ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_are_paced_and_a_writer_after_a_quiet_moment_is_not_held() {
    // Instant flushes: unpaced, every sync would get its own.
    let probe = Arc::new(Probe::default());
    let interval = Duration::from_millis(20);
    let commit = GroupCommit::start_paced(probe.clone(), interval).unwrap();
    let began = std::time::Instant::now();
    write_and_sync(&probe, &commit, 20, 5).await;
    let elapsed = began.elapsed();
    let flushes = probe.flushes.load(SeqCst);
    let allowed = (elapsed.as_millis() / interval.as_millis()) as usize + 1;
    assert!(
        flushes <= allowed,
        "{flushes} flushes in {elapsed:?} with {interval:?} pacing"
    );
    assert!(flushes < 100, "100 syncs shared flushes");

    // A lone writer after a long pause: its flush starts at once, not an interval later.
    let slow = GroupCommit::start_paced(probe.clone(), Duration::from_secs(3600)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), slow.sync())
        .await
        .expect("the first flush is not paced")
        .unwrap();
}
