//! Answered non-INVITE server transactions waiting out Timer J (RFC 3261 §17.2.2) only to
//! replay their response to a retransmitted request.
//!
//! They are not live load (the layer's `max_transactions` and the per-source cap ignore them)
//! but they hold memory, so they are bounded apart: past the cap the oldest end early. Timer J
//! has one duration, so the order they settled in is the order they end; ids of transactions
//! that already ended are dropped from the front when met.

use std::collections::VecDeque;

use super::TxId;

#[derive(Default)]
pub(crate) struct Settled {
    order: VecDeque<TxId>,
    live: usize,
}

impl Settled {
    /// Settled transactions still alive.
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn push(&mut self, id: TxId) {
        self.order.push_back(id);
        self.live += 1;
    }

    /// A settled transaction ended (Timer J, or early through [`Self::over_cap`]).
    pub fn ended(&mut self) {
        self.live = self.live.saturating_sub(1);
    }

    /// The oldest settled transaction to end now to get back within `cap`, if any.
    /// `is_settled` tells whether an id is still a live settled transaction.
    pub fn over_cap(&mut self, cap: usize, is_settled: impl Fn(TxId) -> bool) -> Option<TxId> {
        while let Some(&front) = self.order.front() {
            if !is_settled(front) {
                self.order.pop_front();
                continue;
            }
            if self.live <= cap {
                return None;
            }
            self.order.pop_front();
            return Some(front);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_past_the_cap_and_ended_ids_are_skipped() {
        let mut s = Settled::default();
        for n in 1..=4 {
            s.push(TxId(n));
        }
        // Transaction 1 ended on its own (Timer J).
        s.ended();
        let alive = |id: TxId| id.0 != 1;
        assert_eq!(s.over_cap(2, alive), Some(TxId(2)));
        s.ended();
        assert_eq!(s.over_cap(2, alive), None);
        assert_eq!(s.live(), 2);
    }
}
