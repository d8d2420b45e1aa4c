//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760), sans-IO.
//!
//! Pure functions and plain structs: no I/O, no clock (time comes in as Unix seconds), no
//! randomness except [`NonceSigner::generate`] for the server secret.
//!
//! The building blocks are [`Credentials::parse`], [`challenge`]/[`Offer`], [`NonceSigner`],
//! [`verify`] and [`NonceCounts`]. [`Authenticator`] puts them together in the order a registrar
//! (or an INVITE challenger) needs:
//!
//! 1. No `Authorization` header, or [`Credentials::parse`] fails (an unknown scheme gives
//!    [`DigestError::UnknownScheme`]): answer 401 with one `WWW-Authenticate` per value of
//!    [`Authenticator::challenges`] (one fresh nonce, one header per offered algorithm).
//! 2. Otherwise [`Authenticator::judge`] decides, given the HA1 of the claimed user in the
//!    credentials' algorithm (or `None` for an unknown or disabled user): it checks realm and
//!    nonce, [`verify`]s the response (against a dummy HA1 when the user is unknown, so both
//!    cases cost the same and answer the same), and only then records the nonce count, so
//!    unauthenticated floods cannot grow the table. The result is [`Verdict::Authenticated`] or
//!    [`Verdict::Challenge`] with the `stale` flag for the new challenges. `stale=true` is only
//!    set for a *correct* response (RFC 7616 §3.3): the client retries with the new nonce
//!    without asking its user.
//! 3. The caller still checks what only it knows: that the authenticated username is the one
//!    the request is for (the To AOR of a REGISTER), and that `uri` matches the Request-URI.
//!
//! Secrets (passwords, HA1 values, the server secret, client responses) never appear in `Debug`
//! output or errors.

mod challenge;
mod credentials;
mod nonce;
mod replay;
mod response;
mod verdict;

pub use challenge::{challenge, Offer};
pub use credentials::{Credentials, NonceCount, Qop, MAX_CREDENTIALS_LEN};
pub use nonce::{NonceSigner, NonceStatus};
pub use replay::{NonceCounts, ReplayError};
pub use response::{response, verify, QopAuth};
pub use verdict::{Authenticator, Refusal, Verdict};

use md5::Md5;
use sha2::Sha256;

/// A digest algorithm. Only the non-`-sess` variants: SIP clients do not use the session ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The token used in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses a header token, case-insensitively. `None` for anything else (`MD5-sess`,
    /// `SHA-512-256`, ...).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        if name.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Length of a digest in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// `H(part0 ":" part1 ":" ...)` in lowercase hex.
    pub(crate) fn hash_hex(self, parts: &[&[u8]]) -> String {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut hasher = D::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    hasher.update(b":");
                }
                hasher.update(part);
            }
            hex::encode(hasher.finalize())
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `H(username ":" realm ":" password)` in lowercase hex: the value stored instead of the
/// password (one per algorithm).
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// Why credentials or an algorithm list were refused. Carries no input text: the input is
/// attacker-controlled and may contain secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The scheme is not `Digest` (e.g. `Basic`, or RFC 4475's `NoOneKnowsThisScheme`).
    /// Ignore such a header and challenge.
    #[error("not digest credentials")]
    UnknownScheme,
    /// Longer than [`MAX_CREDENTIALS_LEN`].
    #[error("credentials longer than {MAX_CREDENTIALS_LEN} bytes")]
    TooLong,
    /// Not `name=value` pairs separated by commas; `at` is the byte offset of the problem.
    #[error("malformed credentials at byte {at}")]
    Malformed { at: usize },
    #[error("parameter {0} appears twice")]
    DuplicateParam(&'static str),
    #[error("parameter {0} is missing")]
    MissingParam(&'static str),
    #[error("unsupported digest algorithm (MD5 and SHA-256 are supported)")]
    UnsupportedAlgorithm,
    /// `qop` other than `auth` (`auth-int` is not supported).
    #[error("unsupported qop (only auth is supported)")]
    UnsupportedQop,
    /// `nc` is not 1 to 8 hexadecimal digits.
    #[error("invalid nonce count")]
    InvalidNonceCount,
    /// An algorithm list that is empty or names one algorithm twice.
    #[error("the offered algorithms must be a non-empty list without repeats")]
    InvalidOffer,
}

#[cfg(test)]
mod tests;
