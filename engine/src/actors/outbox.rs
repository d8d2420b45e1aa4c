//! The webhook outbox: live events and CDRs to each app's event URL, signed, persistent,
//! retried, in order per call.
//!
//! **Contract for callers** (the call core, from any actor or task): [`Outbox::enqueue_event`]
//! and [`Outbox::enqueue_cdr`] never block and never wait. They hand the delivery to the
//! outbox's worker and return an [`Accepted`] future that resolves once the delivery (and, for
//! a CDR, the CDR itself) is *durable*: written and flushed through the group commit. Awaiting
//! it is optional: the work happens whether or not anyone awaits. A caller that must not
//! report a call finished before its CDR is safe on disk awaits it (e.g. `into_actor` in an
//! actor); a caller that only wants the event sent drops it.
//!
//! **Delivery.** The worker (one tokio task) POSTs each due delivery with a 2 s connect and a
//! 5 s total timeout, at most [`OutboxConfig::concurrency`] at once, signing every attempt
//! afresh (`X-Ringmaster-Signature` with that attempt's time) with the app's secret of that
//! moment, and sending `X-Ringmaster-Delivery-Id` (the same on every attempt) and
//! `X-Ringmaster-Attempt`. A 2xx deletes the delivery; a failure is retried as
//! [`webhook::retry`](crate::webhook::retry) says, the new attempt count and due time written
//! back; a delivery given up (refused status, 8 attempts, its app deleted) is deleted with an
//! error log naming its id. Redirects are not followed.
//!
//! **Order.** Deliveries of one call (same `cmiuuid`) go out one at a time in enqueue order:
//! event n+1 is not sent before event n was delivered or given up; other calls are not held up.
//!
//! **Bounds** ([`Limits`], fair between apps): past `max_events_per_app` pending events of an
//! app, that app's oldest event not being attempted is dropped (error log with its id) to make
//! room; past `max_events` in all, the oldest idle event of the app with the largest backlog
//! goes, so one app's dead event URL never costs another app its events. Past
//! `max_cdrs_per_app` (or `max_cdrs` in all) pending CDR webhooks a new CDR is still stored
//! but its webhook is not queued (error log; [`Receipt::StoredNotQueued`]); the app reads it
//! with `cmiuuid_cdr`. CDRs are never lost.
//!
//! **Restarts.** Everything pending is reloaded on start, in order, with its attempt count and
//! due time, and survives `kill -9` once accepted. Delivery is *at least once*: a crash between
//! a 2xx and the delete (which is not flushed on its own) sends that delivery again after the
//! restart, with the same delivery id, so receivers deduplicate by it. Likewise a crash may
//! forget the last attempt count increase: one extra attempt at most.

mod attempt;
#[cfg(test)]
mod tests;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use crate::store::{App, Cdr, Delivery, DeliveryKind, GroupCommit, Store, StoreError};
use crate::webhook::event::body;
use crate::webhook::{Limits, LiveEvent, RecordingEvent, RetryPolicy};

/// How the outbox behaves. The defaults are the product's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    pub retry: RetryPolicy,
    pub limits: Limits,
    /// Most attempts in flight at once.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// For the whole exchange, connecting included.
    pub timeout: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retry: RetryPolicy::default(),
            limits: Limits::default(),
            concurrency: 32,
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
        }
    }
}

/// What became of an accepted enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receipt {
    /// Durable and queued; its `X-Ringmaster-Delivery-Id`.
    Queued { delivery_id: String },
    /// (CDR) Stored; the app has no event URL, so there is nothing to send.
    Stored,
    /// (CDR) A CDR for this call and leg was stored before; nothing changed, nothing queued.
    Duplicate,
    /// (CDR) Stored, but the outbox holds `max_cdrs` CDR webhooks already: not queued.
    StoredNotQueued,
}

/// Why an enqueue was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The app has no event URL: there is nowhere to send the event (not a failure to log).
    #[error("the app has no event URL")]
    NoEventUrl,
    /// Every pending event is being attempted and the outbox is at its event cap.
    #[error("the outbox is full")]
    Full,
    /// The worker is gone (shut down, or the engine is stopping).
    #[error("the outbox has stopped")]
    Stopped,
    /// The write, or the flush that makes it durable, failed.
    #[error("the outbox could not store the delivery: {0}")]
    Store(Arc<StoreError>),
}

