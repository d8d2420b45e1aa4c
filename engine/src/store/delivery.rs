//! The webhook outbox's record: one POST still to be made (a live event or a CDR).
//!
//! A delivery is written before the outbox reports it accepted, rewritten after each failed
//! attempt (attempt count, next due time) and deleted when it succeeded or was given up. What
//! is stored is exactly what is sent: the URL and the body bytes. The signing secret is *not*
//! stored: each attempt signs with the app's secret at that moment (`app` names it), so the
//! outbox holds no copy of a secret, and a deleted app's deliveries are given up.

use serde::{Deserialize, Serialize};

use super::AppId;

/// What a delivery carries. Events may be dropped when the outbox is over its cap; CDRs
/// never are (see `actors::outbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryKind {
    Event,
    Cdr,
}

/// One pending webhook POST.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The store key and the enqueue order (unique, increasing).
    pub seq: u64,
    /// Sent as `X-Ringmaster-Delivery-Id`, the same on every attempt, so a receiver can drop
    /// a duplicate (delivery is at least once).
    pub id: String,
    /// Whose secret signs it.
    pub app: AppId,
    pub url: String,
    pub kind: DeliveryKind,
    /// The call it belongs to (`cmiuuid`): deliveries of one call go out one at a time, in
    /// `seq` order. `None`: ordered with nothing.
    pub call: Option<String>,
    /// The exact body (JSON text).
    pub body: String,
    /// Attempts made so far.
    pub attempt: u32,
    /// When the next attempt is due, ms since the Unix epoch.
    pub due_at: u64,
    /// When it was enqueued, ms since the Unix epoch.
    pub created_at: u64,
}

/// Bodies may be large and hold callers' numbers: `Debug` shows their length only.
impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("app", &self.app)
            .field("url", &self.url)
            .field("kind", &self.kind)
            .field("call", &self.call)
            .field("body_len", &self.body.len())
            .field("attempt", &self.attempt)
            .field("due_at", &self.due_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}
