//! The wall clock, read in one place for every shell. Bindings, nonces, CDRs, webhook
//! schedules, recordings' retention and the answer URL's signature need Unix time that
//! outlives the process; the sans-IO cores never read it themselves: the shells pass it in
//! (`now`, `wall_ms`). A clock set before 1970 reads as 0 rather than failing: the values are
//! timestamps, not durations anything waits on.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds.
pub(crate) fn unix_now() -> u64 {
    since_epoch().as_secs()
}

/// Unix milliseconds.
pub(crate) fn wall_ms() -> u64 {
    since_epoch().as_millis() as u64
}

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_agree() {
        let (s, ms) = (unix_now(), wall_ms());
        // Read a moment apart: the same second, or the next one.
        assert!(ms / 1000 >= s && ms / 1000 <= s + 1, "{s} s vs {ms} ms");
        // Later than 2020-01-01: the clock is read, not a constant.
        assert!(s > 1_577_836_800);
    }
}
