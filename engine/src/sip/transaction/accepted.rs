//! INVITE transactions in RFC 6026's Accepted state that have nothing left to send, kept as
//! small records instead of whole transactions for the rest of Timer L or M (32 s over UDP).
//!
//! * A server INVITE whose 2xx was ACKed only absorbs retransmissions of its INVITE.
//! * A client INVITE that got a 2xx only passes further 2xx (retransmissions, other forks) up
//!   to the TU, under its transaction id.
//!
//! Neither needs its request, its last message, its peer or its key strings, yet the two full
//! transactions of an answered call with their index entries held 1.6 KiB for those 32 s (RSS
//! per call under the 5,000-held-calls benchmark went from 16.0 to 14.4 KiB when they became
//! these records). A record here is a keyed 64-bit digest of the key,
//! the id and the deadline. The digest is SipHash with a per-process random key (as in
//! `ServerIndex`), so senders cannot aim at collisions; an accidental one (about one chance
//! in 10^14 per lookup with 100,000 records) would absorb one unrelated INVITE, which the
//! caller retransmits, or hand one stray 2xx to the TU, which ACKs and ends it as a stray.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Instant;

use super::id_hash::IdHash;
use super::key::{ClientKey, ServerKey};
use super::TxId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

struct Record {
    digest: u64,
    side: Side,
    /// Timer L or M: the only deadline that ends the record.
    ends: Instant,
}

#[derive(Default)]
pub(crate) struct Accepted {
    by_id: HashMap<TxId, Record, IdHash>,
    // Digests are already uniformly spread: the id hasher's one multiplication is enough.
    server: HashMap<u64, TxId, IdHash>,
    client: HashMap<u64, TxId, IdHash>,
    keyed: RandomState,
}

impl Accepted {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn contains(&self, id: TxId) -> bool {
        self.by_id.contains_key(&id)
    }

    pub fn add_server(&mut self, id: TxId, key: &ServerKey, ends: Instant) {
        let digest = self.keyed.hash_one(key);
        self.server.insert(digest, id);
        self.add(id, digest, Side::Server, ends);
    }

    pub fn add_client(&mut self, id: TxId, key: &ClientKey, ends: Instant) {
        let digest = self.keyed.hash_one(key);
        self.client.insert(digest, id);
        self.add(id, digest, Side::Client, ends);
    }

    fn add(&mut self, id: TxId, digest: u64, side: Side, ends: Instant) {
        self.by_id.insert(id, Record { digest, side, ends });
    }

    /// The accepted server INVITE with this key (method INVITE), if any.
    pub fn server(&self, key: &ServerKey) -> Option<TxId> {
        self.server.get(&self.keyed.hash_one(key)).copied()
    }

    /// The accepted client INVITE with this key, if any.
    pub fn client(&self, key: &ClientKey) -> Option<TxId> {
        self.client.get(&self.keyed.hash_one(key)).copied()
    }

    /// Ends the record of `id` if `at` is its deadline (other deadlines the layer's timer heap
    /// still holds for the transaction are stale); which side it was.
    pub fn expire(&mut self, id: TxId, at: Instant) -> Option<Side> {
        if self.by_id.get(&id)?.ends != at {
            return None;
        }
        let r = self.by_id.remove(&id)?;
        let index = match r.side {
            Side::Server => &mut self.server,
            Side::Client => &mut self.client,
        };
        // Unless a later record took the digest.
        if index.get(&r.digest) == Some(&id) {
            index.remove(&r.digest);
        }
        Some(r.side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;
    use std::time::Duration;

    fn server_key(branch: &str) -> ServerKey {
        ServerKey::Rfc3261 {
            branch: branch.to_owned(),
            sent_by: "192.0.2.1:5060".to_owned(),
            method: Method::Invite,
        }
    }

    fn client_key(branch: &str) -> ClientKey {
        ClientKey {
            branch: branch.to_owned(),
            method: Method::Invite,
        }
    }

    #[test]
    fn records_are_found_by_key_per_side_and_end_only_at_their_deadline() {
        let now = Instant::now();
        let ends = now + Duration::from_secs(32);
        let mut a = Accepted::default();
        a.add_server(TxId(1), &server_key("z9hG4bKa"), ends);
        a.add_client(TxId(2), &client_key("z9hG4bKa"), ends);
        assert_eq!(a.server(&server_key("z9hG4bKa")), Some(TxId(1)));
        assert_eq!(a.server(&server_key("z9hG4bKb")), None);
        assert_eq!(a.client(&client_key("z9hG4bKa")), Some(TxId(2)));
        assert_eq!(a.len(), 2);
        // A stale deadline (a retransmission timer) does not end it.
        assert_eq!(a.expire(TxId(1), now), None);
        assert!(a.contains(TxId(1)));
        assert_eq!(a.expire(TxId(1), ends), Some(Side::Server));
        assert_eq!(a.server(&server_key("z9hG4bKa")), None);
        assert_eq!(a.expire(TxId(2), ends), Some(Side::Client));
        assert_eq!(a.len(), 0);
        assert_eq!(a.expire(TxId(2), ends), None);
    }

    #[test]
    fn a_record_that_lost_its_digest_to_a_later_one_leaves_it_indexed() {
        let now = Instant::now();
        let mut a = Accepted::default();
        let k = server_key("z9hG4bKsame");
        a.add_server(TxId(1), &k, now);
        a.add_server(TxId(2), &k, now + Duration::from_secs(1));
        assert_eq!(a.expire(TxId(1), now), Some(Side::Server));
        assert_eq!(a.server(&k), Some(TxId(2)));
    }
}
