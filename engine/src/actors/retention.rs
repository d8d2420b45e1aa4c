//! The retention sweep: once at start and every `[retention] sweep_interval_secs`, deletes
//! what is over the per-app limits (`config::RetentionSettings`): recordings by age and by
//! each app's byte quota (the rules are the pure `recordings::retention`), CDRs by age (every
//! app, deleted ones too) and by each app's count. Oldest first, always; each deleted
//! recording and each app's pruned CDRs get one structured log line on the `retention` target.
//!
//! The work blocks (directory listings, unlinks, store scans), so each sweep runs on tokio's
//! blocking pool, and in batches of `BATCH` CDRs so a sled transaction stays small.

use std::sync::Arc;
use std::time::Duration;

use super::clock::wall_ms;

use crate::config::RetentionSettings;
use crate::recordings::retention::{doomed, Reason, RecordingLimits};
use crate::recordings::Recordings;
use crate::store::{AppId, Store, StoreError};

/// CDRs deleted per store call.
const BATCH: usize = 1000;
const DAY_MS: u64 = 86_400_000;
/// A recording written to this recently may still be growing: not taken for the quota.
const GRACE_MS: u64 = 60_000;

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub recordings: usize,
    pub recording_bytes: u64,
    pub cdrs: usize,
}

/// The sweep's inputs.
#[derive(Clone)]
pub struct Retention {
    store: Arc<dyn Store>,
    recordings: Recordings,
    settings: RetentionSettings,
}

impl Retention {
    pub fn new(store: Arc<dyn Store>, recordings: Recordings, settings: RetentionSettings) -> Self {
        Retention {
            store,
            recordings,
            settings,
        }
    }

    /// Sweeps now and then every interval, on the current tokio runtime, for as long as it
    /// runs.
    pub fn start(self) {
        let every = Duration::from_secs(self.settings.sweep_interval_secs.max(1));
        actix::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let me = self.clone();
                let now = wall_ms();
                if let Err(e) = tokio::task::spawn_blocking(move || me.sweep(now)).await {
                    tracing::error!(target: "retention", error = %e, "retention sweep failed");
                }
            }
        });
    }

    /// One sweep as of `now_ms` (blocking).
    pub fn sweep(&self, now_ms: u64) -> SweepReport {
        let mut report = SweepReport::default();
        self.sweep_recordings(now_ms, &mut report);
        if let Err(e) = self.sweep_cdrs(now_ms, &mut report) {
            tracing::error!(target: "retention", error = %e, "CDR retention failed");
        }
        report
    }

    fn sweep_recordings(&self, now_ms: u64, report: &mut SweepReport) {
        let s = &self.settings;
        let limits = RecordingLimits {
            max_bytes: s.recordings_max_bytes_per_app,
            max_age_ms: s.recordings_max_age_days.saturating_mul(DAY_MS),
            grace_ms: GRACE_MS,
        };
        if limits.max_bytes == 0 && limits.max_age_ms == 0 {
            return;
        }
        let files = match self.recordings.list(None) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(target: "retention", error = %e, "recordings unreadable");
                return;
            }
        };
        for (f, reason) in doomed(&files, now_ms, &limits) {
            match std::fs::remove_file(&f.path) {
                Ok(()) => {
                    report.recordings += 1;
                    report.recording_bytes += f.bytes;
                    match reason {
                        Reason::Quota => tracing::warn!(target: "retention", appid = %f.app,
                            recording = %f.id, bytes = f.bytes, reason = reason.as_str(),
                            limit_bytes = limits.max_bytes,
                            "recording deleted: the app's recordings quota is full (oldest first)"),
                        Reason::Age => tracing::info!(target: "retention", appid = %f.app,
                            recording = %f.id, bytes = f.bytes, reason = reason.as_str(),
                            "recording deleted: older than recordings_max_age_days"),
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::error!(target: "retention", appid = %f.app,
                    recording = %f.id, error = %e, "cannot delete a recording"),
            }
        }
    }

    fn sweep_cdrs(&self, now_ms: u64, report: &mut SweepReport) -> Result<(), StoreError> {
        let s = &self.settings;
        if s.cdrs_max_age_days > 0 {
            let before = now_ms.saturating_sub(s.cdrs_max_age_days.saturating_mul(DAY_MS));
            let n = drain(|| self.store.prune_cdrs_before(before, BATCH))?;
            if n > 0 {
                tracing::info!(target: "retention", cdrs = n, reason = "max_age",
                    max_age_days = s.cdrs_max_age_days, "CDRs deleted");
            }
            report.cdrs += n;
        }
        if s.cdrs_max_per_app > 0 {
            for app in self.store.apps()? {
                let n = self.prune_app(app.id)?;
                if n > 0 {
                    tracing::warn!(target: "retention", appid = %app.id, cdrs = n, reason = "quota",
                        limit = s.cdrs_max_per_app, "CDRs deleted: the app's CDR quota is full (oldest first)");
                }
                report.cdrs += n;
            }
        }
        Ok(())
    }

    fn prune_app(&self, app: AppId) -> Result<usize, StoreError> {
        drain(|| {
            self.store
                .prune_cdrs_of_app(app, self.settings.cdrs_max_per_app, BATCH)
        })
    }
}

