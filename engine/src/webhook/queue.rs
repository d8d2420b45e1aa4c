//! The outbox's schedule, sans-IO: which pending deliveries may be attempted now.
//!
//! Deliveries of one call form a *lane* and go out strictly one at a time, in `seq` order: the
//! next is not attempted before the one ahead of it was delivered or given up (so an app sees
//! `ringing` before `hangup`, and the CDR after both). A delivery without a call is a lane of
//! its own. Only each lane's head can be due; heads are picked oldest due time first.
//!
//! Caps ([`Limits`]), fair between apps: an app whose event URL is dead must not crowd the
//! others out.
//!
//! * Events: at most `max_events_per_app` pending per app; past it the app's *own* oldest
//!   event that is not being attempted is evicted to make room (an old `ringing` is worth less
//!   than a new `hangup`). At most `max_events` in all; past it the oldest idle event of the
//!   app with the *largest* backlog goes, so an app is only ever evicted for while it holds
//!   at least as many as anyone else: a small app's events survive a big app's backlog.
//! * CDR webhooks: at most `max_cdrs_per_app` per app and `max_cdrs` in all; past either a new
//!   one is refused (the CDR itself is in the CDR store whatever happens here, so it is never
//!   lost, only not pushed).
//!
//! Times are milliseconds since the Unix epoch, passed in.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::store::{AppId, Delivery, DeliveryKind};

/// The outbox's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_events: usize,
    pub max_cdrs: usize,
    /// Pending events one app may hold (its own oldest go past it).
    pub max_events_per_app: usize,
    /// Pending CDR webhooks one app may hold (new ones refused past it).
    pub max_cdrs_per_app: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 100_000,
            max_cdrs: 100_000,
            max_events_per_app: 10_000,
            max_cdrs_per_app: 10_000,
        }
    }
}

/// There is no room for a delivery of this kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the outbox is full")]
pub struct Full;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lane {
    Call(String),
    Alone(u64),
}

fn lane_of(d: &Delivery) -> Lane {
    match &d.call {
        Some(call) => Lane::Call(call.clone()),
        None => Lane::Alone(d.seq),
    }
}

/// Pending deliveries and their order. See the module doc.
#[derive(Debug, Default)]
pub struct Queue {
    limits: Limits,
    pending: HashMap<u64, Delivery>,
    lanes: HashMap<Lane, VecDeque<u64>>,
    /// `(due_at, seq)` of every lane head that is not being attempted.
    ready: BTreeSet<(u64, u64)>,
    in_flight: HashSet<u64>,
    /// Seqs of pending events, per app, oldest first: eviction candidates.
    events: HashMap<AppId, BTreeSet<u64>>,
    /// Pending events in all.
    event_count: usize,
    /// Pending CDR webhooks per app, and in all.
    cdrs: HashMap<AppId, usize>,
    cdr_count: usize,
}

