//! Which app an INVITE belongs to, decided before anything is fetched (issue "Calls", "Where
//! calls come from"):
//!
//! * an INVITE whose Max-Forwards is 0 has looped: 483, before anything else;
//! * from a **trunk** (the source address is on a trunk's allow list) to a **number** an app
//!   owns: that number's app; to anything else: 404;
//! * otherwise from a **registered endpoint**, which proves who it is with digest (407, the
//!   same rules as REGISTER): that endpoint's app, whatever it dials (a number or a user). The
//!   authenticated user must be the From user (no calling as somebody else): 403.
//! * a carrier that cannot be told by its address (a trunk with credentials but no allow list,
//!   or calling from a new address) answers the same 407 with the trunk's username and
//!   password; it is then a trunk call (to an owned number, else 404), whatever its From. An
//!   endpoint of the same name in the realm wins: operators pick trunk usernames apart.
//!
//! Pure: the store is reached through the lookups the caller passes. The second step — the
//! app exists, is under its call limit, and the call's setup — is `setup`'s, for INVITEs
//! and placed calls alike.

use std::net::IpAddr;

use crate::sip::auth::{
    AuthFailure, Authenticator, ChallengeKind, CredentialSet, Identity, StoredCredentials, Verdict,
};
use crate::sip::message::{response_to, HeaderName, HeaderView, Request, Response, Uri};
use crate::sip::registrar::{Domains, EndpointAuth};
use crate::sip::uas::reject_with;

mod setup;

pub use setup::{
    start_invited, start_placed, CallApp, CallConfig, CallLimitReached, CallStart, Fresh,
    DEFAULT_MAX_FORWARDS, LIMIT_RETRY_AFTER_SECS,
};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An endpoint of the app, by user name.
    Endpoint { user: String, domain: String },
    /// A carrier, by trunk name.
    Trunk { name: String },
}

/// The decision.
#[derive(Debug)]
pub enum InviteAdmission {
    /// `identity` is who the checked credentials claimed to be, if any were checked.
    Respond {
        response: Box<Response>,
        failure: Option<AuthFailure>,
        identity: Option<Identity>,
    },
    Accept {
        appid: u64,
        caller: Caller,
        /// Whose credentials passed (None for a trunk known by its address).
        identity: Option<Identity>,
        /// The caller and the dialled party as the app sees them.
        from: String,
        to: String,
    },
}

/// The lookups admission needs.
pub trait CallDirectory {
    /// The trunk whose allow list holds `ip`.
    fn trunk_for_source(&self, ip: IpAddr) -> Option<String>;
    /// The app owning the number (E.164 digits).
    fn app_for_number(&self, digits: &str) -> Option<u64>;
    /// An endpoint's credentials (its tokens' too) and app.
    fn endpoint(&self, domain: &str, user: &str) -> Option<(EndpointAuth, u64)>;
    /// The trunk whose username is `user`, with its digest HA1s for `realm`.
    fn trunk_by_username(&self, realm: &str, user: &str) -> Option<(String, StoredCredentials)>;
}

/// Whose credentials a digest answer was checked against.
enum Claimant {
    Endpoint { enabled: bool, appid: u64 },
    Trunk { name: String },
}

fn user_of(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(u) => u.user_unescaped(),
        Uri::Other { scheme, rest } if scheme == "tel" => {
            Some(rest.split(';').next().unwrap_or("").to_string())
        }
        Uri::Other { .. } => None,
    }
}

