//! Signing webhook bodies, and checking a signature as a receiver would.
//!
//! `X-Ringmaster-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(app secret, "<t>.<body>")>`.
//! The timestamp is inside the MAC, so a captured request cannot be replayed later with a new
//! `t`; a receiver rejects signatures older than its tolerance (5 minutes is usual). Each
//! attempt of a delivery is signed afresh, with the time of that attempt.
//!
//! Receivers: take `t` and every `v1` from the header, compute the HMAC of `t`, a dot and the
//! raw body bytes (before any JSON parsing), compare in constant time, check `t` is recent.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Ringmaster-Signature";
/// The delivery's id, the same on every attempt: receivers drop duplicates by it.
pub const DELIVERY_ID_HEADER: &str = "X-Ringmaster-Delivery-Id";
/// Which attempt this is, from 1.
pub const ATTEMPT_HEADER: &str = "X-Ringmaster-Attempt";

fn mac(secret: &str, t: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` signed at `t` (Unix seconds).
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, body).finalize().into_bytes())
    )
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the signature header is not t=<unix>,v1=<hex>")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks `header` (the value of [`SIGNATURE_HEADER`]) against `body` and `secret`, with `t`
/// at most `tolerance_secs` away from `now` (Unix seconds). Several `v1` entries are allowed
/// (one per secret during a rotation); one match is enough.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<u64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => candidates.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            // Unknown schemes are skipped, so a later v2 does not break v1 receivers.
            Some(_) => {}
            None => return Err(VerifyError::Malformed),
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if t.abs_diff(now) > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let expected = mac(secret, t, body);
    if candidates
        .iter()
        .any(|c| expected.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cross-checked with Python:
    /// `hmac.new(b"s3cret", b"1700000000." + b'{"a":1}', hashlib.sha256).hexdigest()`.
    const VECTOR: &str =
        "t=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940";

    #[test]
    fn a_fixed_vector() {
        assert_eq!(signature("s3cret", 1_700_000_000, br#"{"a":1}"#), VECTOR);
    }

    #[test]
    fn verify_accepts_its_own_and_refuses_the_rest() {
        let body = br#"{"type":"event","seq":1}"#;
        let h = signature("secret-1", 1000, body);
        assert_eq!(verify("secret-1", &h, body, 1000, 300), Ok(()));
        assert_eq!(verify("secret-1", &h, body, 1300, 300), Ok(()));
        assert_eq!(
            verify("secret-1", &h, body, 1301, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify("secret-2", &h, body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("secret-1", &h, br#"{"type":"event","seq":2}"#, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = h.replace("t=1000", "t=1001");
        assert_eq!(
            verify("secret-1", &moved, body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        // A rotation header with an old and a new signature.
        let other = signature("old", 1000, body);
        let both = format!("{h},v1={}", other.split("v1=").nth(1).unwrap());
        assert_eq!(verify("old", &both, body, 1000, 300), Ok(()));
        for bad in [
            "",
            "t=1000",
            "v1=00",
            "t=x,v1=00",
            "t=1000,v1=zz",
            "garbage",
        ] {
            assert_eq!(
                verify("secret-1", bad, body, 1000, 300),
                Err(VerifyError::Malformed),
                "{bad}"
            );
        }
    }
}