/// Calls `step` until it deletes less than a full batch; the total.
fn drain(mut step: impl FnMut() -> Result<usize, StoreError>) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = step()?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{app, cdr};
    use crate::store::MemoryStore;

    fn now_ms() -> u64 {
        wall_ms()
    }

    #[test]
    fn a_sweep_enforces_every_limit_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        for id in [1, 2] {
            store.insert_app(&app(id, "ret.example")).unwrap();
        }
        // Recordings: app 1 has three of 1 KiB, app 2 one; written now, swept "later".
        for (app_id, name) in [(1, "c1-1"), (1, "c2-1"), (1, "c3-1"), (2, "d1-1")] {
            let d = dir.path().join(app_id.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{name}.wav")), vec![0u8; 1024]).unwrap();
            std::thread::sleep(Duration::from_millis(5)); // distinct mtimes, in order
        }
        let later = now_ms() + 2 * 60_000;
        // CDRs: app 1 has five (one very old), app 2 two.
        for (a, call, t) in [
            (1, "k0", later - 40 * DAY_MS),
            (1, "k1", later - 5_000),
            (1, "k2", later - 4_000),
            (1, "k3", later - 3_000),
            (1, "k4", later - 2_000),
            (2, "m1", later - 2_000),
            (2, "m2", later - 1_000),
        ] {
            store.insert_cdr(&cdr(a, call, "a", t), None).unwrap();
        }
        let settings = RetentionSettings {
            recordings_max_bytes_per_app: 2048,
            recordings_max_age_days: 0,
            cdrs_max_per_app: 3,
            cdrs_max_age_days: 30,
            sweep_interval_secs: 600,
        };
        let r = Retention::new(store.clone(), Recordings::new(dir.path()), settings);
        let report = r.sweep(later);
        assert_eq!(
            report,
            SweepReport {
                recordings: 1,
                recording_bytes: 1024,
                cdrs: 2,
            }
        );
        let left: Vec<String> = Recordings::new(dir.path())
            .list(None)
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(left, ["d1-1", "c3-1", "c2-1"], "app 1's oldest went");
        let cdrs = |a: u64| -> Vec<String> {
            store
                .cdrs(Some(AppId(a)), 10, None)
                .unwrap()
                .into_iter()
                .map(|c| c.cmiuuid.to_string())
                .collect()
        };
        assert_eq!(cdrs(1), ["k4", "k3", "k2"], "k0 by age, k1 by count");
        assert_eq!(cdrs(2), ["m2", "m1"], "app 2 under its limits");
        assert_eq!(r.sweep(later), SweepReport::default(), "nothing more to do");
    }
}
