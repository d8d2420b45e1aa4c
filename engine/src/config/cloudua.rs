//! `[cloudua]`: the Cloud SIP UA media-service API (`/mediaservice/{domain}/…`).

use serde::{Deserialize, Serialize};

/// Settings of the Cloud SIP UA API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudUaSettings {
    /// How long an inbound call to a device may ring before the caller gets 480 (seconds).
    pub answer_timeout_secs: u32,
    /// Requests per second one domain may make (a token bucket refilled at this rate); past
    /// it, 429 `rate_limited`.
    pub rate_per_sec: u32,
    /// How many requests a domain may make at once before the rate applies.
    pub burst: u32,
}

impl Default for CloudUaSettings {
    fn default() -> Self {
        CloudUaSettings {
            answer_timeout_secs: 60,
            rate_per_sec: 20,
            burst: 50,
        }
    }
}

impl CloudUaSettings {
    pub fn answer_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.answer_timeout_secs.clamp(1, 3600)))
    }
}
