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
            let a =
                Algorithm::from_name(n).ok_or_else(|| format!("unknown digest algorithm {n:?}"))?;
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

/// Everything a user may authenticate with: the password's HA1 values and alternates (the
/// unexpired tokens of a Bandwidth endpoint, each an expiring digest secret).
#[derive(Debug, Clone)]
pub struct CredentialSet {
    pub password: StoredCredentials,
    pub alternates: Vec<StoredCredentials>,
}

impl From<StoredCredentials> for CredentialSet {
    fn from(password: StoredCredentials) -> Self {
        CredentialSet {
            password,
            alternates: Vec::new(),
        }
    }
}

impl CredentialSet {
    fn all(&self) -> impl Iterator<Item = &StoredCredentials> {
        std::iter::once(&self.password).chain(&self.alternates)
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
    Authenticated {
        username: String,
    },
    /// Send [`Authenticator::challenge`]. `failure` is `None` when no credentials came.
    Challenge {
        stale: bool,
        failure: Option<AuthFailure>,
    },
}

/// What a request presents for a realm: the one set of credentials that is checked.
#[derive(Debug)]
pub enum Presented {
    Nothing,
    Malformed,
    Credentials(Box<Credentials>),
}

/// The credentials [`Authenticator::verify`] checks for `realm`: the first header of `kind`
/// whose realm is ours. Credentials for another realm, or of an unknown scheme (RFC 4475
/// regaut01), are ignored, as if absent. The defences key their accounting on the same
/// choice, so that a second header cannot dodge them (issue "Security", item 6).
pub fn presented(req: &Request, kind: ChallengeKind, realm: &str) -> Presented {
    let mut malformed = false;
    for v in req.headers.get_all(&kind.credentials_header()) {
        match Credentials::parse(v) {
            Ok(c) if c.realm.eq_ignore_ascii_case(realm) => {
                return Presented::Credentials(Box::new(c))
            }
            Ok(_) => {}
            Err(e) if e.is_unsupported_scheme() => {}
            Err(_) => malformed = true,
        }
    }
    if malformed {
        Presented::Malformed
    } else {
        Presented::Nothing
    }
}

/// Who an attempt claimed to be: the username of the checked credentials and the realm
/// (lower case). The key of the per-user and per-pair accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub realm: String,
}

impl Identity {
    /// `user@realm`, the accounting key.
    pub fn key(&self) -> String {
        format!("{}@{}", self.user, self.realm)
    }
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
    pub fn verify<C: Into<CredentialSet>>(
        &mut self,
        now: u64,
        req: &Request,
        kind: ChallengeKind,
        realm: &str,
        lookup: impl FnOnce(&str) -> Option<C>,
    ) -> Verdict {
        self.verify_identified(now, req, kind, realm, lookup).0
    }

    /// [`Authenticator::verify`], with the identity whose credentials were checked (none when
    /// no credentials for `realm` came, or they did not parse): the key the defences count
    /// and gate on, taken from the same choice of header as the check itself.
    pub fn verify_identified<C: Into<CredentialSet>>(
        &mut self,
        now: u64,
        req: &Request,
        kind: ChallengeKind,
        realm: &str,
        lookup: impl FnOnce(&str) -> Option<C>,
    ) -> (Verdict, Option<Identity>) {
        match presented(req, kind, realm) {
            Presented::Nothing => (
                Verdict::Challenge {
                    stale: false,
                    failure: None,
                },
                None,
            ),
            Presented::Malformed => (
                Verdict::Challenge {
                    stale: false,
                    failure: Some(AuthFailure::Malformed),
                },
                None,
            ),
            Presented::Credentials(creds) => {
                let who = Identity {
                    user: creds.username.clone(),
                    realm: realm.to_ascii_lowercase(),
                };
                (self.judge(now, req, realm, *creds, lookup), Some(who))
            }
        }
    }

