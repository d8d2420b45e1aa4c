//! Digest end to end: the RFC 7616 vectors, SIP REGISTER responses (checked against values
//! computed independently with Python's hashlib), and the [`Authenticator`] decisions.

use super::*;

const T0: u64 = 1_700_000_000;

/// RFC 7616 §3.9.1.
mod rfc7616 {
    pub const USER: &str = "Mufasa";
    pub const REALM: &str = "http-auth@example.org";
    pub const PASSWORD: &str = "Circle of Life";
    pub const URI: &str = "/dir/index.html";
    pub const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    pub const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    pub const MD5: &str = "8ca523f5e9506fed4657c9700eebdbec";
    pub const SHA256: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
}

fn rfc_credentials(algorithm: Algorithm, response: &str) -> Credentials {
    use rfc7616::*;
    Credentials::parse(&format!(
        "Digest username=\"{USER}\", realm=\"{REALM}\", uri=\"{URI}\", algorithm={}, \
         nonce=\"{NONCE}\", nc=00000001, cnonce=\"{CNONCE}\", qop=auth, response=\"{response}\"",
        algorithm.name()
    ))
    .unwrap()
}

#[test]
fn rfc_7616_example_md5_and_sha256() {
    use rfc7616::*;
    for (alg, expected) in [(Algorithm::Md5, MD5), (Algorithm::Sha256, SHA256)] {
        let ha1 = ha1(alg, USER, REALM, PASSWORD);
        let qop = Some(QopAuth {
            nc: "00000001",
            cnonce: CNONCE,
        });
        assert_eq!(response(alg, &ha1, NONCE, qop, "GET", URI), expected);
        let creds = rfc_credentials(alg, expected);
        assert!(verify(&creds, "GET", &ha1));
        assert!(!verify(&creds, "POST", &ha1), "the method is covered");
        let wrong = super::ha1(alg, USER, REALM, "circle of life");
        assert!(!verify(&creds, "GET", &wrong));
    }
    let upper = rfc_credentials(Algorithm::Md5, &MD5.to_ascii_uppercase());
    assert!(verify(
        &upper,
        "GET",
        &ha1(Algorithm::Md5, USER, REALM, PASSWORD)
    ));
}

#[test]
fn ha1_values() {
    assert_eq!(
        ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life"
        ),
        "3d78807defe7de2157e2b0b6573a855f"
    );
    assert_eq!(
        ha1(Algorithm::Sha256, "alice", "example.com", "wonderland"),
        "8a76b8adf2eb7492ff78f57bc361a5c93e2f53c6e93f7ee91f68b5382cfea14f"
    );
    assert_eq!(Algorithm::from_name("sha-256"), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::from_name("Md5"), Some(Algorithm::Md5));
    assert_eq!(Algorithm::from_name("SHA-512-256"), None);
}

/// A SIP REGISTER for alice@example.com (password "wonderland"); expected responses computed
/// with Python's hashlib, not with this code.
#[test]
fn sip_register_with_and_without_qop() {
    const NONCE: &str = "AAAAAGVTIkMAAAAAAAAAAdXdXUxJ0GZkrE8tJNgDRd8";
    let cases = [
        (Algorithm::Md5, true, "36ddb6e4312beef62f83ea8dc8107fe0"),
        (Algorithm::Md5, false, "828c8b67700f5037ea411f5d93921cea"),
        (
            Algorithm::Sha256,
            true,
            "6ad957f9c7e0ba82f9e3c08c3ccff1ba88171f1cb1cac4a690e7210e63f74cc2",
        ),
        (
            Algorithm::Sha256,
            false,
            "99edc593e88bc89e797f91430c37199966e3738c37e1a442f72171d02b11960c",
        ),
    ];
    for (alg, with_qop, expected) in cases {
        let qop = if with_qop {
            ", qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        } else {
            ""
        };
        let creds = Credentials::parse(&format!(
            "Digest username=\"alice\",realm=\"example.com\",nonce=\"{NONCE}\",\
             uri=\"sip:example.com\",response=\"{expected}\",algorithm={alg}{qop}"
        ))
        .unwrap();
        let ha1 = ha1(alg, "alice", "example.com", "wonderland");
        assert!(verify(&creds, "REGISTER", &ha1), "{alg} qop={with_qop}");
        assert!(!verify(&creds, "INVITE", &ha1));
    }
}