impl Queue {
    pub fn new(limits: Limits) -> Queue {
        Queue {
            limits,
            ..Queue::default()
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Pending events of `app`.
    pub fn events_of(&self, app: AppId) -> usize {
        self.events.get(&app).map_or(0, BTreeSet::len)
    }

    /// Pending CDR webhooks of `app`.
    pub fn cdrs_of(&self, app: AppId) -> usize {
        self.cdrs.get(&app).copied().unwrap_or(0)
    }

    /// Whether a CDR delivery of `app` fits once `reserved_app` of that app and `reserved` in
    /// all (admitted, not yet inserted) are in.
    pub fn cdr_room(&self, app: AppId, reserved_app: usize, reserved: usize) -> bool {
        self.cdr_count + reserved < self.limits.max_cdrs
            && self.cdrs_of(app) + reserved_app < self.limits.max_cdrs_per_app
    }

    /// Makes room for one more delivery of `kind` for `app`: `Ok(Some(evicted))` when an old
    /// event had to go (the caller deletes it from the store and logs it), `Err(Full)` when
    /// there is no room (CDRs over a cap; events when every candidate is being attempted).
    pub fn make_room(&mut self, kind: DeliveryKind, app: AppId) -> Result<Option<Delivery>, Full> {
        match kind {
            DeliveryKind::Cdr if self.cdr_room(app, 0, 0) => Ok(None),
            DeliveryKind::Cdr => Err(Full),
            DeliveryKind::Event if self.events_of(app) >= self.limits.max_events_per_app => {
                // The app's own backlog is full: it pays, nobody else.
                let oldest = self.oldest_idle_event(app).ok_or(Full)?;
                Ok(self.remove(oldest))
            }
            DeliveryKind::Event if self.event_count < self.limits.max_events => Ok(None),
            DeliveryKind::Event => {
                // Full in all: the largest backlog pays (ties: the app whose oldest idle
                // event is oldest), so a small app loses nothing to a big one.
                let victim = self
                    .events
                    .iter()
                    .filter_map(|(app, seqs)| {
                        let oldest = self.oldest_idle_event(*app)?;
                        Some((seqs.len(), std::cmp::Reverse(oldest), oldest))
                    })
                    .max()
                    .map(|(_, _, seq)| seq)
                    .ok_or(Full)?;
                Ok(self.remove(victim))
            }
        }
    }

    fn oldest_idle_event(&self, app: AppId) -> Option<u64> {
        self.events
            .get(&app)?
            .iter()
            .copied()
            .find(|seq| !self.in_flight.contains(seq))
    }

    /// Adds a delivery (after [`Queue::make_room`]); it joins the end of its call's lane.
    pub fn insert(&mut self, d: Delivery) {
        let lane = self.lanes.entry(lane_of(&d)).or_default();
        if lane.is_empty() {
            self.ready.insert((d.due_at, d.seq));
        }
        lane.push_back(d.seq);
        match d.kind {
            DeliveryKind::Event => {
                if self.events.entry(d.app).or_default().insert(d.seq) {
                    self.event_count += 1;
                }
            }
            DeliveryKind::Cdr => {
                *self.cdrs.entry(d.app).or_default() += 1;
                self.cdr_count += 1;
            }
        }
        self.pending.insert(d.seq, d);
    }

    /// When the earliest idle lane head is due, if any.
    pub fn next_due(&self) -> Option<u64> {
        self.ready.first().map(|&(due, _)| due)
    }

    /// Takes up to `max` lane heads due at `now` (oldest due first) and marks them as being
    /// attempted: their lanes wait until [`Queue::finish`] or [`Queue::retry`].
    pub fn take_due(&mut self, now: u64, max: usize) -> Vec<Delivery> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(&(due, seq)) = self.ready.first() else {
                break;
            };
            if due > now {
                break;
            }
            self.ready.remove(&(due, seq));
            self.in_flight.insert(seq);
            if let Some(d) = self.pending.get(&seq) {
                out.push(d.clone());
            }
        }
        out
    }

    /// A delivery being attempted failed and waits until `due_at`; returns its updated record
    /// (attempt count + 1) for the store.
    pub fn retry(&mut self, seq: u64, due_at: u64) -> Option<Delivery> {
        self.in_flight.remove(&seq);
        let d = self.pending.get_mut(&seq)?;
        d.attempt += 1;
        d.due_at = due_at;
        self.ready.insert((due_at, seq));
        Some(d.clone())
    }

    /// A delivery is done (delivered or given up): it leaves, and the next of its lane becomes
    /// the head (due at its own time, which may be past already).
    pub fn finish(&mut self, seq: u64) -> Option<Delivery> {
        self.in_flight.remove(&seq);
        self.remove(seq)
    }

    fn remove(&mut self, seq: u64) -> Option<Delivery> {
        let d = self.pending.remove(&seq)?;
        match d.kind {
            DeliveryKind::Event => {
                if let Some(seqs) = self.events.get_mut(&d.app) {
                    if seqs.remove(&seq) {
                        self.event_count -= 1;
                    }
                    if seqs.is_empty() {
                        self.events.remove(&d.app);
                    }
                }
            }
            DeliveryKind::Cdr => {
                if let Some(n) = self.cdrs.get_mut(&d.app) {
                    *n -= 1;
                    if *n == 0 {
                        self.cdrs.remove(&d.app);
                    }
                }
                self.cdr_count -= 1;
            }
        }
        self.ready.remove(&(d.due_at, seq));
        let key = lane_of(&d);
        if let Some(lane) = self.lanes.get_mut(&key) {
            let was_head = lane.front() == Some(&seq);
            lane.retain(|&s| s != seq);
            match lane.front() {
                None => {
                    self.lanes.remove(&key);
                }
                Some(&next) if was_head => {
                    if let Some(n) = self.pending.get(&next) {
                        self.ready.insert((n.due_at, next));
                    }
                }
                Some(_) => {}
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests;