/// Digits of a dialled number (`+` and visual separators dropped), if it is one.
pub fn as_number(s: &str) -> Option<String> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, '+' | '-' | '.' | ' ' | '(' | ')'))
        .collect();
    (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// The request's Max-Forwards, if it has a readable one.
fn max_forwards(req: &Request) -> Option<u32> {
    req.headers
        .get(&HeaderName::MaxForwards)
        .and_then(|v| v.trim().parse().ok())
}

pub fn admit_invite(
    auth: &mut Authenticator,
    domains: &Domains,
    dir: &dyn CallDirectory,
    now: u64,
    req: &Request,
    source: IpAddr,
    to_tag: &str,
) -> InviteAdmission {
    let respond = |r: Response| InviteAdmission::Respond {
        response: Box::new(r),
        failure: None,
        identity: None,
    };
    // Loop detection: every B2BUA hop costs one (RFC 3261 §16.3 step 3 in spirit).
    if max_forwards(req) == Some(0) {
        return respond(response_to(req, 483, Some(to_tag)));
    }
    let (Ok(from), Ok(to)) = (req.hdr_from(), req.hdr_to()) else {
        return respond(response_to(req, 400, Some(to_tag)));
    };
    // The dialled party: the Request-URI's user (what the phone dialled), else To's.
    let dialled = user_of(&req.uri).or_else(|| user_of(&to.uri));
    let Some(dialled) = dialled.filter(|d| !d.is_empty()) else {
        return respond(reject_with(req, 404, to_tag, "no user or number dialled"));
    };
    let trunk_call = |name: String, identity: Option<Identity>| {
        let Some(digits) = as_number(&dialled) else {
            return respond(reject_with(req, 404, to_tag, "not a number"));
        };
        match dir.app_for_number(&digits) {
            Some(appid) => InviteAdmission::Accept {
                appid,
                caller: Caller::Trunk { name },
                identity,
                from: user_of(&from.uri).unwrap_or_default(),
                to: digits,
            },
            None => respond(reject_with(req, 404, to_tag, "number not assigned")),
        }
    };
    if let Some(name) = dir.trunk_for_source(source) {
        return trunk_call(name, None);
    }
    let Some(from_user) = user_of(&from.uri) else {
        return respond(response_to(req, 403, Some(to_tag)));
    };
    let domain = match &from.uri {
        Uri::Sip(u) => domains.resolve(&u.host),
        Uri::Other { .. } => domains.default_domain().to_string(),
    };
    let mut found: Option<Claimant> = None;
    let (verdict, identity) =
        auth.verify_identified(now, req, ChallengeKind::Proxy, &domain, |user| {
            if let Some((ep, appid)) = dir.endpoint(&domain, user) {
                found = Some(Claimant::Endpoint {
                    enabled: ep.enabled,
                    appid,
                });
                return Some(ep.credentials);
            }
            let (name, credentials) = dir.trunk_by_username(&domain, user)?;
            found = Some(Claimant::Trunk { name });
            Some(CredentialSet::from(credentials))
        });
    let with_identity = |a: InviteAdmission| match a {
        InviteAdmission::Respond {
            response, failure, ..
        } => InviteAdmission::Respond {
            response,
            failure,
            identity: identity.clone(),
        },
        accepted => accepted,
    };
    if let (Verdict::Authenticated { .. }, Some(Claimant::Trunk { name })) = (&verdict, &found) {
        return with_identity(trunk_call(name.clone(), identity.clone()));
    }
    with_identity(match verdict {
        Verdict::Challenge { stale, failure } => InviteAdmission::Respond {
            response: Box::new(auth.challenge(
                now,
                req,
                ChallengeKind::Proxy,
                &domain,
                stale,
                to_tag,
            )),
            failure,
            identity: None,
        },
        Verdict::Authenticated { username } if username != from_user => respond(reject_with(
            req,
            403,
            to_tag,
            "From is not the authenticated user",
        )),
        Verdict::Authenticated { username } => match found {
            Some(Claimant::Endpoint {
                enabled: true,
                appid,
            }) => InviteAdmission::Accept {
                appid,
                caller: Caller::Endpoint {
                    user: username.clone(),
                    domain,
                },
                identity: identity.clone(),
                from: username,
                to: as_number(&dialled).unwrap_or(dialled),
            },
            _ => respond(reject_with(req, 403, to_tag, "endpoint disabled")),
        },
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::auth::AuthConfig;
    use crate::sip::digest::{self, Algorithm, Credentials};
    use crate::sip::message::{parse, HeaderName, Message};

    struct Dir;
    impl CallDirectory for Dir {
        fn trunk_for_source(&self, ip: IpAddr) -> Option<String> {
            (ip == "192.0.2.200".parse::<IpAddr>().unwrap()).then(|| "carrier".to_string())
        }
        fn app_for_number(&self, digits: &str) -> Option<u64> {
            (digits == "914471000000").then_some(42)
        }
        fn endpoint(&self, _domain: &str, user: &str) -> Option<(EndpointAuth, u64)> {
            if user == "tess" {
                return Some((
                    // tess's password is not "pw", but she holds a token whose secret is.
                    EndpointAuth {
                        credentials: CredentialSet {
                            password: StoredCredentials {
                                ha1_md5: digest::ha1(Algorithm::Md5, "tess", "test.local", "other"),
                                ha1_sha256: String::new(),
                            },
                            alternates: vec![StoredCredentials {
                                ha1_md5: digest::ha1(Algorithm::Md5, "tess", "test.local", "pw"),
                                ha1_sha256: String::new(),
                            }],
                        },
                        enabled: true,
                    },
                    7,
                ));
            }
            (user == "alice").then(|| {
                (
                    EndpointAuth {
                        credentials: StoredCredentials {
                            ha1_md5: digest::ha1(Algorithm::Md5, "alice", "test.local", "pw"),
                            ha1_sha256: String::new(),
                        }
                        .into(),
                        enabled: true,
                    },
                    7,
                )
            })
        }
        fn trunk_by_username(
            &self,
            realm: &str,
            user: &str,
        ) -> Option<(String, StoredCredentials)> {
            (user == "carrier-auth").then(|| {
                (
                    "roaming".to_string(),
                    StoredCredentials {
                        ha1_md5: digest::ha1(Algorithm::Md5, user, realm, "pw"),
                        ha1_sha256: String::new(),
                    },
                )
            })
        }
    }

    fn invite(from_user: &str, ruri: &str, auth: Option<&str>) -> Request {
        invite_with_hops(from_user, ruri, auth, "70")
    }

    fn invite_with_hops(from_user: &str, ruri: &str, auth: Option<&str>, hops: &str) -> Request {
        let auth = auth
            .map(|a| format!("Proxy-Authorization: {a}\r\n"))
            .unwrap_or_default();
        let t = format!("INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:{from_user}@test.local>;tag=f\r\nTo: <{ruri}>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: {hops}\r\n{auth}\r\n");
        match parse(Bytes::from(t)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn setup() -> (Authenticator, Domains) {
        (
            Authenticator::new(
                [5; 32],
                AuthConfig::from_names(&["MD5".into()], 300).unwrap(),
            ),
            Domains::new("test.local"),
        )
    }

    fn answer(a: &mut Authenticator, user: &str, ruri: &str) -> String {
        let r = a.challenge(
            10,
            &invite(user, ruri, None),
            ChallengeKind::Proxy,
            "test.local",
            false,
            "t",
        );
        let v = r
            .headers
            .get(&HeaderName::ProxyAuthenticate)
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
        let h = digest::ha1(Algorithm::Md5, user, "test.local", "pw");
        let mut c = Credentials::parse(&format!("Digest username=\"{user}\", realm=\"test.local\", nonce=\"{nonce}\", uri=\"{ruri}\", response=\"0\", qop=auth, nc=00000001, cnonce=\"x\"")).unwrap();
        c.response = digest::expected_response(&c, "INVITE", &h);
        format!("Digest username=\"{user}\", realm=\"test.local\", nonce=\"{nonce}\", uri=\"{ruri}\", response=\"{}\", qop=auth, nc=00000001, cnonce=\"x\"", c.response)
    }

    #[test]
    fn an_endpoint_token_authenticates_an_invite_like_the_password() {
        let (mut a, d) = setup();
        let here: IpAddr = "192.0.2.10".parse().unwrap();
        let creds = answer(&mut a, "tess", "sip:5000@test.local");
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("tess", "sip:5000@test.local", Some(&creds)),
            here,
            "t",
        );
        assert!(
            matches!(got, InviteAdmission::Accept { appid: 7, .. }),
            "{got:?}"
        );
    }

    #[test]
    fn endpoints_are_challenged_with_407_then_accepted_into_their_app() {
        let (mut a, d) = setup();
        let here: IpAddr = "192.0.2.10".parse().unwrap();
        let first = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("alice", "sip:5000@test.local", None),
            here,
            "t",
        );
        assert!(
            matches!(first, InviteAdmission::Respond { ref response, .. } if response.status == 407)
        );
        let creds = answer(&mut a, "alice", "sip:5000@test.local");
        let ok = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("alice", "sip:5000@test.local", Some(&creds)),
            here,
            "t",
        );
        match ok {
            InviteAdmission::Accept {
                appid, from, to, ..
            } => assert_eq!((appid, from.as_str(), to.as_str()), (7, "alice", "5000")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_looped_invite_gets_483_before_any_challenge() {
        let (mut a, d) = setup();
        let here: IpAddr = "192.0.2.10".parse().unwrap();
        let with_hops = |hops: &str| invite_with_hops("alice", "sip:5000@test.local", None, hops);
        let status = |a: &mut Authenticator, req: &Request, source: IpAddr| match admit_invite(
            a, &d, &Dir, 10, req, source, "t",
        ) {
            InviteAdmission::Respond {
                response,
                failure,
                identity,
            } => {
                if response.status == 483 {
                    assert_eq!((failure, identity), (None, None), "nothing to count");
                }
                response.status
            }
            InviteAdmission::Accept { .. } => 200,
        };
        // From an endpoint (before its challenge) and from a trunk (before its number).
        assert_eq!(status(&mut a, &with_hops("0"), here), 483);
        assert_eq!(status(&mut a, &with_hops(" 0 "), here), 483);
        let carrier: IpAddr = "192.0.2.200".parse().unwrap();
        assert_eq!(status(&mut a, &with_hops("0"), carrier), 483);
        // One hop left: admitted as usual (an unreadable header never gets here: the parser
        // refuses the message).
        assert_eq!(status(&mut a, &with_hops("1"), here), 407);
        assert_eq!(status(&mut a, &with_hops("1"), carrier), 404);
    }

    #[test]
    fn calling_as_somebody_else_is_forbidden() {
        let (mut a, d) = setup();
        let creds = answer(&mut a, "alice", "sip:bob@test.local");
        let req = invite("mallory", "sip:bob@test.local", Some(&creds));
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &req,
            "192.0.2.10".parse().unwrap(),
            "t",
        );
        assert!(
            matches!(got, InviteAdmission::Respond { ref response, .. } if response.status == 403)
        );
    }

    #[test]
    fn trunks_reach_owned_numbers_only() {
        let (mut a, d) = setup();
        let carrier: IpAddr = "192.0.2.200".parse().unwrap();
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("15550001", "sip:+91-4471000000@192.0.2.1", None),
            carrier,
            "t",
        );
        match got {
            InviteAdmission::Accept {
                appid, caller, to, ..
            } => {
                assert_eq!(appid, 42);
                assert_eq!(
                    caller,
                    Caller::Trunk {
                        name: "carrier".into()
                    }
                );
                assert_eq!(to, "914471000000");
            }
            other => panic!("{other:?}"),
        }
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("15550001", "sip:123@192.0.2.1", None),
            carrier,
            "t",
        );
        assert!(
            matches!(got, InviteAdmission::Respond { ref response, .. } if response.status == 404)
        );
    }

    #[test]
    fn a_trunk_with_credentials_calls_from_any_address_to_owned_numbers() {
        let (mut a, d) = setup();
        let roaming: IpAddr = "203.0.113.9".parse().unwrap();
        let owned = "sip:914471000000@192.0.2.1";
        let first = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("15550001", owned, None),
            roaming,
            "t",
        );
        assert!(
            matches!(first, InviteAdmission::Respond { ref response, .. } if response.status == 407)
        );
        // The From is the calling number, not the trunk's username: that is no impersonation.
        let creds = answer(&mut a, "carrier-auth", owned);
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("15550001", owned, Some(&creds)),
            roaming,
            "t",
        );
        match got {
            InviteAdmission::Accept {
                appid,
                caller,
                from,
                to,
                identity,
            } => {
                assert_eq!(
                    (appid, from.as_str(), to.as_str()),
                    (42, "15550001", "914471000000")
                );
                // The defences count and gate the trunk's credentials like an endpoint's.
                assert_eq!(identity.map(|i| i.user), Some("carrier-auth".to_string()));
                assert_eq!(
                    caller,
                    Caller::Trunk {
                        name: "roaming".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let unowned = "sip:123@192.0.2.1";
        let creds = answer(&mut a, "carrier-auth", unowned);
        let got = admit_invite(
            &mut a,
            &d,
            &Dir,
            10,
            &invite("15550001", unowned, Some(&creds)),
            roaming,
            "t",
        );
        assert!(
            matches!(got, InviteAdmission::Respond { ref response, .. } if response.status == 404)
        );
    }
}