// ---- the Authenticator: what a registrar sees ----

const REALM: &str = "example.com";
const PASSWORD: &str = "wonderland";

fn authenticator() -> Authenticator {
    Authenticator::new(NonceSigner::new([42; 32]), Offer::default())
}

/// The nonce of the first challenge.
fn nonce_of(challenges: &[String]) -> String {
    let value = &challenges[0];
    let start = value.find("nonce=\"").unwrap() + 7;
    let len = value[start..].find('"').unwrap();
    value[start..start + len].to_owned()
}

/// What a client answers: `nc` None means an RFC 2069 style response without qop.
fn answer(alg: Algorithm, user: &str, password: &str, nonce: &str, nc: Option<u32>) -> Credentials {
    let ha1 = ha1(alg, user, REALM, password);
    let uri = "sip:example.com";
    let nc_text = nc.map(|n| format!("{n:08x}"));
    let qop = nc_text.as_deref().map(|nc| QopAuth {
        nc,
        cnonce: "c0ffee",
    });
    let response = response(alg, &ha1, nonce, qop, "REGISTER", uri);
    let qop_params = nc_text
        .map(|nc| format!(", qop=auth, nc={nc}, cnonce=\"c0ffee\""))
        .unwrap_or_default();
    Credentials::parse(&format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={alg}{qop_params}"
    ))
    .unwrap()
}

fn alice_ha1(alg: Algorithm) -> String {
    ha1(alg, "alice", REALM, PASSWORD)
}

fn judge(auth: &mut Authenticator, creds: &Credentials, ha1: Option<&str>, now: u64) -> Verdict {
    auth.judge(creds, "REGISTER", REALM, ha1, now)
}

fn challenged(stale: bool, refusal: Refusal) -> Verdict {
    Verdict::Challenge { stale, refusal }
}

#[test]
fn a_correct_answer_authenticates_with_both_algorithms_and_without_qop() {
    let mut auth = authenticator();
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        for nc in [Some(1), None] {
            let nonce = nonce_of(&auth.challenges(REALM, false, T0));
            let creds = answer(alg, "alice", PASSWORD, &nonce, nc);
            let ha1 = alice_ha1(alg);
            assert_eq!(
                judge(&mut auth, &creds, Some(&ha1), T0 + 1),
                Verdict::Authenticated
            );
        }
    }
}

#[test]
fn a_stale_nonce_is_challenged_stale_only_for_a_correct_answer() {
    let mut auth = authenticator();
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let later = T0 + NonceSigner::DEFAULT_LIFETIME + 1;
    let good = answer(Algorithm::Sha256, "alice", PASSWORD, &nonce, Some(1));
    let ha1 = alice_ha1(Algorithm::Sha256);
    assert_eq!(
        judge(&mut auth, &good, Some(&ha1), later),
        challenged(true, Refusal::StaleNonce)
    );
    let bad = answer(Algorithm::Sha256, "alice", "guess", &nonce, Some(1));
    assert_eq!(
        judge(&mut auth, &bad, Some(&ha1), later),
        challenged(false, Refusal::BadResponse)
    );
}

#[test]
fn forged_nonces_and_wrong_realms_are_refused() {
    let mut auth = authenticator();
    let ha1 = alice_ha1(Algorithm::Md5);
    let other = NonceSigner::new([1; 32]).issue(T0, REALM);
    let forged = answer(Algorithm::Md5, "alice", PASSWORD, &other, Some(1));
    assert_eq!(
        judge(&mut auth, &forged, Some(&ha1), T0),
        challenged(false, Refusal::UnknownNonce)
    );
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let creds = answer(Algorithm::Md5, "alice", PASSWORD, &nonce, Some(1));
    assert_eq!(
        auth.judge(&creds, "REGISTER", "other.example", Some(&ha1), T0),
        challenged(false, Refusal::WrongRealm)
    );
}

