//! The outbox worker: one tokio task that owns the schedule ([`Queue`]), the store writes of
//! the outbox and the attempts in flight.
//!
//! Each turn of the loop waits for the first of: commands from handles (taken as a batch, so
//! one group commit covers every enqueue that arrived together), an attempt finishing, or the
//! earliest due time. Then it starts whatever is due, within the concurrency bound. The store
//! calls here are sled's in-memory operations (microseconds); the only flush is the group
//! commit's, awaited, on its own thread.

use crate::log_field::Escaped;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinError, JoinSet};

use super::attempt::{self, Attempted};
use super::{Command, OutboxConfig, OutboxError, OutboxStartError, Receipt};
use crate::actors::clock::wall_ms as now_ms;
use crate::store::{Cdr, Delivery, DeliveryKind, GroupCommit, Store};
use crate::webhook::retry::{GiveUp, Verdict};
use crate::webhook::Queue;

type Reply = oneshot::Sender<Result<Receipt, OutboxError>>;

pub(super) struct Worker {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    config: OutboxConfig,
    http: reqwest::Client,
    queue: Queue,
    commands: mpsc::UnboundedReceiver<Command>,
    flights: JoinSet<Attempted>,
    /// Which delivery each attempt task carries, to settle one that panicked.
    flying: HashMap<Id, u64>,
    last_seq: u64,
}

