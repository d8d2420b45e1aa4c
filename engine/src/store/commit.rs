//! Group commit: many writers, one `fsync`.
//!
//! A writer that must not acknowledge before its write is durable (an API 2xx, a REGISTER's 200)
//! makes its write, then awaits [`GroupCommit::sync`]. Contract: `sync` resolves `Ok` only after
//! a [`Store::flush`] that *started after `sync` was called* has returned `Ok`; so every write
//! that returned before the call is durable.
//!
//! How: `sync` queues a oneshot sender and awaits it. A dedicated flusher thread (a plain
//! `std::thread`: `flush` blocks for milliseconds and must not stall an async reactor) waits for
//! the first queued waiter, takes every waiter queued by then, runs one `flush`, and answers
//! them all with its result. Waiters that arrive during a flush stay queued for the next one.
//! Under load, each `fsync` thus serves everyone who arrived while the previous one ran.
//!
//! Pacing: two flushes start at least [`GroupCommit::MIN_INTERVAL`] apart. On a disk whose
//! `fsync` takes milliseconds this never bites; on a fast device (tmpfs, a write-back cache) a
//! flush returns in tens of microseconds and, unpaced, the flusher would flush once per writer,
//! each flush costing the store a round of thread wake-ups (measured: sled's I/O pool woke on
//! every flush and took 40% of the CPU of a REGISTER load). A writer arriving after a quiet
//! moment is flushed at once; under load a writer waits at most one interval more.
//!
//! Bounds: at most [`GroupCommit::MAX_QUEUED`] waiters wait in the queue; a caller beyond that
//! waits asynchronously for room (backpressure, not an error), so memory stays bounded whatever
//! the load. A flush error reaches every waiter of its batch as [`StoreError::FlushFailed`]
//! (sharing one error); the next batch tries again.
//!
//! Shutdown: the thread ends when the last handle is dropped. That drop waits for an in-flight
//! flush to finish (at most one `fsync`) and then releases the thread's `Arc` of the store, so a
//! store dropped after its `GroupCommit` is really closed (and may be reopened) at that point.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError};

type Outcome = Result<(), Arc<StoreError>>;

/// A cloneable handle on one flusher thread. See the module doc for the contract.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` only while `Drop` runs.
    queue: Option<mpsc::Sender<oneshot::Sender<Outcome>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = self
            .inner
            .queue
            .as_ref()
            .map_or(0, |q| q.max_capacity() - q.capacity());
        f.debug_struct("GroupCommit")
            .field("queued", &queued)
            .finish()
    }
}

impl GroupCommit {
    /// How many waiters may be queued before `sync` callers wait for room.
    pub const MAX_QUEUED: usize = 4096;
    /// The least time between the starts of two flushes (see "Pacing" in the module doc).
    pub const MIN_INTERVAL: Duration = Duration::from_millis(2);

    /// Starts the flusher thread for `store`.
    pub fn start(store: Arc<dyn Store>) -> Result<GroupCommit, StoreError> {
        Self::start_paced(store, Self::MIN_INTERVAL)
    }

    /// Starts the flusher thread for `store`, flushes at least `interval` apart.
    pub fn start_paced(
        store: Arc<dyn Store>,
        interval: Duration,
    ) -> Result<GroupCommit, StoreError> {
        let (queue, waiters) = mpsc::channel(Self::MAX_QUEUED);
        let thread = std::thread::Builder::new()
            .name("store-flusher".to_owned())
            .spawn(move || flusher(store, waiters, interval))?;
        Ok(GroupCommit {
            inner: Arc::new(Inner {
                queue: Some(queue),
                thread: Some(thread),
            }),
        })
    }

    /// Resolves once every write made before this call is durable.
    ///
    /// Cancel-safe: dropping the future forgets this caller; the flush still happens for the
    /// others.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let queue = self.inner.queue.as_ref().ok_or(StoreError::CommitStopped)?;
        let (done, outcome) = oneshot::channel();
        queue
            .send(done)
            .await
            .map_err(|_| StoreError::CommitStopped)?;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(shared)) => Err(StoreError::FlushFailed(shared)),
            // The flusher dropped our sender without answering: it panicked mid-flush.
            Err(_) => Err(StoreError::CommitStopped),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the flusher's loop once it has answered what it holds.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the store flusher thread panicked");
            }
        }
    }
}

/// A flush at least this long is logged.
const SLOW_FLUSH: Duration = Duration::from_millis(50);

fn flusher(
    store: Arc<dyn Store>,
    mut waiters: mpsc::Receiver<oneshot::Sender<Outcome>>,
    interval: Duration,
) {
    let mut batch = Vec::new();
    let mut last_start: Option<Instant> = None;
    while let Some(first) = waiters.blocking_recv() {
        // Under load, let the writers of one interval share a flush.
        if let Some(wait) =
            last_start.and_then(|t| (t + interval).checked_duration_since(Instant::now()))
        {
            std::thread::sleep(wait);
        }
        batch.push(first);
        // Everyone queued by now is served by this flush; later arrivals wait for the next.
        while let Ok(waiter) = waiters.try_recv() {
            batch.push(waiter);
        }
        let started = Instant::now();
        last_start = Some(started);
        let outcome = store.flush().map_err(|e| {
            tracing::error!(error = %e, waiters = batch.len(), "store flush failed");
            Arc::new(e)
        });
        let took = started.elapsed();
        if took >= SLOW_FLUSH {
            // Every acknowledgement in the batch waited this long: worth an operator's look.
            tracing::warn!(
                ms = took.as_millis() as u64,
                waiters = batch.len(),
                "slow store flush"
            );
        }
        for waiter in batch.drain(..) {
            // A waiter that went away (its future was dropped) needs no answer.
            let _ = waiter.send(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests;
