//! The decision for one request carrying credentials, with the checks in a safe order.
//!
//! [`Authenticator`] owns the nonce signer, the nonce counts and the algorithm offer, and
//! [`Authenticator::judge`] runs: realm, algorithm offered, nonce genuine, response correct,
//! nonce fresh, count increasing. The order is the point:
//!
//! * the response is checked before freshness, so `stale=true` is only said to a client that
//!   knows the password (RFC 7616 §3.3), and an attacker learns nothing from it;
//! * an unknown user is checked against a dummy HA1, so it costs the same hash work and gets the
//!   same verdict as a wrong password (no username enumeration through responses or timing);
//! * nonce counts are recorded last, only for correct responses, so floods cannot fill them.

use super::{Algorithm, Credentials, NonceCounts, NonceSigner, NonceStatus, Offer, ReplayError};

/// Why a request was challenged. For logs and ban counters; the response to the client is the
/// same for all of them apart from `stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The credentials name another realm.
    WrongRealm,
    /// An algorithm we did not offer (a downgrade attempt, or a confused client).
    AlgorithmNotOffered,
    /// A nonce we did not issue (forged, garbled, from another realm or an earlier run).
    UnknownNonce,
    /// Wrong password, or no such user: deliberately one variant.
    BadResponse,
    /// A correct response to an expired nonce.
    StaleNonce,
    /// A correct response whose nonce count was already used: a replay, or a reordered request.
    Replayed,
    /// A correct response to a nonce that was single-use and is spent.
    NonceUsed,
}

/// The outcome of [`Authenticator::judge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Authenticated,
    /// Answer 401 (407 for proxy authentication) with [`Authenticator::challenges`] made with
    /// this `stale` flag.
    Challenge {
        stale: bool,
        refusal: Refusal,
    },
}

/// Digest state of one server: see the module doc. `Debug` shows no secrets.
#[derive(Debug)]
pub struct Authenticator {
    signer: NonceSigner,
    counts: NonceCounts,
    offer: Offer,
}

impl Authenticator {
    /// Nonce counts are kept for the signer's nonce lifetime, up to
    /// [`NonceCounts::DEFAULT_CAP`] entries.
    pub fn new(signer: NonceSigner, offer: Offer) -> Authenticator {
        let counts = NonceCounts::new(signer.lifetime());
        Authenticator {
            signer,
            counts,
            offer,
        }
    }

    /// Bounds the nonce-count table at `cap` entries instead.
    pub fn with_count_cap(mut self, cap: usize) -> Authenticator {
        self.counts = NonceCounts::with_cap(self.signer.lifetime(), cap);
        self
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    /// Fresh challenge header values for `realm` (one per offered algorithm, one new nonce).
    pub fn challenges(&self, realm: &str, stale: bool, now: u64) -> Vec<String> {
        let nonce = self.signer.issue(now, realm);
        self.offer.challenges(realm, &nonce, stale, None)
    }

    /// Judges `credentials` sent with a `method` request to `realm` at `now` (Unix seconds).
    /// `ha1` is the claimed user's HA1 in `credentials.algorithm`, or `None` when there is no
    /// such (enabled) user.
    pub fn judge(
        &mut self,
        credentials: &Credentials,
        method: &str,
        realm: &str,
        ha1: Option<&str>,
        now: u64,
    ) -> Verdict {
        let refuse = |stale, refusal| Verdict::Challenge { stale, refusal };
        if credentials.realm != realm {
            return refuse(false, Refusal::WrongRealm);
        }
        if !self.offer.offers(credentials.algorithm) {
            return refuse(false, Refusal::AlgorithmNotOffered);
        }
        let status = self.signer.check(&credentials.nonce, realm, now);
        if status == NonceStatus::Invalid {
            return refuse(false, Refusal::UnknownNonce);
        }
        let dummy = dummy_ha1(credentials.algorithm);
        let correct = super::verify(credentials, method, ha1.unwrap_or(dummy)) && ha1.is_some();
        if !correct {
            return refuse(false, Refusal::BadResponse);
        }
        let NonceStatus::Valid { issued_at } = status else {
            return refuse(true, Refusal::StaleNonce);
        };
        let nc = credentials.nc.as_ref().map(|nc| nc.value());
        match self.counts.accept(&credentials.nonce, issued_at, nc, now) {
            Ok(()) => Verdict::Authenticated,
            Err(ReplayError::Replayed) => refuse(true, Refusal::Replayed),
            Err(ReplayError::Stale) => refuse(true, Refusal::NonceUsed),
        }
    }
}

/// A well-formed HA1 that no password produces in practice, for unknown users.
fn dummy_ha1(algorithm: Algorithm) -> &'static str {
    const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    &ZEROS[..algorithm.hex_len()]
}
