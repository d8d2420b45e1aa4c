//! Nonce-count tracking: a captured `Authorization` cannot be sent again.
//!
//! For each nonce that authenticated a request we keep the highest `nc` accepted; a later
//! request with that nonce must carry a greater one (RFC 7616 §3.4). A response without qop has
//! no `nc`, so its nonce becomes single-use: a second use is refused as [`ReplayError::Stale`],
//! and the client, challenged with `stale=true`, silently answers a fresh nonce.
//!
//! Feed it only requests whose response verified ([`super::Authenticator::judge`] does), so an attacker
//! without a password cannot add entries. Memory is bounded twice over:
//!
//! * an entry lives only as long as its nonce ([`super::NonceSigner`] calls an older nonce
//!   stale anyway), and expired entries are dropped as new ones arrive;
//! * at most `cap` entries (default [`NonceCounts::DEFAULT_CAP`], 100,000: about 10 MB, and
//!   about 333 new nonces a second for five minutes). When full, the entry of the oldest nonce
//!   is evicted and the *floor* is raised to its issue time. A nonce not in the table that was
//!   issued at or before the floor might be an evicted one, so it is refused as stale: eviction
//!   costs an honest client one extra challenge, never opens a replay window.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Why a verified request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// `nc` not greater than one already accepted for this nonce.
    #[error("nonce count not greater than the last one accepted (replay)")]
    Replayed,
    /// The nonce may not be used again: it was spent by a response without qop, used with and
    /// without qop, or may have been evicted. Challenge with `stale=true`.
    #[error("nonce already used up")]
    Stale,
}

/// Per-nonce counts. Plain data: the owner (one registrar) passes the time in.
pub struct NonceCounts {
    /// Per nonce, the highest nc accepted; `None` once spent by a response without qop.
    entries: HashMap<Arc<str>, Option<u32>>,
    /// The same nonces ordered by issue time, for expiry and eviction.
    by_age: BTreeSet<(u64, Arc<str>)>,
    lifetime: u64,
    cap: usize,
    /// Nonces issued at or before this second may have been evicted (module doc).
    floor: Option<u64>,
}

impl std::fmt::Debug for NonceCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceCounts")
            .field("entries", &self.entries.len())
            .field("cap", &self.cap)
            .field("floor", &self.floor)
            .finish()
    }
}

impl NonceCounts {
    pub const DEFAULT_CAP: usize = 100_000;

    /// `lifetime` must be the [`super::NonceSigner`]'s lifetime.
    pub fn new(lifetime: u64) -> NonceCounts {
        NonceCounts::with_cap(lifetime, Self::DEFAULT_CAP)
    }