#[test]
fn a_replayed_nonce_count_is_refused() {
    let mut auth = authenticator();
    let ha1 = alice_ha1(Algorithm::Md5);
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let first = answer(Algorithm::Md5, "alice", PASSWORD, &nonce, Some(1));
    assert_eq!(
        judge(&mut auth, &first, Some(&ha1), T0),
        Verdict::Authenticated
    );
    // The captured request, sent again.
    assert_eq!(
        judge(&mut auth, &first, Some(&ha1), T0 + 1),
        challenged(true, Refusal::Replayed)
    );
    let next = answer(Algorithm::Md5, "alice", PASSWORD, &nonce, Some(2));
    assert_eq!(
        judge(&mut auth, &next, Some(&ha1), T0 + 2),
        Verdict::Authenticated
    );
}

#[test]
fn a_nonce_answered_without_qop_is_single_use() {
    let mut auth = authenticator();
    let ha1 = alice_ha1(Algorithm::Md5);
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let creds = answer(Algorithm::Md5, "alice", PASSWORD, &nonce, None);
    assert_eq!(
        judge(&mut auth, &creds, Some(&ha1), T0),
        Verdict::Authenticated
    );
    assert_eq!(
        judge(&mut auth, &creds, Some(&ha1), T0),
        challenged(true, Refusal::NonceUsed)
    );
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let mut auth = authenticator();
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let ha1 = alice_ha1(Algorithm::Md5);
    let wrong_password = answer(Algorithm::Md5, "alice", "guess", &nonce, Some(1));
    let unknown_user = answer(Algorithm::Md5, "mallory", "guess", &nonce, Some(1));
    let a = judge(&mut auth, &wrong_password, Some(&ha1), T0);
    let b = judge(&mut auth, &unknown_user, None, T0);
    assert_eq!(a, b);
    assert_eq!(a, challenged(false, Refusal::BadResponse));
    // Refused attempts leave no trace in the nonce counts: the honest answer still works.
    let good = answer(Algorithm::Md5, "alice", PASSWORD, &nonce, Some(1));
    assert_eq!(
        judge(&mut auth, &good, Some(&ha1), T0),
        Verdict::Authenticated
    );
}

#[test]
fn an_algorithm_we_did_not_offer_is_refused() {
    let offer: Offer = "SHA-256".parse().unwrap();
    let mut auth = Authenticator::new(NonceSigner::new([42; 32]), offer);
    let challenges = auth.challenges(REALM, false, T0);
    assert_eq!(challenges.len(), 1);
    let creds = answer(
        Algorithm::Md5,
        "alice",
        PASSWORD,
        &nonce_of(&challenges),
        Some(1),
    );
    assert_eq!(
        judge(&mut auth, &creds, Some(&alice_ha1(Algorithm::Md5)), T0),
        challenged(false, Refusal::AlgorithmNotOffered)
    );
}

#[test]
fn stale_challenges_say_so_and_debug_hides_secrets() {
    let auth = authenticator().with_count_cap(10);
    let values = auth.challenges(REALM, true, T0);
    assert!(values.iter().all(|v| v.ends_with(", stale=true")));
    let shown = format!("{auth:?}");
    assert!(shown.contains("cap: 10"), "{shown}");
    assert!(!shown.contains("42, 42"), "{shown}");
}

#[test]
fn an_unknown_user_cannot_answer_with_the_dummy_ha1() {
    // The dummy HA1 is in this source code; an attacker can compute a matching response.
    let mut auth = authenticator();
    let nonce = nonce_of(&auth.challenges(REALM, false, T0));
    let dummy = "0".repeat(32);
    let qop = Some(QopAuth {
        nc: "00000001",
        cnonce: "c0ffee",
    });
    let forged = response(
        Algorithm::Md5,
        &dummy,
        &nonce,
        qop,
        "REGISTER",
        "sip:example.com",
    );
    let creds = Credentials::parse(&format!(
        "Digest username=\"ghost\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"sip:example.com\", response=\"{forged}\", qop=auth, nc=00000001, cnonce=\"c0ffee\""
    ))
    .unwrap();
    assert!(
        verify(&creds, "REGISTER", &dummy),
        "the forgery matches the dummy"
    );
    assert_eq!(
        judge(&mut auth, &creds, None, T0),
        challenged(false, Refusal::BadResponse)
    );
}
