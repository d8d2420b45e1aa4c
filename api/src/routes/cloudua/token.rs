//! Bearer tokens of the Cloud SIP UA API: a JWT the device's owner signs, verified against
//! the domain's keys. Pure (the time is given), so every rule is a unit test.
//!
//! Rules (README "Cloud SIP UA"): `alg` picks the key and must match its type — HS256 only
//! with the domain's shared secret, RS256 only with an RSA public key, ES256 only with an EC
//! P-256 public key (so an HS256 token "signed" with the public key text is refused, and
//! `none` is never accepted); `exp` is required, `exp` and `nbf` are honoured with
//! [`LEEWAY_SECS`] of clock skew; the token is for the path's domain when its `aud` (a string
//! or an array) holds the domain's name or its `domain` claim equals it — when both claims
//! are present both must agree; `iss` and an extra `aud` are checked when the operator set
//! them. Every failure is the same [`Refused`], so a caller learns nothing from the reason.

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use engine::store::CloudUaDomain;

/// Clock skew allowed on `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: u64 = 60;
/// The shortest HS256 secret accepted (RFC 7518 §3.2: a key as long as the hash).
pub const MIN_SECRET: usize = 32;
/// The longest token read.
pub const MAX_TOKEN: usize = 8 * 1024;

/// The token does not open this domain (why is logged, not told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid or missing token")]
pub struct Refused(pub &'static str);

/// The algorithm a PEM public key verifies: `RS256` for RSA, `ES256` for EC P-256.
pub fn key_algorithm(pem: &str) -> Option<&'static str> {
    if DecodingKey::from_rsa_pem(pem.as_bytes()).is_ok() {
        Some("RS256")
    } else if DecodingKey::from_ec_pem(pem.as_bytes()).is_ok() {
        Some("ES256")
    } else {
        None
    }
}

/// The key for `alg` among the domain's, if it has one of that type.
fn key_for(d: &CloudUaDomain, alg: Algorithm) -> Option<DecodingKey> {
    match alg {
        Algorithm::HS256 => d
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.as_bytes())),
        Algorithm::RS256 => DecodingKey::from_rsa_pem(d.public_key_pem.as_ref()?.as_bytes()).ok(),
        Algorithm::ES256 => DecodingKey::from_ec_pem(d.public_key_pem.as_ref()?.as_bytes()).ok(),
        _ => None,
    }
}

fn has(claim: &Value, want: &str) -> bool {
    match claim {
        Value::String(s) => s == want,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(want)),
        _ => false,
    }
}

/// Verifies `token` for domain `d` at Unix time `now`.
pub fn verify(d: &CloudUaDomain, token: &str, now: u64) -> Result<(), Refused> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(Refused("empty or oversize"));
    }
    let header = decode_header(token).map_err(|_| Refused("malformed header or alg"))?;
    let alg = header.alg;
    let key = key_for(d, alg).ok_or(Refused("no key of the token's algorithm"))?;
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    // `aud` and time are checked below, against `now` (the library reads the system clock).
    v.validate_aud = false;
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let claims = decode::<Value>(token, &key, &v)
        .map_err(|_| Refused("bad signature"))?
        .claims;
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(Refused("no exp"))?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(Refused("expired"));
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_u64().ok_or(Refused("bad nbf"))?;
        if nbf > now.saturating_add(LEEWAY_SECS) {
            return Err(Refused("not yet valid"));
        }
    }
    let aud = claims.get("aud");
    let domain = claims.get("domain");
    let domain_ok = domain.is_none_or(|c| c.as_str() == Some(d.name.as_str()));
    // An `aud` must name the domain, or the operator's extra audience.
    let aud_ok =
        aud.is_none_or(|a| has(a, &d.name) || d.audience.as_ref().is_some_and(|x| has(a, x)));
    let named = domain.is_some() || aud.is_some_and(|a| has(a, &d.name));
    if !(domain_ok && aud_ok && named) {
        return Err(Refused("another domain"));
    }
    if let Some(want) = &d.audience {
        if !aud.is_some_and(|a| has(a, want)) {
            return Err(Refused("audience"));
        }
    }
    if let Some(want) = &d.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(want.as_str()) {
            return Err(Refused("issuer"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