impl Worker {
    pub(super) fn new(
        store: Arc<dyn Store>,
        commit: GroupCommit,
        config: OutboxConfig,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Result<Worker, OutboxStartError> {
        let http = attempt::client(&config).map_err(OutboxStartError::Http)?;
        let mut worker = Worker {
            queue: Queue::new(config.limits),
            store,
            commit,
            config,
            http,
            commands,
            flights: JoinSet::new(),
            flying: HashMap::new(),
            last_seq: 0,
        };
        let pending = worker.store.deliveries()?;
        let count = pending.len();
        for d in pending {
            worker.last_seq = worker.last_seq.max(d.seq);
            // The caps may have shrunk since these were queued: apply them again.
            match worker.queue.make_room(d.kind, d.app) {
                Ok(evicted) => {
                    worker.dropped(evicted);
                    worker.queue.insert(d);
                }
                Err(_) => worker.dropped(Some(d)),
            }
        }
        tracing::info!(pending = count, "webhook outbox loaded");
        Ok(worker)
    }

    pub(super) async fn run(mut self) {
        let mut stop = None;
        loop {
            self.dispatch();
            let wake = self
                .queue
                .next_due()
                .filter(|_| self.flights.len() < self.config.concurrency)
                .map(|due| Duration::from_millis(due.saturating_sub(now_ms())));
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(first) = command else { break };
                    let mut batch = vec![first];
                    while let Ok(more) = self.commands.try_recv() {
                        batch.push(more);
                    }
                    stop = self.accept(batch).await;
                    if stop.is_some() {
                        break;
                    }
                }
                Some(done) = self.flights.join_next_with_id(), if !self.flights.is_empty() => {
                    self.settle(done);
                }
                () = tokio::time::sleep(wake.unwrap_or(Duration::ZERO)), if wake.is_some() => {}
            }
        }
        // Abandon attempts in flight (they stay pending) and release the store before
        // confirming, so whoever asked may reopen it.
        let Worker {
            flights,
            store,
            commit,
            ..
        } = self;
        drop(flights);
        drop(store);
        drop(commit);
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }

    /// Stores every enqueue of the batch, makes them durable with one group commit, then
    /// answers each. Returns the shutdown request, if the batch held one.
    async fn accept(&mut self, batch: Vec<Command>) -> Option<oneshot::Sender<()>> {
        let mut stop = None;
        let mut replies: Vec<(Reply, Result<Receipt, OutboxError>)> = Vec::new();
        // CDRs are written together after the loop (one store write for the batch).
        let mut cdrs: Vec<(Cdr, Option<Delivery>, bool, Reply)> = Vec::new();
        // Webhooks of this batch's CDRs: admitted, not yet in the queue (per app and in all).
        let mut hooks = Reserved::default();
        for command in batch {
            match command {
                Command::Event { delivery, reply } => {
                    let outcome = self.admit_event(delivery);
                    replies.push((reply, outcome));
                }
                Command::Cdr {
                    cdr,
                    delivery,
                    reply,
                } => {
                    let (hook, over_cap) = self.make_room_for_cdr(delivery, &hooks);
                    if let Some(h) = &hook {
                        hooks.add(h.app);
                    }
                    cdrs.push((*cdr, hook, over_cap, reply));
                }
                Command::Shutdown(done) => stop = Some(done),
            }
        }
        if !cdrs.is_empty() {
            replies.extend(self.admit_cdrs(cdrs));
        }
        if !replies.is_empty() {
            let synced = self.commit.sync().await.map_err(|e| {
                tracing::error!(error = %e, "webhook outbox: flush failed");
                Arc::new(e)
            });
            for (reply, outcome) in replies {
                let outcome = match (outcome, &synced) {
                    (Ok(_), Err(e)) => Err(OutboxError::Store(e.clone())),
                    (outcome, _) => outcome,
                };
                // A caller that dropped its `Accepted` needs no answer.
                let _ = reply.send(outcome);
            }
        }
        stop
    }

    /// Gives `d` its place in the enqueue order and its times.
    fn stamp(&mut self, d: &mut Delivery) {
        let now = now_ms();
        // Microseconds keep seqs increasing across restarts; +1 keeps them unique within one.
        self.last_seq = (self.last_seq + 1).max(now.saturating_mul(1000));
        d.seq = self.last_seq;
        d.created_at = now;
        d.due_at = now;
    }

    fn admit_event(&mut self, mut d: Delivery) -> Result<Receipt, OutboxError> {
        self.stamp(&mut d);
        match self.queue.make_room(DeliveryKind::Event, d.app) {
            Ok(evicted) => self.dropped(evicted),
            Err(_) => {
                tracing::error!(delivery = %d.id, appid = %d.app, call = ?d.call, "webhook outbox full: event refused");
                return Err(OutboxError::Full);
            }
        }
        self.store.put_delivery(&d).map_err(|e| {
            tracing::error!(error = %e, delivery = %d.id, "webhook outbox: cannot store an event");
            OutboxError::Store(Arc::new(e))
        })?;
        let delivery_id = d.id.clone();
        self.queue.insert(d);
        Ok(Receipt::Queued { delivery_id })
    }

    /// Stamps a CDR's webhook delivery if the queue has room for it besides the `reserved`
    /// ones of this batch: `(delivery, over_cap)`.
    fn make_room_for_cdr(
        &mut self,
        delivery: Option<Delivery>,
        reserved: &Reserved,
    ) -> (Option<Delivery>, bool) {
        let Some(mut d) = delivery else {
            return (None, false);
        };
        if !self
            .queue
            .cdr_room(d.app, reserved.of(d.app), reserved.total)
        {
            return (None, true);
        }
        self.stamp(&mut d);
        (Some(d), false)
    }

    fn admit_cdrs(
        &mut self,
        cdrs: Vec<(Cdr, Option<Delivery>, bool, Reply)>,
    ) -> Vec<(Reply, Result<Receipt, OutboxError>)> {
        let (rows, rest): (Vec<_>, Vec<_>) = cdrs
            .into_iter()
            .map(|(cdr, hook, over_cap, reply)| ((cdr, hook), (over_cap, reply)))
            .unzip();
        let stored = match self.store.insert_cdrs(&rows) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(error = %e, cdrs = rows.len(), "cannot store CDRs");
                let e = Arc::new(e);
                return rest
                    .into_iter()
                    .map(|(_, reply)| (reply, Err(OutboxError::Store(e.clone()))))
                    .collect();
            }
        };
        rows.into_iter()
            .zip(rest)
            .zip(stored)
            .map(|(((cdr, hook), (over_cap, reply)), new)| {
                let receipt = match (new, hook) {
                    (false, _) => Receipt::Duplicate,
                    (true, Some(d)) => {
                        let delivery_id = d.id.clone();
                        self.queue.insert(d);
                        Receipt::Queued { delivery_id }
                    }
                    (true, None) if over_cap => {
                        tracing::error!(call = %cdr.cmiuuid, leg = %cdr.leg_id, appid = %cdr.appid,
                            "webhook outbox holds its maximum of CDRs: this CDR is stored but not pushed");
                        Receipt::StoredNotQueued
                    }
                    (true, None) => Receipt::Stored,
                };
                (reply, Ok(receipt))
            })
            .collect()
    }

    /// Deletes a delivery the caps pushed out, and says so. Outside a reload this is always
    /// the oldest idle event; at a reload (caps lowered since) it may be a CDR's webhook, whose
    /// CDR stays in the CDR store.
    fn dropped(&self, evicted: Option<Delivery>) {
        let Some(d) = evicted else { return };
        tracing::error!(delivery = %d.id, appid = %d.app, call = ?d.call, kind = ?d.kind,
            "webhook outbox full: dropped a pending event (the oldest of its app, whose backlog is the largest or over its cap)");
        if let Err(e) = self.store.delete_delivery(d.seq) {
            tracing::error!(error = %e, delivery = %d.id, "webhook outbox: cannot delete a dropped delivery");
        }
    }

    /// Starts every due delivery there is room for.
    fn dispatch(&mut self) {
        let room = self.config.concurrency.saturating_sub(self.flights.len());
        if room == 0 {
            return;
        }
        let now = now_ms();
        for d in self.queue.take_due(now, room) {
            let secret = match self.store.app(d.app) {
                Ok(Some(app)) => app.secret,
                Ok(None) => {
                    tracing::error!(delivery = %d.id, appid = %d.app, "webhook given up: its app was deleted");
                    self.forget(d.seq);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, delivery = %d.id, "webhook: cannot read its app; trying later");
                    let due = now + self.config.retry.first_delay.as_millis() as u64;
                    self.reschedule(d.seq, due);
                    continue;
                }
            };
            let seq = d.seq;
            let handle =
                self.flights
                    .spawn(attempt::post(self.http.clone(), d, secret, now / 1000));
            self.flying.insert(handle.id(), seq);
        }
    }

    fn settle(&mut self, done: Result<(Id, Attempted), JoinError>) {
        let a = match done {
            Ok((id, a)) => {
                self.flying.remove(&id);
                a
            }
            Err(e) => {
                // Attempts do not panic; if one ever does, its delivery is tried again later
                // rather than left in flight for ever.
                if let Some(seq) = self.flying.remove(&e.id()) {
                    tracing::error!(error = %e, seq, "webhook attempt task failed");
                    let due = now_ms() + self.config.retry.first_delay.as_millis() as u64;
                    self.reschedule(seq, due);
                }
                return;
            }
        };
        match self.config.retry.judge(a.attempt, a.outcome) {
            Verdict::Delivered => {
                tracing::debug!(delivery = %a.id, attempt = a.attempt, "webhook delivered");
                self.forget(a.seq);
            }
            Verdict::Retry(wait) => {
                tracing::warn!(delivery = %a.id, attempt = a.attempt, error = %Escaped(&a.detail),
                    retry_in_ms = wait.as_millis() as u64, "webhook attempt failed; will retry");
                self.reschedule(a.seq, now_ms() + wait.as_millis() as u64);
            }
            Verdict::GiveUp(why) => {
                let reason = match why {
                    GiveUp::Refused(_) => "the receiver refused it",
                    GiveUp::Exhausted => "no attempt succeeded",
                    GiveUp::Unsendable => "the URL cannot be used",
                };
                tracing::error!(delivery = %a.id, attempts = a.attempt, error = %Escaped(&a.detail),
                    reason, "webhook given up");
                self.forget(a.seq);
            }
        }
    }

    fn reschedule(&mut self, seq: u64, due_at: u64) {
        if let Some(updated) = self.queue.retry(seq, due_at) {
            if let Err(e) = self.store.put_delivery(&updated) {
                tracing::error!(error = %e, delivery = %updated.id, "webhook outbox: cannot record a retry");
            }
        }
    }

    fn forget(&mut self, seq: u64) {
        self.queue.finish(seq);
        if let Err(e) = self.store.delete_delivery(seq) {
            tracing::error!(error = %e, seq, "webhook outbox: cannot delete a finished delivery");
        }
    }
}

/// CDR webhooks a batch has admitted but not yet put in the queue.
#[derive(Default)]
struct Reserved {
    total: usize,
    by_app: HashMap<crate::store::AppId, usize>,
}

impl Reserved {
    fn add(&mut self, app: crate::store::AppId) {
        self.total += 1;
        *self.by_app.entry(app).or_default() += 1;
    }

    fn of(&self, app: crate::store::AppId) -> usize {
        self.by_app.get(&app).copied().unwrap_or(0)
    }
}
