//! A map with a hard cap: inserting a new key into a full table evicts the oldest insertion.
//! Every per-source and per-user record of the defences lives in one, so memory stays bounded
//! whatever an attacker sends (many sources, many usernames).
//!
//! Eviction is first-in, first-out, O(1) amortised: a queue remembers insertion order with a
//! generation number, and queue entries whose key was removed or re-inserted since are skipped.
//! The queue is compacted when stale entries outnumber live ones, so it stays within twice the
//! cap.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub struct CappedMap<K, V> {
    cap: usize,
    map: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    next_gen: u64,
}

impl<K: Hash + Eq + Clone, V> CappedMap<K, V> {
    /// A table holding at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Self {
        CappedMap {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
            next_gen: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(v, _)| v)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let v = self.map.remove(k).map(|(v, _)| v);
        self.compact();
        v
    }

    /// The entry for `k`, inserted with `make()` when absent (evicting the oldest entry if the
    /// table is full).
    pub fn entry_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        let gen = self.next_gen;
        if !self.map.contains_key(&k) {
            while self.map.len() >= self.cap {
                let Some((old, g)) = self.order.pop_front() else {
                    break;
                };
                if self.map.get(&old).is_some_and(|(_, live)| *live == g) {
                    self.map.remove(&old);
                }
            }
            self.compact();
            self.next_gen += 1;
            self.order.push_back((k.clone(), gen));
        }
        &mut self.map.entry(k).or_insert_with(|| (make(), gen)).0
    }

    /// Drops every entry for which `keep` is false (periodic expiry).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, (v, _)| keep(k, v));
        self.compact();
    }

    /// Visits every entry (listing for operators; not on a hot path).
    pub fn for_each(&self, mut visit: impl FnMut(&K, &V)) {
        for (k, (v, _)) in &self.map {
            visit(k, v);
        }
    }

    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, gen)| map.get(k).is_some_and(|(_, g)| g == gen));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_insertion_when_full() {
        let mut t = CappedMap::new(3);
        for k in 0..3 {
            *t.entry_or_insert_with(k, || 0) += k;
        }
        *t.entry_or_insert_with(0, || 0) += 10;
        t.entry_or_insert_with(3, || 3);
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.get(&0),
            None,
            "the oldest insertion went, however recently used"
        );
        assert_eq!(t.get(&1), Some(&1));
        assert_eq!(t.get(&3), Some(&3));
    }

    #[test]
    fn removal_and_reinsertion_keep_the_queue_bounded() {
        let mut t = CappedMap::new(4);
        for round in 0..10_000u64 {
            t.entry_or_insert_with(round % 8, || round);
            t.remove(&((round + 3) % 8));
            assert!(t.len() <= 4);
            assert!(t.order.len() <= 2 * t.len() + 16 + 1);
        }
        t.retain(|k, _| k % 2 == 0);
        assert!(t.map.keys().all(|k| k % 2 == 0));
    }
}
