//! Stateless nonces: the server remembers nothing per challenge.
//!
//! A nonce is `base64url(issued_be || seq_be || tag)` without padding, 43 characters, where
//! `issued` is the Unix second of issue (`u64`), `seq` a per-signer counter (`u64`) and `tag`
//! the first 16 bytes of `HMAC-SHA256(secret, "ringmaster digest nonce v1" || issued_be ||
//! seq_be || realm)`. Base64url needs no escaping inside a quoted string.
//!
//! Why each part: the tag makes nonces unforgeable and binds them to their realm; `issued` lets
//! [`NonceSigner::check`] expire them without a table; `seq` makes every nonce unique, even two
//! issued in the same second for the same realm, because nonce counts are tracked per nonce
//! ([`super::NonceCounts`]) and two clients sharing one would refuse each other as replays.
//!
//! `seq` restarts at zero with each signer, so give each process start a fresh secret
//! ([`NonceSigner::generate`]). That also voids, at a restart, every nonce whose counts were
//! only remembered in memory, so a captured request cannot be replayed across a restart.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const DOMAIN_TAG: &[u8] = b"ringmaster digest nonce v1";
const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + 8 + TAG_LEN;
/// `RAW_LEN` bytes in unpadded base64.
const ENCODED_LEN: usize = (RAW_LEN * 4).div_ceil(3);

/// What [`NonceSigner::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours, for this realm, within its lifetime. `issued_at` feeds [`super::NonceCounts`].
    Valid { issued_at: u64 },
    /// Ours and for this realm, but older than the lifetime: challenge again with `stale=true`.
    Stale,
    /// Not ours, not for this realm, garbled, or issued in the future beyond the clock skew.
    Invalid,
}

/// Issues and checks nonces with a server secret. The secret stays out of `Debug`.
pub struct NonceSigner {
    secret: [u8; 32],
    lifetime: u64,
    seq: AtomicU64,
}

impl std::fmt::Debug for NonceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSigner")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceSigner {
    /// Nonces expire five minutes after issue.
    pub const DEFAULT_LIFETIME: u64 = 300;
    /// How far in the future an issue time may lie (our clock stepped back) and still count.
    pub const MAX_SKEW: u64 = 5;

    pub fn new(secret: [u8; 32]) -> NonceSigner {
        NonceSigner {
            secret,
            lifetime: Self::DEFAULT_LIFETIME,
            seq: AtomicU64::new(0),
        }
    }

    /// A signer with a fresh secret from the operating system's random generator.
    pub fn generate() -> Result<NonceSigner, rand::Error> {
        use rand::RngCore as _;
        let mut secret = [0; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut secret)?;
        Ok(NonceSigner::new(secret))
    }

    /// Sets the lifetime in seconds (at least one second).
    pub fn with_lifetime(mut self, seconds: u64) -> NonceSigner {
        self.lifetime = seconds.max(1);
        self
    }

    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// A new nonce for `realm`, issued at `now` (Unix seconds).
    pub fn issue(&self, now: u64, realm: &str) -> String {
        // Relaxed: uniqueness is all we need from the counter, not ordering with other memory.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0; RAW_LEN];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..16].copy_from_slice(&seq.to_be_bytes());
        let tag = self.mac(&raw[..16], realm).finalize().into_bytes();
        raw[16..].copy_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a nonce that came back in credentials for `realm`, at `now`.
    pub fn check(&self, nonce: &str, realm: &str, now: u64) -> NonceStatus {
        if nonce.len() != ENCODED_LEN {
            return NonceStatus::Invalid;
        }
        let mut raw = [0; RAW_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw) {
            Ok(RAW_LEN) => {}
            _ => return NonceStatus::Invalid,
        }
        // Constant time: a forger learns nothing from how long the comparison took.
        if self
            .mac(&raw[..16], realm)
            .verify_truncated_left(&raw[16..])
            .is_err()
        {
            return NonceStatus::Invalid;
        }
        let mut issued = [0; 8];
        issued.copy_from_slice(&raw[..8]);
        let issued_at = u64::from_be_bytes(issued);
        if issued_at > now.saturating_add(Self::MAX_SKEW) {
            NonceStatus::Invalid
        } else if now.saturating_sub(issued_at) > self.lifetime {
            NonceStatus::Stale
        } else {
            NonceStatus::Valid { issued_at }
        }
    }

    fn mac(&self, issued_and_seq: &[u8], realm: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts a 32-byte key");
        mac.update(DOMAIN_TAG);
        mac.update(issued_and_seq);
        mac.update(realm.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn signer() -> NonceSigner {
        NonceSigner::new([7; 32])
    }

    #[test]
    fn a_fresh_nonce_is_valid_until_its_lifetime_then_stale() {
        let s = signer();
        let nonce = s.issue(T0, "example.com");
        assert_eq!(nonce.len(), 43);
        assert!(nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let valid = NonceStatus::Valid { issued_at: T0 };
        assert_eq!(s.check(&nonce, "example.com", T0), valid);
        assert_eq!(s.check(&nonce, "example.com", T0 + 300), valid);
        assert_eq!(s.check(&nonce, "example.com", T0 + 301), NonceStatus::Stale);
        let short = signer().with_lifetime(30);
        let nonce = short.issue(T0, "example.com");
        assert_eq!(
            short.check(&nonce, "example.com", T0 + 31),
            NonceStatus::Stale
        );
    }

    #[test]
    fn nonces_are_unique_within_a_second() {
        let s = signer();
        assert_ne!(s.issue(T0, "example.com"), s.issue(T0, "example.com"));
    }

    #[test]
    fn forged_foreign_or_garbled_nonces_are_invalid() {
        let s = signer();
        let nonce = s.issue(T0, "example.com");
        assert_eq!(s.check(&nonce, "other.example", T0), NonceStatus::Invalid);
        let stranger = NonceSigner::new([8; 32]);
        assert_eq!(
            stranger.check(&nonce, "example.com", T0),
            NonceStatus::Invalid
        );

        // Move the issue time forward by one second: the tag no longer matches.
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[7] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(s.check(&forged, "example.com", T0), NonceStatus::Invalid);

        for garbage in [
            "",
            "abc",
            &nonce[..42],
            &format!("{nonce}A"),
            &"!".repeat(43),
        ] {
            assert_eq!(s.check(garbage, "example.com", T0), NonceStatus::Invalid);
        }
    }

    #[test]
    fn nonces_from_the_future_are_invalid_beyond_the_skew() {
        let s = signer();
        let nonce = s.issue(T0 + 5, "example.com");
        assert_eq!(
            s.check(&nonce, "example.com", T0),
            NonceStatus::Valid { issued_at: T0 + 5 }
        );
        let nonce = s.issue(T0 + 6, "example.com");
        assert_eq!(s.check(&nonce, "example.com", T0), NonceStatus::Invalid);
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", signer());
        assert_eq!(shown, "NonceSigner { lifetime: 300, .. }");
    }

    #[test]
    fn generated_secrets_differ() {
        let a = NonceSigner::generate().unwrap();
        let b = NonceSigner::generate().unwrap();
        let nonce = a.issue(T0, "example.com");
        assert_eq!(b.check(&nonce, "example.com", T0), NonceStatus::Invalid);
    }
}
