//! Sealing SIP passwords at rest for operators who enabled `reveal_sip_passwords`.
//!
//! ChaCha20-Poly1305 with a random 96-bit nonce per record and the endpoint's
//! `domain \0 username` as associated data, so a sealed value copied onto another endpoint
//! does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

/// A sealing key (32 bytes, from the data directory).
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A sealed value that does not open (wrong key, tampered, truncated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed password does not open")]
pub struct UnsealError;

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// nonce (12 bytes) || ciphertext+tag.
    pub fn seal(
        &self,
        domain: &str,
        username: &str,
        password: &str,
        rng: &mut impl RngCore,
    ) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let aad = format!("{domain}\0{username}");
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: password.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // Encryption only fails for inputs beyond 2^38 bytes; passwords are ≤ 128.
            .expect("chacha20poly1305 encrypt of a short input");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, domain: &str, username: &str, sealed: &[u8]) -> Result<String, UnsealError> {
        if sealed.len() < 12 + 16 {
            return Err(UnsealError);
        }
        let aad = format!("{domain}\0{username}");
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed[..12]),
                Payload {
                    msg: &sealed[12..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| UnsealError)?;
        String::from_utf8(pt).map_err(|_| UnsealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn round_trip_and_binding_to_the_endpoint() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let s = Sealer::new(&[7u8; 32]);
        let sealed = s.seal("example.com", "alice", "wonderland", &mut rng);
        assert!(!sealed.windows(10).any(|w| w == b"wonderland"));
        assert_eq!(
            s.open("example.com", "alice", &sealed).unwrap(),
            "wonderland"
        );
        assert!(s.open("example.com", "bob", &sealed).is_err());
        assert!(Sealer::new(&[8u8; 32])
            .open("example.com", "alice", &sealed)
            .is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(s.open("example.com", "alice", &tampered).is_err());
        assert!(s.open("example.com", "alice", &sealed[..10]).is_err());
    }
}