    /// The nonce, algorithm, password and replay checks of one set of credentials.
    fn judge<C: Into<CredentialSet>>(
        &mut self,
        now: u64,
        req: &Request,
        realm: &str,
        creds: Credentials,
        lookup: impl FnOnce(&str) -> Option<C>,
    ) -> Verdict {
        let fail = |f: AuthFailure| Verdict::Challenge {
            stale: false,
            failure: Some(f),
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
        let stored = lookup(&creds.username).map(Into::into);
        let ok = match &stored {
            // The password first; a token (when the user has any) is tried only after it.
            Some(set) => set.all().any(|s| {
                let ha1 = match alg {
                    Algorithm::Md5 => &s.ha1_md5,
                    Algorithm::Sha256 => &s.ha1_sha256,
                };
                digest::verify(&creds, req.method.as_str(), ha1)
            }),
            // Unknown users are checked against a throw-away HA1, so both paths cost the same.
            None => {
                let ha1 = digest::ha1(alg, &creds.username, realm, "\u{0}unknown-user\u{0}");
                digest::verify(&creds, req.method.as_str(), &ha1)
            }
        };
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
            r.headers.push(
                kind.challenge_header(),
                digest::challenge(realm, alg, &nonce, stale),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::message::{parse, Message};

    const REALM: &str = "example.com";

    fn register(auth: Option<&str>) -> Request {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n{auth}\r\n"
        );
        match parse(Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn authenticator() -> Authenticator {
        Authenticator::new(
            [9; 32],
            AuthConfig::from_names(&["MD5".into(), "SHA-256".into()], 300).unwrap(),
        )
    }

    fn alice(user: &str) -> Option<StoredCredentials> {
        (user == "alice").then(|| StoredCredentials {
            ha1_md5: digest::ha1(Algorithm::Md5, "alice", REALM, "wonderland"),
            ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", REALM, "wonderland"),
        })
    }

    /// A client's answer to `nonce`, qop=auth with count `nc`.
    fn answer(alg: Algorithm, user: &str, password: &str, nonce: &str, nc: u32) -> String {
        let h = digest::ha1(alg, user, REALM, password);
        let mut c = Credentials::parse(&format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"0\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"cn\"",
            alg.name()
        ))
        .unwrap();
        c.response = digest::expected_response(&c, "REGISTER", &h);
        format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"{}\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"cn\"",
            c.response,
            alg.name()
        )
    }

    fn nonce_of(a: &mut Authenticator, now: u64) -> String {
        a.signer.issue(now, REALM)
    }

    #[test]
    fn challenge_offers_md5_then_sha256() {
        let mut a = authenticator();
        let r = a.challenge(100, &register(None), ChallengeKind::Www, REALM, false, "t");
        assert_eq!(r.status, 401);
        let v: Vec<&str> = r.headers.get_all(&HeaderName::WwwAuthenticate).collect();
        assert_eq!(v.len(), 2);
        assert!(v[0].contains("algorithm=MD5") && v[1].contains("algorithm=SHA-256"));
        let p = a.challenge(100, &register(None), ChallengeKind::Proxy, REALM, true, "t");
        assert_eq!(p.status, 407);
        assert!(p
            .headers
            .get(&HeaderName::ProxyAuthenticate)
            .unwrap()
            .ends_with("stale=true"));
    }

    #[test]
    fn right_password_authenticates_with_either_algorithm() {
        let mut a = authenticator();
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let n = nonce_of(&mut a, 100);
            let req = register(Some(&answer(alg, "alice", "wonderland", &n, 1)));
            assert_eq!(
                a.verify(100, &req, ChallengeKind::Www, REALM, alice),
                Verdict::Authenticated {
                    username: "alice".into()
                }
            );
        }
    }

    #[test]
    fn a_token_authenticates_like_the_password() {
        let mut a = authenticator();
        let with_token = |user: &str| {
            alice(user).map(|password| CredentialSet {
                password,
                alternates: vec![StoredCredentials {
                    ha1_md5: digest::ha1(Algorithm::Md5, "alice", REALM, "tok-123456"),
                    ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", REALM, "tok-123456"),
                }],
            })
        };
        for (pw, nc, ok) in [
            ("tok-123456", 1, true),
            ("wonderland", 2, true),
            ("other", 3, false),
        ] {
            let n = nonce_of(&mut a, 100);
            let req = register(Some(&answer(Algorithm::Sha256, "alice", pw, &n, nc)));
            let verdict = a.verify(100, &req, ChallengeKind::Www, REALM, with_token);
            assert_eq!(matches!(verdict, Verdict::Authenticated { .. }), ok, "{pw}");
        }
        // Without the token (expired: not passed), it no longer works.
        let n = nonce_of(&mut a, 100);
        let req = register(Some(&answer(Algorithm::Md5, "alice", "tok-123456", &n, 1)));
        assert!(matches!(
            a.verify(100, &req, ChallengeKind::Www, REALM, alice),
            Verdict::Challenge { .. }
        ));
    }

    #[test]
    fn unknown_user_and_wrong_password_look_the_same() {
        let mut a = authenticator();
        let n = nonce_of(&mut a, 100);
        let wrong = register(Some(&answer(Algorithm::Md5, "alice", "guess", &n, 1)));
        let unknown = register(Some(&answer(Algorithm::Md5, "mallory", "guess", &n, 1)));
        let v1 = a.verify(100, &wrong, ChallengeKind::Www, REALM, alice);
        let v2 = a.verify(100, &unknown, ChallengeKind::Www, REALM, alice);
        assert_eq!(
            v1,
            Verdict::Challenge {
                stale: false,
                failure: Some(AuthFailure::WrongPassword)
            }
        );
        assert_eq!(
            v2,
            Verdict::Challenge {
                stale: false,
                failure: Some(AuthFailure::UnknownUser)
            }
        );
        // The responses differ only in their nonces.
        let r1 = a
            .challenge(100, &wrong, ChallengeKind::Www, REALM, false, "t")
            .encode()
            .unwrap();
        let r2 = a
            .challenge(100, &unknown, ChallengeKind::Www, REALM, false, "t")
            .encode()
            .unwrap();
        let strip = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .split("nonce=\"")
                .map(|p| {
                    p.split_once('"')
                        .map(|(_, rest)| rest.to_string())
                        .unwrap_or(p.to_string())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&r1), strip(&r2));
    }

    #[test]
    fn stale_nonce_gets_stale_true() {
        let mut a = authenticator();
        let n = nonce_of(&mut a, 100);
        let req = register(Some(&answer(Algorithm::Md5, "alice", "wonderland", &n, 1)));
        assert_eq!(
            a.verify(100 + 301, &req, ChallengeKind::Www, REALM, alice),
            Verdict::Challenge {
                stale: true,
                failure: Some(AuthFailure::StaleNonce)
            }
        );
    }

    #[test]
    fn replayed_nonce_count_is_refused() {
        let mut a = authenticator();
        let n = nonce_of(&mut a, 100);
        let req = register(Some(&answer(Algorithm::Md5, "alice", "wonderland", &n, 1)));
        assert!(matches!(
            a.verify(100, &req, ChallengeKind::Www, REALM, alice),
            Verdict::Authenticated { .. }
        ));
        assert_eq!(
            a.verify(101, &req, ChallengeKind::Www, REALM, alice),
            Verdict::Challenge {
                stale: true,
                failure: Some(AuthFailure::Replay)
            }
        );
        let next = register(Some(&answer(Algorithm::Md5, "alice", "wonderland", &n, 2)));
        assert!(matches!(
            a.verify(102, &next, ChallengeKind::Www, REALM, alice),
            Verdict::Authenticated { .. }
        ));
    }

    #[test]
    fn foreign_schemes_realms_and_forged_nonces() {
        let mut a = authenticator();
        // RFC 4475 regaut01: an unknown scheme is ignored: a plain challenge follows.
        let req = register(Some("NoOneKnowsThisScheme opaque-data=here"));
        assert_eq!(
            a.verify(100, &req, ChallengeKind::Www, REALM, alice),
            Verdict::Challenge {
                stale: false,
                failure: None
            }
        );
        let forged = register(Some(&answer(
            Algorithm::Md5,
            "alice",
            "wonderland",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            1,
        )));
        assert_eq!(
            a.verify(100, &forged, ChallengeKind::Www, REALM, alice),
            Verdict::Challenge {
                stale: false,
                failure: Some(AuthFailure::BadNonce)
            }
        );
        let n = nonce_of(&mut a, 100);
        let other_realm = answer(Algorithm::Md5, "alice", "wonderland", &n, 1)
            .replace("realm=\"example.com\"", "realm=\"elsewhere\"");
        assert_eq!(
            a.verify(
                100,
                &register(Some(&other_realm)),
                ChallengeKind::Www,
                REALM,
                alice
            ),
            Verdict::Challenge {
                stale: false,
                failure: None
            }
        );
    }

    /// Issue "Security", item 6: the identity the defences count is the one whose password
    /// was checked, however many Authorization headers came and in which order.
    #[test]
    fn the_accounted_identity_is_the_checked_one() {
        let mut a = authenticator();
        let n = nonce_of(&mut a, 100);
        let decoy = "Digest username=\"victim\", realm=\"other.example\", nonce=\"x\", uri=\"sip:example.com\", response=\"0\"";
        let real = answer(Algorithm::Md5, "alice", "guess", &n, 1);
        let req = register(Some(&format!("{decoy}\r\nAuthorization: {real}")));
        let (verdict, who) = a.verify_identified(100, &req, ChallengeKind::Www, REALM, alice);
        assert_eq!(
            who,
            Some(Identity {
                user: "alice".into(),
                realm: REALM.to_ascii_lowercase(),
            })
        );
        assert_eq!(
            verdict,
            Verdict::Challenge {
                stale: false,
                failure: Some(AuthFailure::WrongPassword)
            }
        );
        let decoy_only = register(Some(decoy));
        let (_, who) = a.verify_identified(100, &decoy_only, ChallengeKind::Www, REALM, alice);
        assert_eq!(
            who, None,
            "credentials for another realm are not ours to count"
        );
    }
}
