//! The index of server transactions by their key (RFC 3261 §17.2.3).
//!
//! It maps a keyed 64-bit digest of each [`ServerKey`] to the transaction, and a lookup checks
//! the key stored in the transaction itself. Why not `HashMap<ServerKey, TxId>`: a table of
//! 140-byte string-laden keys had to re-hash and move every key each time it grew, which
//! stalled the SIP thread for 53 ms at 57,000 transactions (measured under the REGISTER
//! benchmark); this table holds 16-byte entries and grows in a fraction of that.
//!
//! The digest is SipHash with a per-process random key, so senders cannot aim at collisions.
//! Two live keys with one digest (about one chance in 10^8 per year at 10,000 requests/s)
//! would leave the older one unindexed: its retransmissions would then be seen as new
//! requests, the same as after Timer J.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use super::id_hash::IdHash;
use super::key::ServerKey;
use super::TxId;

#[derive(Default)]
pub(crate) struct ServerIndex {
    by_digest: HashMap<u64, TxId, IdHash>,
    keyed: RandomState,
}

impl ServerIndex {
    fn digest(&self, key: &ServerKey) -> u64 {
        self.keyed.hash_one(key)
    }

    /// The transaction indexed under `key`, if `key_of` confirms that it has that key.
    pub fn get<'a>(
        &self,
        key: &ServerKey,
        key_of: impl FnOnce(TxId) -> Option<&'a ServerKey>,
    ) -> Option<TxId> {
        let id = *self.by_digest.get(&self.digest(key))?;
        (key_of(id)? == key).then_some(id)
    }

    pub fn insert(&mut self, key: &ServerKey, id: TxId) {
        let d = self.digest(key);
        self.by_digest.insert(d, id);
    }

    /// Forgets `id` under `key` (unless another transaction took the entry since).
    pub fn remove(&mut self, key: &ServerKey, id: TxId) {
        let d = self.digest(key);
        if self.by_digest.get(&d) == Some(&id) {
            self.by_digest.remove(&d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;

    fn key(branch: &str) -> ServerKey {
        ServerKey::Rfc3261 {
            branch: branch.to_owned(),
            sent_by: "192.0.2.1:5060".to_owned(),
            method: Method::Register,
        }
    }

    #[test]
    fn finds_by_key_and_confirms_with_the_stored_key() {
        let mut index = ServerIndex::default();
        let (a, b) = (key("z9hG4bKa"), key("z9hG4bKb"));
        index.insert(&a, TxId(1));
        assert_eq!(index.get(&a, |_| Some(&a)), Some(TxId(1)));
        assert_eq!(index.get(&b, |_| Some(&a)), None, "not indexed");
        // A digest hit whose transaction holds another key is a miss, not a wrong match.
        assert_eq!(index.get(&a, |_| Some(&b)), None);
        assert_eq!(index.get(&a, |_| None), None);
    }

    #[test]
    fn removing_an_entry_another_transaction_took_keeps_it() {
        let mut index = ServerIndex::default();
        let a = key("z9hG4bKa");
        index.insert(&a, TxId(1));
        index.insert(&a, TxId(2));
        index.remove(&a, TxId(1));
        assert_eq!(index.get(&a, |_| Some(&a)), Some(TxId(2)));
        index.remove(&a, TxId(2));
        assert_eq!(index.get(&a, |_| Some(&a)), None);
    }
}