/// Why the outbox did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxStartError {
    #[error("cannot load the pending webhooks: {0}")]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// Resolves when an enqueue is durable (see the module doc). Dropping it changes nothing.
#[derive(Debug)]
#[must_use = "await it to know the delivery is durable, or drop it explicitly"]
pub struct Accepted(oneshot::Receiver<Result<Receipt, OutboxError>>);

impl Future for Accepted {
    type Output = Result<Receipt, OutboxError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(OutboxError::Stopped)))
    }
}

enum Command {
    Event {
        delivery: Delivery,
        reply: oneshot::Sender<Result<Receipt, OutboxError>>,
    },
    Cdr {
        cdr: Box<Cdr>,
        delivery: Option<Delivery>,
        reply: oneshot::Sender<Result<Receipt, OutboxError>>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// Cloneable, non-blocking handle on the outbox worker.
#[derive(Clone, Debug)]
pub struct Outbox {
    inbox: mpsc::UnboundedSender<Command>,
}

impl Outbox {
    /// Loads the pending deliveries and starts the worker on the current tokio runtime (in the
    /// engine: the actix system's).
    pub fn start(
        store: Arc<dyn Store>,
        commit: GroupCommit,
        config: OutboxConfig,
    ) -> Result<Outbox, OutboxStartError> {
        let (inbox, commands) = mpsc::unbounded_channel();
        let worker = worker::Worker::new(store, commit, config, commands)?;
        tokio::spawn(worker.run());
        Ok(Outbox { inbox })
    }

    /// Queues a live event of `app`'s call for its event URL.
    pub fn enqueue_event(&self, app: &App, event: &LiveEvent) -> Result<Accepted, OutboxError> {
        self.enqueue_to_event_url(app, event.cmiuuid.as_str(), body(event))
    }

    /// Queues a `recording` event for the app's event URL.
    pub fn enqueue_recording(
        &self,
        app: &App,
        event: &RecordingEvent,
    ) -> Result<Accepted, OutboxError> {
        self.enqueue_to_event_url(app, event.cmiuuid.as_str(), body(event))
    }

    fn enqueue_to_event_url(
        &self,
        app: &App,
        call: &str,
        body: String,
    ) -> Result<Accepted, OutboxError> {
        let url = app.event_url.as_ref().ok_or(OutboxError::NoEventUrl)?;
        let delivery = pending(app, url, DeliveryKind::Event, call, body);
        let (reply, accepted) = oneshot::channel();
        self.send(Command::Event { delivery, reply })?;
        Ok(Accepted(accepted))
    }

    /// Stores a leg's CDR (idempotent: a second CDR for the same call and leg is ignored) and,
    /// when the app has an event URL, queues its webhook, both in one atomic write.
    pub fn enqueue_cdr(&self, app: &App, cdr: &Cdr) -> Result<Accepted, OutboxError> {
        let delivery = app
            .event_url
            .as_ref()
            .map(|url| pending(app, url, DeliveryKind::Cdr, cdr.cmiuuid.as_str(), body(cdr)));
        let (reply, accepted) = oneshot::channel();
        self.send(Command::Cdr {
            cdr: Box::new(cdr.clone()),
            delivery,
            reply,
        })?;
        Ok(Accepted(accepted))
    }

    /// Stops the worker: in-flight attempts are abandoned (they stay pending in the store) and
    /// its handles on the store are released before this resolves.
    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.inbox.send(Command::Shutdown(done)).is_ok() {
            let _ = stopped.await;
        }
    }

    fn send(&self, command: Command) -> Result<(), OutboxError> {
        self.inbox.send(command).map_err(|_| OutboxError::Stopped)
    }
}

/// A delivery as the handle builds it; the worker stamps `seq` and the times.
fn pending(app: &App, url: &str, kind: DeliveryKind, call: &str, body: String) -> Delivery {
    Delivery {
        seq: 0,
        id: delivery_id(),
        app: app.id,
        url: url.to_owned(),
        kind,
        call: Some(call.to_owned()),
        body,
        attempt: 0,
        due_at: 0,
        created_at: 0,
    }
}

/// A random UUID (version 4): unique without coordination, also across restarts.
fn delivery_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
