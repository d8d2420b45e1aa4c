//! Stateless nonces: `base64url(t || salt || HMAC-SHA256(key, t || salt || realm)[..16])`, t the
//! issue time in Unix seconds (8 bytes, big-endian) and salt 8 random bytes, so two challenges
//! in the same second never share a nonce (they would trip each other's nonce-count replay
//! check). Nothing is stored per challenge, so a flood of
//! unauthenticated requests costs no memory, and nonces survive a restart (the key is kept in
//! the data directory).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What a nonce is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    Valid,
    /// Ours, but older than the lifetime: challenge again with `stale=true`.
    Stale,
    /// Not ours (forged, garbled, for another realm, or from the future).
    Invalid,
}

/// Issues and checks nonces.
pub struct NonceSigner {
    key: [u8; 32],
    ttl: u64,
}

impl std::fmt::Debug for NonceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceSigner {{ ttl: {} }}", self.ttl)
    }
}

/// Clock skew tolerated for a nonce that seems to come from the future (a restart on a
/// machine whose clock stepped back).
const SKEW: u64 = 5;

impl NonceSigner {
    pub fn new(key: [u8; 32], ttl_secs: u64) -> NonceSigner {
        NonceSigner { key, ttl: ttl_secs }
    }

    fn tag(&self, t: u64, salt: &[u8], realm: &str) -> [u8; 16] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&t.to_be_bytes());
        mac.update(salt);
        mac.update(realm.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    pub fn issue(&self, now: u64, realm: &str) -> String {
        let mut raw = [0u8; 32];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        rand::thread_rng().fill_bytes(&mut raw[8..16]);
        let tag = self.tag(now, &raw[8..16], realm);
        raw[16..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn check(&self, nonce: &str, realm: &str, now: u64) -> NonceStatus {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return NonceStatus::Invalid;
        };
        if raw.len() != 32 {
            return NonceStatus::Invalid;
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&raw[..8]);
        let t = u64::from_be_bytes(t);
        let expected = self.tag(t, &raw[8..16], realm);
        let diff = expected
            .iter()
            .zip(&raw[16..])
            .fold(0u8, |a, (x, y)| a | (x ^ y));
        if diff != 0 || t > now + SKEW {
            return NonceStatus::Invalid;
        }
        if now.saturating_sub(t) > self.ttl {
            NonceStatus::Stale
        } else {
            NonceStatus::Valid
        }
    }
}
