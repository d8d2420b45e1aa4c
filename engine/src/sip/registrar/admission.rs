//! RFC 3261 §10.3 steps 1–5 for a REGISTER: which address of record it is about, whether the
//! sender proved who it is, and whether that identity may change this address of record.

use super::{Aor, Domains};
use crate::sip::auth::{
    AuthFailure, Authenticator, ChallengeKind, CredentialSet, Identity, Verdict,
};
use crate::sip::message::{response_to, Request, Response};
use crate::sip::uas::reject_with;

/// What the store knows of an endpoint, for admission.
#[derive(Debug, Clone)]
pub struct EndpointAuth {
    /// The password's HA1 values and its alternates (a Bandwidth endpoint's unexpired
    /// tokens), each accepted alike.
    pub credentials: CredentialSet,
    pub enabled: bool,
}

/// The decision.
#[derive(Debug)]
pub enum Admission {
    /// Answer with this (a challenge, 403, 404, 416...). `failure` is set when credentials
    /// were presented and did not pass: a security event to log. `identity` is who the
    /// checked credentials claimed to be, if any were checked.
    Respond {
        response: Box<Response>,
        failure: Option<AuthFailure>,
        identity: Option<Identity>,
    },
    /// Authenticated as the owner of `aor`: apply the bindings (steps 6–8).
    Accept { aor: Aor },
}

/// Decides on a REGISTER. `lookup(domain, user)` reads the endpoint from the store.
pub fn admit(
    auth: &mut Authenticator,
    domains: &Domains,
    now: u64,
    req: &Request,
    to_tag: &str,
    lookup: impl FnOnce(&str, &str) -> Option<EndpointAuth>,
) -> Admission {
    let aor = match domains.aor_of(req) {
        Ok(a) => a,
        Err(status) => {
            return Admission::Respond {
                response: Box::new(response_to(req, status, Some(to_tag))),
                failure: None,
                identity: None,
            }
        }
    };
    let mut enabled = false;
    let (verdict, identity) =
        auth.verify_identified(now, req, ChallengeKind::Www, &aor.domain, |user| {
            let ep = lookup(&aor.domain, user)?;
            enabled = ep.enabled;
            Some(ep.credentials)
        });
    let respond = |r: Response| Admission::Respond {
        response: Box::new(r),
        failure: None,
        identity: identity.clone(),
    };
    match verdict {
        Verdict::Challenge { stale, failure } => Admission::Respond {
            response: Box::new(auth.challenge(
                now,
                req,
                ChallengeKind::Www,
                &aor.domain,
                stale,
                to_tag,
            )),
            failure,
            identity,
        },
        // Step 4: the authenticated user may only bind its own address of record.
        Verdict::Authenticated { username } if username != aor.user => {
            respond(reject_with(req, 403, to_tag, "not your address of record"))
        }
        Verdict::Authenticated { .. } if !enabled => {
            respond(reject_with(req, 403, to_tag, "endpoint disabled"))
        }
        Verdict::Authenticated { .. } => Admission::Accept { aor },
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::auth::{AuthConfig, StoredCredentials};
    use crate::sip::digest::{self, Algorithm, Credentials};
    use crate::sip::message::{parse, HeaderName, Message};

    fn req(to_user: &str, auth_user: Option<(&str, &str, &str)>) -> Request {
        let auth = auth_user
            .map(|(u, pw, nonce)| {
                let h = digest::ha1(Algorithm::Md5, u, "example.com", pw);
                let mut c = Credentials::parse(&format!(
                    "Digest username=\"{u}\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"0\", qop=auth, nc=00000001, cnonce=\"x\""
                ))
                .unwrap();
                c.response = digest::expected_response(&c, "REGISTER", &h);
                format!("Authorization: Digest username=\"{u}\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"{}\", qop=auth, nc=00000001, cnonce=\"x\"\r\n", c.response)
            })
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:{to_user}@example.com>;tag=1\r\nTo: <sip:{to_user}@example.com>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n{auth}\r\n"
        );
        match parse(Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn endpoint(user: &str, enabled: bool) -> Option<EndpointAuth> {
        Some(EndpointAuth {
            credentials: StoredCredentials {
                ha1_md5: digest::ha1(Algorithm::Md5, user, "example.com", "pw-of-"),
                ha1_sha256: String::new(),
            }
            .into(),
            enabled,
        })
    }

    fn lookup(_: &str, user: &str) -> Option<EndpointAuth> {
        match user {
            "alice" | "bob" => endpoint(user, true),
            "carol" => endpoint(user, false),
            _ => None,
        }
    }

    fn setup() -> (Authenticator, Domains, String) {
        let mut a = Authenticator::new(
            [3; 32],
            AuthConfig::from_names(&["MD5".into()], 300).unwrap(),
        );
        let r = a.challenge(
            100,
            &req("alice", None),
            ChallengeKind::Www,
            "example.com",
            false,
            "t",
        );
        let v = r
            .headers
            .get(&HeaderName::WwwAuthenticate)
            .unwrap()
            .to_string();
        let nonce = v
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        (a, Domains::new("example.com"), nonce)
    }

    fn status(a: &Admission) -> u16 {
        match a {
            Admission::Respond { response, .. } => response.status,
            Admission::Accept { .. } => 200,
        }
    }

    #[test]
    fn the_owner_is_accepted() {
        let (mut a, d, n) = setup();
        let got = admit(
            &mut a,
            &d,
            100,
            &req("alice", Some(("alice", "pw-of-", &n))),
            "t",
            lookup,
        );
        assert!(
            matches!(got, Admission::Accept { aor } if aor == Aor::new("alice", "example.com"))
        );
    }

    #[test]
    fn binding_somebody_elses_aor_is_forbidden() {
        let (mut a, d, n) = setup();
        let got = admit(
            &mut a,
            &d,
            100,
            &req("alice", Some(("bob", "pw-of-", &n))),
            "t",
            lookup,
        );
        assert_eq!(status(&got), 403);
    }

    #[test]
    fn disabled_endpoints_are_forbidden_and_strangers_challenged() {
        let (mut a, d, n) = setup();
        let got = admit(
            &mut a,
            &d,
            100,
            &req("carol", Some(("carol", "pw-of-", &n))),
            "t",
            lookup,
        );
        assert_eq!(status(&got), 403);
        let got = admit(
            &mut a,
            &d,
            100,
            &req("dave", Some(("dave", "pw-of-", &n))),
            "t",
            lookup,
        );
        assert!(
            matches!(got, Admission::Respond { ref response, failure: Some(AuthFailure::UnknownUser), .. } if response.status == 401)
        );
        let got = admit(&mut a, &d, 100, &req("alice", None), "t", lookup);
        assert!(
            matches!(got, Admission::Respond { ref response, failure: None, .. } if response.status == 401)
        );
    }
}
