//! Replay protection: per nonce, the highest nonce count accepted (RFC 7616 §3.4: the server
//! must refuse a count it has already seen). A response without qop carries no count, so its
//! nonce becomes single-use: a second use is refused and the client, told the nonce is stale,
//! simply answers a fresh one.
//!
//! Only successful authentications are recorded, so unauthenticated traffic cannot grow this
//! table; entries leave when their nonce expires, and a hard cap evicts the oldest first.

use std::collections::{HashMap, VecDeque};

use super::Credentials;

/// Most nonces remembered at once.
pub const MAX_ENTRIES: usize = 100_000;

pub struct NonceCounts {
    ttl: u64,
    cap: usize,
    /// nonce → (highest count accepted, 0 for a used no-qop nonce; first use time)
    seen: HashMap<String, (u32, u64)>,
    /// Insertion order, for expiry and eviction.
    order: VecDeque<(u64, String)>,
}

impl NonceCounts {
    pub fn new(ttl: u64) -> NonceCounts {
        NonceCounts::with_capacity(ttl, MAX_ENTRIES)
    }

    pub fn with_capacity(ttl: u64, cap: usize) -> NonceCounts {
        NonceCounts {
            ttl,
            cap: cap.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records a verified credential; false when it is a replay.
    pub fn accept(&mut self, c: &Credentials, now: u64) -> bool {
        self.expire(now);
        let count = c.nc.unwrap_or(0);
        match self.seen.get_mut(&c.nonce) {
            Some((last, _)) => {
                // With qop the count must grow; without qop a nonce is used once.
                if c.nc.is_none() || count <= *last {
                    return false;
                }
                *last = count;
                true
            }
            None => {
                while self.seen.len() >= self.cap {
                    match self.order.pop_front() {
                        Some((_, n)) => {
                            self.seen.remove(&n);
                        }
                        None => break,
                    }
                }
                self.seen.insert(c.nonce.clone(), (count, now));
                self.order.push_back((now, c.nonce.clone()));
                true
            }
        }
    }

    fn expire(&mut self, now: u64) {
        // A nonce older than ttl (plus slack) is refused as stale anyway.
        while let Some((t, _)) = self.order.front() {
            if now.saturating_sub(*t) <= self.ttl + 60 {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.seen.remove(&n);
            }
        }
    }
}
