//! HTTP Digest for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760): MD5 and SHA-256, `qop=auth` and
//! the RFC 2069 form without qop. Pure: time comes in as Unix seconds.
//!
//! * [`ha1`] is what the store keeps instead of a password.
//! * [`challenge`] writes one WWW-/Proxy-Authenticate value.
//! * [`Credentials::parse`] reads an Authorization value, [`verify`] checks its response.
//! * [`NonceSigner`] makes stateless nonces (an HMAC of the time and the realm) and says when
//!   one is stale; [`NonceCounts`] refuses replays.

mod client;
mod credentials;
mod nonce;
mod replay;

use md5::{Digest as _, Md5};
use sha2::Sha256;

pub use client::Challenge;
pub use credentials::{Credentials, DigestError, Qop};
pub use nonce::{NonceSigner, NonceStatus};
pub use replay::NonceCounts;

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// "MD5" / "SHA-256", case-insensitive.
    pub fn from_name(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    fn hex(self, parts: &[&[u8]]) -> String {
        fn feed<D: sha2::Digest>(mut d: D, parts: &[&[u8]]) -> String {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self {
            Algorithm::Md5 => feed(Md5::new(), parts),
            Algorithm::Sha256 => feed(Sha256::new(), parts),
        }
    }
}

/// H(username ":" realm ":" password), lower-case hex.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// One challenge value: `Digest realm="..", nonce="..", algorithm=.., qop="auth"[, stale=true]`.
pub fn challenge(realm: &str, alg: Algorithm, nonce: &str, stale: bool) -> String {
    let mut v = format!(
        "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
        realm.replace('\\', "\\\\").replace('"', "\\\""),
        alg.name()
    );
    if stale {
        v.push_str(", stale=true");
    }
    v
}

/// The response the client should have computed, for its algorithm and qop.
pub fn expected_response(c: &Credentials, method: &str, ha1_hex: &str) -> String {
    let alg = c.algorithm;
    let ha2 = alg.hex(&[method.as_bytes(), c.uri.as_bytes()]);
    match (&c.qop, &c.cnonce, c.nc_text.as_deref()) {
        (Some(Qop::Auth), Some(cnonce), Some(nc)) => alg.hex(&[
            ha1_hex.as_bytes(),
            c.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            b"auth",
            ha2.as_bytes(),
        ]),
        // RFC 2069: no qop.
        _ => alg.hex(&[ha1_hex.as_bytes(), c.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// True when the credentials' response is right for `method` and the user's HA1.
pub fn verify(c: &Credentials, method: &str, ha1_hex: &str) -> bool {
    if c.qop.is_some() && (c.cnonce.is_none() || c.nc.is_none()) {
        return false;
    }
    let expected = expected_response(c, method, ha1_hex);
    constant_time_eq(
        expected.as_bytes(),
        c.response.to_ascii_lowercase().as_bytes(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
