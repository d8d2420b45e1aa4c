//! Which recordings go, pure: per-app age and size limits applied to a listing, so the rules
//! are tested without a disk or a clock (the sweep in `actors::retention` lists, asks, and
//! deletes).
//!
//! Rules, per app: a recording older than `max_age_ms` goes ([`Reason::Age`]); then, while the
//! app's recordings add up to more than `max_bytes`, its oldest goes ([`Reason::Quota`]). A
//! file written to within `grace_ms` is never taken for the quota: it may be a recording in
//! progress (the recorder writes as the call goes), and unlinking it would lose that call
//! silently. So a full quota evicts the oldest, never refuses a new recording.

use std::collections::BTreeMap;

use super::RecordingFile;
use crate::store::AppId;

/// The limits; 0 in `max_bytes` or `max_age_ms` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingLimits {
    pub max_bytes: u64,
    pub max_age_ms: u64,
    pub grace_ms: u64,
}

/// Why a recording goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Age,
    Quota,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Age => "max_age",
            Reason::Quota => "quota",
        }
    }
}

/// The recordings of `files` that break `limits` at `now_ms`, oldest first within each app.
pub fn doomed<'a>(
    files: &'a [RecordingFile],
    now_ms: u64,
    limits: &RecordingLimits,
) -> Vec<(&'a RecordingFile, Reason)> {
    let mut by_app: BTreeMap<AppId, Vec<&RecordingFile>> = BTreeMap::new();
    for f in files {
        by_app.entry(f.app).or_default().push(f);
    }
    let mut out = Vec::new();
    for (_, mut mine) in by_app {
        mine.sort_by(|a, b| a.modified_ms.cmp(&b.modified_ms).then(a.id.cmp(&b.id)));
        let mut total: u64 = mine.iter().map(|f| f.bytes).sum();
        let mut kept = Vec::with_capacity(mine.len());
        for f in mine {
            let age = now_ms.saturating_sub(f.modified_ms);
            if limits.max_age_ms > 0 && age > limits.max_age_ms {
                total -= f.bytes;
                out.push((f, Reason::Age));
            } else {
                kept.push(f);
            }
        }
        if limits.max_bytes == 0 {
            continue;
        }
        for f in kept {
            if total <= limits.max_bytes {
                break;
            }
            if now_ms.saturating_sub(f.modified_ms) < limits.grace_ms {
                // Newer ones are in their grace period too (oldest first): stop here.
                break;
            }
            total -= f.bytes;
            out.push((f, Reason::Quota));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(app: u64, id: &str, bytes: u64, modified_ms: u64) -> RecordingFile {
        RecordingFile {
            id: id.into(),
            app: AppId(app),
            path: format!("/r/{app}/{id}.wav").into(),
            bytes,
            modified_ms,
        }
    }

    fn names(list: &[(&RecordingFile, Reason)]) -> Vec<(String, Reason)> {
        list.iter().map(|(f, r)| (f.id.clone(), *r)).collect()
    }

    const DAY: u64 = 86_400_000;

    #[test]
    fn over_its_quota_an_app_loses_its_oldest_and_only_its_own() {
        let files = [
            rec(1, "a-new", 40, 10 * DAY),
            rec(1, "a-old", 40, 8 * DAY),
            rec(1, "a-mid", 40, 9 * DAY),
            rec(2, "b-old", 500, DAY),
        ];
        let limits = RecordingLimits {
            max_bytes: 100,
            max_age_ms: 0,
            grace_ms: 60_000,
        };
        let out = doomed(&files, 11 * DAY, &limits);
        assert_eq!(
            names(&out),
            [
                ("a-old".to_string(), Reason::Quota),
                ("b-old".to_string(), Reason::Quota)
            ],
            "app 1 gives one file (120 > 100 > 80); app 2's one file is over on its own"
        );
        // With room for 200, app 1 fits and keeps all three; only app 2 pays for its own.
        let limits = RecordingLimits {
            max_bytes: 200,
            ..limits
        };
        let out = doomed(&files, 11 * DAY, &limits);
        assert_eq!(names(&out), [("b-old".to_string(), Reason::Quota)]);
    }

    #[test]
    fn old_ones_go_by_age_and_count_off_the_quota() {
        let files = [
            rec(1, "ancient", 100, DAY),
            rec(1, "old", 30, 5 * DAY),
            rec(1, "new", 30, 9 * DAY),
        ];
        let limits = RecordingLimits {
            max_bytes: 60,
            max_age_ms: 7 * DAY,
            grace_ms: 60_000,
        };
        assert_eq!(
            names(&doomed(&files, 10 * DAY, &limits)),
            [("ancient".to_string(), Reason::Age)],
            "once the ancient one is gone the rest fit"
        );
        let unlimited = RecordingLimits {
            max_bytes: 0,
            max_age_ms: 0,
            grace_ms: 0,
        };
        assert!(doomed(&files, 100 * DAY, &unlimited).is_empty());
    }

    #[test]
    fn a_recording_being_written_is_never_taken_for_the_quota() {
        let now = 10 * DAY;
        let files = [
            rec(1, "live", 500, now - 1_000),
            rec(1, "done", 10, now - 120_000),
        ];
        let limits = RecordingLimits {
            max_bytes: 100,
            max_age_ms: 0,
            grace_ms: 60_000,
        };
        assert_eq!(
            names(&doomed(&files, now, &limits)),
            [("done".to_string(), Reason::Quota)],
            "the older one goes; the live one stays although still over"
        );
    }
}
