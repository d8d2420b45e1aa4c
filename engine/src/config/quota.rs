//! Per-app limits on what apps make ringmaster keep: the webhook outbox (`[outbox]`) and the
//! recordings and CDRs (`[retention]`), so one tenant cannot fill a queue or a disk for all.

use serde::{Deserialize, Serialize};

/// `[outbox]`: pending webhook deliveries (see `webhook::queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Pending live events in all; past it the largest backlog's oldest goes.
    pub max_events: usize,
    /// Pending events one app may hold; past it that app's own oldest goes.
    pub max_events_per_app: usize,
    /// Pending CDR webhooks in all; past it new ones are not queued (the CDR is stored).
    pub max_cdrs: usize,
    /// Pending CDR webhooks one app may hold; past it its new ones are not queued.
    pub max_cdrs_per_app: usize,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        let d = crate::webhook::Limits::default();
        OutboxSettings {
            max_events: d.max_events,
            max_events_per_app: d.max_events_per_app,
            max_cdrs: d.max_cdrs,
            max_cdrs_per_app: d.max_cdrs_per_app,
        }
    }
}

impl OutboxSettings {
    pub fn limits(&self) -> crate::webhook::Limits {
        crate::webhook::Limits {
            max_events: self.max_events,
            max_cdrs: self.max_cdrs,
            max_events_per_app: self.max_events_per_app,
            max_cdrs_per_app: self.max_cdrs_per_app,
        }
    }
}