    pub fn with_cap(lifetime: u64, cap: usize) -> NonceCounts {
        NonceCounts {
            entries: HashMap::new(),
            by_age: BTreeSet::new(),
            lifetime,
            cap: cap.max(1),
            floor: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Accepts one use of `nonce` (issued at `issued_at`, as [`super::NonceStatus::Valid`]
    /// reported) with nonce count `nc` (`None`: no qop), and records it; or refuses it.
    pub fn accept(
        &mut self,
        nonce: &str,
        issued_at: u64,
        nc: Option<u32>,
        now: u64,
    ) -> Result<(), ReplayError> {
        self.purge(now);
        if let Some(highest) = self.entries.get_mut(nonce) {
            return match (*highest, nc) {
                (Some(last), Some(nc)) if nc > last => {
                    *highest = Some(nc);
                    Ok(())
                }
                (Some(_), Some(_)) => Err(ReplayError::Replayed),
                // Spent without qop, or switching between qop and none on one nonce.
                _ => Err(ReplayError::Stale),
            };
        }
        if self.floor.is_some_and(|floor| issued_at <= floor) {
            return Err(ReplayError::Stale);
        }
        if nc == Some(0) {
            return Err(ReplayError::Replayed); // counts start at 1
        }
        if self.entries.len() >= self.cap {
            self.evict_oldest();
        }
        let key: Arc<str> = Arc::from(nonce);
        self.by_age.insert((issued_at, Arc::clone(&key)));
        self.entries.insert(key, nc);
        Ok(())
    }

    /// Drops the entries of nonces that are past their lifetime at `now`.
    pub fn purge(&mut self, now: u64) {
        while let Some((issued_at, _)) = self.by_age.first() {
            if now.saturating_sub(*issued_at) <= self.lifetime {
                break;
            }
            if let Some((_, nonce)) = self.by_age.pop_first() {
                self.entries.remove(&nonce);
            }
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((issued_at, nonce)) = self.by_age.pop_first() {
            self.entries.remove(&nonce);
            self.floor = Some(self.floor.map_or(issued_at, |f| f.max(issued_at)));
        }
    }

    #[cfg(test)]
    fn consistent(&self) -> bool {
        self.entries.len() == self.by_age.len()
            && self
                .by_age
                .iter()
                .all(|(_, nonce)| self.entries.contains_key(nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    #[test]
    fn counts_must_increase() {
        let mut counts = NonceCounts::new(300);
        assert_eq!(counts.accept("n1", T0, Some(1), T0), Ok(()));
        assert_eq!(
            counts.accept("n1", T0, Some(1), T0),
            Err(ReplayError::Replayed)
        );
        assert_eq!(counts.accept("n1", T0, Some(3), T0 + 1), Ok(()));
        assert_eq!(
            counts.accept("n1", T0, Some(2), T0 + 1),
            Err(ReplayError::Replayed)
        );
        assert_eq!(counts.accept("n1", T0, Some(4), T0 + 2), Ok(()));
        assert_eq!(
            counts.accept("n2", T0, Some(1), T0 + 2),
            Ok(()),
            "per nonce"
        );
        assert_eq!(
            counts.accept("n3", T0, Some(0), T0),
            Err(ReplayError::Replayed)
        );
        assert!(counts.consistent());
    }

    #[test]
    fn a_nonce_without_qop_is_single_use() {
        let mut counts = NonceCounts::new(300);
        assert_eq!(counts.accept("n1", T0, None, T0), Ok(()));
        assert_eq!(counts.accept("n1", T0, None, T0), Err(ReplayError::Stale));
        assert_eq!(
            counts.accept("n1", T0, Some(1), T0),
            Err(ReplayError::Stale)
        );
        assert_eq!(counts.accept("n2", T0, Some(1), T0), Ok(()));
        assert_eq!(counts.accept("n2", T0, None, T0), Err(ReplayError::Stale));
    }

    #[test]
    fn entries_expire_with_their_nonce() {
        let mut counts = NonceCounts::new(300);
        counts.accept("old", T0, Some(1), T0).unwrap();
        counts.accept("new", T0 + 200, Some(1), T0 + 200).unwrap();
        counts.purge(T0 + 300);
        assert_eq!(counts.len(), 2, "still within the lifetime");
        counts.purge(T0 + 301);
        assert_eq!(counts.len(), 1);
        counts.accept("newer", T0 + 600, Some(1), T0 + 600).unwrap();
        assert_eq!(counts.len(), 1, "accept purges too");
        assert!(counts.consistent());
    }

    #[test]
    fn the_cap_evicts_the_oldest_and_refuses_what_may_have_been_evicted() {
        let mut counts = NonceCounts::with_cap(300, 3);
        for (i, nonce) in ["a", "b", "c"].iter().enumerate() {
            counts
                .accept(nonce, T0 + i as u64, Some(1), T0 + 10)
                .unwrap();
        }
        counts.accept("d", T0 + 3, Some(1), T0 + 10).unwrap();
        assert_eq!(counts.len(), 3);
        assert!(counts.consistent());
        // "a" was evicted: replaying its request must not succeed.
        assert_eq!(
            counts.accept("a", T0, Some(1), T0 + 10),
            Err(ReplayError::Stale)
        );
        // Unknown nonces issued at or before the floor are refused; later ones are fine.
        assert_eq!(
            counts.accept("x", T0, Some(1), T0 + 10),
            Err(ReplayError::Stale)
        );
        assert_eq!(counts.accept("e", T0 + 4, Some(1), T0 + 10), Ok(()));
        // Known ones still count up.
        assert_eq!(counts.accept("c", T0 + 2, Some(2), T0 + 10), Ok(()));
        assert_eq!(counts.len(), 3);
    }

    #[test]
    fn memory_stays_bounded_under_a_stream_of_nonces() {
        let mut counts = NonceCounts::with_cap(300, 1_000);
        for i in 0..10_000u64 {
            counts
                .accept(&format!("n{i}"), T0 + i / 10, Some(1), T0 + i / 10)
                .unwrap();
            assert!(counts.len() <= 1_000);
        }
        assert!(counts.consistent());
    }
}
