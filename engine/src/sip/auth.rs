//! Digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760): the policy over the
//! `digest` primitives. Which header to read, which challenge to send, and one rule above all:
//! an unknown user, a wrong password and a malformed answer all get the same challenge (the
//! same status and headers apart from the nonce), after the same work, so usernames cannot be
//! enumerated.

use super::digest::{self, Algorithm, Credentials, NonceCounts, NonceSigner, NonceStatus};
use super::message::{response_to, HeaderName, Request, Response};

/// Registrars challenge with 401/WWW-Authenticate; the call path with 407/Proxy-Authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    Www,
    Proxy,
}

impl ChallengeKind {
    fn status(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }
    fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }
    fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

/// Which algorithms are offered, in order, and how long a nonce lives.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub algorithms: Vec<Algorithm>,
    pub nonce_ttl: u64,
}

impl AuthConfig {
    /// From setting names ("MD5", "SHA-256").
    pub fn from_names(names: &[String], nonce_ttl: u64) -> Result<AuthConfig, String> {
        let mut algorithms = Vec::new();
        for n in names {
            let a = Algorithm::from_name(n).ok_or_else(|| format!("unknown digest algorithm {n:?}"))?;
            if !algorithms.contains(&a) {
                algorithms.push(a);
            }
        }
        if algorithms.is_empty() {
            return Err("digest.algorithms must name at least one algorithm".into());
        }
        if nonce_ttl == 0 {
            return Err("digest.nonce_ttl_secs must be positive".into());
        }
        Ok(AuthConfig {
            algorithms,
            nonce_ttl,
        })
    }
}

/// What the store knows of a user.
#[derive(Clone)]
pub struct StoredCredentials {
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredCredentials(..)")
    }
}

/// Why a request was not authenticated (for the security log only: the client never learns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Malformed,
    RealmMismatch,
    BadNonce,
    StaleNonce,
    AlgorithmNotOffered,
    UnknownUser,
    WrongPassword,
    Replay,
}

/// The outcome of [`Authenticator::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Authenticated { username: String },
    /// Send [`Authenticator::challenge`]. `failure` is `None` when no credentials came.
    Challenge {
        stale: bool,
        failure: Option<AuthFailure>,
    },
}

/// Stateless nonces plus the nonce-count memory of replay protection.
pub struct Authenticator {
    signer: NonceSigner,
    counts: NonceCounts,
    cfg: AuthConfig,
}

impl Authenticator {
    pub fn new(key: [u8; 32], cfg: AuthConfig) -> Authenticator {
        Authenticator {
            signer: NonceSigner::new(key, cfg.nonce_ttl),
            counts: NonceCounts::new(cfg.nonce_ttl),
            cfg,
        }
    }

    /// Checks the request's credentials for `realm`. `lookup` maps a username to its stored
    /// credentials (None: no such user).
    pub fn verify(
        &mut self,
        now: u64,
        req: &Request,
        kind: ChallengeKind,
        realm: &str,
        lookup: impl FnOnce(&str) -> Option<StoredCredentials>,
    ) -> Verdict {
        let fail = |f: AuthFailure| Verdict::Challenge {
            stale: false,
            failure: Some(f),
        };
        // Credentials for another realm, or of an unknown scheme (RFC 4475 regaut01), are
        // ignored, as if absent.
        let mut malformed = false;
        let mut creds: Option<Credentials> = None;
        for v in req.headers.get_all(&kind.credentials_header()) {
            match Credentials::parse(v) {
                Ok(c) if c.realm.eq_ignore_ascii_case(realm) => {
                    creds = Some(c);
                    break;
                }
                Ok(_) => {}
                Err(e) if e.is_unsupported_scheme() => {}
                Err(_) => malformed = true,
            }
        }
        let Some(creds) = creds else {
            return if malformed {
                fail(AuthFailure::Malformed)
            } else {
                Verdict::Challenge {
                    stale: false,
                    failure: None,
                }
            };
        };
        match self.signer.check(&creds.nonce, realm, now) {
            NonceStatus::Valid => {}
            NonceStatus::Stale => {
                return Verdict::Challenge {
                    stale: true,
                    failure: Some(AuthFailure::StaleNonce),
                }
            }
            NonceStatus::Invalid => return fail(AuthFailure::BadNonce),
        }
        let alg = creds.algorithm;
        if !self.cfg.algorithms.contains(&alg) {
            return fail(AuthFailure::AlgorithmNotOffered);
        }
        let stored = lookup(&creds.username);
        // Unknown users are checked against a throw-away HA1, so both paths cost the same.
        let ha1 = match (&stored, alg) {
            (Some(s), Algorithm::Md5) => s.ha1_md5.clone(),
            (Some(s), Algorithm::Sha256) => s.ha1_sha256.clone(),
            (None, a) => digest::ha1(a, &creds.username, realm, "\u{0}unknown-user\u{0}"),
        };
        let ok = digest::verify(&creds, req.method.as_str(), &ha1);
        match (stored.is_some(), ok) {
            (false, _) => return fail(AuthFailure::UnknownUser),
            (true, false) => return fail(AuthFailure::WrongPassword),
            (true, true) => {}
        }
        if !self.counts.accept(&creds, now) {
            // A captured Authorization played again, or a stale no-qop nonce reused: a
            // legitimate client answers the fresh nonce without asking its user.
            return Verdict::Challenge {
                stale: true,
                failure: Some(AuthFailure::Replay),
            };
        }
        Verdict::Authenticated {
            username: creds.username,
        }
    }

    /// The 401/407 with one challenge per configured algorithm, each with a fresh nonce.
    pub fn challenge(
        &mut self,
        now: u64,
        req: &Request,
        kind: ChallengeKind,
        realm: &str,
        stale: bool,
        to_tag: &str,
    ) -> Response {
        let mut r = response_to(req, kind.status(), Some(to_tag));
        for alg in self.cfg.algorithms.clone() {
            let nonce = self.signer.issue(now, realm);
            r.headers
                .push(kind.challenge_header(), digest::challenge(realm, alg, &nonce, stale));
        }
        r
    }
}
