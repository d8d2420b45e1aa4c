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

/// `[retention]`: how much each app's recordings and CDRs may hold, and for how long. A sweep
/// every `sweep_interval_secs` (and once at start) deletes what is over, oldest first, one
/// structured log line (target `retention`) per recording and per app's CDR batch. A full
/// recordings quota evicts the app's oldest recordings rather than refusing new ones: a call
/// being recorded now matters more than the oldest file, and a refused `record` would break
/// the app's script mid-call. 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Bytes of recordings one app may keep (default 10 GiB).
    pub recordings_max_bytes_per_app: u64,
    /// Recordings older than this many days go (default 0: kept until the quota needs room).
    pub recordings_max_age_days: u64,
    /// CDRs one app may keep, the newest (default 1,000,000).
    pub cdrs_max_per_app: usize,
    /// CDRs older than this many days go, of every app (default 0: kept).
    pub cdrs_max_age_days: u64,
    /// Seconds between sweeps.
    pub sweep_interval_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            recordings_max_bytes_per_app: 10 << 30,
            recordings_max_age_days: 0,
            cdrs_max_per_app: 1_000_000,
            cdrs_max_age_days: 0,
            sweep_interval_secs: 600,
        }
    }
}
