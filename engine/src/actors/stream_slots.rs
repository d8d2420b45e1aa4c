//! Per-app limit on concurrent `stream`s (`[media] max_streams_per_app`): each stream holds a
//! slot while its session lives; a stream past the limit fails at once (`stream_failed`) and
//! the script goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct StreamSlots {
    max: usize,
    counts: Mutex<HashMap<u64, usize>>,
}

/// A slot held; given back when dropped.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    app: u64,
}

impl StreamSlots {
    pub fn new(max: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `app`, unless it holds `max` already.
    pub fn take(self: &Arc<Self>, app: u64) -> Option<StreamSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(app).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            app,
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.app) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.app);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_app_and_come_back() {
        let s = StreamSlots::new(2);
        let a1 = s.take(1).unwrap();
        let _a2 = s.take(1).unwrap();
        assert!(s.take(1).is_none());
        assert!(s.take(2).is_some(), "another app has its own");
        drop(a1);
        assert!(s.take(1).is_some());
    }
}
