//! The digest response (RFC 7616 §3.4.1) and its constant-time check.
//!
//! ```text
//! HA2      = H(method ":" uri)
//! qop=auth : response = H(HA1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" HA2)
//! no qop   : response = H(HA1 ":" nonce ":" HA2)          (RFC 2069, still sent by some UAs)
//! ```

use subtle::ConstantTimeEq;

use super::{Algorithm, Credentials, Qop};

/// The `nc` and `cnonce` of a `qop=auth` response.
#[derive(Debug, Clone, Copy)]
pub struct QopAuth<'a> {
    /// The nonce count as sent: eight hex digits.
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// Computes a response: what a client sends, and what [`verify`] expects.
pub fn response(
    algorithm: Algorithm,
    ha1_hex: &str,
    nonce: &str,
    qop: Option<QopAuth<'_>>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash_hex(&[method.as_bytes(), uri.as_bytes()]);
    match qop {
        Some(QopAuth { nc, cnonce }) => algorithm.hash_hex(&[
            ha1_hex.as_bytes(),
            nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            b"auth",
            ha2.as_bytes(),
        ]),
        None => algorithm.hash_hex(&[ha1_hex.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// True when `credentials` answer their nonce correctly for a request with `method`, given the
/// user's HA1 in the credentials' algorithm. Checks nothing else (realm, nonce validity, counts:
/// see [`super::Authenticator::judge`]).
///
/// The comparison takes the same time wherever the first wrong character is, so the expected
/// response cannot be guessed byte by byte. Hex case in the client's response is ignored.
pub fn verify(credentials: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let qop = match (&credentials.qop, &credentials.nc, &credentials.cnonce) {
        (Some(Qop::Auth), Some(nc), Some(cnonce)) => Some(QopAuth {
            nc: nc.as_str(),
            cnonce,
        }),
        // The parser never builds qop=auth without nc and cnonce; refuse rather than guess.
        (Some(Qop::Auth), _, _) => return false,
        (None, _, _) => None,
    };
    let expected = response(
        credentials.algorithm,
        ha1_hex,
        &credentials.nonce,
        qop,
        method,
        &credentials.uri,
    );
    let given = credentials.response.to_ascii_lowercase();
    // Lengths are public (they depend on the algorithm only); `ct_eq` is false when they differ.
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}
